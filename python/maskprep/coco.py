"""Dataset-level jobs on COCO instance files (used by the ``maskprep`` command)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import orjson

from . import rle

PathLike = Union[str, "os.PathLike[str]"]


def load(path: PathLike) -> Dict[str, Any]:
    """Read a COCO JSON file (orjson: several times faster than the json module)."""
    with open(path, "rb") as f:
        return orjson.loads(f.read())


def save(data: Dict[str, Any], path: PathLike) -> None:
    """Write JSON atomically: to a temporary file beside ``path``, renamed only on success, so an
    interrupted run never leaves a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(data))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ConvertReport:
    converted: int = 0
    polygons: int = 0
    rles: int = 0
    skipped: List[Any] = field(default_factory=list)  # annotation ids
    errors: Dict[Any, str] = field(default_factory=dict)  # annotation id -> message


def image_sizes(data: Dict[str, Any]) -> Dict[Any, tuple]:
    return {im["id"]: (int(im["height"]), int(im["width"])) for im in data.get("images", [])}


def segmentations_to_rle(
    data: Dict[str, Any],
    *,
    recompute: bool = False,
    skip_invalid: bool = False,
    num_threads: Optional[int] = None,
) -> ConvertReport:
    """Replace every annotation's ``segmentation`` by compressed COCO RLE, in place.

    Polygons become exactly what ``pycocotools`` would write (``COCO.annToRLE`` with the counts
    as a str); RLEs are re-encoded compressed. With ``recompute``, ``area`` and ``bbox`` are
    recomputed from the mask. Annotation order, ids and every other field are kept. An
    annotation that cannot be converted raises ``ValueError`` listing every bad id, unless
    ``skip_invalid``, in which case it is left untouched and its id is in the report.
    """
    sizes = image_sizes(data)
    report = ConvertReport()
    todo = []
    for ann in data.get("annotations", []):
        seg = ann.get("segmentation")
        if seg is None or (isinstance(seg, list) and not seg):
            continue  # nothing to convert (e.g. a box-only annotation)
        size = sizes.get(ann.get("image_id"))
        if size is None:
            report.errors[ann.get("id")] = f"image_id {ann.get('image_id')!r} is not in images"
            continue
        todo.append((ann, size))
    segs = [a["segmentation"] for a, _ in todo]
    hs = [s[0] for _, s in todo]
    ws = [s[1] for _, s in todo]
    try:
        out = rle.from_segmentations(segs, hs, ws, num_threads=num_threads)
    except (ValueError, TypeError):
        # Find every bad annotation, not just the first one, so the report is complete.
        out = []
        for (ann, (h, w)), seg in zip(todo, segs):
            try:
                out.append(rle.from_segmentations([seg], h, w, num_threads=1)[0])
            except (ValueError, TypeError) as exc:
                report.errors[ann.get("id")] = str(exc).replace("segmentations[0]", "segmentation")
                out.append(None)
    if report.errors and not skip_invalid:
        details = "; ".join(f"id {k}: {v}" for k, v in list(report.errors.items())[:20])
        raise ValueError(f"{len(report.errors)} annotation(s) cannot be converted: {details}")
    report.skipped = list(report.errors)
    ok = [(ann, r) for (ann, _), r in zip(todo, out) if r is not None]
    if recompute and ok:
        areas = rle.area([r for _, r in ok], num_threads=num_threads)
        boxes = rle.to_bbox([r for _, r in ok], num_threads=num_threads)
    for k, (ann, r) in enumerate(ok):
        if isinstance(ann["segmentation"], list):
            report.polygons += 1
        else:
            report.rles += 1
        counts = r["counts"]
        ann["segmentation"] = {
            "size": r["size"],
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
        }
        if recompute:
            ann["area"] = float(areas[k])
            ann["bbox"] = boxes[k].tolist()
        report.converted += 1
    return report


