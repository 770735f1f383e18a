"""YOLO segmentation datasets in ultralytics' layout.

A dataset folder holds ``data.yaml`` (the class names, ``names: {0: person, 1: bicycle, ...}``,
as ultralytics writes it), ``images/[SPLIT/]`` and ``labels/[SPLIT/]``: one ``.txt`` per image,
at the image's relative path with the suffix ``.txt``, one object per line::

    CLASS x0 y0 x1 y1 ...     (class index, then the polygon's points divided by width / height)

:func:`write_yolo` maps the COCO category ids, in increasing order, to the contiguous indices
0..K-1 and writes both the names and the ids (``coco_category_ids``, a key ultralytics ignores)
to the YAML, so that :func:`read_yolo` gives the same category ids back. A YOLO object is one
polygon: an object of several parts is joined into one the way ultralytics' converter does it
(:func:`merge_multi_segment`). Crowd RLEs (and any RLE) are traced to pixel-exact outlines
(:func:`maskprep.contours.masks_to_polygons`) and joined the same way, or left out and listed
(``crowd="skip"``).

The differences from ultralytics' own ``convert_coco`` are listed in the Formats guide.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import orjson

from .. import _core, coco, rle
from .._threads import resolve_num_threads
from ._build import PolygonObject, build_annotations, check_options, check_to
from ._report import FormatReport

__all__ = [
    "IMAGE_SUFFIXES",
    "image_size",
    "merge_multi_segment",
    "read_yolo",
    "write_regular",
    "write_yolo",
    "write_yolo_file",
]

#: Image file suffixes :func:`read_yolo` looks for (ultralytics' IMG_FORMATS, less video).
IMAGE_SUFFIXES = (".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp")

YAML_NAME = "data.yaml"
_TRACE_BATCH = 64  # RLE masks decoded at once when tracing (bounded memory)
_FILES_PER_THREAD = 512  # label files per writer thread at least: a thread costs ~0.1 ms


def merge_multi_segment(segments: Sequence[Sequence[float]]) -> np.ndarray:
    """Join the parts of one object into one polygon, exactly as ultralytics'
    ``ultralytics.data.converter.merge_multi_segment`` (from JSON2YOLO) does.

    Consecutive parts are linked at their closest pair of vertices. Each part is rotated to start
    at its link vertex and closed (its first vertex repeated); the path goes forward through the
    first part, enters each middle part at the vertex linked to the previous part, runs to the
    vertex linked to the next one, continues into the next part, and on the way back finishes
    each middle part, so every link is walked once each way: a zero-width slit that adds nothing
    under the even-odd fill that COCO (and cv2.fillPoly) use. Parts that overlap each other are
    the exception: their overlap is filled an even number of times, so it drops out.

    Parameters
    ----------
    segments : sequence of sequence of float
        The parts, each ``[x0, y0, x1, y1, ...]`` with at least one point.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` float64 points of the joined polygon.

    Examples
    --------
    >>> merge_multi_segment([[0, 0, 1, 0, 1, 1], [3, 0, 4, 0, 4, 1]]).tolist()
    [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [4.0, 0.0], [4.0, 1.0], [3.0, 0.0]]
    """
    parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in segments]
    if len(parts) == 1:
        return parts[0]
    links: List[List[int]] = [[] for _ in parts]
    for i in range(1, len(parts)):
        p, q = parts[i - 1], parts[i]
        # ultralytics' ((p[:, None] - q[None]) ** 2).sum(-1), without the (N, M, 2) temporary
        # and its slow reduction over 2: the same two squares added, so the same argmin
        d = (p[:, None, 0] - q[None, :, 0]) ** 2 + (p[:, None, 1] - q[None, :, 1]) ** 2
        a, b = np.unravel_index(np.argmin(d, axis=None), d.shape)
        links[i - 1].append(int(a))
        links[i].append(int(b))
    out: List[np.ndarray] = []
    last = len(parts) - 1
    for i, idx in enumerate(links):  # forward
        if len(idx) == 2 and idx[0] > idx[1]:  # a middle part: walk it the other way round
            idx = [len(parts[i]) - 1 - x for x in idx]
            parts[i] = parts[i][::-1, :]
        parts[i] = np.roll(parts[i], -idx[0], axis=0)
        parts[i] = np.concatenate([parts[i], parts[i][:1]])
        if i in (0, last):
            out.append(parts[i])
        else:
            out.append(parts[i][: idx[1] - idx[0] + 1])
    for i in range(last - 1, 0, -1):  # back: the rest of each middle part
        out.append(parts[i][abs(links[i][1] - links[i][0]) :])
    return np.concatenate(out, axis=0)


def _label_path(file_name: Any) -> Tuple[Optional[str], str]:
    """The label file's path (relative, POSIX) for an image's file_name, or None and why not."""
    if not isinstance(file_name, str) or not file_name:
        return None, f"file_name must be a non-empty string, got {file_name!r}"
    dot = file_name.rfind(".")
    if 0 < dot < len(file_name) - 1 and "/" not in file_name and "\\" not in file_name:
        return file_name[:dot] + ".txt", ""  # a plain name: pathlib's with_suffix, 10x faster
    rel = PurePosixPath(file_name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or rel.name in ("", "."):
        return None, f"file_name {file_name!r} must be a relative path inside the images folder"
    return str(rel.with_suffix(".txt")), ""


def _polygon_parts(seg: Any) -> Tuple[Optional[List[Any]], str]:
    """A polygon segmentation's parts after a structural check (numbers are checked later)."""
    if not seg:
        return None, "no segmentation (empty)"
    for k, p in enumerate(seg):
        if not isinstance(p, (list, tuple)):
            return None, f"segmentation polygon {k} must be a list of numbers"
        if len(p) % 2 or len(p) < 6:
            return None, (
                f"segmentation polygon {k} must have an even count of at least 6 numbers "
                f"(3 points), got {len(p)}"
            )
    return list(seg), ""


def _categories(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    cats = data.get("categories", [])
    ids = [c.get("id") for c in cats]
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int)]
    if bad:
        raise ValueError(f"categories: every id must be an integer, got {bad[0]!r}")
    if len(set(ids)) != len(ids):
        raise ValueError("categories: ids must be unique")
    return sorted(cats, key=lambda c: c["id"])


def _trace(rles: List[Dict[str, Any]], num_threads: Optional[int]) -> List[List[List[float]]]:
    """Pixel-exact polygons of compressed RLEs (holes cut in, see maskprep.contours), decoded
    in batches of one size."""
    from .. import contours

    out: List[List[List[float]]] = [[] for _ in rles]
    by_size: Dict[Tuple[int, ...], List[int]] = defaultdict(list)
    for k, r in enumerate(rles):
        by_size[tuple(r["size"])].append(k)
    for todo in by_size.values():
        for start in range(0, len(todo), _TRACE_BATCH):
            part = todo[start : start + _TRACE_BATCH]
            masks = rle.decode([rles[k] for k in part], layout="nhw", num_threads=num_threads)
            for k, p in zip(part, contours.masks_to_polygons(masks, num_threads=num_threads)):
                out[k] = p
    return out


def _trace_arrays(
    rles: List[Dict[str, Any]], num_threads: Optional[int]
) -> Tuple[np.ndarray, np.ndarray, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_trace`'s outlines as arrays ``(xy, part_pts, (part_start, parts, pt_start))`` in
    :func:`_text`'s layout, object k being ``rles[k]`` (no Python float per coordinate)."""
    from .. import contours

    n = len(rles)
    part_start, parts, pt_start = (np.zeros(n, dtype=np.int64) for _ in range(3))
    xys, pts = [np.zeros((0, 2))], [np.zeros(0, dtype=np.int64)]
    n_parts = n_pts = 0
    by_size: Dict[Tuple[int, ...], List[int]] = defaultdict(list)
    for k, r in enumerate(rles):
        by_size[tuple(r["size"])].append(k)
    for todo in by_size.values():
        for start in range(0, len(todo), _TRACE_BATCH):
            part = todo[start : start + _TRACE_BATCH]
            masks = rle.decode([rles[k] for k in part], layout="nhw", num_threads=num_threads)
            b_xy, b_pts, b_parts = contours.masks_to_polygon_arrays(masks, num_threads=num_threads)
            first = np.cumsum(b_parts) - b_parts
            before = np.concatenate([[0], np.cumsum(b_pts)])
            part_start[part] = n_parts + first
            parts[part] = b_parts
            pt_start[part] = n_pts + before[first]
            xys.append(b_xy)
            pts.append(b_pts)
            n_parts += len(b_pts)
            n_pts += len(b_xy)
    return np.concatenate(xys), np.concatenate(pts), (part_start, parts, pt_start)


