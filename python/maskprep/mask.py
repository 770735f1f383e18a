"""Drop-in replacement for ``pycocotools.mask``: same names, signatures and return types.

``maskprep.install_as_pycocotools()`` makes ``import pycocotools.mask`` (and so ``COCO`` and
``COCOeval``) use this module. On valid input every function returns what pycocotools returns.

Where pycocotools crashes or returns garbage, this module returns the right answer or raises a
clear exception instead:

- ``encode`` accepts C-ordered arrays and bool masks (pycocotools: "ndarray is not Fortran
  contiguous"), and treats any nonzero byte as foreground (pycocotools splits runs on every
  byte change, so 0/1/2 masks encode wrongly).
- ``frPyObjects``: a list of lists is a list of polygons, whatever the length of the first one
  (pycocotools reads a 4-number first polygon as a box and raises ``TypeError``); a polygon of 1
  or 2 points gives pycocotools' own result for it, an empty mask. Boxes are an ``(N, 4)`` array
  or a single flat ``[x, y, w, h]`` list (pycocotools documents lists of boxes but crashes on
  them). Odd-length or non-finite polygons raise ``ValueError`` (pycocotools silently drops the
  last number or overflows).
- ``area`` of 256 or more RLEs works under NumPy 2 (pycocotools raises ``OverflowError``); areas
  of 2^32 pixels or more are returned as uint64 rather than wrapped.
- ``decode`` raises ``ValueError`` when counts do not sum to h*w (pycocotools returns
  uninitialised memory) or when the RLEs differ in size (pycocotools uses the first size).
- ``iou`` raises ``ValueError`` for masks of different sizes (pycocotools writes -1).
- ``merge`` raises ``ValueError`` for RLEs of different sizes (pycocotools returns a 0x0 RLE).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from . import rle as _rle

__all__ = ["encode", "decode", "merge", "iou", "area", "toBbox", "frPyObjects"]


def encode(bimask: Any) -> Any:
    """Binary masks to compressed RLEs, as pycocotools' encode.

    Parameters
    ----------
    bimask : array or tensor
        ``(h, w)`` or ``(h, w, n)`` bool or uint8 masks, C- or Fortran-ordered; any nonzero value
        is foreground.

    Returns
    -------
    dict or list of dict
        ``(h, w)`` -> RLE dict; ``(h, w, n)`` -> list of n RLE dicts (compressed counts, bytes).

    Raises
    ------
    TypeError
        ``bimask`` neither bool nor uint8 (the message calls it ``masks``).
    ValueError
        ``bimask`` neither 2-D nor 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import mask as mask_util
    >>> m = np.zeros((4, 4), np.uint8, order="F")
    >>> m[1:3, 1:3] = 1
    >>> mask_util.encode(m)
    {'size': [4, 4], 'counts': b'52203'}
    >>> len(mask_util.encode(np.dstack([m, m])))
    2
    """
    return _rle.encode(bimask, layout="hwn")


def decode(rleObjs: Any) -> np.ndarray:  # noqa: N803 - pycocotools' name
    """Compressed or uncompressed RLEs to dense uint8 masks, as pycocotools' decode.

    Parameters
    ----------
    rleObjs : dict or list of dict
        One RLE, or a non-empty list of RLEs of one size.

    Returns
    -------
    numpy.ndarray
        list of RLEs -> ``(h, w, n)`` uint8 Fortran array; one RLE -> ``(h, w)``.

    Raises
    ------
    TypeError
        ``rleObjs`` neither a dict nor a list; an RLE's counts of the wrong type.
    ValueError
        An empty list; counts that do not sum to ``h*w``; a malformed compressed string; RLEs of
        different sizes. The messages call the argument ``rles``.

    Examples
    --------
    >>> from maskprep import mask as mask_util
    >>> r = {'size': [2, 3], 'counts': b'123'}
    >>> mask_util.decode(r).tolist()
    [[0, 1, 0], [1, 0, 0]]
    >>> masks = mask_util.decode([r, r])
    >>> masks.shape, masks.dtype, masks.flags.f_contiguous
    ((2, 3, 2), dtype('uint8'), True)
    """
    return _rle.decode(rleObjs, layout="hwn")


def merge(rleObjs: Any, intersect: int = 0) -> dict:  # noqa: N803
    """Union (or, with ``intersect=1``, intersection) of RLEs of one size, as pycocotools' merge.

    Parameters
    ----------
    rleObjs : list of dict
        RLEs of one size.
    intersect : int
        Nonzero for the intersection.

    Returns
    -------
    dict
        A compressed RLE; a single RLE is returned unchanged; ``[]`` gives ``{'size': [0, 0]}``.

    Raises
    ------
    TypeError
        ``rleObjs`` neither a dict nor a list; an RLE's counts of the wrong type.
    ValueError
        RLEs of different sizes (pycocotools returns a 0x0 RLE); a malformed RLE.

    Examples
    --------
    >>> from maskprep import mask as mask_util
    >>> a = mask_util.frPyObjects([1, 1, 2, 2], 4, 4)
    >>> b = mask_util.frPyObjects([0, 0, 2, 2], 4, 4)
    >>> mask_util.merge([a, b])
    {'size': [4, 4], 'counts': b'02210O3'}
    >>> mask_util.merge([a, b], intersect=1)
    {'size': [4, 4], 'counts': b'51:'}
    """
    return _rle.merge(rleObjs, intersect=bool(intersect))


def area(rleObjs: Any) -> Any:  # noqa: N803
    """Foreground pixel counts, as pycocotools' area.

    Parameters
    ----------
    rleObjs : dict or list of dict
        One RLE or a list of them.

    Returns
    -------
    numpy.ndarray or numpy.uint32
        list -> uint32 array (uint64 if any area >= 2^32); one RLE -> numpy uint32 scalar.

    Raises
    ------
    TypeError
        ``rleObjs`` neither a dict nor a list; an RLE's counts of the wrong type.
    ValueError
        Counts that do not sum to ``h*w``, a malformed compressed string.

    Examples
    --------
    >>> from maskprep import mask as mask_util
    >>> r = mask_util.frPyObjects([1, 1, 2, 2], 4, 4)
    >>> mask_util.area([r, r])
    array([4, 4], dtype=uint32)
    >>> int(mask_util.area(r)), mask_util.area(r).dtype
    (4, dtype('uint32'))
    """
    items, single = _rle._rle_list(rleObjs)
    a = _core.rle_area(items, num_threads=None)
    a = a.astype(np.uint32) if a.size == 0 or int(a.max()) < 2**32 else a
    return a[0] if single else a


def toBbox(rleObjs: Any) -> np.ndarray:  # noqa: N802, N803
    """Bounding boxes ``[x, y, w, h]`` of the foreground, as pycocotools' toBbox.

    Parameters
    ----------
    rleObjs : dict or list of dict
        One RLE or a list of them.

    Returns
    -------
    numpy.ndarray
        list -> ``(n, 4)`` float64 ``[x, y, w, h]``; one RLE -> ``(4,)``.

    Raises
    ------
    TypeError
        ``rleObjs`` neither a dict nor a list; an RLE's counts of the wrong type.
    ValueError
        Counts that do not sum to ``h*w``, a malformed compressed string.

    Examples
    --------
    >>> from maskprep import mask as mask_util
    >>> mask_util.toBbox(mask_util.frPyObjects([1, 1, 2, 2], 4, 4))
    array([1., 1., 2., 2.])
    """
    return _rle.to_bbox(rleObjs)


def iou(dt: Any, gt: Any, pyiscrowd: Any) -> Any:
    """IoU matrix between RLE lists or boxes, as pycocotools' iou.

    For a crowd gt the union is the dt area.

    Parameters
    ----------
    dt, gt : list of dict or array_like
        Both RLE lists (of one size) or both ``(N, 4)`` ``[x, y, w, h]`` boxes.
    pyiscrowd : sequence of int
        One crowd flag per gt.

    Returns
    -------
    numpy.ndarray or list
        ``(len(dt), len(gt))`` float64 (Fortran-ordered); ``[]`` if either is empty.

    Raises
    ------
    TypeError
        ``dt`` and ``gt`` not of the same type (both RLE lists or both boxes); boxes that are not
        real numbers; ``pyiscrowd`` not iterable.
    ValueError
        ``pyiscrowd`` not of ``len(gt)``; masks of different sizes (pycocotools writes -1); boxes
        not of shape ``(N, 4)``; a malformed RLE.

    Examples
    --------
    >>> from maskprep import mask as mask_util
    >>> mask_util.iou([[0, 0, 2, 2]], [[1, 1, 2, 2], [0, 0, 4, 4]], [0, 1]).round(4).tolist()
    [[0.1429, 1.0]]
    >>> a = mask_util.frPyObjects([1, 1, 2, 2], 4, 4)
    >>> mask_util.iou([a], [a], [0])
    array([[1.]])
    >>> mask_util.iou([], [a], [0])
    []
    """
    iscrowd = list(pyiscrowd)
    if len(iscrowd) != len(gt):
        raise ValueError(
            f"iou(iscrowd=) must have the same length as gt ({len(gt)}), got {len(iscrowd)}"
        )
    if len(dt) == 0 or len(gt) == 0:
        return []
    dt_rle, gt_rle = _rle._is_rle_list(dt), _rle._is_rle_list(gt)
    if dt_rle != gt_rle:
        raise TypeError("dt and gt must have the same type: both RLE lists or both boxes")
    if dt_rle:
        out = _core.rle_iou(list(dt), list(gt), iscrowd, num_threads=None)
    else:
        out = _core.bbox_iou(
            _rle._boxes(dt, "dt"), _rle._boxes(gt, "gt"), iscrowd, num_threads=None
        )
    return np.asfortranarray(out)  # pycocotools reshapes its buffer in Fortran order


def frPyObjects(pyobj: Any, h: int, w: int) -> Any:  # noqa: N802
    """Polygons, boxes or uncompressed RLEs -> compressed RLEs (pycocotools' dispatch).

    - ``(N, 4)`` ndarray: boxes -> list of RLEs
    - list of polygon lists: one RLE per polygon (merge them for a multi-part object)
    - list of uncompressed RLE dicts -> list of RLEs; a single dict -> one RLE
    - a flat list: ``[x, y, w, h]`` is a box, longer lists a polygon -> one RLE

    Parameters
    ----------
    pyobj : array or list or dict
        As above.
    h, w : int
        The image's height and width.

    Returns
    -------
    dict or list of dict
        Compressed RLEs (bytes counts).

    Raises
    ------
    TypeError
        ``pyobj`` none of the above (an int, an empty list); boxes that are not real numbers; a
        coordinate that is not a number.
    ValueError
        An odd-length or non-finite polygon; boxes not of shape ``(N, 4)``; an RLE dict without
        ``'size'`` and ``'counts'`` or whose counts do not sum to ``h*w``; a negative ``h`` or
        ``w``, or one that ``int()`` cannot read.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import mask as mask_util
    >>> mask_util.frPyObjects([[1, 1, 3, 1, 3, 3, 1, 3]], 4, 4)
    [{'size': [4, 4], 'counts': b'52203'}]
    >>> mask_util.frPyObjects(np.array([[1.0, 1.0, 2.0, 2.0]]), 4, 4)
    [{'size': [4, 4], 'counts': b'52203'}]
    >>> mask_util.frPyObjects([1, 1, 2, 2], 4, 4)
    {'size': [4, 4], 'counts': b'52203'}
    >>> mask_util.frPyObjects({'size': [4, 4], 'counts': [5, 2, 2, 2, 5]}, 4, 4)
    {'size': [4, 4], 'counts': b'52203'}
    """
    if isinstance(pyobj, np.ndarray):
        return _rle.from_bbox(_rle._boxes(pyobj, "pyobj"), (int(h), int(w)))
    if isinstance(pyobj, dict):
        return _uncompressed([pyobj])[0]
    if isinstance(pyobj, (list, tuple)) and len(pyobj) > 0:
        first = pyobj[0]
        if isinstance(first, dict):
            return _uncompressed(list(pyobj))
        if isinstance(first, (list, tuple, np.ndarray)):
            return _core.rle_from_polygons(list(pyobj), int(h), int(w), True, 1)
        if len(pyobj) == 4:
            return _rle.from_bbox(_rle._boxes(pyobj, "pyobj"), (int(h), int(w)))[0]
        return _core.rle_from_polygons([pyobj], int(h), int(w), True, 1)[0]
    raise TypeError(
        "frPyObjects input must be polygons (list of lists), boxes ((N, 4) array or [x, y, w, h])"
        f" or uncompressed RLE dicts, got {type(pyobj).__name__}"
    )


def _uncompressed(rles: list) -> list:
    """Re-encode uncompressed RLEs, each with its own size (as pycocotools does)."""
    items = [r for r in rles]
    for i, r in enumerate(items):
        if not isinstance(r, dict) or "counts" not in r or "size" not in r:
            raise ValueError(f"pyobj[{i}] must be an RLE dict with 'size' and 'counts'")
    h = [int(r["size"][0]) for r in items]
    w = [int(r["size"][1]) for r in items]
    # bytes counts, as pycocotools (str_counts was passed None here, which only worked because
    # pybind11 reads None as False)
    return _rle.from_segmentations(items, list(zip(h, w)), counts="bytes")


# pycocotools.mask exposes its compiled layer as ``_mask``; some code calls it directly.
from . import _mask  # noqa: E402, F401  (it imports this module's functions)
