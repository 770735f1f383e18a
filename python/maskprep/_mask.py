"""``maskprep.mask._mask``: the stand-in for ``pycocotools._mask``, which some code calls
directly (``from pycocotools.mask import _mask``; ``maskUtils._mask.frPyObjects``).

pycocotools' compiled layer always takes and returns lists (``encode`` an (h, w, n) array,
``decode`` a list, ``area`` / ``toBbox`` lists), unlike the friendlier ``pycocotools.mask``
wrappers; these functions keep that contract on top of :mod:`maskprep.mask`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import mask as _mask_api

__all__ = [
    "encode",
    "decode",
    "merge",
    "iou",
    "area",
    "toBbox",
    "frBbox",
    "frPoly",
    "frUncompressedRLE",
    "frPyObjects",
]


def _rle_list(items: Any, name: str) -> list:
    if not isinstance(items, (list, tuple)):
        what = "polygons" if name == "poly" else "RLE dicts"
        raise TypeError(f"{name} must be a list of {what}, got {type(items).__name__}")
    return list(items)


def encode(bimask: Any) -> list:
    """(h, w, n) uint8 masks -> n RLE dicts (pycocotools._mask takes only 3-D)."""
    if np.ndim(bimask) != 3:
        raise ValueError(f"bimask must be an (h, w, n) array, got shape {np.shape(bimask)}")
    return _mask_api.encode(bimask)


def decode(rleObjs: Any) -> np.ndarray:  # noqa: N803
    """n RLE dicts -> (h, w, n) uint8 Fortran array."""
    return _mask_api.decode(_rle_list(rleObjs, "rleObjs"))


def merge(rleObjs: Any, intersect: int = 0) -> dict:  # noqa: N803
    return _mask_api.merge(_rle_list(rleObjs, "rleObjs"), intersect)


def iou(dt: Any, gt: Any, pyiscrowd: Any) -> Any:
    return _mask_api.iou(dt, gt, pyiscrowd)


def area(rleObjs: Any) -> np.ndarray:  # noqa: N803
    return _mask_api.area(_rle_list(rleObjs, "rleObjs"))


def toBbox(rleObjs: Any) -> np.ndarray:  # noqa: N802, N803
    return _mask_api.toBbox(_rle_list(rleObjs, "rleObjs"))


def frBbox(bb: Any, h: int, w: int) -> list:  # noqa: N802
    """(n, 4) [x, y, w, h] boxes -> n RLE dicts."""
    return _mask_api.frPyObjects(np.asarray(bb, dtype=np.float64).reshape(-1, 4), h, w)


def frPoly(poly: Any, h: int, w: int) -> list:  # noqa: N802
    """A list of polygons -> one RLE dict per polygon."""
    polys = _rle_list(poly, "poly")
    return _mask_api.frPyObjects(polys, h, w) if polys else []


def frUncompressedRLE(ucRles: Any, h: int, w: int) -> list:  # noqa: N802, N803
    """Uncompressed RLE dicts -> compressed RLE dicts (each keeps its own size)."""
    rles = _rle_list(ucRles, "ucRles")
    return _mask_api.frPyObjects(rles, h, w) if rles else []


def frPyObjects(pyobj: Any, h: int, w: int) -> Any:  # noqa: N802
    return _mask_api.frPyObjects(pyobj, h, w)
