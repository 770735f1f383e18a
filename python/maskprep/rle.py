"""COCO run-length encoding, bit-identical to pycocotools and multi-threaded.

An RLE is the COCO dict ``{'size': [h, w], 'counts': ...}`` where ``counts`` is the compressed
string (``bytes``, as pycocotools writes it) or, for "uncompressed" RLE, a list of run lengths.
Runs are taken in column-major order (pixel (y, x) is number ``x*h + y``), alternating
background and foreground, starting with background. Any nonzero byte is foreground.

Differences from pycocotools (all deliberate, all on inputs where pycocotools is wrong or
crashes): masks may be C- or Fortran-ordered, HxWxN or NxHxW, bool or uint8, and any nonzero
value is foreground (pycocotools mis-encodes 0/1/2 masks); counts are 64-bit, so masks above
2^32 pixels are exact; RLEs whose counts do not sum to h*w, malformed compressed strings, size
mismatches and bad polygons raise ``ValueError`` naming the argument (pycocotools returns
uninitialised memory, wraps, or segfaults). See ``maskprep.mask`` for the pycocotools-compatible
(camelCase) surface.

The functions that run on several threads (``encode``, ``decode``, ``area``, ``to_bbox``,
``iou``, ``merge_groups``, ``from_segmentations`` and the training targets) take a keyword-only
``num_threads`` (``None`` = the process budget, ``-1`` = all cores, ``n >= 1``); the work is
spread across objects, with the GIL released. Image sizes are one ``(height, width)`` pair.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, overload

import numpy as np

from . import _core
from ._arrays import image_size as image_size_of
from ._arrays import is_tensor, like_input, size, to_numpy

RLE = dict
__all__ = [
    "encode",
    "decode",
    "area",
    "to_bbox",
    "iou",
    "merge",
    "merge_groups",
    "from_bbox",
    "from_polygons",
    "from_segmentations",
    "dense_from_segmentations",
    "rasterize_within_boxes",
    "to_string",
    "from_string",
]


def encode(
    masks: Any,
    *,
    layout: str = "hwn",
    compressed: bool = True,
    num_threads: Optional[int] = None,
) -> Union[RLE, List[RLE]]:
    """Encode binary masks as COCO RLE.

    Args:
        masks: uint8 or bool array (or torch tensor); any nonzero value is foreground.
            ``(H, W)`` gives one RLE dict; a 3-D array gives a list, read as ``(H, W, N)``
            (``layout="hwn"``, pycocotools' layout) or ``(N, H, W)`` (``layout="nhw"``,
            numpy/torch batches). C- and Fortran-ordered arrays are both read in place.
        compressed: ``True`` for the compressed ``bytes`` counts (COCO results files),
            ``False`` for a list of run lengths (COCO ``iscrowd`` annotations).
    Returns:
        ``{'size': [h, w], 'counts': bytes | list[int]}``, or a list of them.
    """
    arr = to_numpy(masks, "masks")  # the binding checks dtype and shape
    single = arr.ndim == 2
    out = _core.rle_encode(arr, layout, compressed, num_threads=num_threads)
    return out[0] if single else out


def _rle_list(rles: Any, name: str = "rles") -> tuple[list, bool]:
    if isinstance(rles, dict):
        return [rles], True
    if isinstance(rles, (list, tuple)):
        return list(rles), False
    raise TypeError(f"{name} must be an RLE dict or a list of them, got {type(rles).__name__}")


def decode(rles: Any, *, layout: str = "hwn", num_threads: Optional[int] = None) -> np.ndarray:
    """Decode RLEs to dense uint8 masks (values 0/1).

    A single dict gives an ``(h, w)`` array. A list (all of one size) gives ``(h, w, n)``
    Fortran-ordered (``layout="hwn"``, as pycocotools) or ``(n, h, w)`` C-ordered
    (``layout="nhw"``). Counts must sum to ``h*w`` (``ValueError`` otherwise).
    """
    items, single = _rle_list(rles)
    out = _core.rle_decode(items, layout, num_threads=num_threads)
    if single:
        return out[:, :, 0] if layout == "hwn" else out[0]
    return out


@overload
def area(rles: Dict[str, Any], *, num_threads: Optional[int] = None) -> int: ...
@overload
def area(rles: Sequence[Dict[str, Any]], *, num_threads: Optional[int] = None) -> np.ndarray: ...


def area(rles: Any, *, num_threads: Optional[int] = None) -> Union[int, np.ndarray]:
    """Foreground pixel count: an int for one RLE, a uint64 array ``(n,)`` for a list."""
    items, single = _rle_list(rles)
    out = _core.rle_area(items, num_threads=num_threads)
    return int(out[0]) if single else out


def to_bbox(rles: Any, *, num_threads: Optional[int] = None) -> np.ndarray:
    """Bounding boxes ``[x, y, w, h]`` (float64) of the foreground, as pycocotools' toBbox:
    ``(4,)`` for one RLE, ``(n, 4)`` for a list; an empty mask gives zeros."""
    items, single = _rle_list(rles)
    out = _core.rle_to_bbox(items, num_threads=num_threads)
    return out[0] if single else out


def _is_rle_list(objs: Any) -> bool:
    return isinstance(objs, (list, tuple)) and all(isinstance(o, dict) for o in objs)


def iou(
    dt: Any,
    gt: Any,
    iscrowd: Optional[Sequence[Any]] = None,
    *,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """IoU matrix ``(len(dt), len(gt))`` (float64) between RLEs or between boxes ``[x,y,w,h]``.

    Semantics are pycocotools': for a crowd gt (``iscrowd[g]`` true) the union is the dt area;
    RLE pairs are computed exactly only where their bounding boxes overlap (others are 0).
    ``dt`` and ``gt`` must both be RLE lists or both boxes (an ``(N, 4)`` array or list).
    """
    if _is_rle_list(dt) and _is_rle_list(gt):
        return _core.rle_iou(list(dt), list(gt), iscrowd, num_threads=num_threads)
    if isinstance(dt, dict) or isinstance(gt, dict):
        raise TypeError("dt and gt must be lists of RLE dicts (wrap a single dict in a list)")
    return _core.bbox_iou(_boxes(dt, "dt"), _boxes(gt, "gt"), iscrowd, num_threads=num_threads)


def _boxes(objs: Any, name: str) -> np.ndarray:
    """[x, y, w, h] boxes as an array: no boxes become (0, 4), one flat box (1, 4). The
    binding checks the dtype and the (N, 4) shape."""
    boxes = to_numpy(objs, name)
    if boxes.size == 0 and boxes.ndim <= 2:  # [], np.zeros((0, 4)), ...
        return np.zeros((0, 4))
    if boxes.shape == (4,):
        boxes = boxes.reshape(1, 4)
    return boxes


def merge(rles: Sequence[RLE], *, intersect: bool = False) -> RLE:
    """Union (or intersection) of RLEs of one size, as pycocotools' merge (canonical output;
    a single RLE is returned unchanged; ``[]`` gives the empty ``{'size': [0, 0]}``)."""
    items, _ = _rle_list(rles)
    return _core.rle_merge(items, bool(intersect))


def merge_groups(
    groups: Sequence[Sequence[RLE]], *, intersect: bool = False, num_threads: Optional[int] = None
) -> List[RLE]:
    """``[merge(g, intersect=intersect) for g in groups]`` in one call, the groups merged in
    parallel: for many small merges (e.g. every multi-part annotation of a dataset), where a
    call per group would be dominated by call overhead. Errors name ``groups[i][j]``."""
    if not isinstance(groups, (list, tuple)):
        try:
            groups = list(groups)
        except TypeError:
            raise TypeError(
                f"groups must be a list of lists of RLE dicts, got {type(groups).__name__}"
            ) from None
    return _core.rle_merge_groups(groups, bool(intersect), num_threads=num_threads)


def _hw(fn: str, image_size: Any, width: Any) -> Tuple[int, int]:
    """``image_size`` as ``(height, width)``; the old spelling ``fn(x, h, w)`` (a third
    positional argument) still works, with a DeprecationWarning."""
    if width is None:
        return image_size_of(image_size)
    warnings.warn(
        f"maskprep.rle.{fn}(..., h, w) is deprecated; pass the image size as one "
        f"(height, width) pair: {fn}(..., (h, w))",
        DeprecationWarning,
        stacklevel=3,
    )
    return int(image_size), int(width)


def from_bbox(
    boxes: Any, image_size: Any, w: Optional[int] = None, *, compressed: bool = True
) -> List[RLE]:
    """Filled boxes ``(N, 4)`` ``[x, y, width, height]`` in an image of ``image_size`` =
    ``(height, width)`` as RLEs, exactly pycocotools' frBbox (the box is rasterized as a
    polygon: pixels whose centres lie inside). ``from_bbox(boxes, h, w)`` is deprecated."""
    h, w = _hw("from_bbox", image_size, w)
    return _core.rle_from_bbox(_boxes(boxes, "boxes"), h, w, compressed)


def from_polygons(
    polygons: Sequence[Any], image_size: Any, w: Optional[int] = None, *, compressed: bool = True
) -> List[RLE]:
    """One RLE per polygon ``[x0, y0, x1, y1, ...]`` (at least 3 points) in an image of
    ``image_size`` = ``(height, width)``, exactly pycocotools' frPoly: a pixel is foreground
    iff its centre is inside (even-odd rule) the polygon with vertices rounded to 1/5 pixel.
    Use :func:`merge` for the union of a multi-part object. ``from_polygons(polygons, h, w)``
    is deprecated."""
    h, w = _hw("from_polygons", image_size, w)
    return _core.rle_from_polygons(polygons, h, w, compressed)


def _sizes(image_size: Any) -> Tuple[Any, Any]:
    """(heights, widths) from one (height, width) pair or an (N, 2) sequence of pairs."""
    if np.ndim(image_size) == 1 and len(image_size) != 0:
        return image_size_of(image_size)
    sizes = np.asarray(image_size, dtype=np.int64)
    if sizes.size == 0 or (sizes.ndim == 2 and sizes.shape[1] == 2):
        sizes = sizes.reshape(-1, 2)
        return sizes[:, 0], sizes[:, 1]
    raise ValueError(
        "image_size must be one (height, width) pair or one per segmentation (N, 2), "
        f"got shape {sizes.shape}"
    )


def from_segmentations(
    segmentations: Sequence[Any],
    image_size: Any,
    widths: Union[int, Sequence[int], np.ndarray, None] = None,
    *,
    counts: str = "bytes",
    num_threads: Optional[int] = None,
) -> List[RLE]:
    """Convert COCO ``segmentation`` objects to one compressed RLE dict each, in parallel.

    Each item is a polygon list ``[[x0, y0, ...], ...]`` (result: the union of its polygons,
    equal to ``pycocotools.mask.merge(frPyObjects(seg, h, w))``), an uncompressed RLE dict
    (re-encoded compressed) or a compressed RLE dict (validated, returned as given).
    ``image_size`` is the images' ``(height, width)``: one pair for all, or an ``(N, 2)``
    sequence of one pair per segmentation (``from_segmentations(segs, heights, widths)`` is
    deprecated).
    ``counts="bytes"`` gives new counts as pycocotools does (and compressed inputs as given);
    ``"str"`` gives every counts as a str, as COCO JSON files hold them. Errors name the index: ``segmentations[17] polygon 0 must have at least 3
    points ...``.
    """
    if counts not in ("bytes", "str"):
        raise ValueError(f"counts must be 'bytes' or 'str', got {counts!r}")
    segs = segmentations if isinstance(segmentations, list) else list(segmentations)
    n = len(segs)
    if widths is not None:
        warnings.warn(
            "maskprep.rle.from_segmentations(segmentations, heights, widths) is deprecated; pass "
            "image_size: one (height, width) pair or one pair per segmentation",
            DeprecationWarning,
            stacklevel=2,
        )
        heights = image_size
    else:
        heights, widths = _sizes(image_size)
        if np.ndim(heights) == 1 and len(heights) != n:
            raise ValueError(
                f"image_size must have one (height, width) pair per segmentation ({n}), got "
                f"{len(heights)}"
            )
    hs = np.broadcast_to(np.asarray(heights, dtype=np.int64), (n,))
    ws = np.broadcast_to(np.asarray(widths, dtype=np.int64), (n,))
    return _core.rle_from_segmentations(
        segs, hs.tolist(), ws.tolist(), counts == "str", num_threads=num_threads
    )


def to_string(counts: Any) -> bytes:
    """The compressed COCO string of a run-length list (pycocotools' rleToString)."""
    c = to_numpy(counts, "counts")
    if c.size == 0 and c.ndim == 1:  # [] has no dtype of its own
        c = c.astype(np.uint64)
    elif c.dtype.kind in "fO" and _python_ints(counts):
        # numpy reads a list holding an int beyond int64 (any count up to 2^64 - 1 is valid) as
        # float64, which would round it: take the ints exactly instead.
        try:
            c = np.array(counts, dtype=np.uint64)
        except OverflowError:
            raise ValueError("counts must be integers in [0, 2^64), got one outside") from None
    return _core.rle_counts_to_string(c)  # the binding checks dtype, rank and signs


def _python_ints(values: Any) -> bool:
    """A list or tuple of ints (not bools)."""
    return isinstance(values, (list, tuple)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
    )


def from_string(s: Union[bytes, str]) -> np.ndarray:
    """Run lengths (uint64) of a compressed COCO string; ``ValueError`` with the byte offset
    on malformed input."""
    return _core.rle_string_to_counts(s)


# ---- training-time targets ----------------------------------------------------------------------


def _segmentation_list(segmentations: Any) -> list:
    if isinstance(segmentations, list):
        return segmentations
    if isinstance(segmentations, tuple):
        return list(segmentations)
    raise TypeError(
        "segmentations must be a list of COCO segmentations (polygon lists or RLE dicts), got "
        f"{type(segmentations).__name__}"
    )


def _indexed(base: type, index: int, message: str) -> Exception:
    """The index-carrying error for ``segmentations[index]`` + message, as the kernels raise it
    (``e.index``, ``e.message``), so that callers map it to their own names without parsing."""
    cls = _core.IndexedTypeError if issubclass(base, TypeError) else _core.IndexedValueError
    e = cls(f"segmentations[{index}]{message}")
    e.index, e.message = index, message
    return e


def _decode_dicts(segs: list, idx: list, h: int, w: int, num_threads: Optional[int]) -> np.ndarray:
    """The RLE dicts segs[i] for i in idx as an (len(idx), h, w) uint8 array; errors name
    segmentations[i] and carry i."""
    for i in idx:
        size = segs[i].get("size")
        if not isinstance(size, (list, tuple)) or len(size) != 2 or list(size) != [h, w]:
            raise _indexed(
                ValueError, i, f" is an RLE of size {size!r} but the masks are {h} x {w}"
            )
    try:
        return _core.rle_decode([segs[i] for i in idx], "nhw", num_threads=num_threads)
    except (_core.IndexedValueError, _core.IndexedTypeError) as e:  # e.index: position in idx
        raise _indexed(type(e), idx[e.index], e.message) from None


def dense_from_segmentations(
    segmentations: Sequence[Any],
    image_size: Any,
    width: Optional[int] = None,
    *,
    out: Any = None,
    num_threads: Optional[int] = None,
) -> Any:
    """COCO segmentations of one image of ``image_size`` = ``(height, width)`` to dense masks
    ``(N, height, width)``, without an RLE (``dense_from_segmentations(segs, height, width)``
    is deprecated).

    Row i equals ``pycocotools.mask.decode(merge(frPyObjects(segmentations[i], h, w)))`` bit
    for bit: a polygon list ``[[x0, y0, ...], ...]`` (the union of its polygons, each of at least
    3 points), an uncompressed RLE dict (``counts`` a list, a crowd annotation) or a compressed
    one (``counts`` str or bytes). RLE sizes must be ``[height, width]``. An empty polygon list
    gives an all-zero mask (detectron2's ``polygons_to_bitmask``; pycocotools raises IndexError).
    Objects are rasterized in parallel, with the GIL released.

    Args:
        out: where to write: a C-contiguous numpy array or CPU torch tensor (pinned memory
            included) of shape ``(N, height, width)``, bool or uint8 (0/1). Every element is
            written. When None, a new bool numpy array.
    Returns:
        ``out`` itself when given, else the new array.
    Errors name ``segmentations[i]`` (polygon and position): ``ValueError`` for bad values or
    shapes, ``TypeError`` for bad types or dtypes.
    """
    segs = _segmentation_list(segmentations)
    if width is None:
        h, w = image_size_of(image_size)
    else:
        warnings.warn(
            "maskprep.rle.dense_from_segmentations(segmentations, height, width) is deprecated; "
            "pass the image size as one (height, width) pair",
            DeprecationWarning,
            stacklevel=2,
        )
        h, w = size(image_size, "height"), size(width, "width")
    if out is None:
        result = arr = np.empty((len(segs), h, w), dtype=np.bool_)
    else:
        result = out
        if is_tensor(out):
            if out.device.type != "cpu":
                raise ValueError(f"out must be a CPU tensor, got a tensor on {out.device}")
            arr = out.numpy()
        elif isinstance(out, np.ndarray):
            arr = out
        else:
            raise TypeError(
                f"out must be a numpy array or a torch tensor, got {type(out).__name__}"
            )
    dicts = _core.targets_dense_from_polygons(segs, h, w, arr, num_threads=num_threads)
    if dicts:
        arr.view(np.uint8)[dicts] = _decode_dicts(segs, dicts, h, w, num_threads)
    return result


def _bitmask_targets(masks: np.ndarray, boxes: np.ndarray, mask_size: int, num_threads) -> Any:
    """detectron2's BitMasks.crop_and_resize: RoI Align (aligned=True, adaptive sampling) of the
    float32 masks, then >= 0.5. Done in chunks of objects to bound the float32 copy."""
    from .ops import roi_align

    n = masks.shape[0]
    res = np.zeros((n, mask_size, mask_size), dtype=np.bool_)
    chunk = max(1, (64 << 20) // max(1, 4 * masks.shape[1] * masks.shape[2]))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        feats = masks[s:e, None].astype(np.float32)
        rois = np.empty((e - s, 5), dtype=np.float32)
        rois[:, 0] = np.arange(e - s)
        rois[:, 1:] = boxes[s:e]  # detectron2 casts the rois to the masks' float32
        pooled = roi_align(feats, rois, mask_size, 1.0, 0, True, num_threads=num_threads)
        res[s:e] = pooled[:, 0] >= 0.5
    return res


def rasterize_within_boxes(
    segmentations: Any,
    boxes: Any,
    mask_size: int,
    *,
    num_threads: Optional[int] = None,
) -> Any:
    """Mask R-CNN mask targets: each object's mask inside its box, resampled to M x M.

    ``segmentations`` is one of:

    - a list of polygon lists (``[[x0, y0, ...], ...]``, lists or 1-D arrays; detectron2's
      ``PolygonMasks.polygons``): bit for bit detectron2's ``rasterize_polygons_within_box``
      (polygons shifted by the box corner, scaled by ``M / max(side, 0.1)`` in the boxes' dtype,
      rasterized with the pycocotools rule); an empty polygon list gives zeros;
    - a bool/uint8 array or tensor ``(N, H, W)`` of bitmasks: bit for bit detectron2's
      ``BitMasks.crop_and_resize`` (RoI Align with aligned=True, adaptive sampling, on the
      float32 masks, then ``>= 0.5``); RLE dicts in the list take this path too.

    Args:
        boxes: ``(N, 4)`` float32 or float64 ``[x0, y0, x1, y1]``, one per object (a list is
            float64; detectron2's are float32 tensors: pass them as they are, the arithmetic
            follows their dtype).
        mask_size: M, the side of the targets (28 in Mask R-CNN).
    Returns:
        ``(N, M, M)`` bool: a numpy array, or a tensor on ``boxes``' device when ``boxes`` or
        ``segmentations`` is a tensor.
    """
    tensor_like = boxes if is_tensor(boxes) else segmentations if is_tensor(segmentations) else None
    if isinstance(mask_size, bool) or not isinstance(mask_size, (int, np.integer)):
        raise TypeError(f"mask_size must be a positive int, got {type(mask_size).__name__}")
    m = int(mask_size)
    if m < 1:
        raise ValueError(f"mask_size must be a positive int, got {m}")
    if isinstance(boxes, (list, tuple)):
        try:
            b = np.asarray(boxes, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("boxes must be an (N, 4) array of numbers [x0, y0, x1, y1]") from None
        if b.size == 0:
            b = b.reshape(0, 4)
    else:
        b = to_numpy(boxes)
        if b.dtype != np.float32 and b.dtype != np.float64:
            raise TypeError(f"boxes must be float32 or float64, got dtype {b.dtype}")
    if isinstance(segmentations, (list, tuple)):
        segs = list(segmentations)
        res, dicts = _core.targets_polygons_within_boxes(segs, b, m, num_threads=num_threads)
        if dicts:
            # the RLEs of one call share a size (one image); _decode_dicts checks each
            ref = segs[dicts[0]].get("size")
            if not isinstance(ref, (list, tuple)) or len(ref) != 2:
                raise _indexed(ValueError, dicts[0], "['size'] must be [height, width]")
            dense = _decode_dicts(segs, dicts, int(ref[0]), int(ref[1]), num_threads)
            res[dicts] = _bitmask_targets(dense, b[dicts], m, num_threads)
    else:
        masks = to_numpy(segmentations)
        if masks.dtype != np.uint8 and masks.dtype != np.bool_:
            raise TypeError(
                "segmentations must be a list of polygon lists / RLE dicts or a bool or uint8 "
                f"(N, H, W) mask array, got dtype {masks.dtype}"
            )
        if masks.ndim != 3:
            raise ValueError(f"segmentations masks must have shape (N, H, W), got {masks.shape}")
        if b.ndim != 2 or b.shape != (masks.shape[0], 4):
            raise ValueError(
                f"boxes must have shape ({masks.shape[0]}, 4) [x0, y0, x1, y1], one per mask, "
                f"got {b.shape}"
            )
        if not np.isfinite(b).all():
            raise ValueError("boxes must be finite")
        res = _bitmask_targets(masks, b, m, num_threads)
    return res if tensor_like is None else like_input(res, tensor_like)
