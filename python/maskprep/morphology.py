"""Binary morphology on masks: erosion, dilation, opening and closing, bit-identical to
``cv2.erode`` / ``cv2.dilate`` / ``cv2.morphologyEx`` with the default anchor and border.

Masks are ``(H, W)`` bool or uint8 (nonzero = foreground); results are ``(H, W)`` bool (a
tensor on the mask's device for a tensor mask). The
kernel is either an explicit ``(kh, kw)`` array (nonzero = member, anchored at
``(kh // 2, kw // 2)`` like OpenCV's default) or built from ``shape`` and ``size`` exactly as
``cv2.getStructuringElement(shape, (kw, kh))``. Pixels outside the image never count (OpenCV's
default border: erosion does not eat in from the edges, dilation does not grow from outside).

Kernel sizes: ``"rect"`` accepts any positive size, even ones too (anchor at ``k // 2``, as
OpenCV); ``"ellipse"`` and ``"cross"`` need odd sizes, since their shape is defined around a
centre pixel and OpenCV's even-sized versions are lopsided. Explicit kernels may have any shape.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from . import _core
from ._arrays import int_pair, integer, like_input, to_numpy

__all__ = ["erode", "dilate", "open", "close", "structuring_element"]

_SHAPES = ("rect", "ellipse", "cross")
Size = Union[int, Sequence[int]]


def structuring_element(shape: str = "rect", size: Size = 3) -> np.ndarray:
    """``cv2.getStructuringElement`` as a ``(kh, kw)`` uint8 0/1 array.

    Parameters
    ----------
    shape : {"rect", "ellipse", "cross"}
        The element's shape. ``"ellipse"`` and ``"cross"`` need odd sizes (they are defined
        around a centre pixel); ``"rect"`` takes any positive size.
    size : int or (int, int)
        An int or ``(kh, kw)`` (rows, columns: numpy order, the reverse of OpenCV's
        ``(width, height)``).

    Returns
    -------
    numpy.ndarray
        ``(kh, kw)`` uint8, 1 for the members, 0 elsewhere.

    Raises
    ------
    TypeError
        If ``size`` is not an int or a pair of ints (bools and floats included).
    ValueError
        If ``shape`` is not one of the three, ``size`` is neither one int nor a pair, is not
        positive, or is even for ``"ellipse"`` or ``"cross"``.

    Examples
    --------
    >>> from maskprep.morphology import structuring_element
    >>> print(structuring_element("cross", 3))
    [[0 1 0]
     [1 1 1]
     [0 1 0]]
    >>> print(structuring_element("ellipse", 5))
    [[0 0 1 0 0]
     [1 1 1 1 1]
     [1 1 1 1 1]
     [1 1 1 1 1]
     [0 0 1 0 0]]
    >>> structuring_element("rect", (1, 3)).tolist()
    [[1, 1, 1]]
    >>> structuring_element("cross", 4)
    Traceback (most recent call last):
    ValueError: size must be odd for shape 'cross' (it needs a centre), got 4
    """
    if shape not in _SHAPES:
        raise ValueError(f"shape must be 'rect', 'ellipse' or 'cross', got {shape!r}")
    kh, kw = int_pair(size, "size", what="an int or a pair (kh, kw) of ints")
    if shape != "rect" and (kh % 2 == 0 or kw % 2 == 0):
        raise ValueError(f"size must be odd for shape {shape!r} (it needs a centre), got {size!r}")
    return _core.structuring_element(shape, kh, kw)


def _run(mask, kernel, shape, size, iterations, num_threads, op: str) -> np.ndarray:
    # The binding checks the mask's and kernel's dtype and shape, the kernel the values.
    if kernel is None:
        k = structuring_element("rect" if shape is None else shape, 3 if size is None else size)
    else:
        if shape is not None or size is not None:
            raise ValueError("pass either kernel or shape/size, not both")
        k = to_numpy(kernel, "kernel")
        if k.dtype.kind in "biu":  # any integer kernel: nonzero = member, as 0/1 bytes
            k = (k != 0).view(np.uint8)
    iterations = integer(iterations, "iterations")
    return like_input(
        _core.morphology(to_numpy(mask, "mask"), k, op, iterations, num_threads=num_threads), mask
    )


def erode(
    mask: np.ndarray,
    kernel: Optional[np.ndarray] = None,
    *,
    shape: Optional[str] = None,
    size: Optional[Size] = None,
    iterations: int = 1,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Binary erosion, ``cv2.erode(mask, kernel, iterations=iterations)`` bit for bit.

    Pixels outside the image never count (OpenCV's default border): erosion does not eat in from
    the edges.

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (nonzero = foreground).
    kernel : array, optional
        A ``(kh, kw)`` bool or integer array (nonzero = member, anchored at
        ``(kh // 2, kw // 2)``), or None to build one from ``shape`` and ``size``.
    shape : {"rect", "ellipse", "cross"}, optional
        The kernel's shape when ``kernel`` is None (default ``"rect"``), as
        :func:`structuring_element`.
    size : int or (int, int), optional
        The kernel's size ``(kh, kw)`` when ``kernel`` is None (default 3).
    iterations : int
        How many times the operation is applied, >= 1.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads.

    Returns
    -------
    array or tensor
        ``(H, W)`` bool (a tensor on the mask's device for a tensor mask).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``kernel`` is not bool or an integer type, ``size`` or
        ``iterations`` is not an int, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, ``kernel`` is not a non-empty
        ``(kh, kw)`` array or has no nonzero element, both ``kernel`` and ``shape``/``size`` are
        given, ``shape`` or ``size`` is invalid (see :func:`structuring_element`),
        ``iterations`` is below 1, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.morphology import erode
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[1:4, 1:4] = True
    >>> print(erode(mask).astype(np.uint8))
    [[0 0 0 0 0]
     [0 0 0 0 0]
     [0 0 1 0 0]
     [0 0 0 0 0]
     [0 0 0 0 0]]
    >>> erode(mask, iterations=0)
    Traceback (most recent call last):
    ValueError: iterations must be >= 1, got 0
    """
    return _run(mask, kernel, shape, size, iterations, num_threads, "erode")


