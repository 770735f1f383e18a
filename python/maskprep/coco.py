"""Dataset-level jobs on COCO instance files (used by the ``maskprep`` command)."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import orjson

from . import _core, rle

PathLike = Union[str, "os.PathLike[str]"]


class UnreadableInput(ValueError):
    """The input file is not JSON (the command exits 2, as for a missing file)."""


class NotInstancesFile(UnreadableInput):
    """The input is JSON but not a COCO instances file (its top level is not an object)."""


class OutputError(Exception):
    """The output cannot be written (its folder is missing or read-only, it is a folder, the disk
    is full); the message names the output path. The command exits 3."""


def _top_level_error(path: PathLike, is_list: bool) -> NotInstancesFile:
    if is_list:
        return NotInstancesFile(
            f"{path}: this is a COCO results file (a JSON list); maskprep expects a COCO "
            "instances file (an object with images/annotations)"
        )
    return NotInstancesFile(f"{path}: the top level must be an object (a COCO instances file)")


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
    """Read a COCO instances file with orjson (several times faster than the json module). The
    raw bytes are freed as soon as they are parsed, so the peak is the file plus its objects once.

    Raises :class:`UnreadableInput` for text that is not JSON (with the byte offset, in the same
    words as ``convert``'s scanner: invalid UTF-8, lone surrogates, NaN/Infinity) and
    :class:`NotInstancesFile` for JSON whose top level is not an object (a results file is a
    list)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with no_gc():
            data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UnreadableInput(f"{path} is {_syntax_error(raw, exc)}") from None
    finally:
        del raw
    if not isinstance(data, dict):
        raise _top_level_error(path, isinstance(data, list))
    return data


def _syntax_error(raw: bytes, exc: Exception) -> str:
    """The scanner's message for text orjson rejected, so that every command words it alike."""
    try:
        _core.json_check(raw)
    except _core.JsonSyntaxError as scanned:
        return str(scanned)
    return f"not valid JSON: {exc}"


# Large lists are serialised this many items at a time: the output is never held in memory whole.
_WRITE_CHUNK = 10000


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def _tmp_name(name: str, pid: int) -> str:
    return f".{name}.maskprep-{pid}.tmp"


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete the temporary files earlier runs left for this output when they were killed
    (SIGKILL, power loss): ``.NAME.maskprep-PID.tmp`` whose process no longer exists."""
    prefix, suffix = f".{name}.maskprep-", ".tmp"
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix) : -len(suffix)]
        if not (entry.startswith(prefix) and entry.endswith(suffix) and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running (maybe writing it now)
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue  # someone else's live process, or not a pid
        with contextlib.suppress(OSError):
            os.unlink(folder / entry)


def output_problem(path: PathLike) -> Optional[str]:
    """Why ``path`` cannot be an output (checked before a job starts), or None. ``-`` is
    standard output."""
    text = os.fspath(path)
    if text == "-":
        return None
    if text.endswith(os.sep) or (os.path.isdir(text)):
        return f"{text} is a folder; -o needs a file name"
    folder = os.path.dirname(os.path.realpath(text)) or "."
    if not os.path.isdir(folder):
        return f"cannot write {text}: the folder {folder} does not exist"
    return None


def _atomic_write(path: PathLike, write: Callable[[Any], None]) -> None:
    """write(file) into ``.NAME.maskprep-PID.tmp`` beside ``path``, renamed over it only on
    success, so an interrupted run never leaves a partial file (SIGINT and SIGTERM remove the
    temporary file; one left by a killed run is removed by the next run that writes NAME).

    ``-`` writes to standard output. A symlink is written through: its target is replaced, the
    link stays. A path that is not a regular file (``/dev/stdout``, a pipe, a device) is written
    to directly. A new file gets the umask's mode (0666 & ~umask), a replaced file keeps its
    mode. OSError becomes :class:`OutputError` naming ``path``.
    """
    if os.fspath(path) == "-":
        try:
            write(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):  # the reader left (| head): no flush at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None
        return
    problem = output_problem(path)
    if problem is not None:
        raise OutputError(problem)
    try:
        st: Optional[os.stat_result] = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        if st is not None and not stat.S_ISREG(st.st_mode):
            with open(path, "wb") as f:  # a device or pipe: there is nothing to rename over
                write(f)
            return
        target = Path(os.path.realpath(path))  # through symlinks: replace the target, not the link
        mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        _remove_stale_temps(target.parent, target.name)
        tmp = target.parent / _tmp_name(target.name, os.getpid())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # left by an earlier process that had our pid: stale
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            os.fchmod(f.fileno(), mode)
        _test_pause()
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _test_pause() -> None:
    """Tests only: MASKPREP_TEST_PAUSE_BEFORE_RENAME=SECONDS holds a finished temporary file
    before its rename, so that a signal can be sent at exactly that moment."""
    pause = os.environ.get("MASKPREP_TEST_PAUSE_BEFORE_RENAME")
    if pause:
        import time

        time.sleep(float(pause))


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


# Largest image height or width (h * w then fits 64 bits); the same limit as convert's scanner.
MAX_SIDE = 2**31 - 1


def side(value: Any) -> Optional[int]:
    """An image height or width as an int, or None when it is not one: an int from 0 to
    :data:`MAX_SIDE`, or a float with an integral value (10.0 reads as 10, as every command and
    the C++ scanner read it). Strings and booleans are not sizes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_SIDE:
        return value
    return None


def _size_error(im: Dict[str, Any]) -> Optional[str]:
    h, w = side(im.get("height")), side(im.get("width"))
    if h is None or w is None:
        return (
            f"needs non-negative integer height and width (at most {MAX_SIDE}), got "
            f"{im.get('height')!r} x {im.get('width')!r}"
        )
    return None


def structure_errors(data: Dict[str, Any]) -> List[str]:
    """What makes ``data`` unusable as a COCO instances dict: ``images``, ``annotations`` and
    ``categories`` that are not lists of objects."""
    out = []
    for key in ("images", "annotations", "categories"):
        value = data.get(key, [])
        if not isinstance(value, list):
            out.append(f"{key} must be a list, got {type(value).__name__}")
            continue
        bad = [k for k, v in enumerate(value) if not isinstance(v, dict)]
        if bad:
            out.append(
                f"{key}[{bad[0]}] must be an object"
                + (f" ({len(bad)} are not)" if len(bad) > 1 else "")
            )
    return out


def check_structure(data: Dict[str, Any]) -> None:
    """ValueError (the command exits 1) unless ``data`` has the shape of an instances file and
    every image has a valid size (see :func:`side`)."""
    errors = structure_errors(data)
    if not errors:
        errors = [
            f"image {im.get('id')!r} {e}"
            for im in data.get("images", [])
            if (e := _size_error(im)) is not None
        ]
    if errors:
        raise ValueError("not a usable COCO instances file: " + join_limited(errors))


def join_limited(items: Sequence[Any], limit: int = 20, sep: str = "; ") -> str:
    """The first ``limit`` items joined, then "and N more" for the rest."""
    text = sep.join(str(x) for x in items[:limit])
    return text + (f"{sep}and {len(items) - limit} more" if len(items) > limit else "")


def image_sizes(data: Dict[str, Any]) -> Dict[Any, tuple]:
    """{image id: (height, width)}; ValueError for an image without a valid size."""
    check_structure(data)
    return {im.get("id"): (side(im["height"]), side(im["width"])) for im in data.get("images", [])}


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
    """:func:`maskprep.rle.from_segmentations` over a batch that may hold bad annotations: the
    RLE of each good one (``None`` for bad ones) and every bad id with its message, not just
    the first."""
    segs = [_int_size(s) for s in segs]
    try:
        rles = rle.from_segmentations(segs, heights, widths, counts=counts, num_threads=num_threads)
        return list(rles), {}
    except (ValueError, TypeError, OverflowError, MemoryError):
        pass
    out: List[Optional[Dict[str, Any]]] = []
    errors: Dict[Any, str] = {}
    for seg, h, w, aid in zip(segs, heights, widths, ids):
        try:
            out.append(rle.from_segmentations([seg], h, w, counts=counts, num_threads=1)[0])
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


def segmentations_to_rle(data: Dict[str, Any], **kwargs: Any) -> ConvertReport:
    """``convert(data, to="rle", ...)``."""
    return convert(data, to="rle", **kwargs)


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
            h, w = rles[k]["size"]
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
        err = _size_error(im)
        if err is None:
            sizes[iid] = (side(im["height"]), side(im["width"]))
        else:
            problems.append(Problem("error", None, err, image_id=iid))
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
    errors: Dict[Any, str] = {}
    stats = _area_and_bbox(rles, ids, errors, num_threads)
    problems += [Problem("error", aid, msg) for aid, msg in errors.items()]
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


@dataclass
class BoxesReport:
    added: int = 0  # annotations that received a mask
    images: int = 0  # images read
    skipped: List[Any] = field(default_factory=list)
    errors: Dict[Any, str] = field(default_factory=dict)
    # image id -> (message, ids of its annotations): an unreadable image is reported once
    image_errors: Dict[Any, Tuple[str, List[Any]]] = field(default_factory=dict)


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


def image_file_names(im: Dict[str, Any]) -> List[str]:
    """The names under which an image's file may be stored, in the order they are tried: its
    ``file_name``, the last part of its ``coco_url`` (LVIS v1 images have only that), and the
    file name without a ``COCO_<split>_`` prefix (COCO 2014 / LVIS v0.5 names for files in a
    COCO 2017 folder)."""
    names: List[str] = []
    file_name = im.get("file_name")
    if isinstance(file_name, str) and file_name:
        names.append(file_name)
    url = im.get("coco_url")
    if isinstance(url, str) and url.rstrip("/"):
        names.append(url.rstrip("/").rsplit("/", 1)[-1])
    for name in list(names):
        base = name.rsplit("/", 1)[-1]
        parts = base.split("_")
        if len(parts) == 3 and parts[0] == "COCO":  # COCO_val2014_000000000042.jpg
            names.append(parts[2])
    return list(dict.fromkeys(names))


def find_image(images_dir: PathLike, im: Dict[str, Any]) -> Tuple[Optional[Path], List[str]]:
    """The first of :func:`image_file_names` that exists in ``images_dir`` (or None), and the
    names tried."""
    names = image_file_names(im)
    for name in names:
        path = Path(images_dir) / name
        if path.is_file():
            return path, names
    return None, names


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
    check_structure(data)
    report = BoxesReport()
    images = {im.get("id"): im for im in data.get("images", [])}
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
        size = (side(im["height"]), side(im["width"]))
        pixels = None
        if images_dir is not None:
            path, names = find_image(images_dir, im)
            msg = None
            if path is None:
                msg = f"image {image_id}: no file {' or '.join(names) or '(no file_name)'} in {images_dir}"
            else:
                try:
                    pixels = load_rgb(path)
                    report.images += 1
                except (OSError, ValueError) as exc:
                    msg = f"image {image_id} ({path}) cannot be read: {exc}"
            if pixels is not None and pixels.shape[:2] != size:
                msg = (
                    f"image {image_id} ({path}) is {pixels.shape[1]}x{pixels.shape[0]} but "
                    f"images says {size[1]}x{size[0]}"
                )
            if msg is not None:
                report.image_errors[image_id] = (msg, [a.get("id") for a in anns])
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
