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
    """(h, w) -> RLE dict; (h, w, n) -> list of n RLE dicts (compressed counts, bytes)."""
    return _rle.encode(bimask, layout="hwn")


def decode(rleObjs: Any) -> np.ndarray:  # noqa: N803 - pycocotools' name
    """list of RLEs -> (h, w, n) uint8 Fortran array; one RLE -> (h, w)."""
    return _rle.decode(rleObjs, layout="hwn")


def merge(rleObjs: Any, intersect: int = 0) -> dict:  # noqa: N803
    return _rle.merge(rleObjs, intersect=bool(intersect))


def area(rleObjs: Any) -> Any:  # noqa: N803
    """list -> uint32 array (uint64 if any area >= 2^32); one RLE -> numpy uint32 scalar."""
    items, single = _rle._rle_list(rleObjs)
    a = _core.rle_area(items, num_threads=None)
    a = a.astype(np.uint32) if a.size == 0 or int(a.max()) < 2**32 else a
    return a[0] if single else a


def toBbox(rleObjs: Any) -> np.ndarray:  # noqa: N802, N803
    """list -> (n, 4) float64 [x, y, w, h]; one RLE -> (4,)."""
    return _rle.to_bbox(rleObjs)


def iou(dt: Any, gt: Any, pyiscrowd: Any) -> Any:
    """IoU matrix (len(dt), len(gt)) between RLE lists or boxes; [] if either is empty."""
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
