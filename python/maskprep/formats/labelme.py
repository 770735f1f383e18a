"""LabelMe JSON files to a COCO instances dict: the job of labelme's ``labelme2coco.py``.

One LabelMe file per image: ``imagePath``, ``imageHeight``, ``imageWidth`` and ``shapes``, each
with a ``label``, ``points``, ``shape_type`` and an optional ``group_id``. Shapes of one label
and one ``group_id`` in a file are one object (several polygons), as in labelme2coco; shapes
without a ``group_id`` are an object each.

- ``polygon``: the points as they are (at least 3).
- ``rectangle``: two corners -> the 4-corner polygon ``x1 y1 x2 y1 x2 y2 x1 y2`` (sorted).
- ``circle``: centre and a point on the circle -> labelme2coco's polygon of
  ``max(int(pi / arccos(1 - 1 / r)), 12)`` points (the arc stays within 1 px of the chords).
- ``point``, ``points``, ``line``, ``linestrip`` have no area, and ``mask`` shapes are not read
  yet: each is listed in the report, never dropped silently.
"""

from __future__ import annotations

import glob
import math
import os
import posixpath
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import orjson

from .. import coco
from ._build import PolygonObject, build_annotations, check_options, check_to
from ._report import FormatReport

__all__ = ["circle_polygon", "read_labelme"]

_NO_AREA = ("point", "points", "line", "linestrip")
_IGNORED_LABELS = ("__ignore__", "_background_")  # labelme2coco's labels.txt conventions


def circle_polygon(cx: float, cy: float, px: float, py: float) -> List[float]:
    """labelme2coco's polygon for a circle of centre ``(cx, cy)`` through ``(px, py)``.

    Parameters
    ----------
    cx, cy, px, py : float

    Returns
    -------
    list of float
        ``[x0, y0, x1, y1, ...]``: ``max(int(pi / arccos(1 - 1 / r)), 12)`` points, the first
        at ``(cx, cy + r)``.

    Raises
    ------
    ValueError
        A coordinate is not finite, or the two points are the same (radius 0).

    Examples
    --------
    >>> len(circle_polygon(10, 10, 13, 14)) // 2  # r = 5
    12
    >>> len(circle_polygon(100, 100, 100, 200)) // 2  # r = 100
    22
    """
    r = math.hypot(px - cx, py - cy)
    if not (math.isfinite(r) and math.isfinite(cx) and math.isfinite(cy)):
        raise ValueError(f"circle points must be finite, got ({cx}, {cy}) and ({px}, {py})")
    if r == 0:
        raise ValueError(f"a circle needs two different points, got ({cx}, {cy}) twice")
    c = 1 - 1 / r
    n = max(int(np.pi / np.arccos(c)), 12) if c >= -1 else 12  # r < 1/2: arccos undefined
    i = np.arange(n)
    x = cx + r * np.sin(2 * np.pi / n * i)
    y = cy + r * np.cos(2 * np.pi / n * i)
    return np.stack((x, y), axis=1).ravel().tolist()


def _files(src: Path) -> Tuple[Path, List[Path]]:
    """(root, LabelMe files): one file, a folder (searched recursively) or a glob."""
    text = os.fspath(src)
    if os.path.isfile(text):
        return src.parent, [src]
    if os.path.isdir(text):
        return src, sorted(p for p in src.rglob("*.json") if p.is_file())
    if glob.has_magic(text):
        base = Path(text.split("*")[0].split("?")[0].split("[")[0])
        root = base if base.is_dir() else base.parent
        return root, sorted(Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p))
    raise coco.UnreadableInput(f"{src} is not a LabelMe JSON file, a folder or a glob")


