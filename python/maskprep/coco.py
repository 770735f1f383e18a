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
