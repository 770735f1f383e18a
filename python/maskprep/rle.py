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

    Parameters
    ----------
    masks : array or tensor
        uint8 or bool array (or torch tensor); any nonzero value is foreground. ``(H, W)`` gives
        one RLE dict; a 3-D array gives a list, read as ``(H, W, N)`` (``layout="hwn"``,
        pycocotools' layout) or ``(N, H, W)`` (``layout="nhw"``, numpy/torch batches). C- and
        Fortran-ordered arrays are both read in place.
    layout : {"hwn", "nhw"}
        Where the object axis of a 3-D ``masks`` is.
    compressed : bool
        ``True`` for the compressed ``bytes`` counts (COCO results files), ``False`` for a list
        of run lengths (COCO ``iscrowd`` annotations).
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    dict or list of dict
        ``{'size': [h, w], 'counts': bytes | list[int]}``, or a list of them.

    Raises
    ------
    TypeError
        ``masks`` neither bool nor uint8 (a float mask, say); ``num_threads`` not None or an int.
    ValueError
        ``masks`` neither 2-D nor 3-D; ``layout`` neither ``"hwn"`` nor ``"nhw"``;
        ``num_threads`` 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import rle
    >>> m = np.zeros((4, 4), np.uint8)
    >>> m[1:3, 1:3] = 1
    >>> rle.encode(m)
    {'size': [4, 4], 'counts': b'52203'}
    >>> rle.encode(m, compressed=False)
    {'size': [4, 4], 'counts': [5, 2, 2, 2, 5]}
    >>> len(rle.encode(np.stack([m, m, m]), layout="nhw"))
    3
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

    Parameters
    ----------
    rles : dict or list of dict
        One RLE, or a non-empty list of RLEs all of one size; counts compressed (bytes or str)
        or a list of run lengths.
    layout : {"hwn", "nhw"}
        The layout of the stack decoded from a list.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    numpy.ndarray
        A single dict gives an ``(h, w)`` array. A list (all of one size) gives ``(h, w, n)``
        Fortran-ordered (``layout="hwn"``, as pycocotools) or ``(n, h, w)`` C-ordered
        (``layout="nhw"``).

    Raises
    ------
    TypeError
        ``rles`` neither a dict nor a list (an array, say); an RLE's counts of the wrong type;
        ``num_threads`` not None or an int.
    ValueError
        An empty list (the size is unknown); an RLE without ``'size'`` and ``'counts'``; counts
        that do not sum to ``h*w``; a malformed compressed string (with the byte offset); RLEs of
        different sizes; ``layout`` neither ``"hwn"`` nor ``"nhw"``; ``num_threads`` 0 or below
        -1. Errors name the RLE (``rles[i]``).

    Examples
    --------
    >>> from maskprep import rle
    >>> r = {'size': [2, 3], 'counts': [1, 2, 3]}
    >>> rle.decode(r).tolist()
    [[0, 1, 0], [1, 0, 0]]
    >>> rle.decode([r, r]).shape, rle.decode([r, r], layout="nhw").shape
    ((2, 3, 2), (2, 2, 3))
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
    """Foreground pixel count.

    Parameters
    ----------
    rles : dict or list of dict
        One RLE or a list of them (any sizes; ``[]`` gives an empty array).
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    int or numpy.ndarray
        An int for one RLE, a uint64 array ``(n,)`` for a list.

    Raises
    ------
    TypeError
        ``rles`` neither a dict nor a list; an RLE's counts of the wrong type; ``num_threads``
        not None or an int.
    ValueError
        An RLE without ``'size'`` and ``'counts'``, with counts that do not sum to ``h*w`` or
        with a malformed compressed string (errors name ``rles[i]``); ``num_threads`` 0 or below
        -1.

    Examples
    --------
    >>> from maskprep import rle
    >>> r = {'size': [2, 3], 'counts': [1, 2, 3]}
    >>> rle.area(r)
    2
    >>> rle.area([r, {'size': [2, 3], 'counts': [6]}])
    array([2, 0], dtype=uint64)
    """
    items, single = _rle_list(rles)
    out = _core.rle_area(items, num_threads=num_threads)
    return int(out[0]) if single else out


def to_bbox(rles: Any, *, num_threads: Optional[int] = None) -> np.ndarray:
    """Bounding boxes ``[x, y, w, h]`` (float64) of the foreground, as pycocotools' toBbox.

    Parameters
    ----------
    rles : dict or list of dict
        One RLE or a list of them (any sizes).
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    numpy.ndarray
        ``(4,)`` for one RLE, ``(n, 4)`` for a list; an empty mask gives zeros.

    Raises
    ------
    TypeError
        ``rles`` neither a dict nor a list; an RLE's counts of the wrong type; ``num_threads``
        not None or an int.
    ValueError
        An RLE without ``'size'`` and ``'counts'``, with counts that do not sum to ``h*w`` or
        with a malformed compressed string (errors name ``rles[i]``); ``num_threads`` 0 or below
        -1.

    Examples
    --------
    >>> from maskprep import rle
    >>> rle.to_bbox({'size': [2, 3], 'counts': [1, 2, 3]})
    array([0., 0., 2., 2.])
    >>> rle.to_bbox([{'size': [2, 3], 'counts': [6]}]).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """
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

    Parameters
    ----------
    dt, gt : list of dict or array_like
        Both RLE lists (of one size) or both boxes (an ``(N, 4)`` array or list).
    iscrowd : sequence of bool, optional
        One flag per gt; None means no crowd.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    numpy.ndarray
        ``(len(dt), len(gt))`` float64.

    Raises
    ------
    TypeError
        A single RLE dict for ``dt`` or ``gt`` (wrap it in a list); ``dt`` and ``gt`` not both
        RLE lists or both boxes; boxes that are not real numbers; ``num_threads`` not None or an
        int.
    ValueError
        Boxes not of shape ``(N, 4)``; RLEs of different sizes; ``iscrowd`` not of ``len(gt)``;
        a malformed RLE (as in :func:`decode`); ``num_threads`` 0 or below -1.

    Examples
    --------
    >>> from maskprep import rle
    >>> rle.iou([[0, 0, 2, 2]], [[1, 1, 2, 2], [0, 0, 4, 4]]).round(4).tolist()
    [[0.1429, 0.25]]
    >>> rle.iou([[0, 0, 2, 2]], [[0, 0, 4, 4]], [1]).tolist()  # a crowd gt: over the dt area
    [[1.0]]
    >>> a = {'size': [2, 3], 'counts': [1, 2, 3]}
    >>> rle.iou([a], [a, {'size': [2, 3], 'counts': [0, 6]}]).tolist()
    [[1.0, 0.3333333333333333]]
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
    """Union (or intersection) of RLEs of one size, as pycocotools' merge.

    Parameters
    ----------
    rles : list of dict
        RLEs of one size.
    intersect : bool
        The intersection instead of the union.

    Returns
    -------
    dict
        A compressed RLE in canonical form; a single RLE is returned unchanged; ``[]`` gives the
        empty ``{'size': [0, 0]}``.

    Raises
    ------
    TypeError
        ``rles`` neither a dict nor a list; an RLE's counts of the wrong type.
    ValueError
        RLEs of different sizes; a malformed RLE (as in :func:`decode`), naming ``rles[i]``.

    Examples
    --------
    >>> from maskprep import rle
    >>> a = {'size': [2, 3], 'counts': [1, 2, 3]}
    >>> b = {'size': [2, 3], 'counts': [2, 2, 2]}
    >>> rle.area(rle.merge([a, b])), rle.area(rle.merge([a, b], intersect=True))
    (3, 1)
    >>> rle.merge([])
    {'size': [0, 0], 'counts': b''}
    """
    items, _ = _rle_list(rles)
    return _core.rle_merge(items, bool(intersect))


def merge_groups(
    groups: Sequence[Sequence[RLE]], *, intersect: bool = False, num_threads: Optional[int] = None
) -> List[RLE]:
    """``[merge(g, intersect=intersect) for g in groups]`` in one call, merged in parallel.

    For many small merges (e.g. every multi-part annotation of a dataset), where a call per group
    would be dominated by call overhead.

    Parameters
    ----------
    groups : sequence of sequence of dict
        Lists of RLEs, each list of one size.
    intersect : bool
        Intersections instead of unions.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    list of dict
        One compressed RLE per group.

    Raises
    ------
    TypeError
        ``groups`` not a list of lists of RLE dicts; ``num_threads`` not None or an int.
    ValueError
        RLEs of different sizes within a group, a malformed RLE; ``num_threads`` 0 or below -1.
        Errors name ``groups[i][j]``.

    Examples
    --------
    >>> from maskprep import rle
    >>> a = {'size': [2, 3], 'counts': [1, 2, 3]}
    >>> b = {'size': [2, 3], 'counts': [2, 2, 2]}
    >>> [rle.area(r) for r in rle.merge_groups([[a, b], [b]])]
    [3, 2]
    """
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
    """Filled boxes as RLEs, exactly pycocotools' frBbox.

    The box is rasterized as a polygon: pixels whose centres lie inside.

    Parameters
    ----------
    boxes : array_like
        ``(N, 4)`` ``[x, y, width, height]``; one flat box is read as ``(1, 4)``.
    image_size : (int, int)
        ``(height, width)``.
    w : int, optional
        Deprecated: ``from_bbox(boxes, h, w)``, the old spelling of the image size.
    compressed : bool
        Compressed ``bytes`` counts, or a list of run lengths.

    Returns
    -------
    list of dict
        One RLE per box.

    Raises
    ------
    TypeError
        Boxes that are not real numbers.
    ValueError
        Boxes not of shape ``(N, 4)``, or a non-finite or out-of-range value (``boxes[i]``); an
        ``image_size`` that is not two ints >= 0.

    Warns
    -----
    DeprecationWarning
        For the old spelling ``from_bbox(boxes, h, w)``.

    Examples
    --------
    >>> from maskprep import rle
    >>> rle.from_bbox([[1, 1, 2, 2]], (4, 4))
    [{'size': [4, 4], 'counts': b'52203'}]
    >>> rle.from_bbox([[1, 1, 2, 2]], (4, 4), compressed=False)
    [{'size': [4, 4], 'counts': [5, 2, 2, 2, 5]}]
    """
    h, w = _hw("from_bbox", image_size, w)
    return _core.rle_from_bbox(_boxes(boxes, "boxes"), h, w, compressed)


def from_polygons(
    polygons: Sequence[Any], image_size: Any, w: Optional[int] = None, *, compressed: bool = True
) -> List[RLE]:
    """One RLE per polygon, exactly pycocotools' frPoly.

    A pixel is foreground iff its centre is inside (even-odd rule) the polygon with vertices
    rounded to 1/5 pixel. Use :func:`merge` for the union of a multi-part object.

    Parameters
    ----------
    polygons : sequence of sequence of float
        Polygons ``[x0, y0, x1, y1, ...]``, each of at least 3 points.
    image_size : (int, int)
        ``(height, width)``.
    w : int, optional
        Deprecated: ``from_polygons(polygons, h, w)``, the old spelling of the image size.
    compressed : bool
        Compressed ``bytes`` counts, or a list of run lengths.

    Returns
    -------
    list of dict
        One RLE per polygon.

    Raises
    ------
    TypeError
        ``polygons`` not a list of polygons (an array, say); a coordinate that is not a number.
    ValueError
        A polygon of fewer than 3 points, of an odd number of coordinates or with a non-finite
        coordinate (errors name ``polygons[i]``); an ``image_size`` that is not two ints >= 0.

    Warns
    -----
    DeprecationWarning
        For the old spelling ``from_polygons(polygons, h, w)``.

    Examples
    --------
    >>> from maskprep import rle
    >>> square = [1, 1, 3, 1, 3, 3, 1, 3]
    >>> rle.from_polygons([square], (4, 4))
    [{'size': [4, 4], 'counts': b'52203'}]
    >>> rle.from_polygons([square], (4, 4), compressed=False)
    [{'size': [4, 4], 'counts': [5, 2, 2, 2, 5]}]
    """
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

    Parameters
    ----------
    segmentations : sequence
        COCO segmentations: polygon lists or RLE dicts.
    image_size : (int, int) or sequence of (int, int)
        The images' ``(height, width)``: one pair for all, or an ``(N, 2)`` sequence of one pair
        per segmentation.
    widths : int or sequence of int, optional
        Deprecated: ``from_segmentations(segs, heights, widths)``, the old spelling.
    counts : {"bytes", "str"}
        ``"bytes"`` gives new counts as pycocotools does (and compressed inputs as given);
        ``"str"`` gives every counts as a str, as COCO JSON files hold them.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    list of dict
        One compressed RLE per segmentation.

    Raises
    ------
    TypeError
        An item that is neither a polygon list nor an RLE dict, a coordinate that is not a
        number; ``num_threads`` not None or an int.
    ValueError
        ``counts`` neither ``"bytes"`` nor ``"str"``; ``image_size`` neither one pair nor one pair
        per segmentation; a polygon of fewer than 3 points or with a bad coordinate; an RLE whose
        size is not its image's or that is malformed; ``num_threads`` 0 or below -1. Errors name
        the index: ``segmentations[17] polygon 0 must have at least 3 points ...``.

    Warns
    -----
    DeprecationWarning
        For the old spelling ``from_segmentations(segs, heights, widths)``.

    Examples
    --------
    >>> from maskprep import rle
    >>> segs = [[[1, 1, 3, 1, 3, 3, 1, 3]], {'size': [4, 4], 'counts': [5, 2, 2, 2, 5]}]
    >>> rle.from_segmentations(segs, (4, 4))
    [{'size': [4, 4], 'counts': b'52203'}, {'size': [4, 4], 'counts': b'52203'}]
    >>> rle.from_segmentations(segs, [(4, 4), (4, 4)], counts="str")[1]
    {'size': [4, 4], 'counts': '52203'}
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
    return _core.rle_from_segmentations(segs, hs, ws, counts == "str", num_threads=num_threads)


def to_string(counts: Any) -> bytes:
    """The compressed COCO string of a run-length list (pycocotools' rleToString).

    Parameters
    ----------
    counts : array_like
        1-D non-negative integer run lengths (any up to ``2^64 - 1``).

    Returns
    -------
    bytes
        The compressed string; ``[]`` gives ``b''``.

    Raises
    ------
    TypeError
        ``counts`` not integers (floats, strings).
    ValueError
        ``counts`` not 1-D; a negative count, or one of ``2^64`` or more.

    Examples
    --------
    >>> from maskprep import rle
    >>> rle.to_string([5, 2, 2, 2, 5])
    b'52203'
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
    """Run lengths of a compressed COCO string.

    Parameters
    ----------
    s : bytes or str
        A compressed COCO counts string.

    Returns
    -------
    numpy.ndarray
        The run lengths, uint64 ``(n,)``.

    Raises
    ------
    TypeError
        ``s`` neither bytes nor str.
    ValueError
        Malformed input (a byte outside the alphabet, a truncated value), with the byte offset.

    Examples
    --------
    >>> from maskprep import rle
    >>> rle.from_string(b'52203')
    array([5, 2, 2, 2, 5], dtype=uint64)
    >>> rle.from_string('52203').tolist()
    [5, 2, 2, 2, 5]
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
    """COCO segmentations of one image to dense masks ``(N, height, width)``, without an RLE.

    Row i equals ``pycocotools.mask.decode(merge(frPyObjects(segmentations[i], h, w)))`` bit
    for bit: a polygon list ``[[x0, y0, ...], ...]`` (the union of its polygons, each of at least
    3 points), an uncompressed RLE dict (``counts`` a list, a crowd annotation) or a compressed
    one (``counts`` str or bytes). RLE sizes must be ``[height, width]``. An empty polygon list
    gives an all-zero mask (detectron2's ``polygons_to_bitmask``; pycocotools raises IndexError).
    Objects are rasterized in parallel, with the GIL released.

    Parameters
    ----------
    segmentations : list
        COCO segmentations (polygon lists or RLE dicts) of one image.
    image_size : (int, int)
        ``(height, width)``.
    width : int, optional
        Deprecated: ``dense_from_segmentations(segs, height, width)``, the old spelling.
    out : array or tensor, optional
        Where to write: a C-contiguous numpy array or CPU torch tensor (pinned memory included)
        of shape ``(N, height, width)``, bool or uint8 (0/1). Every element is written. When
        None, a new bool numpy array.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    array or tensor
        ``out`` itself when given, else the new array.

    Raises
    ------
    TypeError
        Bad types or dtypes: ``segmentations`` not a list, an item neither a polygon list nor an
        RLE dict, ``out`` neither a numpy array nor a tensor or not bool/uint8; ``num_threads``
        not None or an int.
    ValueError
        Bad values or shapes: a polygon of fewer than 3 points, an RLE not of the image's size or
        malformed, an ``image_size`` that is not two ints >= 0, ``out`` of the wrong shape, not
        C-contiguous or a tensor not on the CPU; ``num_threads`` 0 or below -1. Errors name
        ``segmentations[i]`` (polygon and position).

    Warns
    -----
    DeprecationWarning
        For the old spelling ``dense_from_segmentations(segs, height, width)``.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import rle
    >>> segs = [[[1, 1, 3, 1, 3, 3, 1, 3]], {'size': [4, 4], 'counts': [5, 2, 2, 2, 5]}]
    >>> masks = rle.dense_from_segmentations(segs, (4, 4))
    >>> masks.shape, masks.dtype
    ((2, 4, 4), dtype('bool'))
    >>> masks[0].astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    >>> out = np.empty((2, 4, 4), np.uint8)
    >>> rle.dense_from_segmentations(segs, (4, 4), out=out) is out, int(out.sum())
    (True, 8)
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

    Parameters
    ----------
    segmentations : list or array or tensor
        As above, one per object.
    boxes : array or tensor
        ``(N, 4)`` float32 or float64 ``[x0, y0, x1, y1]``, one per object (a list is float64;
        detectron2's are float32 tensors: pass them as they are, the arithmetic follows their
        dtype).
    mask_size : int
        M, the side of the targets (28 in Mask R-CNN).
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    array or tensor
        ``(N, M, M)`` bool: a numpy array, or a tensor on ``boxes``' device when ``boxes`` or
        ``segmentations`` is a tensor.

    Raises
    ------
    TypeError
        ``mask_size`` not an int; boxes neither float32 nor float64 (or a list of non-numbers);
        masks neither bool nor uint8; a bad polygon or RLE type; ``num_threads`` not None or an
        int.
    ValueError
        ``mask_size`` below 1; boxes not of shape ``(N, 4)`` with one per object, or not finite;
        masks not ``(N, H, W)``; a bad polygon or RLE (naming ``segmentations[i]``);
        ``num_threads`` 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import rle
    >>> triangle = [[0, 0, 4, 0, 0, 4]]
    >>> rle.rasterize_within_boxes([triangle], [[0.0, 0.0, 4.0, 4.0]], 4).astype(int).tolist()
    [[[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]]
    >>> masks = np.zeros((1, 4, 4), bool)
    >>> masks[0, 1:3, 1:3] = True
    >>> rle.rasterize_within_boxes(masks, [[1.0, 1.0, 3.0, 3.0]], 2).tolist()
    [[[True, True], [True, True]]]
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
