"""Converting the segmentations of a COCO instances dict or file (to compressed RLE or
polygons), with every failing annotation reported by its id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _core, rle
from .jsonio import PathLike, UnreadableInput, _atomic_write, _top_level_error, load, no_gc, save
from .structure import image_sizes, join_limited, side


@dataclass
class ConvertReport:
    converted: int = 0
    polygons: int = 0  # inputs that were polygon lists
    rles: int = 0  # inputs that were RLE dicts
    kept: List[Any] = field(default_factory=list)  # ids left as they were (crowd RLE -> polygon)
    empty: List[Any] = field(default_factory=list)  # ids whose mask is empty (polygons: [])
    skipped: List[Any] = field(default_factory=list)  # annotation ids
    errors: Dict[Any, str] = field(default_factory=dict)  # annotation id -> message


# Annotations converted per batch: big enough to keep every thread busy, small enough that a
# progress bar moves and a batch's temporary masks stay small.
_CHUNK = 8192


def _int_size(seg: Any) -> Any:
    """An RLE whose ``size`` holds integral floats ([10.0, 12]) with int sizes, as convert's
    scanner reads them (see :func:`side`); anything else as it is."""
    if isinstance(seg, dict) and isinstance(seg.get("size"), list):
        size = seg["size"]
        if any(isinstance(v, float) for v in size):
            ints = [side(v) if isinstance(v, float) else v for v in size]
            if None not in ints:
                return {**seg, "size": ints}
    return seg


def rles_or_errors(
    segs: Sequence[Any],
    heights: Sequence[int],
    widths: Sequence[int],
    ids: Sequence[Any],
    *,
    counts: str = "bytes",
    num_threads: Optional[int] = None,
) -> Tuple[List[Optional[Dict[str, Any]]], Dict[Any, str]]:
    """:func:`maskprep.rle.from_segmentations` over a batch that may hold bad annotations.

    Parameters
    ----------
    segs : sequence
        COCO segmentations (polygon lists or RLE dicts).
    heights, widths : sequence of int
        Their images' sizes.
    ids : sequence
        Their annotation ids (the keys of the errors).
    counts : {"bytes", "str"}
        As in :func:`~maskprep.rle.from_segmentations`.
    num_threads : int, optional

    Returns
    -------
    rles : list
        The RLE of each good segmentation, None for bad ones.
    errors : dict
        Every bad id with its message, not just the first.

    Examples
    --------
    >>> rles, errors = rles_or_errors([[[1, 1, 6, 1, 6, 6]], [[1, 2]]], [10, 10], [12, 12], [7, 8])
    >>> rles
    [{'size': [10, 12], 'counts': b'e0191O1O1j1'}, None]
    >>> errors
    {8: 'segmentation polygon 0 must have at least 3 point(s) (6 numbers), got 1 point(s)'}
    """
    segs = [_int_size(s) for s in segs]
    try:
        sizes: Any = np.column_stack([heights, widths]) if segs else []
        rles = rle.from_segmentations(segs, sizes, counts=counts, num_threads=num_threads)
        return list(rles), {}
    except (ValueError, TypeError, OverflowError, MemoryError):
        pass
    out: List[Optional[Dict[str, Any]]] = []
    errors: Dict[Any, str] = {}
    for seg, h, w, aid in zip(segs, heights, widths, ids):
        try:
            out.append(rle.from_segmentations([seg], (h, w), counts=counts, num_threads=1)[0])
        except (ValueError, TypeError, OverflowError) as exc:
            indexed = (_core.IndexedValueError, _core.IndexedTypeError)  # .message follows the name
            errors[aid] = "segmentation" + exc.message if isinstance(exc, indexed) else str(exc)
            out.append(None)
        except MemoryError:
            errors[aid] = f"segmentation needs more memory than there is ({h} x {w} image)"
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

    Annotation order, ids and every other field are kept; annotations without a segmentation
    are left alone.

    Parameters
    ----------
    data : dict
        A COCO instances dict.
    to : {"rle", "polygon"}
        ``"rle"``: compressed COCO RLE with the counts as a str, exactly what ``pycocotools``
        writes (``COCO.annToRLE``). ``"polygon"``: polygon lists traced from the mask
        (:func:`maskprep.contours.masks_to_polygons`, ``tolerance`` in pixels); crowd
        annotations (``iscrowd`` = 1) stay RLE, as COCO requires, and their ids are in
        ``report.kept``.
    recompute : bool
        Recompute ``area`` and ``bbox`` from the mask.
    skip_invalid : bool
        Leave annotations that cannot be converted untouched (their ids in
        ``report.skipped``) instead of raising.
    tolerance : float
        ``to="polygon"``: simplify outlines by up to this many pixels.
    num_threads : int, optional
    progress : callable, optional
        ``progress(done, total)``, called after each batch.

    Returns
    -------
    ConvertReport

    Raises
    ------
    ValueError
        An unknown ``to``, a structure :func:`check_structure` refuses, or annotations that
        cannot be converted (every bad id listed, before anything is changed) unless
        ``skip_invalid``.

    Examples
    --------
    >>> data = {"images": [{"id": 1, "height": 10, "width": 12, "file_name": "x.png"}],
    ...         "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "area": 12.5,
    ...                          "bbox": [1, 1, 5, 5], "segmentation": [[1, 1, 6, 1, 6, 6]]}],
    ...         "categories": [{"id": 1, "name": "thing"}]}
    >>> convert(data, recompute=True).converted
    1
    >>> data["annotations"][0]["segmentation"], data["annotations"][0]["area"]
    ({'size': [10, 12], 'counts': 'e0191O1O1j1'}, 10.0)
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
    stats: List[Any] = []  # (area, bbox) per annotation with recompute, None where it failed
    for start in range(0, len(todo), _CHUNK):
        part = slice(start, start + _CHUNK)
        ids = [a.get("id") for a in todo[part]]
        rles, errors = rles_or_errors(
            segs[part], hs[part], ws[part], ids, counts="str", num_threads=num_threads
        )
        report.errors.update(errors)
        if recompute:
            stats += _area_and_bbox(rles, ids, report.errors, num_threads)
            rles = [None if s is None else r for r, s in zip(rles, stats[start:])]
        if to == "polygon":
            rles = _to_polygons(todo[part], rles, report, tolerance, num_threads)
        new += rles
        if progress is not None:
            progress(min(start + _CHUNK, len(todo)), len(todo))
    _raise_unless_skipping(report, skip_invalid, "converted")
    k = 0
    for i, (ann, seg) in enumerate(zip(todo, new)):
        if seg is None:
            continue
        if isinstance(ann["segmentation"], list):
            report.polygons += 1
        else:
            report.rles += 1
        ann["segmentation"] = seg
        if recompute:
            ann["area"], ann["bbox"] = stats[i]
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

    Parameters
    ----------
    src, dst : str or os.PathLike
        The input (never modified) and the output (``-``: standard output).
    to, recompute, skip_invalid, tolerance, num_threads, progress
        As in :func:`convert`.

    Returns
    -------
    ConvertReport

    Raises
    ------
    UnreadableInput
        A file that is not JSON, or not a COCO instances file (:class:`NotInstancesFile`).
    ValueError
        Invalid annotations (unless ``skip_invalid``).
    OutputError
        ``dst`` cannot be written.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.json").write_text(json.dumps({"images": [{"id": 1, "height": 10,
    ...     "width": 12}], "annotations": [{"id": 7, "image_id": 1,
    ...     "segmentation": [[1, 1, 6, 1, 6, 6]]}]}))
    >>> convert_file(folder / "in.json", folder / "out.json").converted
    1
    >>> json.loads((folder / "out.json").read_text())["annotations"][0]["segmentation"]
    {'size': [10, 12], 'counts': 'e0191O1O1j1'}
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
            raw, recompute, skip_invalid, progress, num_threads=num_threads
        )
    except _core.JsonSyntaxError as exc:
        raise UnreadableInput(f"{src} is {exc}") from None
    except _core.JsonNotObjectError:
        raise _top_level_error(src, raw.lstrip()[:1] == b"[") from None
    del raw
    report = ConvertReport(
        converted=counts["converted"], polygons=counts["polygons"], rles=counts["rles"]
    )
    report.errors = dict(errors)
    _raise_unless_skipping(report, skip_invalid, "converted")
    _atomic_write(dst, lambda f: f.write(out))
    return report


def _raise_unless_skipping(report: Any, skip_invalid: bool, what: str) -> None:
    """ValueError listing every failing annotation (the first 20, then "and N more"); an image
    that cannot be read is listed once with the ids of its annotations."""
    by_image = getattr(report, "image_errors", {})
    if (report.errors or by_image) and not skip_invalid:
        total = len(report.errors) + sum(len(ids) for _, ids in by_image.values())
        details = [f"id {k}: {v}" for k, v in report.errors.items()]
        details += [
            f"{msg} (annotation(s) {join_limited(ids, 5, ', ')})" for msg, ids in by_image.values()
        ]
        raise ValueError(f"{total} annotation(s) cannot be {what}: {join_limited(details)}")
    report.skipped = list(report.errors) + [i for _, ids in by_image.values() for i in ids]


def _each_or_errors(
    fn: Callable[[List[Any]], List[Any]],
    rles: Sequence[Optional[Dict[str, Any]]],
    ids: Sequence[Any],
    errors: Dict[Any, str],
) -> List[Any]:
    """fn over the RLEs that are not None, in one call; when that raises (an RLE the kernels
    refuse, a mask too large for memory), one call per RLE, each failure in ``errors`` by id.
    The result has one entry per RLE, None where there is none."""
    good = [k for k, r in enumerate(rles) if r is not None]
    out: List[Any] = [None] * len(rles)
    try:
        for k, v in zip(good, fn([rles[k] for k in good]) if good else []):
            out[k] = v
        return out
    except (ValueError, OverflowError, MemoryError):
        pass
    for k in good:
        try:
            out[k] = fn([rles[k]])[0]
        except (ValueError, OverflowError) as exc:
            # an IndexedValueError's .message follows the RLE's name "rles[0]"
            msg = exc.message if isinstance(exc, _core.IndexedValueError) else ": " + str(exc)
            errors[ids[k]] = "segmentation" + msg
        except MemoryError:
            h, w = rles[k]["size"]  # type: ignore[index]  # good holds the ones not None
            errors[ids[k]] = f"the {h} x {w} mask does not fit in memory"
    return out


def _area_and_bbox(
    rles: Sequence[Optional[Dict[str, Any]]],
    ids: Sequence[Any],
    errors: Dict[Any, str],
    num_threads: Optional[int],
) -> List[Optional[Tuple[float, List[float]]]]:
    def fn(rs: List[Any]) -> List[Any]:
        areas = rle.area(rs, num_threads=num_threads).astype(float).tolist()
        return list(zip(areas, rle.to_bbox(rs, num_threads=num_threads).tolist()))

    return _each_or_errors(fn, rles, ids, errors)


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
    from .. import contours

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
            masks = _each_or_errors(
                lambda rs: list(rle.decode(rs, layout="nhw", num_threads=num_threads)),
                [rles[k] for k in part],
                [anns[k].get("id") for k in part],
                report.errors,
            )
            for k, m in zip(part, masks):
                if m is None:
                    out[k] = None
            part = [k for k, m in zip(part, masks) if m is not None]
            if not part:
                continue
            polys = contours.masks_to_polygons(
                np.stack([m for m in masks if m is not None]),
                tolerance=tolerance,
                num_threads=num_threads,
            )
            for k, p in zip(part, polys):
                out[k] = p
                if not p:
                    report.empty.append(anns[k].get("id"))
    return out
