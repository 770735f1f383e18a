"""Binary masks to COCO polygons that rasterize back to the same mask.

Boundaries follow pixel edges, so vertices are pixel corners (integer coordinates; pixel
``(row y, column x)`` spans ``[x, x+1] x [y, y+1]``). Under pycocotools' rasterization rule
(pixel on iff its centre is inside, even-odd) such polygons cover exactly the original pixels:
with ``tolerance=0`` the round trip ``mask -> mask_to_polygons -> maskprep.rle.from_polygons``
(or ``pycocotools.mask.frPyObjects`` + ``merge``) ``-> decode`` is the identity.

One polygon per 8-connected component, in raster order of the component's first pixel; the
outer boundary runs clockwise on screen (x right, y down) from the top-left corner of that pixel.

Holes: a COCO object is the *union* of its polygons, so a hole cannot be a polygon of its own.
With ``holes=True`` (the default) each hole ring is cut into its component's polygon through a
zero-width bridge that runs straight up from the hole's top-left corner to the nearest boundary
of the same component above it (path: ... P, hole ring from H, H, P ...). A vertical bridge
crosses no pixel-centre column, so it adds nothing to pycocotools' even-odd fill and the hole is
reproduced exactly; bridges are short, so the polygons stay proportional to the boundary. Tools
that expect simple polygons (shapely, cv2 drawing) see a bridge as a slit; pass ``holes=False``
to get the outer rings only (holes filled, i.e. the mask's ``scipy.ndimage.binary_fill_holes``).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from . import _core
from ._arrays import integer, to_numpy

__all__ = ["mask_to_polygons", "masks_to_polygon_arrays", "masks_to_polygons"]

Polygon = List[float]


def _options(tolerance: Any, min_area: Any) -> tuple[float, int]:
    """The options' types; the kernel checks their values."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise TypeError(f"tolerance must be a number, got {type(tolerance).__name__}")
    return float(tolerance), integer(min_area, "min_area")


def mask_to_polygons(
    mask: Any, *, tolerance: float = 0.0, holes: bool = True, min_area: int = 0
) -> List[Polygon]:
    """COCO polygons of a mask: one per 8-connected component (see the module docstring for holes).

    Parameters
    ----------
    mask : array or tensor
        A non-empty ``(H, W)`` bool/uint8 mask.
    tolerance : float
        Douglas-Peucker tolerance in pixels, per ring; 0 keeps every corner (collinear corners are
        never emitted) and makes the round trip exact. A ring left with fewer than 3 vertices is
        dropped.
    holes : bool
        Cut holes into the polygons (exact round trip) or return outer rings only.
        Simplification keeps the bridge ends, so bridges stay vertical.
    min_area : int
        First remove components (8-connected) of fewer pixels, then fill holes (4-connected
        background not touching the border) of fewer pixels.

    Returns
    -------
    list of list of float
        Flat ``[x0, y0, x1, y1, ...]`` float lists; ``[]`` for an empty mask; usable as a COCO
        ``segmentation``.

    Raises
    ------
    TypeError
        ``mask`` neither bool nor uint8; ``tolerance`` not a number; ``min_area`` not an int.
    ValueError
        ``mask`` not 2-D, or empty; ``tolerance`` negative or not finite; ``min_area`` negative.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import contours
    >>> m = np.zeros((4, 4), np.uint8)
    >>> m[1:3, 1:3] = 1
    >>> contours.mask_to_polygons(m)
    [[1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 1.0, 3.0]]

    A hole is cut in through a zero-width bridge, or filled with ``holes=False``:

    >>> ring = np.ones((5, 5), np.uint8)
    >>> ring[2, 2] = 0
    >>> contours.mask_to_polygons(ring)
    [[0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 0.0, 5.0, 0.0,
      5.0, 5.0, 0.0, 5.0]]
    >>> contours.mask_to_polygons(ring, holes=False)
    [[0.0, 0.0, 5.0, 0.0, 5.0, 5.0, 0.0, 5.0]]
    """
    tol, area = _options(tolerance, min_area)
    return _core.mask_to_polygons(to_numpy(mask, "mask"), tol, bool(holes), area)


def masks_to_polygons(
    masks: Any,
    *,
    tolerance: float = 0.0,
    holes: bool = True,
    min_area: int = 0,
    num_threads: Optional[int] = None,
) -> List[List[Polygon]]:
    """:func:`mask_to_polygons` of each of ``(N, H, W)`` masks, in parallel across masks.

    Parameters
    ----------
    masks : array or tensor
        ``(N, H, W)`` bool/uint8 masks, H and W >= 1 (N may be 0).
    tolerance, holes, min_area
        As in :func:`mask_to_polygons`.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    list of list of list of float
        One polygon list per mask.

    Raises
    ------
    TypeError
        ``masks`` neither bool nor uint8; ``tolerance`` not a number; ``min_area`` not an int;
        ``num_threads`` not None or an int.
    ValueError
        ``masks`` not 3-D, or of empty images; ``tolerance`` negative or not finite;
        ``min_area`` negative; ``num_threads`` 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import contours
    >>> masks = np.zeros((2, 4, 4), bool)
    >>> masks[0, 1:3, 1:3] = True
    >>> contours.masks_to_polygons(masks)
    [[[1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 1.0, 3.0]], []]
    """
    tol, area = _options(tolerance, min_area)
    arr = to_numpy(masks, "masks")
    return _core.masks_to_polygons(arr, tol, bool(holes), area, num_threads=num_threads)


def masks_to_polygon_arrays(
    masks: Any,
    *,
    tolerance: float = 0.0,
    holes: bool = True,
    min_area: int = 0,
    num_threads: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`masks_to_polygons` as three arrays instead of nested lists of floats.

    The same polygons, in the same order, without a Python float per coordinate (several
    times faster to build and to hand to numpy or to another kernel).

    Parameters
    ----------
    masks : array or tensor
        ``(N, H, W)`` bool/uint8 masks, as in :func:`masks_to_polygons`.
    tolerance, holes, min_area, num_threads
        As in :func:`masks_to_polygons`.

    Returns
    -------
    xy : numpy.ndarray
        ``(P, 2)`` float64: the points of every polygon of every mask, in order.
    part_points : numpy.ndarray
        int64, the number of points of each polygon.
    object_parts : numpy.ndarray
        ``(N,)`` int64, the number of polygons of each mask.

    Raises
    ------
    TypeError
        As :func:`masks_to_polygons`.
    ValueError
        As :func:`masks_to_polygons`.

    Examples
    --------
    >>> import numpy as np
    >>> masks = np.zeros((2, 4, 4), bool)
    >>> masks[0, 1:3, 1:3] = True
    >>> xy, part_points, object_parts = masks_to_polygon_arrays(masks)
    >>> xy.tolist(), part_points.tolist(), object_parts.tolist()
    ([[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]], [4], [1, 0])
    """
    tol, area = _options(tolerance, min_area)
    arr = to_numpy(masks, "masks")
    xy, part_points, object_parts = _core.masks_to_polygon_arrays(
        arr, tol, bool(holes), area, num_threads=num_threads
    )
    return xy, part_points, object_parts
