"""Building COCO annotations from pixel polygons (shared by the YOLO and LabelMe importers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .. import coco, rle
from ._report import FormatReport

TO = ("rle", "polygon")


@dataclass
class PolygonObject:
    """One object read from a file: its image, category and polygons in pixels."""

    file: str  # where it came from (for the report)
    obj: Any  # its line number / shape index in that file
    image_id: int
    category_id: int
    polygons: List[List[float]]
    iscrowd: int = 0


def check_options(options: Any, known: Dict[str, Any]) -> Dict[str, Any]:
    """The options dict of an importer or exporter, with ``known``'s defaults for what it omits.
    TypeError when it is not a dict (None: no options), ValueError for an unknown key."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"options: unknown {unknown}; known: {sorted(known)}")
    return {**known, **options}


def check_to(to: Any) -> str:
    if to not in TO:
        raise ValueError(f"to must be 'rle' or 'polygon', got {to!r}")
    return str(to)


def build_annotations(
    objects: List[PolygonObject],
    sizes: Dict[int, Any],
    to: str,
    report: FormatReport,
    num_threads: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """COCO annotations (ids from 1) for ``objects``: area and bbox from the rasterized mask
    (pycocotools' ``area`` / ``toBbox`` of ``frPyObjects`` + ``merge``), the segmentation as
    the polygons (``to="polygon"``) or a compressed RLE with str counts (``to="rle"``). An
    object that cannot be rasterized is added to ``report`` by file and object."""
    hw = [sizes[o.image_id] for o in objects]
    rles, errors = coco.rles_or_errors(
        [o.polygons for o in objects],
        [h for h, _ in hw],
        [w for _, w in hw],
        list(range(len(objects))),
        counts="str",
        num_threads=num_threads,
    )
    good = [k for k, r in enumerate(rles) if r is not None]
    for k, msg in errors.items():
        report.skip(objects[k].file, objects[k].obj, msg)
    good_rles = [r for r in rles if r is not None]
    areas = rle.area(good_rles, num_threads=num_threads).tolist() if good else []
    boxes = rle.to_bbox(good_rles, num_threads=num_threads).tolist() if good else []
    out = []
    for n, (k, a, b) in enumerate(zip(good, areas, boxes), start=1):
        o = objects[k]
        r = rles[k]
        assert r is not None
        seg: Any = o.polygons if to == "polygon" else {"size": r["size"], "counts": r["counts"]}
        out.append(
            {
                "id": n,
                "image_id": o.image_id,
                "category_id": o.category_id,
                "segmentation": seg,
                "area": float(a),
                "bbox": [float(v) for v in b],
                "iscrowd": o.iscrowd,
            }
        )
    report.objects = len(out)
    return out