def _labels(option: Any) -> Optional[List[str]]:
    """The ``labels`` option: a list of names or a labels.txt path (one name a line)."""
    if option is None:
        return None
    if isinstance(option, (str, os.PathLike)):
        names = Path(option).read_text(encoding="utf-8").splitlines()
    elif isinstance(option, (list, tuple)) and all(isinstance(x, str) for x in option):
        names = list(option)
    else:
        raise TypeError(f"options: labels must be a list of names or a path, got {option!r}")
    names = [n.strip() for n in names if n.strip() and n.strip() not in _IGNORED_LABELS]
    if len(set(names)) != len(names):
        raise ValueError("options: labels must not repeat a name")
    return names


def _points(pts: Any) -> Optional[np.ndarray]:
    """``(N, 2)`` finite float points, or None."""
    try:
        arr = np.asarray(pts, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        return None
    return arr


def _shape_polygon(shape: Dict[str, Any]) -> Tuple[Optional[List[float]], str]:
    """The polygon of one shape, or None and why."""
    kind = shape.get("shape_type") or "polygon"  # labelme writes null for old polygons
    pts = _points(shape.get("points"))
    if kind in _NO_AREA:
        return None, f"a {kind} shape has no area: not a region"
    if kind not in ("polygon", "rectangle", "circle"):
        return None, f"unknown shape_type {kind!r} (polygon, rectangle and circle are read)"
    if pts is None:
        return None, "points must be a list of [x, y] pairs of finite numbers"
    if kind == "polygon":
        if len(pts) < 3:
            return None, f"a polygon needs at least 3 points, got {len(pts)}"
        return pts.ravel().tolist(), ""
    if len(pts) != 2:
        return None, f"a {kind} needs exactly 2 points, got {len(pts)}"
    (x1, y1), (x2, y2) = pts.tolist()
    if kind == "rectangle":
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        if x1 == x2 or y1 == y2:
            return None, "the rectangle has no area (its corners share an x or a y)"
        return [x1, y1, x2, y1, x2, y2, x1, y2], ""
    if x1 == x2 and y1 == y2:
        return None, "the circle has radius 0"
    return circle_polygon(x1, y1, x2, y2), ""


def _size(doc: Dict[str, Any], json_path: Path, images: Optional[Path]) -> Tuple[Any, str]:
    """(height, width) from imageHeight/imageWidth, else from the image file's header."""
    h, w = coco.side(doc.get("imageHeight")), coco.side(doc.get("imageWidth"))
    if h and w:
        return (h, w), ""
    image_path = doc.get("imagePath")
    if not isinstance(image_path, str):
        return None, "no imageHeight/imageWidth and no imagePath to read the size from"
    path = (images if images is not None else json_path.parent) / image_path
    from .yolo import image_size

    try:
        return image_size(path), ""
    except OSError as exc:
        return None, f"no imageHeight/imageWidth, and the size of {path} cannot be read: {exc}"


def read_labelme(
    src: Any,
    *,
    images: Any = None,
    to: str = "polygon",
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Tuple[Dict[str, Any], FormatReport]:
    """Read LabelMe JSON files as one COCO instances dict.

    Parameters
    ----------
    src : str or os.PathLike
        A LabelMe JSON file, a folder (every ``*.json`` under it) or a glob.
    images : str or os.PathLike, optional
        Where the images are, for files without ``imageHeight``/``imageWidth`` (default: beside
        each JSON file, at its ``imagePath``); only their headers are read.
    to : {"polygon", "rle"}
        The segmentations: the polygons, or compressed RLEs of their union.
    num_threads : int, optional
    options : dict, optional
        ``labels``: the category names in order (a list, or a labels.txt path as labelme2coco
        takes; ``__ignore__`` and ``_background_`` lines are left out). A shape whose label is
        not in it is reported. Default: every label found, sorted; ids from 1.

    Returns
    -------
    dataset : dict
        ``images`` (ids 1..N in file order; ``file_name`` is ``imagePath`` relative to ``src``),
        ``annotations`` (area and bbox from the rasterized mask; iscrowd 0), ``categories``.
    report : FormatReport
        Every file and shape that could not be converted, by file and shape index.

    Raises
    ------
    maskprep.coco.UnreadableInput
        ``src`` names no file.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.json").write_text(json.dumps({"imagePath": "a.jpg", "imageHeight": 10,
    ...     "imageWidth": 12, "shapes": [{"label": "cat", "shape_type": "rectangle",
    ...     "points": [[1, 1], [5, 4]]}, {"label": "cat", "shape_type": "point",
    ...     "points": [[2, 2]]}]}))
    >>> data, report = read_labelme(folder)
    >>> data["annotations"][0]["segmentation"], data["annotations"][0]["area"]
    ([[1.0, 1.0, 5.0, 1.0, 5.0, 4.0, 1.0, 4.0]], 12.0)
    >>> [str(s) for s in report.skipped]  # doctest: +ELLIPSIS
    ['.../a.json: object shape 1: a point shape has no area: not a region']
    """
    to = check_to(to)
    opts = check_options(options, {"labels": None})
    fixed = _labels(opts.get("labels"))
    root, paths = _files(Path(src))
    if not paths:
        raise coco.UnreadableInput(f"{src} holds no LabelMe .json file")
    images_dir = Path(images) if images is not None else None
    report = FormatReport()
    imgs: List[Dict[str, Any]] = []
    sizes: Dict[int, Any] = {}
    objects: List[
        Tuple[int, str, str, str, List[List[float]]]
    ] = []  # image, file, shape, label, parts
    for path in paths:
        where = str(path)
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            report.skip(where, None, f"not valid JSON: {exc}")
            continue
        except OSError as exc:
            report.skip(where, None, f"cannot read it: {exc.strerror or exc}")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
            report.skip(where, None, "not a LabelMe file: no shapes list")
            continue
        image_path = doc.get("imagePath")
        if not isinstance(image_path, str) or not image_path:
            report.skip(where, None, "imagePath must be the image's file name")
            continue
        hw, why = _size(doc, path, images_dir)
        if hw is None:
            report.skip(where, None, why)
            continue
        report.files += 1
        rel = path.parent.relative_to(root).as_posix()
        file_name = posixpath.normpath(posixpath.join(rel, image_path.replace("\\", "/")))
        iid = len(imgs) + 1
        imgs.append({"id": iid, "file_name": file_name, "height": hw[0], "width": hw[1]})
        sizes[iid] = hw
        groups: Dict[Tuple[str, Any], int] = {}  # (label, group_id) -> index in objects
        for k, shape in enumerate(doc["shapes"]):
            obj = f"shape {k}"
            label = shape.get("label") if isinstance(shape, dict) else None
            if not isinstance(label, str) or not label:
                report.skip(where, obj, "label must be a non-empty string")
                continue
            if label in _IGNORED_LABELS:
                report.skip(where, obj, f"label {label!r} is labelme2coco's ignore label")
                continue
            if fixed is not None and label not in fixed:
                report.skip(where, obj, f"label {label!r} is not in the labels given")
                continue
            poly, why = _shape_polygon(shape)
            if poly is None:
                report.skip(where, obj, why)
                continue
            gid = shape.get("group_id")
            key = (label, gid)
            if gid is not None and key in groups:
                objects[groups[key]][4].append(poly)
                continue
            if gid is not None:
                groups[key] = len(objects)
            objects.append((iid, where, obj, label, [poly]))
    names = fixed if fixed is not None else sorted({o[3] for o in objects})
    cat_id = {n: k for k, n in enumerate(names, start=1)}
    built = [
        PolygonObject(f, obj, iid, cat_id[label], parts) for iid, f, obj, label, parts in objects
    ]
    anns = build_annotations(built, sizes, to, report, num_threads)
    cats = [{"id": cat_id[n], "name": n, "supercategory": ""} for n in names]
    return {"images": imgs, "annotations": anns, "categories": cats}, report