@dataclass
class Problem:
    level: str  # "error" or "warning"
    ann_id: Any
    message: str

    def __str__(self) -> str:
        where = "dataset" if self.ann_id is None else f"annotation {self.ann_id}"
        return f"{self.level}: {where}: {self.message}"


def validate(data: Dict[str, Any], *, num_threads: Optional[int] = None) -> List[Problem]:
    """Every problem of a COCO instances dict, by annotation id.

    Errors (the data is unusable as it is): duplicate annotation or image ids, an image_id or
    category_id that does not exist, polygons that are odd-length, non-finite or have fewer than
    3 points, RLEs whose size is not the image's or whose counts do not sum to h*w or are
    malformed. Warnings: coordinates outside the image (pycocotools clips them), and a stored
    area or bbox that disagrees with the mask (area off by more than 10% and 10 pixels, a bbox
    edge off by more than 2 pixels; COCO stores polygon areas, so small differences are normal).
    """
    problems: List[Problem] = []
    seen_images: set = set()
    for im in data.get("images", []):
        if im.get("id") in seen_images:
            problems.append(Problem("error", None, f"duplicate image id {im.get('id')!r}"))
        seen_images.add(im.get("id"))
    sizes = image_sizes(data)
    categories = {c.get("id") for c in data.get("categories", [])}
    seen: set = set()
    checkable = []
    for ann in data.get("annotations", []):
        aid = ann.get("id")
        if aid in seen:
            problems.append(Problem("error", aid, "duplicate annotation id"))
        seen.add(aid)
        if ann.get("image_id") not in sizes:
            problems.append(
                Problem("error", aid, f"image_id {ann.get('image_id')!r} is not in images")
            )
            continue
        if categories and ann.get("category_id") not in categories:
            problems.append(
                Problem(
                    "error", aid, f"category_id {ann.get('category_id')!r} is not in categories"
                )
            )
        seg = ann.get("segmentation")
        if seg is None or (isinstance(seg, list) and not seg):
            continue
        h, w = sizes[ann["image_id"]]
        if isinstance(seg, list):
            for p, poly in enumerate(seg):
                try:
                    xs = poly[0::2]
                    ys = poly[1::2]
                    if any(x < 0 or x > w for x in xs) or any(y < 0 or y > h for y in ys):
                        problems.append(
                            Problem(
                                "warning", aid, f"polygon {p} has points outside the {w}x{h} image"
                            )
                        )
                except TypeError:
                    pass  # reported by the conversion below
        try:
            r = rle.from_segmentations([seg], h, w, num_threads=1)[0]
        except (ValueError, TypeError) as exc:
            problems.append(
                Problem("error", aid, str(exc).replace("segmentations[0]", "segmentation"))
            )
            continue
        checkable.append((ann, r))
    if checkable:
        rles = [r for _, r in checkable]
        areas = rle.area(rles, num_threads=num_threads)
        boxes = rle.to_bbox(rles, num_threads=num_threads)
        for (ann, _), a, b in zip(checkable, areas, boxes):
            aid = ann.get("id")
            stored = ann.get("area")
            if isinstance(stored, (int, float)) and abs(stored - float(a)) > max(
                10.0, 0.1 * float(a)
            ):
                problems.append(
                    Problem("warning", aid, f"area {stored} but the mask has {int(a)} pixels")
                )
            bbox = ann.get("bbox")
            if isinstance(bbox, list) and len(bbox) == 4 and a > 0:
                x0, y0 = b[0], b[1]
                x1, y1 = b[0] + b[2], b[1] + b[3]
                s0, t0 = bbox[0], bbox[1]
                s1, t1 = bbox[0] + bbox[2], bbox[1] + bbox[3]
                if max(abs(x0 - s0), abs(y0 - t0), abs(x1 - s1), abs(y1 - t1)) > 2:
                    problems.append(
                        Problem("warning", aid, f"bbox {bbox} but the mask's box is {b.tolist()}")
                    )
    return problems
