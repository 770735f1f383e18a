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

The batch functions take ``num_threads`` (``None`` = the process budget, ``-1`` = all cores,
``n >= 1``); the work is spread across objects, with the GIL released. Docstrings are numpy
style; their examples run in the test suite (tests/test_doctests.py, ``np`` is numpy).
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Sequence, Union

import numpy as np

from . import _core
from ._arrays import is_tensor, to_numpy

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

    Parameters
    ----------
    masks : array_like or torch.Tensor
        uint8 or bool; any nonzero value is foreground. ``(H, W)`` gives one RLE dict; a 3-D
        array gives a list, read as ``(H, W, N)`` (``layout="hwn"``, pycocotools' layout) or
        ``(N, H, W)`` (``layout="nhw"``, numpy/torch batches). C- and Fortran-ordered arrays are
        both read in place.
    layout : {"hwn", "nhw"}
        Where the object axis of a 3-D array is.
    compressed : bool
        ``True`` for the compressed ``bytes`` counts (COCO results files), ``False`` for a list
        of run lengths (COCO ``iscrowd`` annotations).
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    dict or list of dict
        ``{'size': [h, w], 'counts': bytes | list[int]}``, or a list of them.

    Raises
    ------
    TypeError
        If ``masks`` is not bool or uint8.
    ValueError
        If ``masks`` is not 2-D or 3-D, ``layout`` is not ``"hwn"``/``"nhw"``, or
        ``num_threads`` is 0.

    Examples
    --------
    >>> m = np.zeros((4, 5), np.uint8)
    >>> m[1:3, 1:4] = 1
    >>> encode(m)
    {'size': [4, 5], 'counts': b'5220003'}
    >>> encode(m, compressed=False)
    {'size': [4, 5], 'counts': [5, 2, 2, 2, 2, 2, 5]}
    >>> len(encode(np.stack([m, m]), layout="nhw"))
    2
    """
    arr = to_numpy(masks, "masks")  # the binding checks dtype and shape
    single = arr.ndim == 2
    out = _core.rle_encode(arr, layout, compressed, num_threads)
    return out[0] if single else out


def _rle_list(rles: Any, name: str = "rles") -> tuple[list, bool]:
    if isinstance(rles, dict):
        return [rles], True
    if isinstance(rles, (list, tuple)):
        return list(rles), False
    raise TypeError(f"{name} must be an RLE dict or a list of them, got {type(rles).__name__}")


def decode(rles: Any, *, layout: str = "hwn", num_threads: Optional[int] = None) -> np.ndarray:
    """Decode RLEs to dense uint8 masks (values 0/1).

    Parameters
    ----------
    rles : dict or list of dict
        COCO RLEs, compressed (``counts`` bytes or str) or not (a list of run lengths); a list
        must hold RLEs of one size.
    layout : {"hwn", "nhw"}
        For a list: ``(h, w, n)`` Fortran-ordered (as pycocotools) or ``(n, h, w)`` C-ordered.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    numpy.ndarray
        uint8 ``(h, w)`` for one dict, ``(h, w, n)`` or ``(n, h, w)`` for a list.

    Raises
    ------
    TypeError
        If ``rles`` is not an RLE dict or a list of them, or a ``counts`` has the wrong type.
    ValueError
        If the counts do not sum to ``h*w``, a compressed string is malformed (the message gives
        the byte offset) or the RLEs differ in size.

    Examples
    --------
    >>> decode({'size': [4, 5], 'counts': b'5220003'})
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]], dtype=uint8)
    >>> decode([{'size': [2, 2], 'counts': [1, 3]}] * 3, layout="nhw").shape
    (3, 2, 2)
    """
    items, single = _rle_list(rles)
    out = _core.rle_decode(items, layout, num_threads)
    if single:
        return out[:, :, 0] if layout == "hwn" else out[0]
    return out


def area(rles: Any, *, num_threads: Optional[int] = None) -> Union[int, np.ndarray]:
    """Foreground pixel count of RLEs.

    Parameters
    ----------
    rles : dict or list of dict
        COCO RLEs.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    int or numpy.ndarray
        An int for one RLE, a uint64 array ``(n,)`` for a list.

    Raises
    ------
    TypeError
        If ``rles`` is not an RLE dict or a list of them.
    ValueError
        If an RLE is malformed.

    Examples
    --------
    >>> r = {'size': [4, 5], 'counts': b'5220003'}
    >>> area(r)
    6
    >>> area([r, r])
    array([6, 6], dtype=uint64)
    """
    items, single = _rle_list(rles)
    out = _core.rle_area(items, num_threads)
    return int(out[0]) if single else out


def to_bbox(rles: Any, *, num_threads: Optional[int] = None) -> np.ndarray:
    """Bounding boxes ``[x, y, w, h]`` of the foreground, as pycocotools' ``toBbox``.

    Parameters
    ----------
    rles : dict or list of dict
        COCO RLEs.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    numpy.ndarray
        float64 ``(4,)`` for one RLE, ``(n, 4)`` for a list; an empty mask gives zeros.

    Raises
    ------
    TypeError
        If ``rles`` is not an RLE dict or a list of them.
    ValueError
        If an RLE is malformed.

    Examples
    --------
    >>> to_bbox({'size': [4, 5], 'counts': b'5220003'})
    array([1., 1., 3., 2.])
    """
    items, single = _rle_list(rles)
    out = _core.rle_to_bbox(items, num_threads)
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
    """IoU matrix between RLEs or between boxes ``[x, y, w, h]``, with pycocotools' semantics.

    For a crowd gt (``iscrowd[g]`` true) the union is the dt area; RLE pairs are computed exactly
    only where their bounding boxes overlap (others are 0).

    Parameters
    ----------
    dt, gt : list of dict or array_like
        Both RLE lists, or both boxes (an ``(N, 4)`` array or list).
    iscrowd : sequence of bool, optional
        One flag per ``gt``; all false when omitted.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    numpy.ndarray
        float64 ``(len(dt), len(gt))``.

    Raises
    ------
    TypeError
        If ``dt`` or ``gt`` is a single dict, or boxes are not numbers.
    ValueError
        If RLE sizes differ, boxes are not ``(N, 4)`` or ``iscrowd`` has the wrong length.

    Examples
    --------
    >>> r = {'size': [4, 5], 'counts': b'5220003'}
    >>> full = {'size': [4, 5], 'counts': [0, 20]}
    >>> iou([r], [r, full])
    array([[1. , 0.3]])
    >>> iou([[0, 0, 2, 2]], [[1, 1, 2, 2]])
    array([[0.14285714]])
    """
    if _is_rle_list(dt) and _is_rle_list(gt):
        return _core.rle_iou(list(dt), list(gt), iscrowd, num_threads)
    if isinstance(dt, dict) or isinstance(gt, dict):
        raise TypeError("dt and gt must be lists of RLE dicts (wrap a single dict in a list)")
    return _core.bbox_iou(_boxes(dt, "dt"), _boxes(gt, "gt"), iscrowd, num_threads)


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
    """Union (or intersection) of RLEs of one size, as pycocotools' ``merge``.

    Parameters
    ----------
    rles : list of dict
        COCO RLEs of one size.
    intersect : bool
        Intersection instead of union.

    Returns
    -------
    dict
        A compressed RLE (canonical output; a single RLE is returned unchanged; ``[]`` gives the
        empty ``{'size': [0, 0]}``).

    Raises
    ------
    TypeError
        If ``rles`` is not a list of RLE dicts.
    ValueError
        If the RLEs differ in size or one is malformed.

    Examples
    --------
    >>> a = encode(np.eye(3, dtype=np.uint8))
    >>> b = encode(np.eye(3, dtype=np.uint8)[::-1])
    >>> area(merge([a, b])), area(merge([a, b], intersect=True))
    (5, 1)
    """
    items, _ = _rle_list(rles)
    return _core.rle_merge(items, bool(intersect))


def merge_groups(
    groups: Sequence[Sequence[RLE]], *, intersect: bool = False, num_threads: Optional[int] = None
) -> List[RLE]:
    """``[merge(g, intersect=intersect) for g in groups]`` in one call, the groups merged in parallel.

    For many small merges (e.g. every multi-part annotation of a dataset), where a call per group
    would be dominated by call overhead.

    Parameters
    ----------
    groups : sequence of list of dict
        Each group a list of RLEs of one size.
    intersect : bool
        Intersection instead of union.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    list of dict
        One compressed RLE per group.

    Raises
    ------
    TypeError
        If ``groups`` is not a list of lists of RLE dicts.
    ValueError
        If the RLEs of a group differ in size or one is malformed (the message names
        ``groups[i][j]``).

    Examples
    --------
    >>> a = encode(np.eye(3, dtype=np.uint8))
    >>> b = encode(np.eye(3, dtype=np.uint8)[::-1])
    >>> [int(area(r)) for r in merge_groups([[a, b], [a]])]
    [5, 3]
    """
    if not isinstance(groups, (list, tuple)):
        try:
            groups = list(groups)
        except TypeError:
            raise TypeError(
                f"groups must be a list of lists of RLE dicts, got {type(groups).__name__}"
            ) from None
    return _core.rle_merge_groups(groups, bool(intersect), num_threads)


def from_bbox(boxes: Any, h: int, w: int, *, compressed: bool = True) -> List[RLE]:
    """Filled boxes ``[x, y, width, height]`` as RLEs, exactly pycocotools' ``frBbox``.

    The box is rasterized as a polygon: the pixels whose centres lie inside.

    Parameters
    ----------
    boxes : array_like
        ``(N, 4)`` numbers (one flat box is read as ``(1, 4)``).
    h, w : int
        The image size.
    compressed : bool
        Compressed ``bytes`` counts, or a list of run lengths.

    Returns
    -------
    list of dict
        One RLE per box.

    Raises
    ------
    TypeError
        If ``boxes`` is not numeric.
    ValueError
        If ``boxes`` is not ``(N, 4)``, a box is not finite or the size is negative.

    Examples
    --------
    >>> from_bbox([[1, 1, 2, 2]], 4, 4)
    [{'size': [4, 4], 'counts': b'52203'}]
    """
    return _core.rle_from_bbox(_boxes(boxes, "boxes"), int(h), int(w), compressed)


def from_polygons(polygons: Sequence[Any], h: int, w: int, *, compressed: bool = True) -> List[RLE]:
    """One RLE per polygon, exactly pycocotools' ``frPoly``.

    A pixel is foreground iff its centre is inside the polygon (even-odd rule) after the vertices
    are rounded to 1/5 pixel. Use :func:`merge` for the union of a multi-part object.

    Parameters
    ----------
    polygons : sequence of array_like
        Flat polygons ``[x0, y0, x1, y1, ...]`` of at least 3 points.
    h, w : int
        The image size.
    compressed : bool
        Compressed ``bytes`` counts, or a list of run lengths.

    Returns
    -------
    list of dict
        One RLE per polygon.

    Raises
    ------
    TypeError
        If a polygon is not a sequence of numbers.
    ValueError
        If a polygon has fewer than 3 points, an odd length or non-finite coordinates.

    Examples
    --------
    >>> rles = from_polygons([[0, 0, 3, 0, 3, 3, 0, 3]], 4, 4)
    >>> rles
    [{'size': [4, 4], 'counts': b'0310004'}]
    >>> area(rles)
    array([9], dtype=uint64)
    """
    return _core.rle_from_polygons(polygons, int(h), int(w), compressed)


def from_segmentations(
    segmentations: Sequence[Any],
    heights: Union[int, Sequence[int], np.ndarray],
    widths: Union[int, Sequence[int], np.ndarray],
    *,
    counts: str = "bytes",
    num_threads: Optional[int] = None,
) -> List[RLE]:
    """Convert COCO ``segmentation`` objects to one compressed RLE dict each, in parallel.

    Each item is a polygon list ``[[x0, y0, ...], ...]`` (result: the union of its polygons, equal
    to ``pycocotools.mask.merge(frPyObjects(seg, h, w))``), an uncompressed RLE dict (re-encoded
    compressed) or a compressed RLE dict (validated, returned as given).

    Parameters
    ----------
    segmentations : sequence
        COCO segmentations.
    heights, widths : int or sequence of int
        The image sizes, one per segmentation or one for all.
    counts : {"bytes", "str"}
        ``"bytes"`` gives new counts as pycocotools does (and compressed inputs as given);
        ``"str"`` gives every counts as a str, as COCO JSON files hold them.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    list of dict
        One compressed RLE per segmentation.

    Raises
    ------
    TypeError
        If a segmentation is neither a polygon list nor an RLE dict.
    ValueError
        If ``counts`` is not ``"bytes"``/``"str"``, or a segmentation is invalid; the message
        names the index: ``segmentations[17] polygon 0 must have at least 3 points ...``.

    Examples
    --------
    >>> square = [[0, 0, 3, 0, 3, 3, 0, 3]]
    >>> from_segmentations([square, {'size': [4, 4], 'counts': [5, 2, 9]}], 4, 4)
    [{'size': [4, 4], 'counts': b'0310004'}, {'size': [4, 4], 'counts': b'529'}]
    >>> from_segmentations([square], 4, 4, counts="str")
    [{'size': [4, 4], 'counts': '0310004'}]
    """
    if counts not in ("bytes", "str"):
        raise ValueError(f"counts must be 'bytes' or 'str', got {counts!r}")
    segs = segmentations if isinstance(segmentations, list) else list(segmentations)
    n = len(segs)
    hs = np.broadcast_to(np.asarray(heights, dtype=np.int64), (n,))
    ws = np.broadcast_to(np.asarray(widths, dtype=np.int64), (n,))
    return _core.rle_from_segmentations(
        segs, hs.tolist(), ws.tolist(), counts == "str", num_threads
    )


def to_string(counts: Any) -> bytes:
    """The compressed COCO string of a run-length list (pycocotools' ``rleToString``).

    Parameters
    ----------
    counts : array_like
        Non-negative integer run lengths, 1-D (any count up to 2^64 - 1).

    Returns
    -------
    bytes
        The compressed string.

    Raises
    ------
    TypeError
        If ``counts`` is not integral.
    ValueError
        If ``counts`` is not 1-D or holds a negative value or one of 2^64 or more.

    Examples
    --------
    >>> to_string([5, 10, 20, 30, 40, 5000, 100, 4795])
    b'5:d0d0d0Zk4l1cI'
    """
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
    """Run lengths of a compressed COCO string (pycocotools' ``rleFrString``).

    Parameters
    ----------
    s : bytes or str
        The compressed string.

    Returns
    -------
    numpy.ndarray
        uint64 run lengths.

    Raises
    ------
    TypeError
        If ``s`` is not bytes or str.
    ValueError
        If the string is malformed (a byte outside the alphabet, truncated, a negative count); the
        message gives the byte offset.

    Examples
    --------
    >>> from_string(b'5:d0d0d0Zk4l1cI')
    array([   5,   10,   20,   30,   40, 5000,  100, 4795], dtype=uint64)
    """
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


def _size_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}")
    return int(value)


_RLES_INDEX = re.compile(r"^rles\[(\d+)\]")


def _decode_dicts(segs: list, idx: list, h: int, w: int, num_threads: Optional[int]) -> np.ndarray:
    """The RLE dicts segs[i] for i in idx as an (len(idx), h, w) uint8 array; errors name
    segmentations[i]."""
    for i in idx:
        size = segs[i].get("size")
        if not isinstance(size, (list, tuple)) or len(size) != 2 or list(size) != [h, w]:
            raise ValueError(
                f"segmentations[{i}] is an RLE of size {size!r} but the masks are {h} x {w}"
            )
    try:
        return _core.rle_decode([segs[i] for i in idx], "nhw", num_threads)
    except (ValueError, TypeError) as e:
        m = _RLES_INDEX.match(str(e))
        if m is None:
            raise
        msg = f"segmentations[{idx[int(m.group(1))]}]" + str(e)[m.end() :]
        raise type(e)(msg) from None


def dense_from_segmentations(
    segmentations: Sequence[Any],
    height: int,
    width: int,
    *,
    out: Any = None,
    num_threads: Optional[int] = None,
) -> Any:
    """COCO segmentations of one image to dense masks ``(N, height, width)``, without an RLE.

    Row i equals ``pycocotools.mask.decode(merge(frPyObjects(segmentations[i], h, w)))`` bit for
    bit: a polygon list ``[[x0, y0, ...], ...]`` (the union of its polygons, each of at least 3
    points), an uncompressed RLE dict (``counts`` a list, a crowd annotation) or a compressed one
    (``counts`` str or bytes). An empty polygon list gives an all-zero mask (detectron2's
    ``polygons_to_bitmask``; pycocotools raises IndexError). Objects are rasterized in parallel,
    with the GIL released.

    Parameters
    ----------
    segmentations : list
        COCO segmentations; RLE sizes must be ``[height, width]``.
    height, width : int
        The image size, >= 0.
    out : numpy.ndarray or torch.Tensor, optional
        Where to write: a C-contiguous numpy array or CPU torch tensor (pinned memory included)
        of shape ``(N, height, width)``, bool or uint8 (0/1). Every element is written. When
        None, a new bool numpy array.
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``out`` itself when given, else the new array.

    Raises
    ------
    TypeError
        For bad types or dtypes: ``segmentations`` not a list, ``height``/``width`` not ints,
        ``out`` not an array or tensor or of another dtype.
    ValueError
        For bad values or shapes: a negative size, ``out`` of the wrong shape or on a GPU, an RLE
        of another size, a bad polygon (the message names ``segmentations[i]``, the polygon and
        the position).

    Examples
    --------
    >>> dense_from_segmentations([[[0, 0, 3, 0, 3, 3, 0, 3]]], 4, 5).astype(np.uint8)
    array([[[1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0]]], dtype=uint8)
    """
    segs = _segmentation_list(segmentations)
    h, w = _size_arg(height, "height"), _size_arg(width, "width")
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
    dicts = _core.targets_dense_from_polygons(segs, h, w, arr, num_threads)
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
      ``BitMasks.crop_and_resize`` (RoI Align with aligned=True, adaptive sampling, on the float32
      masks, then ``>= 0.5``); RLE dicts in the list take this path too.

    Parameters
    ----------
    segmentations : list or array_like or torch.Tensor
        As above, one per object.
    boxes : array_like or torch.Tensor
        ``(N, 4)`` float32 or float64 ``[x0, y0, x1, y1]``, one per object (a list is float64;
        detectron2's are float32 tensors: pass them as they are, the arithmetic follows their
        dtype).
    mask_size : int
        M, the side of the targets (28 in Mask R-CNN).
    num_threads : int, optional
        ``None`` = the process budget, ``-1`` = all cores, ``n >= 1`` = n threads.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(N, M, M)`` bool: a numpy array, or a tensor on ``boxes``' device when ``boxes`` or
        ``segmentations`` is a tensor.

    Raises
    ------
    TypeError
        If ``mask_size`` is not an int, ``boxes`` are not float32/float64 numbers or the masks
        are not bool/uint8.
    ValueError
        If ``mask_size < 1``, ``boxes`` are not ``(N, 4)`` one per object or not finite, the
        masks are not 3-D, or a segmentation is invalid (named by index).

    Examples
    --------
    >>> rasterize_within_boxes([[[0, 0, 4, 0, 4, 4, 0, 4]]], np.array([[0, 0, 4, 4.0]]), 2)
    array([[[ True,  True],
            [ True,  True]]])
    >>> rasterize_within_boxes(np.ones((1, 4, 4), bool), np.array([[0, 0, 2, 2.0]]), 2).shape
    (1, 2, 2)
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
        res, dicts = _core.targets_polygons_within_boxes(segs, b, m, num_threads)
        if dicts:
            # the RLEs of one call share a size (one image); _decode_dicts checks each
            ref = segs[dicts[0]].get("size")
            if not isinstance(ref, (list, tuple)) or len(ref) != 2:
                raise ValueError(f"segmentations[{dicts[0]}]['size'] must be [height, width]")
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
    if tensor_like is not None:
        import torch

        device = boxes.device if is_tensor(boxes) else segmentations.device
        return torch.from_numpy(res).to(device)
    return res
