"""Dataset-level jobs on COCO instance files (used by the ``maskprep`` command)."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import orjson

from . import _core, rle

PathLike = Union[str, "os.PathLike[str]"]


class UnreadableInput(ValueError):
    """The input file is not JSON (the command exits 2, as for a missing file)."""


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector. Converting a big file creates 100k+ small dicts
    and lists, and every collection they trigger walks the whole loaded dataset (millions of
    objects): up to a third of the run time. The objects made here hold no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load(path: PathLike) -> Dict[str, Any]:
    """Read a COCO JSON file with orjson (several times faster than the json module). The raw
    bytes are freed as soon as they are parsed, so the peak is the file plus its objects once."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with no_gc():
            return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UnreadableInput(f"{path} is not valid JSON: {exc}") from None
    finally:
        del raw


# Large lists are serialised this many items at a time: the output is never held in memory whole.
_WRITE_CHUNK = 10000


def _atomic_write(path: PathLike, write: Callable[[Any], None]) -> None:
    """write(file) into a temporary file beside ``path``, renamed over it only on success, so an
    interrupted run never leaves a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(data: Dict[str, Any], path: PathLike) -> None:
    """Write JSON atomically (see :func:`_atomic_write`). Top-level lists (``annotations``,
    ``images``) are streamed in chunks, so writing needs little memory beyond ``data`` itself."""

    def write(f: Any) -> None:
        if isinstance(data, dict):
            f.write(b"{")
            for k, (key, value) in enumerate(data.items()):
                f.write((b"," if k else b"") + orjson.dumps(key) + b":")
                _write_value(f, value)
            f.write(b"}")
        else:
            _write_value(f, data)

    _atomic_write(path, write)


def _write_value(f: Any, value: Any) -> None:
    if not isinstance(value, list) or len(value) <= _WRITE_CHUNK:
        f.write(orjson.dumps(value))
        return
    f.write(b"[")
    for start in range(0, len(value), _WRITE_CHUNK):
        chunk = orjson.dumps(value[start : start + _WRITE_CHUNK])
        f.write((b"," if start else b"") + chunk[1:-1])  # the items without their brackets
    f.write(b"]")


@dataclass
class ConvertReport:
    converted: int = 0
    polygons: int = 0  # inputs that were polygon lists
    rles: int = 0  # inputs that were RLE dicts
    kept: List[Any] = field(default_factory=list)  # ids left as they were (crowd RLE -> polygon)
    empty: List[Any] = field(default_factory=list)  # ids whose mask is empty (polygons: [])
    skipped: List[Any] = field(default_factory=list)  # annotation ids
    errors: Dict[Any, str] = field(default_factory=dict)  # annotation id -> message


def image_sizes(data: Dict[str, Any]) -> Dict[Any, tuple]:
    return {im["id"]: (int(im["height"]), int(im["width"])) for im in data.get("images", [])}


# Annotations converted per batch: big enough to keep every thread busy, small enough that a
# progress bar moves and a batch's temporary masks stay small.
_CHUNK = 8192


def rles_or_errors(
    segs: Sequence[Any],
    heights: Sequence[int],
    widths: Sequence[int],
    ids: Sequence[Any],
    *,
    counts: str = "bytes",
    num_threads: Optional[int] = None,
) -> Tuple[List[Optional[Dict[str, Any]]], Dict[Any, str]]:
    """:func:`maskprep.rle.from_segmentations` over a batch that may hold bad annotations: the
    RLE of each good one (``None`` for bad ones) and every bad id with its message, not just
    the first."""
    try:
        rles = rle.from_segmentations(segs, heights, widths, counts=counts, num_threads=num_threads)
        return list(rles), {}
    except (ValueError, TypeError):
        pass
    out: List[Optional[Dict[str, Any]]] = []
    errors: Dict[Any, str] = {}
    for seg, h, w, aid in zip(segs, heights, widths, ids):
        try:
            out.append(rle.from_segmentations([seg], h, w, counts=counts, num_threads=1)[0])
        except (ValueError, TypeError) as exc:
            errors[aid] = str(exc).replace("segmentations[0]", "segmentation")
            out.append(None)
    return out, errors


@no_gc()
def convert(
    data: Dict[str, Any],
    *,
    to: str = "rle",
    recompute: bool = False,
    skip_invalid: bool = False,
    tolerance: float = 0.0,
    num_threads: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> ConvertReport:
    """Convert every annotation's ``segmentation``, in place.

    ``to="rle"``: compressed COCO RLE with the counts as a str, exactly what ``pycocotools``
    writes (``COCO.annToRLE``). ``to="polygon"``: polygon lists traced from the mask
    (:func:`maskprep.contours.mask_to_polygons`, ``tolerance`` in pixels); crowd annotations
    (``iscrowd`` = 1) stay RLE, as COCO requires, and their ids are in ``report.kept``.
    With ``recompute``, ``area`` and ``bbox`` are recomputed from the mask. Annotation order, ids
    and every other field are kept; annotations without a segmentation are left alone.

    An annotation that cannot be converted raises ``ValueError`` listing every bad id, before
    anything is changed, unless ``skip_invalid``: then it is left untouched and its id is in
    ``report.skipped``. ``progress(done, total)`` is called after each batch.
    """
    if to not in ("rle", "polygon"):
        raise ValueError(f"to must be 'rle' or 'polygon', got {to!r}")
    sizes = image_sizes(data)
    report = ConvertReport()
    todo: List[Dict[str, Any]] = []
    segs, hs, ws = [], [], []
    for ann in data.get("annotations", []):
        seg = ann.get("segmentation")
        if seg is None or (isinstance(seg, list) and not seg):
            continue  # nothing to convert (e.g. a box-only annotation)
        size = sizes.get(ann.get("image_id"))
        if size is None:
            report.errors[ann.get("id")] = f"image_id {ann.get('image_id')!r} is not in images"
            continue
        todo.append(ann)
        segs.append(seg)
        hs.append(size[0])
        ws.append(size[1])
    new: List[Any] = []
    areas: List[float] = []
    boxes: List[List[float]] = []
    for start in range(0, len(todo), _CHUNK):
        part = slice(start, start + _CHUNK)
        rles, errors = rles_or_errors(
            segs[part],
            hs[part],
            ws[part],
            [a.get("id") for a in todo[part]],
            counts="str",
            num_threads=num_threads,
        )
        report.errors.update(errors)
        good = [r for r in rles if r is not None]
        if recompute and good:
            areas += rle.area(good, num_threads=num_threads).astype(float).tolist()
            boxes += rle.to_bbox(good, num_threads=num_threads).tolist()
        if to == "polygon":
            rles = _to_polygons(todo[part], rles, report, tolerance, num_threads)
        new += rles
        if progress is not None:
            progress(min(start + _CHUNK, len(todo)), len(todo))
    _raise_unless_skipping(report, skip_invalid, "converted")
    k = 0
    for ann, seg in zip(todo, new):
        if seg is None:
            continue
        if isinstance(ann["segmentation"], list):
            report.polygons += 1
        else:
            report.rles += 1
        ann["segmentation"] = seg
        if recompute:
            ann["area"] = areas[k]
            ann["bbox"] = boxes[k]
        k += 1
    report.converted = k
    return report


def convert_file(
    src: PathLike,
    dst: PathLike,
    *,
    to: str = "rle",
    recompute: bool = False,
    skip_invalid: bool = False,
    tolerance: float = 0.0,
    num_threads: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> ConvertReport:
    """:func:`convert` from file to file; ``dst`` is written atomically and only on success.

    ``to="rle"`` works on the JSON text in C++ (``maskprep._core.coco_convert_to_rle``): no
    Python objects for the annotations, every byte other than the converted values (and, with
    ``recompute``, ``area`` and ``bbox``) copied verbatim; memory is the file and its output.
    ``to="polygon"`` loads the file (:func:`load`), runs :func:`convert` and saves it.
    Raises :class:`UnreadableInput` for a file that is not JSON, ``ValueError`` for invalid
    annotations (unless ``skip_invalid``) or a file that is not a COCO instances file.
    """
    if to != "rle":
        data = load(src)
        report = convert(
            data,
            to=to,
            recompute=recompute,
            skip_invalid=skip_invalid,
            tolerance=tolerance,
            num_threads=num_threads,
            progress=progress,
        )
        save(data, dst)
        return report
    with open(src, "rb") as f:
        raw = f.read()
    try:
        out, counts, errors = _core.coco_convert_to_rle(
            raw, recompute, skip_invalid, progress, num_threads
        )
    except _core.JsonSyntaxError as exc:
        raise UnreadableInput(f"{src} is {exc}") from None
    del raw
    report = ConvertReport(
        converted=counts["converted"], polygons=counts["polygons"], rles=counts["rles"]
    )
    report.errors = dict(errors)
    _raise_unless_skipping(report, skip_invalid, "converted")
    _atomic_write(dst, lambda f: f.write(out))
    return report


def _raise_unless_skipping(report: Any, skip_invalid: bool, what: str) -> None:
    if report.errors and not skip_invalid:
        details = "; ".join(f"id {k}: {v}" for k, v in list(report.errors.items())[:20])
        raise ValueError(f"{len(report.errors)} annotation(s) cannot be {what}: {details}")
    report.skipped = list(report.errors)


def segmentations_to_rle(data: Dict[str, Any], **kwargs: Any) -> ConvertReport:
    """``convert(data, to="rle", ...)``."""
    return convert(data, to="rle", **kwargs)


def _rle_json(r: Dict[str, Any]) -> Dict[str, Any]:
    counts = r["counts"]
    return {
        "size": r["size"],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


# Masks decoded at once when tracing polygons: bounds the dense memory (64 x 480 x 640 = 20 MB).
_TRACE_BATCH = 64


def _to_polygons(
    anns: List[Dict[str, Any]],
    rles: List[Optional[Dict[str, Any]]],
    report: ConvertReport,
    tolerance: float,
    num_threads: Optional[int],
) -> List[Any]:
    """Polygon lists for the non-crowd annotations; crowd ones (and failures, None) as given."""
    from . import contours

    out: List[Any] = list(rles)
    by_size: Dict[tuple, List[int]] = {}
    for k, (a, r) in enumerate(zip(anns, rles)):
        if r is None:
            continue
        if a.get("iscrowd"):
            report.kept.append(a.get("id"))
        else:
            by_size.setdefault(tuple(r["size"]), []).append(k)
    for todo in by_size.values():
        for start in range(0, len(todo), _TRACE_BATCH):
            part = todo[start : start + _TRACE_BATCH]
            masks = rle.decode([rles[k] for k in part], layout="nhw", num_threads=num_threads)
            polys = contours.masks_to_polygons(masks, tolerance=tolerance, num_threads=num_threads)
            for k, p in zip(part, polys):
                out[k] = p
                if not p:
                    report.empty.append(anns[k].get("id"))
    return out


@dataclass
class Problem:
    level: str  # "error" or "warning"
    ann_id: Any
    message: str

    def __str__(self) -> str:
        where = "dataset" if self.ann_id is None else f"annotation {self.ann_id}"
        return f"{self.level}: {where}: {self.message}"


@no_gc()
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
    pending = []
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
        pending.append((ann, seg, h, w))
    rles, errors = rles_or_errors(
        [p[1] for p in pending],
        [p[2] for p in pending],
        [p[3] for p in pending],
        [p[0].get("id") for p in pending],
        num_threads=num_threads,
    )
    problems += [Problem("error", aid, msg) for aid, msg in errors.items()]
    checkable = [(p[0], r) for p, r in zip(pending, rles) if r is not None]
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


@dataclass
class BoxesReport:
    added: int = 0  # annotations that received a mask
    images: int = 0  # images read
    skipped: List[Any] = field(default_factory=list)
    errors: Dict[Any, str] = field(default_factory=dict)


def _needs_mask(ann: Dict[str, Any], overwrite: bool) -> bool:
    seg = ann.get("segmentation")
    return overwrite or seg is None or (isinstance(seg, (list, dict)) and not seg)


def _box_error(bbox: Any) -> Optional[str]:
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return f"bbox must be [x, y, width, height], got {bbox!r}"
    try:
        v = [float(x) for x in bbox]
    except (TypeError, ValueError):
        return f"bbox must hold 4 numbers, got {bbox!r}"
    if not all(math.isfinite(x) for x in v) or v[2] < 0 or v[3] < 0:
        return f"bbox must be finite with non-negative width and height, got {bbox!r}"
    return None


def load_rgb(path: PathLike) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@no_gc()
def add_box_masks(
    data: Dict[str, Any],
    masks_for_image: Callable[
        [np.ndarray, Optional[np.ndarray], Tuple[int, int], List[Any]], List[Any]
    ],
    *,
    images_dir: Optional[PathLike] = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
) -> BoxesReport:
    """Give a mask to every annotation that has a ``bbox`` but no ``segmentation`` (with
    ``overwrite``: to every annotation with a bbox), in place.

    ``masks_for_image(boxes_xywh (N, 4) float64, image or None, (h, w), category_ids)`` returns
    N COCO RLEs;
    the image, (H, W, 3) uint8 RGB read from ``images_dir / file_name``, is passed only when
    ``images_dir`` is given. The segmentation becomes compressed RLE and ``area`` its pixel
    count (COCO's segmentation area); ``bbox`` and every other field are kept.

    Bad boxes, unknown image ids and unreadable images are errors by annotation id: the call
    raises ``ValueError`` listing them before anything is changed, unless ``skip_invalid``
    (then those annotations are left as they are and listed in ``report.skipped``).
    """
    report = BoxesReport()
    images = {im["id"]: im for im in data.get("images", [])}
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for ann in data.get("annotations", []):
        if "bbox" not in ann or not _needs_mask(ann, overwrite):
            continue
        aid = ann.get("id")
        err = _box_error(ann["bbox"])
        if err is None and ann.get("image_id") not in images:
            err = f"image_id {ann.get('image_id')!r} is not in images"
        if err is not None:
            report.errors[aid] = err
            continue
        by_image.setdefault(ann["image_id"], []).append(ann)
    results: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
    total = sum(len(v) for v in by_image.values())
    done = 0
    for image_id, anns in by_image.items():
        im = images[image_id]
        size = (int(im["height"]), int(im["width"]))
        pixels = None
        if images_dir is not None:
            path = Path(images_dir) / str(im.get("file_name", ""))
            try:
                pixels = load_rgb(path)
                report.images += 1
            except (OSError, ValueError) as exc:
                msg = f"image {image_id} ({path}) cannot be read: {exc}"
                report.errors.update({a.get("id"): msg for a in anns})
                anns = []
            if pixels is not None and pixels.shape[:2] != size:
                msg = f"image {image_id} is {pixels.shape[1]}x{pixels.shape[0]} but images says {size[1]}x{size[0]}"
                report.errors.update({a.get("id"): msg for a in anns})
                anns = []
        if anns:
            b = np.array([a["bbox"] for a in anns], dtype=np.float64)
            rles = masks_for_image(b, pixels, size, [a.get("category_id") for a in anns])
            results += list(zip(anns, rles))
        done += len(by_image[image_id])
        if progress is not None:
            progress(done, total)
    _raise_unless_skipping(report, skip_invalid, "given a mask")
    if results:
        areas = rle.area([r for _, r in results])
        for (ann, r), a in zip(results, areas):
            ann["segmentation"] = _rle_json(r)
            ann["area"] = float(a)
            report.added += 1
    return report
