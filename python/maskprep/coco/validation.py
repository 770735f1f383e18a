"""Every problem of a COCO instances dict, by annotation id (``maskprep validate``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .conversion import _area_and_bbox, rles_or_errors
from .jsonio import no_gc
from .structure import _size_error, image_hw, structure_errors


@dataclass
class Problem:
    level: str  # "error" or "warning"
    ann_id: Any
    message: str
    image_id: Any = None  # set for a problem of an image (ann_id is then None)

    def __str__(self) -> str:
        if self.ann_id is not None:
            where = f"annotation {self.ann_id}"
        elif self.image_id is not None:
            where = f"image {self.image_id}"
        else:
            where = "dataset"
        return f"{self.level}: {where}: {self.message}"


# A stored bbox edge may differ from the segmentation's extent by this many pixels before validate
# warns. Measured on the COCO files in ../shared/data: polygon bboxes equal their points' extent
# to 1e-13 (COCO rounds to 2 decimals), crowd RLE bboxes are within exactly 1 pixel of toBbox.
BBOX_TOLERANCE = 1.0


def _polygon_extent(seg: List[Any]) -> Optional[List[float]]:
    """[x0, y0, x1, y1] over every point of a polygon list (how COCO computed its bboxes), or
    None when a coordinate is not a number (reported by the conversion)."""
    try:
        xs = [x for poly in seg for x in poly[0::2]]
        ys = [y for poly in seg for y in poly[1::2]]
        return [float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))]
    except (TypeError, ValueError):
        return None


@no_gc()
def validate(data: Dict[str, Any], *, num_threads: Optional[int] = None) -> List[Problem]:
    """Every problem of a COCO instances dict, by annotation id.

    Errors (the data is unusable as it is): ``images``, ``annotations`` or ``categories`` that
    are not lists of objects (reported alone: nothing else is checked), an image without a
    valid height and width (integers from 0 to 2^31 - 1; integral floats such as 10.0 count as
    integers), duplicate annotation or image ids, an image_id or category_id that does not
    exist, polygons that are odd-length, non-finite or have fewer than 3 points, RLEs whose size
    is not the image's or whose counts do not sum to h*w or are malformed.

    Warnings: coordinates outside the image (pycocotools clips them), a stored area that
    disagrees with the mask's pixel count by more than 10% and 10 pixels (COCO stores polygon
    areas, so small differences are normal), and a stored bbox whose edges are more than
    :data:`BBOX_TOLERANCE` pixels from the segmentation's extent: for polygons the extent of
    their points (the rule COCO's own bboxes follow; the rasterized mask's box is up to a pixel
    larger or smaller), for RLEs the RLE's bbox (pycocotools' ``toBbox``).

    Parameters
    ----------
    data : dict
    num_threads : int, optional

    Returns
    -------
    list of Problem
        Empty for a valid file. Nothing is raised for bad data: every problem is in the list.

    Examples
    --------
    >>> data = {"images": [{"id": 1, "height": 10, "width": 12, "file_name": "x.png"}],
    ...         "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "area": 12.5,
    ...                          "bbox": [1, 1, 5, 5], "segmentation": [[1, 1, 6, 1, 6, 6]]}],
    ...         "categories": [{"id": 1, "name": "thing"}]}
    >>> validate(data)
    []
    >>> data["annotations"][0]["image_id"] = 2
    >>> [str(p) for p in validate(data)]
    ['error: annotation 7: image_id 2 is not in images']
    """
    structure = structure_errors(data)
    if structure:
        return [Problem("error", None, msg) for msg in structure]
    problems: List[Problem] = []
    seen_images: set = set()
    sizes: Dict[Any, Tuple[int, int]] = {}
    bad_size: set = set()
    for im in data.get("images", []):
        iid = im.get("id")
        if iid in seen_images:
            problems.append(Problem("error", None, f"duplicate image id {iid!r}"))
        seen_images.add(iid)
        hw = image_hw(im)
        if hw is not None:
            sizes[iid] = hw
        else:
            problems.append(Problem("error", None, str(_size_error(im)), image_id=iid))
            bad_size.add(iid)
    categories = {c.get("id") for c in data.get("categories", [])}
    seen: set = set()
    pending = []
    for ann in data.get("annotations", []):
        aid = ann.get("id")
        if aid in seen:
            problems.append(Problem("error", aid, "duplicate annotation id"))
        seen.add(aid)
        if ann.get("image_id") in bad_size:
            continue  # its image's size is reported; nothing can be checked against it
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
        pending.append((ann, seg, h, w))
    rles, errors = rles_or_errors(
        [p[1] for p in pending],
        [p[2] for p in pending],
        [p[3] for p in pending],
        [p[0].get("id") for p in pending],
        num_threads=num_threads,
    )
    problems += [Problem("error", aid, msg) for aid, msg in errors.items()]
    ids = [p[0].get("id") for p in pending]
    mask_errors: Dict[Any, str] = {}
    stats = _area_and_bbox(rles, ids, mask_errors, num_threads)
    problems += [Problem("error", aid, msg) for aid, msg in mask_errors.items()]
    checkable = [(p[0], s) for p, s in zip(pending, stats) if s is not None]
    for ann, (a, b) in checkable:
        aid = ann.get("id")
        stored = ann.get("area")
        if (
            isinstance(stored, (int, float))
            and not isinstance(stored, bool)
            and abs(stored - float(a)) > max(10.0, 0.1 * float(a))
        ):
            problems.append(
                Problem("warning", aid, f"area {stored} but the mask has {int(a)} pixels")
            )
        bbox = ann.get("bbox")
        if not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
            and a > 0
        ):
            continue
        seg = ann["segmentation"]
        if isinstance(seg, list):
            extent = _polygon_extent(seg)
            if extent is None:
                continue
            what = "the polygons' extent"
        else:
            extent = [b[0], b[1], b[0] + b[2], b[1] + b[3]]
            what = "the RLE's box"
        given = [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]]
        if max(abs(float(e) - g) for e, g in zip(extent, given)) > BBOX_TOLERANCE:
            x0, y0, x1, y1 = (round(float(v), 2) for v in extent)
            box = [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)]
            problems.append(Problem("warning", aid, f"bbox {bbox} but {what} is {box}"))
    return problems