def _trace_overlapping(
    objs: List[Tuple[Any, Any, int, Any]],
    to_trace: List[Dict[str, Any]],
    sizes: Dict[Any, Tuple[int, int]],
    report: FormatReport,
    num_threads: Optional[int],
) -> List[Tuple[Any, Any, int, Any]]:
    """Objects whose polygon parts overlap go to ``to_trace`` as their union's RLE: joined as
    they are, the overlap would drop out of the even-odd fill (ultralytics' result); traced,
    the mask is kept exactly. Invalid multi-part objects are reported here."""
    multi = [k for k, o in enumerate(objs) if not isinstance(o[3], int) and len(o[3]) > 1]
    if not multi:
        return objs
    hw = [sizes[objs[k][1]] for k in multi]
    unions, errors = coco.rles_or_errors(
        [objs[k][3] for k in multi],
        [h for h, _ in hw],
        [w for _, w in hw],
        range(len(multi)),
        num_threads=num_threads,
    )
    drop = set()
    traced = 0
    good = [n for n, u in enumerate(unions) if u is not None]
    # every part of every good object on its own, in one batch: overlap iff the union's area
    # is less than the parts' sum
    segs, part_hw, owner = [], [], []
    for n in good:
        for p in objs[multi[n]][3]:
            segs.append([p])
            part_hw.append(hw[n])
            owner.append(n)
    part_area = rle.area(rle.from_segmentations(segs, part_hw, num_threads=num_threads))
    sums = np.zeros(len(multi), dtype=np.int64)
    np.add.at(sums, np.asarray(owner, dtype=np.intp), part_area.astype(np.int64))
    union_area = np.zeros(len(multi), dtype=np.int64)
    if good:
        union_area[good] = rle.area([u for u in unions if u is not None], num_threads=num_threads)
    for n, k in enumerate(multi):
        aid, iid, cls, parts = objs[k]
        union = unions[n]
        if union is None:
            report.skip(f"image {iid!r}", aid, errors[n])
            drop.add(k)
            continue
        if union_area[n] < sums[n]:
            objs[k] = (aid, iid, cls, len(to_trace))
            to_trace.append(union)
            traced += 1
    if traced:
        report.notes.append(
            f"{traced} object(s) have overlapping polygon parts: exported as the outline traced "
            "from their mask (joining the parts would cut the overlap out)"
        )
        report.extra["overlap_traced"] = traced
    return [o for k, o in enumerate(objs) if k not in drop]


