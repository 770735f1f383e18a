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

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (any nonzero value is foreground).
    connectivity : {4, 8}
        4 (edge neighbours, scikit-image's ``connectivity=1``) or 8 (edge and corner
        neighbours, ``connectivity=2``). The default 8 is scikit-image's and OpenCV's default.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (the result does not
        depend on it).

    Returns
    -------
    array or tensor
        int32 ``(H, W)``: 0 for background, components numbered 1..n in raster order of their
        first pixel, exactly as ``skimage.measure.label(mask, connectivity=1|2)`` (a tensor on
        the mask's device for a tensor).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``connectivity`` is not an int, or ``num_threads`` is not
        None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, ``connectivity`` is not 4 or 8, or
        ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.components import label
    >>> mask = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]], bool)
    >>> print(label(mask))
    [[1 1 0 0]
     [0 0 1 0]
     [2 0 0 1]]
    >>> print(label(mask, connectivity=4))
    [[1 1 0 0]
     [0 0 2 0]
     [3 0 0 4]]
    """
    arr = to_numpy(mask, "mask")
    labels, _ = _core.label(arr, _connectivity(connectivity), False, num_threads=num_threads)
    return like_input(labels, mask)


def connected_components(
    mask: Any, *, connectivity: int = 8, stats: bool = True, num_threads: Optional[int] = None
) -> Components:
    """Labels (as :func:`label`) and, with ``stats=True``, per-component area, bounding box and
    centroid, equal to ``cv2.connectedComponentsWithStats`` after matching labels.

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (any nonzero value is foreground).
    connectivity : {4, 8}
        4 (edge neighbours, scikit-image's ``connectivity=1``) or 8 (edge and corner
        neighbours, ``connectivity=2``). Default 8.
    stats : bool
        Whether to compute the area, bounding box and centroid of each component.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (the result does not
        depend on it).

    Returns
    -------
    Components
        ``(labels, num, area, bbox, centroid)``; entry ``i`` of the stats describes label
        ``i + 1`` (no background row, unlike OpenCV's); the stats are None without ``stats``.
        Arrays are tensors on the mask's device for a tensor mask.

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``connectivity`` is not an int, or ``num_threads`` is not
        None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, ``connectivity`` is not 4 or 8, or
        ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.components import connected_components
    >>> mask = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]], bool)
    >>> cc = connected_components(mask)
    >>> cc.num, cc.area.tolist(), cc.bbox.tolist(), cc.centroid.tolist()
    (2, [4, 1], [[0, 0, 4, 3], [0, 2, 1, 1]], [[1.5, 0.75], [0.0, 2.0]])
    >>> connected_components(mask, stats=False).area is None
    True
    """
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

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (any nonzero value is foreground).
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (the result does not
        depend on it).

    Returns
    -------
    array or tensor
        bool ``(H, W)`` (a tensor on the mask's device for a tensor).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.components import fill_holes
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[1:4, 1:4] = True
    >>> mask[2, 2] = False  # a ring around one hole pixel
    >>> print(fill_holes(mask).astype(np.uint8))
    [[0 0 0 0 0]
     [0 1 1 1 0]
     [0 1 1 1 0]
     [0 1 1 1 0]
     [0 0 0 0 0]]
    """
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
    """Remove the small foreground components of a ``(H, W)`` mask.

    Give one size: ``min_size`` removes components of *fewer than* ``min_size`` pixels
    (scikit-image < 0.26, deprecated there); ``max_size`` removes components of *at most*
    ``max_size`` pixels (scikit-image >= 0.26).

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (any nonzero value is foreground).
    min_size : int, optional
        Components of fewer than this many pixels are removed; >= 0.
    max_size : int, optional
        Components of at most this many pixels are removed; >= 0.
    connectivity : {4, 8}
        The components' connectivity; defaults to 4 as scikit-image's ``connectivity=1``.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (the result does not
        depend on it).

    Returns
    -------
    array or tensor
        bool ``(H, W)`` (a tensor on the mask's device for a tensor).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``min_size``, ``max_size`` or ``connectivity`` is not an
        int, neither or both sizes are given, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, a size is negative, ``connectivity`` is not
        4 or 8, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.components import remove_small_objects
    >>> mask = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 1, 1]], bool)
    >>> print(remove_small_objects(mask, 2).astype(np.uint8))  # the lone pixel goes
    [[1 1 0 0]
     [0 0 0 1]
     [0 0 1 1]]
    >>> bool((remove_small_objects(mask, max_size=1) == remove_small_objects(mask, 2)).all())
    True
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
    """Fill the small background components of a ``(H, W)`` mask.

    As scikit-image, a "hole" is any background component, including one that touches the
    image border. ``area_threshold`` fills components of *fewer than* that many pixels
    (scikit-image < 0.26); ``max_size`` fills those of *at most* ``max_size`` pixels
    (scikit-image >= 0.26). Give one of the two.

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (any nonzero value is foreground).
    area_threshold : int, optional
        Holes of fewer than this many pixels are filled; >= 0.
    max_size : int, optional
        Holes of at most this many pixels are filled; >= 0.
    connectivity : {4, 8}
        The holes' connectivity (default 4).
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (the result does not
        depend on it).

    Returns
    -------
    array or tensor
        bool ``(H, W)`` (a tensor on the mask's device for a tensor).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``area_threshold``, ``max_size`` or ``connectivity`` is
        not an int, neither or both sizes are given, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, a size is negative, ``connectivity`` is not
        4 or 8, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.components import remove_small_holes
    >>> mask = np.ones((4, 5), bool)
    >>> mask[1, 1] = mask[1, 3] = mask[2, 3] = False  # holes of 1 and 2 pixels
    >>> print(remove_small_holes(mask, 2).astype(np.uint8))
    [[1 1 1 1 1]
     [1 1 1 0 1]
     [1 1 1 0 1]
     [1 1 1 1 1]]
    >>> bool(remove_small_holes(mask, max_size=2).all())
    True
    """
    size = _max_size(area_threshold, max_size, "area_threshold")
    arr = to_numpy(mask, "mask")
    filled = _core.remove_small_holes(
        arr, size, _connectivity(connectivity), num_threads=num_threads
    )
    return like_input(filled, mask)