def dilate(
    mask: np.ndarray,
    kernel: Optional[np.ndarray] = None,
    *,
    shape: Optional[str] = None,
    size: Optional[Size] = None,
    iterations: int = 1,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Binary dilation, ``cv2.dilate(mask, kernel, iterations=iterations)`` bit for bit.

    Arguments as :func:`erode`. Pixels outside the image never count: dilation does not grow
    from outside.

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (nonzero = foreground).
    kernel : array, optional
        A ``(kh, kw)`` bool or integer array (nonzero = member, anchored at
        ``(kh // 2, kw // 2)``), or None to build one from ``shape`` and ``size``.
    shape : {"rect", "ellipse", "cross"}, optional
        The kernel's shape when ``kernel`` is None (default ``"rect"``), as
        :func:`structuring_element`.
    size : int or (int, int), optional
        The kernel's size ``(kh, kw)`` when ``kernel`` is None (default 3).
    iterations : int
        How many times the operation is applied, >= 1.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads.

    Returns
    -------
    array or tensor
        ``(H, W)`` bool (a tensor on the mask's device for a tensor mask).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``kernel`` is not bool or an integer type, ``size`` or
        ``iterations`` is not an int, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, ``kernel`` is not a non-empty
        ``(kh, kw)`` array or has no nonzero element, both ``kernel`` and ``shape``/``size`` are
        given, ``shape`` or ``size`` is invalid (see :func:`structuring_element`),
        ``iterations`` is below 1, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.morphology import dilate
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[2, 2] = True
    >>> print(dilate(mask, shape="cross").astype(np.uint8))
    [[0 0 0 0 0]
     [0 0 1 0 0]
     [0 1 1 1 0]
     [0 0 1 0 0]
     [0 0 0 0 0]]
    """
    return _run(mask, kernel, shape, size, iterations, num_threads, "dilate")


def open(  # noqa: A001 - the operation's name; maskprep.morphology.open, never a bare import
    mask: np.ndarray,
    kernel: Optional[np.ndarray] = None,
    *,
    shape: Optional[str] = None,
    size: Optional[Size] = None,
    iterations: int = 1,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Opening (erode ``iterations`` times, then dilate as many), ``cv2.morphologyEx(mask,
    cv2.MORPH_OPEN, kernel, iterations=iterations)`` bit for bit. Arguments as :func:`erode`.

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (nonzero = foreground).
    kernel : array, optional
        A ``(kh, kw)`` bool or integer array (nonzero = member, anchored at
        ``(kh // 2, kw // 2)``), or None to build one from ``shape`` and ``size``.
    shape : {"rect", "ellipse", "cross"}, optional
        The kernel's shape when ``kernel`` is None (default ``"rect"``), as
        :func:`structuring_element`.
    size : int or (int, int), optional
        The kernel's size ``(kh, kw)`` when ``kernel`` is None (default 3).
    iterations : int
        How many times the operation is applied, >= 1.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads.

    Returns
    -------
    array or tensor
        ``(H, W)`` bool (a tensor on the mask's device for a tensor mask).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``kernel`` is not bool or an integer type, ``size`` or
        ``iterations`` is not an int, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, ``kernel`` is not a non-empty
        ``(kh, kw)`` array or has no nonzero element, both ``kernel`` and ``shape``/``size`` are
        given, ``shape`` or ``size`` is invalid (see :func:`structuring_element`),
        ``iterations`` is below 1, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.morphology import open
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[1:4, 1:4] = mask[0, 0] = True  # a square and a speck
    >>> print(open(mask).astype(np.uint8))
    [[0 0 0 0 0]
     [0 1 1 1 0]
     [0 1 1 1 0]
     [0 1 1 1 0]
     [0 0 0 0 0]]
    """
    return _run(mask, kernel, shape, size, iterations, num_threads, "open")


def close(
    mask: np.ndarray,
    kernel: Optional[np.ndarray] = None,
    *,
    shape: Optional[str] = None,
    size: Optional[Size] = None,
    iterations: int = 1,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Closing (dilate ``iterations`` times, then erode as many), ``cv2.morphologyEx(mask,
    cv2.MORPH_CLOSE, kernel, iterations=iterations)`` bit for bit. Arguments as :func:`erode`.

    Parameters
    ----------
    mask : array or tensor
        ``(H, W)`` bool or uint8 (nonzero = foreground).
    kernel : array, optional
        A ``(kh, kw)`` bool or integer array (nonzero = member, anchored at
        ``(kh // 2, kw // 2)``), or None to build one from ``shape`` and ``size``.
    shape : {"rect", "ellipse", "cross"}, optional
        The kernel's shape when ``kernel`` is None (default ``"rect"``), as
        :func:`structuring_element`.
    size : int or (int, int), optional
        The kernel's size ``(kh, kw)`` when ``kernel`` is None (default 3).
    iterations : int
        How many times the operation is applied, >= 1.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads.

    Returns
    -------
    array or tensor
        ``(H, W)`` bool (a tensor on the mask's device for a tensor mask).

    Raises
    ------
    TypeError
        If ``mask`` is not bool or uint8, ``kernel`` is not bool or an integer type, ``size`` or
        ``iterations`` is not an int, or ``num_threads`` is not None or an int.
    ValueError
        If ``mask`` is not a non-empty ``(H, W)`` array, ``kernel`` is not a non-empty
        ``(kh, kw)`` array or has no nonzero element, both ``kernel`` and ``shape``/``size`` are
        given, ``shape`` or ``size`` is invalid (see :func:`structuring_element`),
        ``iterations`` is below 1, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.morphology import close
    >>> mask = np.zeros((7, 7), bool)
    >>> mask[2:5, 2:5] = True
    >>> mask[3, 3] = False  # a ring
    >>> print(close(mask).astype(np.uint8))
    [[0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0]
     [0 0 1 1 1 0 0]
     [0 0 1 1 1 0 0]
     [0 0 1 1 1 0 0]
     [0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0]]
    """
    return _run(mask, kernel, shape, size, iterations, num_threads, "close")