def write_yolo(
    data: Dict[str, Any],
    out: Any,
    *,
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> FormatReport:
    """Write a COCO instances dict as a YOLO segmentation dataset under ``out``.

    ``out/data.yaml`` (names, ids, ``path``, ``train``/``val``), ``out/labels/[SPLIT/]NAME.txt``
    for every image (empty for an image without objects: a background image), and an empty
    ``out/images/[SPLIT/]`` for the photos. Nothing is written when anything fails (unless
    ``skip_invalid``); each file is written to a temporary folder first and moved into place,
    so an interrupted run leaves no partial file. Existing files of the same names are replaced.

    Parameters
    ----------
    data : dict
        A COCO instances dict (never modified).
    out : str or os.PathLike
        The dataset folder (created if needed).
    num_threads : int, optional
        For decoding and tracing RLEs.
    options : dict, optional
        ``crowd``: ``"polygon"`` (default: trace crowd RLEs to polygons) or ``"skip"`` (leave
        them out; their ids are in ``report.extra["crowd_skipped"]``). ``split``: a subfolder of
        ``images/`` and ``labels/`` (default none). ``skip_invalid``: write the objects that can
        be converted and list the others in ``report.skipped`` (default False: raise).

    Returns
    -------
    FormatReport
        ``files``: label files written; ``objects``: lines written.

    Raises
    ------
    ValueError
        A bad option, a structure :func:`maskprep.coco.check_structure` refuses, or objects that
        cannot be converted (every one listed by image and annotation id) unless
        ``skip_invalid``.
    maskprep.coco.OutputError
        ``out`` cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> data = {"images": [{"id": 1, "height": 10, "width": 20, "file_name": "a.jpg"}],
    ...         "annotations": [{"id": 7, "image_id": 1, "category_id": 3,
    ...                          "segmentation": [[2, 1, 10, 1, 10, 5]]}],
    ...         "categories": [{"id": 3, "name": "cat"}]}
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> write_yolo(data, out).objects
    1
    >>> (out / "labels" / "a.txt").read_text()
    '0 0.100000 0.100000 0.500000 0.100000 0.500000 0.500000\\n'
    """
    opts = _options(options)
    sizes = coco.image_sizes(data)  # checks the structure
    cats = _categories(data)
    index = {c["id"]: k for k, c in enumerate(cats)}
    report = FormatReport()

    label_of: Dict[Any, str] = {}  # image id -> label path
    owner: Dict[str, Any] = {}
    for im in data.get("images", []):
        path, why = _label_path(im.get("file_name"))
        if path is not None and path in owner:
            why = f"its label file {path} is also image {owner[path]!r}'s"
            path = None
        if path is None:
            report.skip(f"image {im.get('id')!r}", None, why)
            continue
        label_of[im.get("id")] = path
        owner[path] = im.get("id")

    # per annotation: (image id, class, parts); RLEs are traced first, in batches
    objs: List[Tuple[Any, Any, int, Any]] = []  # (ann id, image id, class, parts or RLE index)
    to_trace: List[Dict[str, Any]] = []
    crowd_skipped: List[Any] = []
    for a in data.get("annotations", []):
        aid, iid = a.get("id"), a.get("image_id")
        where = f"image {iid!r}"
        if iid not in sizes:
            report.skip(where, aid, f"image_id {iid!r} is not in images")
            continue
        if iid not in label_of:
            report.skip(where, aid, "its image cannot be written (see the image's entry)")
            continue
        cid = a.get("category_id")
        if isinstance(cid, bool) or cid not in index:
            report.skip(where, aid, f"category_id {cid!r} is not in categories")
            continue
        seg = a.get("segmentation")
        if isinstance(seg, dict):
            if seg.get("size") != list(sizes[iid]):
                report.skip(where, aid, f"RLE size {seg.get('size')!r} is not the image's [h, w]")
                continue
            if a.get("iscrowd") and opts["crowd"] == "skip":
                crowd_skipped.append(aid)
                continue
            objs.append((aid, iid, index[cid], len(to_trace)))
            to_trace.append(seg)
            continue
        parts, why = _polygon_parts(seg) if isinstance(seg, list) else (None, "")
        if parts is None:
            report.skip(where, aid, why or f"segmentation must be polygons or an RLE, got {seg!r}")
            continue
        objs.append((aid, iid, index[cid], parts))

    objs = _trace_overlapping(objs, to_trace, sizes, report, num_threads)
    if to_trace:
        of = {o[3]: o[1] for o in objs if isinstance(o[3], int)}  # RLE index -> image id
        h_w = [sizes[of[k]] for k in range(len(to_trace))]
        rles, errors = coco.rles_or_errors(
            to_trace,
            [h for h, _ in h_w],
            [w for _, w in h_w],
            range(len(h_w)),
            num_threads=num_threads,
        )
        good = [r for r in rles if r is not None]
        traced = iter(_trace(good, num_threads))
        polys = [None if r is None else next(traced) for r in rles]
        kept = []
        for o in objs:
            if not isinstance(o[3], int):
                kept.append(o)
            elif polys[o[3]] is None:
                report.skip(f"image {o[1]!r}", o[0], errors[o[3]])
            elif not polys[o[3]]:
                report.skip(f"image {o[1]!r}", o[0], "its mask is empty: no polygon")
            else:
                kept.append((o[0], o[1], o[2], polys[o[3]]))
        objs = kept

    slot = {iid: k for k, iid in enumerate(label_of)}  # image id -> label file index
    text, bounds, clipped, n_lines = _lines(objs, sizes, slot, report, num_threads)
    if report.skipped and not opts["skip_invalid"]:
        raise ValueError(
            f"{len(report.skipped)} object(s) cannot be exported to YOLO: "
            + coco.join_limited([str(s) for s in report.skipped])
        )
    labels = list(label_of.values())
    return _finish(
        out, opts, report, cats, labels, text, bounds, clipped, crowd_skipped, n_lines, num_threads
    )


def write_yolo_file(
    path: Any,
    out: Any,
    *,
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> FormatReport:
    """:func:`write_yolo` of an instances file, read straight from its text when it can be.

    The same files, report and errors as ``write_yolo(maskprep.coco.load(path), out, ...)``,
    several times faster on the files most datasets are: the C++ reader picks the images,
    categories and polygon coordinates out of the text without building Python objects (see
    ``coco_json.hpp``: integer ids, plain file names, every object convertible). Any other
    file, and any file with an object the export would skip or refuse, is loaded and exported
    by :func:`write_yolo`, which reports it in its own words.

    Parameters
    ----------
    path : str or os.PathLike
        A COCO instances ``.json`` file.
    out : str or os.PathLike
        The dataset folder (created if needed).
    num_threads : int, optional
        As in :func:`write_yolo`.
    options : dict, optional
        As in :func:`write_yolo`.

    Returns
    -------
    FormatReport
        As :func:`write_yolo`.

    Raises
    ------
    ValueError
        As :func:`write_yolo`, and :func:`maskprep.coco.load`'s errors for a file that is not
        JSON or not an instances file.
    OSError
        ``path`` cannot be read.
    maskprep.coco.OutputError
        ``out`` cannot be written.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.json").write_text(json.dumps({
    ...     "images": [{"id": 1, "height": 10, "width": 20, "file_name": "a.jpg"}],
    ...     "annotations": [{"id": 7, "image_id": 1, "category_id": 3,
    ...                      "segmentation": [[2, 1, 10, 1, 10, 5]]}],
    ...     "categories": [{"id": 3, "name": "cat"}]}))
    >>> write_yolo_file(folder / "in.json", folder / "yolo").objects
    1
    >>> (folder / "yolo" / "labels" / "a.txt").read_text()
    '0 0.100000 0.100000 0.500000 0.100000 0.500000 0.500000\\n'
    """
    report = write_regular(path, out, num_threads=num_threads, options=options)
    if report is not None:
        return report
    return write_yolo(coco.load(path), out, num_threads=num_threads, options=options)


def write_regular(
    path: Any,
    out: Any,
    *,
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Optional[FormatReport]:
    """:func:`write_yolo_file`'s fast reading alone: the export when the file is in the
    regular form and every object converts, else None with nothing written (the caller then
    loads the file for :func:`write_yolo`, which reports what is wrong).

    Parameters
    ----------
    path, out, num_threads, options
        As in :func:`write_yolo_file`.

    Returns
    -------
    FormatReport or None

    Raises
    ------
    maskprep.coco.OutputError
        ``out`` cannot be written (nothing else: every other problem is None).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.json").write_text('{"images": [{"id": "a"}], "annotations": []}')
    >>> write_regular(folder / "in.json", folder / "yolo") is None  # a string id: not regular
    True
    """
    try:
        opts = _options(options)
        with open(path, "rb") as f:
            raw = f.read()
    except (ValueError, OSError):
        return None  # write_yolo's reading reports it, after the file's own errors
    cols = _core.coco_columns(raw)
    if isinstance(cols, str):
        return None
    p = _regular_objects(raw, cols, opts, num_threads)
    if p is None:
        return None
    text, bounds, outside = _text(p.xy, p.part_pts, p.layout, p.classes, p.files, p.wh, num_threads)
    clipped = p.ids[outside].tolist()
    return _finish(
        out,
        opts,
        p.report,
        p.cats,
        p.labels,
        text,
        bounds,
        clipped,
        p.crowd_skipped,
        len(p.ids),
        num_threads,
    )


class _Regular(NamedTuple):
    """The objects of a regular file, ready for :func:`_text` (see there for the arrays)."""

    report: FormatReport
    cats: List[Dict[str, Any]]
    labels: List[str]  # per image
    xy: np.ndarray
    part_pts: np.ndarray
    layout: Tuple[np.ndarray, np.ndarray, np.ndarray]
    classes: np.ndarray
    files: np.ndarray
    wh: np.ndarray
    ids: np.ndarray  # annotation id per object
    crowd_skipped: List[Any]


def _regular_objects(
    raw: bytes, cols: Dict[str, Any], opts: Dict[str, Any], num_threads: Optional[int]
) -> Optional[_Regular]:
    """write_yolo's checks and object list on the columns of a regular file, in numpy: None
    wherever write_yolo would skip or refuse something (it then reports it)."""
    b, e = cols["categories"]
    try:
        cats = _categories({"categories": orjson.loads(raw[b:e]) if b >= 0 else []})
        cat_ids = np.array([c["id"] for c in cats], dtype=np.int64)
    except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError, OverflowError):
        return None  # not a list of objects with integer ids: write_yolo says so
    labels = []
    for name in cols["file_name"]:
        path, _ = _label_path(name)
        if path is None:
            return None
        labels.append(path)
    if len(set(labels)) != len(labels):
        return None
    cid = cols["category_id"]
    classes = np.searchsorted(cat_ids, cid)
    if len(cid) and (classes.max() >= len(cat_ids) or (cat_ids[classes] != cid).any()):
        return None  # a category_id that is not in categories
    image, parts, part_pts, xy = cols["image"], cols["parts"], cols["part_points"], cols["xy"]
    hw = np.column_stack([cols["height"], cols["width"]])[image]
    part_start = np.cumsum(parts) - parts  # RLEs: 0 parts, at the next object's first
    pt_first = np.concatenate([[0], np.cumsum(part_pts)])
    pt_start = pt_first[part_start]
    report = FormatReport()

    # objects to trace: overlapping polygon parts (their union) and RLEs, as write_yolo's
    multi = np.flatnonzero(parts > 1)
    flags = _core.yolo_overlapping_parts(
        xy,
        part_pts,
        parts[multi],
        hw[multi],
        part_start=part_start[multi],
        point_start=pt_start[multi],
        num_threads=num_threads,
    )
    if (flags == 2).any():
        return None
    over = multi[flags == 1].tolist()
    is_rle = cols["rle_begin"] >= 0
    keep = ~(is_rle & cols["iscrowd"]) if opts["crowd"] == "skip" else np.ones(len(cid), bool)
    rles = np.flatnonzero(is_rle & keep).tolist()
    segs: List[Any] = [
        [
            xy[s : s + n].ravel().tolist()
            for s, n in _part_spans(k, part_start, parts, part_pts, pt_start)
        ]
        for k in over
    ]
    segs += [orjson.loads(raw[cols["rle_begin"][k] : cols["rle_end"][k]]) for k in rles]
    todo = over + rles
    if todo:
        unions, errors = coco.rles_or_errors(
            segs,
            hw[todo, 0].tolist(),
            hw[todo, 1].tolist(),
            range(len(todo)),
            num_threads=num_threads,
        )
        if errors:
            return None
        t_xy, t_pts, t_layout = _trace_arrays([u for u in unions if u is not None], num_threads)
        if not t_layout[1].all():
            return None  # an empty mask: write_yolo reports it
        # the traced outlines after the file's own points, the objects pointed at them
        part_start, parts, pt_start = (a.copy() for a in (part_start, parts, pt_start))
        part_start[todo] = len(part_pts) + t_layout[0]
        parts[todo] = t_layout[1]
        pt_start[todo] = len(xy) + t_layout[2]
        xy = np.concatenate([xy, t_xy])
        part_pts = np.concatenate([part_pts, t_pts])
    if over:
        report.notes.append(
            f"{len(over)} object(s) have overlapping polygon parts: exported as the outline traced "
            "from their mask (joining the parts would cut the overlap out)"
        )
        report.extra["overlap_traced"] = len(over)
    kept = np.flatnonzero(keep)
    wh = np.column_stack([cols["width"], cols["height"]]).astype(np.float64)
    return _Regular(
        report,
        cats,
        labels,
        xy,
        part_pts,
        (part_start[kept], parts[kept], pt_start[kept]),
        classes[kept],
        image[kept],
        wh,
        cols["ann_id"][kept],
        cols["ann_id"][~keep].tolist(),
    )


def _part_spans(
    k: int, part_start: np.ndarray, parts: np.ndarray, part_pts: np.ndarray, pt_start: np.ndarray
) -> List[Tuple[int, int]]:
    """(first point, points) of each part of object k."""
    out, s = [], int(pt_start[k])
    for n in part_pts[part_start[k] : part_start[k] + parts[k]].tolist():
        out.append((s, n))
        s += n
    return out


def _options(options: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """write_yolo's options, checked (ValueError naming the bad one)."""
    opts = check_options(options, {"crowd": "polygon", "split": None, "skip_invalid": False})
    if opts["crowd"] not in ("polygon", "skip"):
        raise ValueError(f"options: crowd must be 'polygon' or 'skip', got {opts['crowd']!r}")
    split = opts["split"]
    if split is not None and (not isinstance(split, str) or _label_path(split)[0] is None):
        raise ValueError(f"options: split must be a relative folder name, got {split!r}")
    return opts


def _finish(
    out: Any,
    opts: Dict[str, Any],
    report: FormatReport,
    cats: List[Dict[str, Any]],
    labels: List[str],
    text: np.ndarray,
    bounds: np.ndarray,
    clipped: List[Any],
    crowd_skipped: List[Any],
    n_lines: int,
    num_threads: Optional[int],
) -> FormatReport:
    """The notes, the YAML and every label file written (label file k, at ``labels[k]``, being
    ``text[bounds[k]:bounds[k + 1]]``): the end of both of write_yolo's readings."""
    split = opts["split"]
    if clipped:
        report.notes.append(
            f"{len(clipped)} object(s) had points outside the image, clamped to it: annotation "
            f"ids {coco.join_limited(clipped, 10, ', ')}"
        )
    if crowd_skipped:
        report.notes.append(
            f"left out {len(crowd_skipped)} crowd annotation(s) (crowd='skip'): ids "
            f"{coco.join_limited(crowd_skipped, 10, ', ')}"
        )
    report.extra["crowd_skipped"] = crowd_skipped
    report.extra["classes"] = len(cats)

    sub = str(PurePosixPath("labels", split) if split else PurePosixPath("labels"))
    view = text.data  # a memoryview: per-file slices without copies
    bound = bounds.tolist()
    files: Dict[str, Any] = {
        f"{sub}/{path}": view[bound[k] : bound[k + 1]] for k, path in enumerate(labels)
    }
    files[YAML_NAME] = _yaml(cats, Path(out), split).encode("utf-8")
    images = str(PurePosixPath("images", split)) if split else "images"
    _write_files(Path(out), files, sub, [images], num_threads)
    report.files = len(files) - 1
    report.objects = n_lines
    return report


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, in numpy."""
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(ends[-1] if len(ends) else 0)


def _lines(
    objs: List[Tuple[Any, Any, int, Any]],
    sizes: Dict[Any, Tuple[int, int]],
    slot: Dict[Any, int],
    report: FormatReport,
    num_threads: Optional[int],
) -> Tuple[np.ndarray, np.ndarray, List[Any], int]:
    """The label text of every object, file by file: ``(text, bounds, clipped, lines)``, label
    file k being ``text[bounds[k]:bounds[k + 1]]`` (its objects in annotation order). One line
    per object, parts joined, normalised and written as ``%.6f`` by the C++ kernel (yolo.hpp);
    here the coordinates only go into one numpy array and are checked to be finite numbers.
    ``clipped``: the ids of objects with points outside the image, in annotation order."""
    flat: List[Any] = []
    part_len: List[int] = []  # numbers per part (even: checked, or traced as points)
    n_parts: List[int] = []
    for o in objs:
        for p in o[3]:
            flat.extend(p)
            part_len.append(len(p))
        n_parts.append(len(o[3]))
    try:
        arr = np.array(flat, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # a non-number somewhere: find it
        return _lines_checked(objs, sizes, slot, report, num_threads)
    n = len(objs)
    parts = np.asarray(n_parts, dtype=np.int64)
    part_pts = np.asarray(part_len, dtype=np.int64) // 2
    part_start = np.cumsum(parts) - parts  # each object's first part
    obj_pts = np.add.reduceat(part_pts, part_start) if n else part_pts[:0]
    pt_start = np.cumsum(obj_pts) - obj_pts  # each object's first point
    xy = arr.reshape(-1, 2)
    if n and not np.logical_and.reduceat(np.isfinite(xy).all(axis=1), pt_start).all():
        return _lines_checked(objs, sizes, slot, report, num_threads)
    files = np.fromiter((slot[o[1]] for o in objs), dtype=np.int64, count=n)
    wh = np.array([sizes[iid][::-1] for iid in slot], dtype=np.float64).reshape(-1, 2)
    classes = np.fromiter((o[2] for o in objs), dtype=np.int64, count=n)
    layout = (part_start, parts, pt_start)
    text, bounds, outside = _text(xy, part_pts, layout, classes, files, wh, num_threads)
    return text, bounds, [objs[k][0] for k in outside.tolist()], n


def _text(
    xy: np.ndarray,
    part_pts: np.ndarray,
    layout: Tuple[np.ndarray, np.ndarray, np.ndarray],
    classes: np.ndarray,
    files: np.ndarray,
    wh: np.ndarray,
    num_threads: Optional[int],
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The label text of objects given as arrays: object k has the parts ``part_pts[part_start[k]
    : part_start[k] + parts[k]]``, its points from ``xy[pt_start[k]]`` on (``layout`` holds those
    three), ``classes[k]``, and goes to label file ``files[k]``, whose image is ``wh[files[k]]``
    (width, height). Returns ``(text, bounds, outside)``: ``bounds`` per label file as
    :func:`_lines` gives them, ``outside`` the (sorted) indices of the objects with points
    clamped to the image. The kernel reads the points where they are (no gathered copy)."""
    part_start, parts, pt_start = layout
    # objects grouped by label file (stable: annotation order within a file)
    order = np.argsort(files, kind="stable")
    text, offsets, inside = _core.yolo_label_lines(
        xy,
        part_pts,
        parts[order],
        classes[order],
        wh[files[order]],
        part_start=part_start[order],
        point_start=pt_start[order],
        num_threads=num_threads,
    )
    first = np.searchsorted(files[order], np.arange(len(wh) + 1))  # each file's first object
    return text, offsets[first], np.sort(order[~inside])


def _lines_checked(
    objs: List[Tuple[Any, Any, int, Any]],
    sizes: Dict[Any, Tuple[int, int]],
    slot: Dict[Any, int],
    report: FormatReport,
    num_threads: Optional[int],
) -> Tuple[np.ndarray, np.ndarray, List[Any], int]:
    """:func:`_lines` after checking each object's numbers on its own (the slow path, taken
    only when some object holds a non-number or a non-finite value)."""
    ok = []
    for o in objs:
        aid, iid, _, parts = o
        try:
            vals = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
        except (TypeError, ValueError, OverflowError):
            report.skip(f"image {iid!r}", aid, "segmentation polygons must hold only numbers")
            continue
        if not np.isfinite(vals).all():
            report.skip(f"image {iid!r}", aid, "segmentation coordinates must be finite numbers")
            continue
        ok.append(o)
    return _lines(ok, sizes, slot, report, num_threads)


def _yaml(cats: List[Dict[str, Any]], out: Path, split: Optional[str]) -> str:
    """ultralytics' data YAML; names as JSON strings (valid YAML double-quoted scalars)."""
    images = f"images/{split}" if split else "images"
    text = [
        "# YOLO segmentation dataset written by maskprep (maskprep export --format yolo)",
        f"path: {json.dumps(str(out.resolve()))}",
        f"train: {images}",
        f"val: {images}",
        "names:",
    ]
    text += [
        f"  {k}: {json.dumps(str(c.get('name', c['id'])), ensure_ascii=False)}"
        for k, c in enumerate(cats)
    ]
    text.append("# the COCO category id of each class index (read back by maskprep import)")
    text.append("coco_category_ids:")
    text += [f"  {k}: {c['id']}" for k, c in enumerate(cats)]
    return "\n".join(text) + "\n"


def _write_chunk(tmp: str, items: List[Tuple[str, Any]]) -> None:
    for rel, body in items:
        with open(os.path.join(tmp, rel), "wb") as f:
            f.write(body)


def _write_files(
    out: Path, files: Dict[str, Any], tree: str, dirs: List[Any], num_threads: Optional[int]
) -> None:
    """Every file into a temporary folder under ``out``, then moved into place: the folder
    ``tree`` (the labels) in one rename when ``out`` has none yet, else file by file, each
    replacing its namesake. The files are written by ``num_threads`` threads (open and write
    release the GIL), in contiguous runs of the sorted names. str paths and plain open:
    pathlib's overhead per call is most of the time for small label files."""
    coco.make_dir(out)
    root = os.fspath(out)
    tmp = os.path.join(root, f".maskprep-export-{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(os.path.join(tmp, tree))  # even without label files (no images)
        made = set()
        for rel in files:
            folder = os.path.dirname(os.path.join(tmp, rel))
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
        items = list(files.items())
        threads = min(resolve_num_threads(num_threads), len(items) // _FILES_PER_THREAD) or 1
        if threads == 1:
            _write_chunk(tmp, items)
        else:
            step = -(-len(items) // threads)
            with ThreadPoolExecutor(threads) as pool:
                done = [
                    pool.submit(_write_chunk, tmp, items[k : k + step])
                    for k in range(0, len(items), step)
                ]
            for d in done:
                d.result()  # the first OSError, after every thread has stopped
        for d in dirs:
            os.makedirs(os.path.join(root, d), exist_ok=True)
        moved = not os.path.exists(os.path.join(root, tree))
        if moved:
            os.makedirs(os.path.dirname(os.path.join(root, tree)), exist_ok=True)
            os.rename(os.path.join(tmp, tree), os.path.join(root, tree))
        prefix = tree + os.sep
        for rel in files:
            if moved and rel.startswith(prefix):
                continue
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            os.replace(os.path.join(tmp, rel), os.path.join(root, rel))
    except OSError as exc:
        raise coco.OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- reading -------------------------------------------------------------------------------------


def _find_yaml(src: Path) -> Path:
    if src.is_file():
        return src
    if not src.is_dir():
        raise coco.UnreadableInput(f"{src} is not a YOLO dataset folder or data YAML")
    if (src / YAML_NAME).is_file():
        return src / YAML_NAME
    found = sorted(p for p in src.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if len(found) != 1:
        what = "no data YAML" if not found else f"{len(found)} YAML files and no {YAML_NAME}"
        raise coco.UnreadableInput(f"{src} holds {what} (the class names): pass the YAML file")
    return found[0]


def _read_yaml(path: Path) -> Tuple[List[str], List[int]]:
    """The class names and their category ids (``coco_category_ids``, else index + 1)."""
    try:
        import yaml
    except ImportError:
        raise ImportError("reading YOLO datasets needs PyYAML: pip install pyyaml") from None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise coco.UnreadableInput(f"cannot read the data YAML {path}: {exc}") from None
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise coco.UnreadableInput(f"{path}: names must be a non-empty mapping or list of names")
    if sorted(names) != list(range(len(names))):
        raise coco.UnreadableInput(
            f"{path}: the names' keys must be the class indices 0..{len(names) - 1}"
        )
    ids = doc.get("coco_category_ids")
    if ids is None:
        cat_ids = list(range(1, len(names) + 1))
    elif (
        isinstance(ids, dict)
        and sorted(ids) == sorted(names)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in ids.values())
        and len(set(ids.values())) == len(ids)
    ):
        cat_ids = [ids[k] for k in range(len(names))]
    else:
        raise coco.UnreadableInput(
            f"{path}: coco_category_ids must map every class index to a unique integer id"
        )
    return [str(names[k]) for k in range(len(names))], cat_ids


def image_size(path: Path) -> Tuple[int, int]:
    """``(height, width)`` from the image file's header: PIL's ``Image.open`` is lazy, the
    pixels are not decoded.

    Parameters
    ----------
    path : str or os.PathLike
        An image file.

    Returns
    -------
    (int, int)
        Its height and width in pixels.

    Raises
    ------
    OSError
        The file cannot be opened or is not an image (PIL's ``UnidentifiedImageError`` is one).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.png"
    >>> Image.new("RGB", (20, 10)).save(path)
    >>> image_size(path)
    (10, 20)
    """
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    return int(h), int(w)


def _parse_line(
    line: str, n_classes: int, hw: Tuple[int, int]
) -> Tuple[Optional[Tuple[int, List[float]]], str]:
    """(class, pixel polygon) of one label line, or None and why."""
    tok = line.split()
    try:
        cls_f = float(tok[0])
    except ValueError:
        return None, f"class index {tok[0]!r} is not a number"
    if not cls_f.is_integer():
        return None, f"class index {tok[0]!r} is not an integer"
    cls = int(cls_f)
    if not 0 <= cls < n_classes:
        return None, f"class index {cls} is not in the YAML's names (0..{n_classes - 1})"
    try:
        xy = np.array(tok[1:], dtype=np.float64)
    except ValueError:
        return None, "the coordinates must be numbers"
    n = len(xy)
    if n % 2:
        return None, f"odd count of coordinates ({n}): x y pairs expected"
    if n == 4:
        return None, "4 coordinates: a detection box (x y w h), not a segmentation polygon"
    if n < 6:
        return None, f"{n} coordinates: a polygon needs at least 3 points (6 numbers)"
    if not (np.isfinite(xy).all() and (xy >= 0).all() and (xy <= 1).all()):
        return None, "coordinates must be normalised: in [0, 1]"
    h, w = hw
    px = np.round(xy.reshape(-1, 2) * np.array([w, h], dtype=np.float64), 3)
    return (cls, px.ravel().tolist()), ""


def read_yolo(
    src: Any,
    *,
    images: Any = None,
    to: str = "polygon",
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Tuple[Dict[str, Any], FormatReport]:
    """Read a YOLO segmentation dataset as a COCO instances dict.

    Every label file under ``labels/`` beside the data YAML gives one image: the image file at the
    same relative path under ``images`` (default ``images/`` beside the YAML) with one of
    :data:`IMAGE_SUFFIXES`; its size is read from the file's header (the pixels are never
    decoded). Images without a label file are background images (no annotations). Image ids are
    1..N in order of relative path, annotation ids 1..M; points become pixels (rounded to 1e-3
    px); area and bbox come from the rasterized mask, as pycocotools computes them.

    Parameters
    ----------
    src : str or os.PathLike
        The dataset folder (holding ``data.yaml`` or a single other ``*.yaml``) or its YAML.
    images : str or os.PathLike, optional
        The images folder, mirroring ``labels/``.
    to : {"polygon", "rle"}
        The segmentations: pixel polygons as read, or compressed RLEs.
    num_threads : int, optional
    options : dict, optional
        None known yet.

    Returns
    -------
    dataset : dict
        ``images``, ``annotations``, ``categories`` (ids from the YAML's ``coco_category_ids``,
        else class index + 1).
    report : FormatReport
        Every line and file that could not be read, by label file and line number.

    Raises
    ------
    maskprep.coco.UnreadableInput
        No or a bad data YAML, no ``labels/`` or images folder.
    ValueError
        ``to`` is neither ``"polygon"`` nor ``"rle"``, or ``options`` has a key (none are known).
    ImportError
        PyYAML is not installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> data = {"images": [{"id": 1, "height": 10, "width": 20, "file_name": "a.jpg"}],
    ...         "annotations": [{"id": 7, "image_id": 1, "category_id": 3,
    ...                          "segmentation": [[2, 1, 10, 1, 10, 5]]}],
    ...         "categories": [{"id": 3, "name": "cat"}]}
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_yolo(data, out)
    >>> Image.new("RGB", (20, 10)).save(out / "images" / "a.jpg")  # the photo, for its size
    >>> back, report = read_yolo(out)
    >>> back["images"], back["categories"]
    ([{'id': 1, 'file_name': 'a.jpg', 'height': 10, 'width': 20}], [{'id': 3, 'name': 'cat'}])
    >>> ann = back["annotations"][0]
    >>> ann["category_id"], ann["segmentation"], ann["area"], ann["bbox"]
    (3, [[2.0, 1.0, 10.0, 1.0, 10.0, 5.0]], 16.0, [3.0, 1.0, 7.0, 4.0])
    """
    to = check_to(to)
    check_options(options, {})
    yaml_path = _find_yaml(Path(src))
    names, cat_ids = _read_yaml(yaml_path)
    root = yaml_path.parent
    labels_dir = root / "labels"
    if not labels_dir.is_dir():
        raise coco.UnreadableInput(f"{root} has no labels/ folder")
    images_dir = Path(images) if images is not None else root / "images"
    if not images_dir.is_dir():
        raise coco.UnreadableInput(f"the images folder {images_dir} does not exist (--images)")
    photos: Dict[str, Path] = {}
    for p in sorted(images_dir.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            photos.setdefault(p.relative_to(images_dir).with_suffix("").as_posix(), p)
    label_files = {
        p.relative_to(labels_dir).with_suffix("").as_posix(): p
        for p in sorted(labels_dir.rglob("*.txt"))
        if p.is_file()
    }
    report = FormatReport()
    imgs: List[Dict[str, Any]] = []
    objects: List[PolygonObject] = []
    sizes: Dict[int, Tuple[int, int]] = {}
    for key in sorted(set(photos) | set(label_files)):
        label = label_files.get(key)
        where = str(label if label is not None else photos[key])
        if key not in photos:
            report.skip(where, None, f"no image file for it under {images_dir}")
            continue
        try:
            hw = image_size(photos[key])
        except OSError as exc:
            report.skip(where, None, f"cannot read the size of {photos[key]}: {exc}")
            continue
        lines: List[str] = []
        if label is not None:
            try:
                lines = label.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                report.skip(where, None, f"cannot read the label file: {exc}")
                continue
            report.files += 1
        iid = len(imgs) + 1
        imgs.append(
            {
                "id": iid,
                "file_name": photos[key].relative_to(images_dir).as_posix(),
                "height": hw[0],
                "width": hw[1],
            }
        )
        sizes[iid] = hw
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parsed, why = _parse_line(line, len(names), hw)
            if parsed is None:
                report.skip(where, f"line {n}", why)
                continue
            objects.append(PolygonObject(where, f"line {n}", iid, cat_ids[parsed[0]], [parsed[1]]))
    anns = build_annotations(objects, sizes, to, report, num_threads)
    cats = [{"id": i, "name": name} for i, name in zip(cat_ids, names)]
    return {"images": imgs, "annotations": anns, "categories": cats}, report
