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

    shape: ``"rect"``, ``"ellipse"`` or ``"cross"``. size: an int or ``(kh, kw)`` (rows,
    columns: numpy order, the reverse of OpenCV's ``(width, height)``).
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

    mask: ``(H, W)`` bool or uint8. kernel: a ``(kh, kw)`` array, or None to build one from
    ``shape`` (default ``"rect"``) and ``size`` (default 3). Returns ``(H, W)`` bool.
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
    Arguments as :func:`erode`."""
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
    cv2.MORPH_OPEN, kernel, iterations=iterations)`` bit for bit. Arguments as :func:`erode`."""
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
    cv2.MORPH_CLOSE, kernel, iterations=iterations)`` bit for bit. Arguments as :func:`erode`."""
    return _run(mask, kernel, shape, size, iterations, num_threads, "close")
