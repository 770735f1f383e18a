"""Connected components of binary masks: labels and statistics, hole filling, removal of small
objects and holes.

Masks are 2-D ``bool`` or ``uint8`` arrays (any nonzero value is foreground); mask outputs are
``bool`` of the same shape. Tensors in give tensors out (on the input's device). Connectivity is ``4`` (edge neighbours) or ``8`` (edge and corner
neighbours), i.e. scikit-image's ``connectivity=1`` and ``2``.

Anchors (see tests/test_components.py): labels are identical to ``skimage.measure.label``
(components numbered 1..n in raster order of their first pixel); the partition and the stats are
those of ``cv2.connectedComponentsWithStats`` (whose default numbering differs by a permutation);
:func:`fill_holes` equals ``scipy.ndimage.binary_fill_holes``; :func:`remove_small_objects` and
:func:`remove_small_holes` equal scikit-image 0.26's functions of the same names.

Every function takes ``num_threads`` (``None`` = the process budget, ``-1`` = all cores,
``n >= 1``); the result does not depend on it.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

from . import _core
from ._arrays import integer, like_input, to_numpy

__all__ = [
    "Components",
    "label",
    "connected_components",
    "fill_holes",
    "remove_small_objects",
    "remove_small_holes",
]


def _connectivity(connectivity: Any) -> int:
    return integer(connectivity, "connectivity")  # the kernel checks it is 4 or 8


def _min_size(value: Any, name: str) -> int:
    """The largest size removed for ``min_size``-style arguments (``value - 1``): checked here,
    since the kernel only sees the converted ``max_size``."""
    value = integer(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return max(value - 1, 0)


class Components(NamedTuple):
    """Result of :func:`connected_components`. Entry ``i`` of the stats describes label ``i+1``
    (there is no background row, unlike OpenCV's)."""

    labels: np.ndarray  #: int32 ``(H, W)``, 0 = background, 1..num in raster order
    num: int  #: number of components
    area: Optional[np.ndarray]  #: int64 ``(num,)`` pixels
    bbox: Optional[np.ndarray]  #: int64 ``(num, 4)`` x, y, width, height (``cv2.CC_STAT_*``)
    centroid: Optional[np.ndarray]  #: float64 ``(num, 2)`` mean x, mean y (OpenCV's centroids)


def label(mask: Any, *, connectivity: int = 8, num_threads: Optional[int] = None) -> np.ndarray:
    """Label the connected components of a ``(H, W)`` mask.

    Returns int32 ``(H, W)``: 0 for background, components numbered 1..n in raster order of
    their first pixel, exactly as ``skimage.measure.label(mask, connectivity=1|2)``. The default
    ``connectivity=8`` is scikit-image's and OpenCV's default.
    """
    arr = to_numpy(mask, "mask")
    labels, _ = _core.label(arr, _connectivity(connectivity), False, num_threads=num_threads)
    return like_input(labels, mask)


def connected_components(
    mask: Any, *, connectivity: int = 8, stats: bool = True, num_threads: Optional[int] = None
) -> Components:
    """Labels (as :func:`label`) and, with ``stats=True``, per-component area, bounding box and
    centroid, equal to ``cv2.connectedComponentsWithStats`` after matching labels."""
    arr = to_numpy(mask, "mask")
    out = _core.label(arr, _connectivity(connectivity), bool(stats), num_threads=num_threads)
    labels = like_input(out[0], mask)
    if not stats:
        return Components(labels, int(out[1]), None, None, None)
    area, bbox, centroid = (like_input(a, mask) for a in out[2:5])
    return Components(labels, int(out[1]), area, bbox, centroid)


def fill_holes(mask: Any, *, num_threads: Optional[int] = None) -> np.ndarray:
    """Fill the holes of a ``(H, W)`` mask: background not 4-connected to the image border
    becomes foreground (``scipy.ndimage.binary_fill_holes`` with its default structure).
    Returns bool ``(H, W)``."""
    return like_input(_core.fill_holes(to_numpy(mask, "mask"), num_threads=num_threads), mask)


def _max_size(min_size: Any, max_size: Any, min_name: str) -> int:
    if (min_size is None) == (max_size is None):
        raise TypeError(f"give exactly one of {min_name} and max_size")
    if max_size is not None:
        return integer(max_size, "max_size")  # the kernel checks >= 0
    return _min_size(min_size, min_name)


def remove_small_objects(
    mask: Any,
    min_size: Optional[int] = None,
    *,
    max_size: Optional[int] = None,
    connectivity: int = 4,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Remove the small foreground components of a ``(H, W)`` mask; returns bool ``(H, W)``.

    Give one size: ``min_size`` removes components of *fewer than* ``min_size`` pixels
    (scikit-image < 0.26, deprecated there); ``max_size`` removes components of *at most*
    ``max_size`` pixels (scikit-image >= 0.26). ``connectivity`` defaults to 4 as
    scikit-image's ``connectivity=1``.
    """
    size = _max_size(min_size, max_size, "min_size")
    arr = to_numpy(mask, "mask")
    kept = _core.remove_small_objects(
        arr, size, _connectivity(connectivity), num_threads=num_threads
    )
    return like_input(kept, mask)


def remove_small_holes(
    mask: Any,
    area_threshold: Optional[int] = None,
    *,
    max_size: Optional[int] = None,
    connectivity: int = 4,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Fill the small background components of a ``(H, W)`` mask; returns bool ``(H, W)``.

    As scikit-image, a "hole" is any background component, including one that touches the
    image border. ``area_threshold`` fills components of *fewer than* that many pixels
    (scikit-image < 0.26); ``max_size`` fills those of *at most* ``max_size`` pixels
    (scikit-image >= 0.26). ``connectivity`` (default 4) is the holes' connectivity.
    """
    size = _max_size(area_threshold, max_size, "area_threshold")
    arr = to_numpy(mask, "mask")
    filled = _core.remove_small_holes(
        arr, size, _connectivity(connectivity), num_threads=num_threads
    )
    return like_input(filled, mask)
