"""Image preprocessing for mask preparation, exact to the libraries people check against.

Every function takes numpy arrays (row-major ``(H, W)`` gray or ``(H, W, C)`` interleaved
colour) and returns new arrays (tensors in: tensors out, on the input's device); the C++ kernels run without the GIL on ``num_threads`` threads
(``None``: the process budget, ``-1``: all cores; small images run on one thread).

- :func:`rgb_to_gray`, :func:`rgb_to_hsv` - ``cv2.cvtColor`` RGB2GRAY / RGB2HSV, bit for bit.
- :func:`gaussian_blur` - ``cv2.GaussianBlur`` (BORDER_REFLECT_101), bit for bit on uint8.
- :func:`equalize_hist` - ``cv2.equalizeHist``, bit for bit.
- :func:`otsu_threshold` - ``skimage.filters.threshold_otsu`` or ``cv2.threshold(THRESH_OTSU)``.
- :func:`flood` - ``skimage.segmentation.flood``, from one or several seeds.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from . import _core
from ._arrays import integer, like_input, pair, to_numpy

__all__ = [
    "rgb_to_gray",
    "rgb_to_hsv",
    "gaussian_blur",
    "equalize_hist",
    "otsu_threshold",
    "flood",
]

Pair = Union[int, float, Sequence[Union[int, float]]]


def rgb_to_gray(image: np.ndarray, *, num_threads: Optional[int] = None) -> np.ndarray:
    """Luma of an RGB(A) uint8 image, ``cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)`` bit for bit.

    Parameters
    ----------
    image : array or tensor
        ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (alpha ignored), uint8.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (small images run on one).

    Returns
    -------
    array or tensor
        ``(H, W)`` uint8: ``(9798 R + 19235 G + 3735 B + 2**14) >> 15`` (OpenCV 5's weights); a
        tensor on the input's device for a tensor.

    Raises
    ------
    TypeError
        If ``image`` is not uint8, or ``num_threads`` is not None or an int.
    ValueError
        If ``image`` is not a non-empty ``(H, W, 3)`` or ``(H, W, 4)`` array, or ``num_threads``
        is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.imgproc import rgb_to_gray
    >>> rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    >>> rgb_to_gray(rgb)
    array([[ 76, 150,  29, 255]], dtype=uint8)
    """
    return like_input(_core.rgb_to_gray(to_numpy(image, "image"), num_threads=num_threads), image)


def rgb_to_hsv(image: np.ndarray, *, num_threads: Optional[int] = None) -> np.ndarray:
    """``cv2.cvtColor(image, cv2.COLOR_RGB2HSV)`` bit for bit (OpenCV's 8-bit convention).

    Parameters
    ----------
    image : array or tensor
        ``(H, W, 3)`` or ``(H, W, 4)`` uint8 RGB(A) (alpha ignored).
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (small images run on one).

    Returns
    -------
    array or tensor
        ``(H, W, 3)`` uint8 with hue in ``[0, 180)`` (degrees / 2), saturation and value in
        ``[0, 255]``; a tensor on the input's device for a tensor.

    Raises
    ------
    TypeError
        If ``image`` is not uint8, or ``num_threads`` is not None or an int.
    ValueError
        If ``image`` is not a non-empty ``(H, W, 3)`` or ``(H, W, 4)`` array, or ``num_threads``
        is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.imgproc import rgb_to_hsv
    >>> rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    >>> rgb_to_hsv(rgb).tolist()
    [[[0, 255, 255], [60, 255, 255], [120, 255, 255], [0, 0, 255]]]
    """
    return like_input(_core.rgb_to_hsv(to_numpy(image, "image"), num_threads=num_threads), image)


def _pair(value: Optional[Pair], name: str, kind: type) -> tuple:
    if value is None:
        return (kind(0), kind(0))
    seq = pair(value, name, "a number or a pair (y, x)")
    if any(isinstance(v, bool) for v in seq):
        raise TypeError(f"{name} must be a number or a pair (y, x), got {value!r}")
    if kind is int and not all(isinstance(v, (int, np.integer)) for v in seq):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return (kind(seq[0]), kind(seq[1]))


def gaussian_blur(
    image: np.ndarray,
    *,
    sigma: Optional[Pair] = None,
    ksize: Optional[Pair] = None,
    num_threads: Optional[int] = None,
) -> np.ndarray:
    """Gaussian blur, ``cv2.GaussianBlur(image, (kw, kh), sx, sigmaY=sy)`` with its default
    BORDER_REFLECT_101.

    uint8 is bit-identical to OpenCV (its fixed-point path, reproduced); float32 agrees to float
    rounding (about 1e-4 on a 0-255 range). One of ``sigma`` and ``ksize`` is required.

    Parameters
    ----------
    image : array or tensor
        ``(H, W)`` or ``(H, W, C)`` uint8 or float32 (channels blurred independently).
    sigma : float or (float, float), optional
        A number or ``(sigma_y, sigma_x)``, >= 0; 0 or None derives it from ``ksize`` as OpenCV
        does (``0.3 * ((k - 1) / 2 - 1) + 0.8``).
    ksize : int or (int, int), optional
        An odd positive int or ``(kh, kw)``; None derives it from sigma as OpenCV does
        (``round(sigma * (3 if uint8 else 4) * 2 + 1) | 1``).
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (small images run on one).

    Returns
    -------
    array or tensor
        An array of the input's shape and dtype (a tensor on the input's device for a tensor).

    Raises
    ------
    TypeError
        If ``image`` is not uint8 or float32, ``sigma`` is a bool, ``ksize`` is not an int or a
        pair of ints, or ``num_threads`` is not None or an int.
    ValueError
        If neither ``sigma`` nor ``ksize`` is given, ``image`` is not a non-empty ``(H, W)`` or
        ``(H, W, C)`` array, ``sigma`` or ``ksize`` is neither one value nor a pair, ``sigma`` is
        negative or not finite (or too large to derive ``ksize`` from), ``ksize`` is even or not
        positive, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.imgproc import gaussian_blur
    >>> image = np.zeros((5, 5), np.uint8)
    >>> image[2, 2] = 255
    >>> print(gaussian_blur(image, ksize=3))
    [[ 0  0  0  0  0]
     [ 0 16 32 16  0]
     [ 0 32 64 32  0]
     [ 0 16 32 16  0]
     [ 0  0  0  0  0]]
    >>> print(gaussian_blur(image.astype(np.float32), ksize=(1, 3)))  # along rows only
    [[  0.     0.     0.     0.     0.  ]
     [  0.     0.     0.     0.     0.  ]
     [  0.    63.75 127.5   63.75   0.  ]
     [  0.     0.     0.     0.     0.  ]
     [  0.     0.     0.     0.     0.  ]]
    >>> gaussian_blur(image, ksize=2)
    Traceback (most recent call last):
    ValueError: ksize must be odd and positive, got 2
    """
    if sigma is None and ksize is None:
        raise ValueError("gaussian_blur needs sigma or ksize (or both)")
    sy, sx = _pair(sigma, "sigma", float)
    kh, kw = _pair(ksize, "ksize", int)
    if ksize is not None and (kh <= 0 or kw <= 0 or kh % 2 == 0 or kw % 2 == 0):
        raise ValueError(f"ksize must be odd and positive, got {ksize!r}")
    blurred = _core.gaussian_blur(
        to_numpy(image, "image"), (kh, kw), (sy, sx), num_threads=num_threads
    )
    return like_input(blurred, image)


def equalize_hist(image: np.ndarray, *, num_threads: Optional[int] = None) -> np.ndarray:
    """Histogram equalisation, ``cv2.equalizeHist`` bit for bit.

    Parameters
    ----------
    image : array or tensor
        ``(H, W)`` uint8.
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (small images run on one).

    Returns
    -------
    array or tensor
        ``(H, W)`` uint8 (a constant image is returned unchanged); a tensor on the input's device
        for a tensor.

    Raises
    ------
    TypeError
        If ``image`` is not uint8, or ``num_threads`` is not None or an int.
    ValueError
        If ``image`` is not a non-empty ``(H, W)`` array, or ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.imgproc import equalize_hist
    >>> equalize_hist(np.array([[10, 10, 20, 20], [10, 10, 20, 30]], np.uint8)).tolist()
    [[0, 0, 191, 191], [0, 0, 191, 255]]
    """
    return like_input(_core.equalize_hist(to_numpy(image, "image"), num_threads=num_threads), image)


def otsu_threshold(
    image: np.ndarray, *, convention: str = "skimage", num_threads: Optional[int] = None
) -> tuple[int, np.ndarray]:
    """Otsu's threshold of a gray uint8 image and the foreground mask ``image > threshold``.

    Parameters
    ----------
    image : array or tensor
        ``(H, W)`` uint8.
    convention : {"skimage", "opencv"}
        ``"skimage"`` gives ``skimage.filters.threshold_otsu(image)`` (a constant image gives its
        value); ``"opencv"`` gives the threshold of ``cv2.threshold(image, 0, 255,
        cv2.THRESH_BINARY + cv2.THRESH_OTSU)`` (0 when no split exists). The two differ by one
        grey level on a few images (different floating-point formulas).
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads (small images run on one).

    Returns
    -------
    (int, array or tensor)
        ``(threshold, mask)``: an int and an ``(H, W)`` bool array (a tensor on the input's device
        for a tensor).

    Raises
    ------
    TypeError
        If ``image`` is not uint8, ``convention`` is not a str, or ``num_threads`` is not None or
        an int.
    ValueError
        If ``image`` is not a non-empty ``(H, W)`` array, ``convention`` is another string, or
        ``num_threads`` is 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.imgproc import otsu_threshold
    >>> image = np.array([[10, 10, 200, 200], [12, 10, 210, 200]], np.uint8)
    >>> threshold, mask = otsu_threshold(image)
    >>> threshold, mask.tolist()
    (12, [[False, False, True, True], [False, False, True, True]])
    >>> otsu_threshold(image, convention="opencv")[0]
    12
    """
    threshold, mask = _core.otsu_threshold(
        to_numpy(image, "image"), convention, num_threads=num_threads
    )
    return int(threshold), like_input(mask, image)


def flood(
    image: np.ndarray,
    seed_points,
    *,
    tolerance: float = 0,
    connectivity: int = 4,
) -> np.ndarray:
    """Region grown from seeds, ``skimage.segmentation.flood`` (union over the seeds).

    Serial (a scanline fill).

    Parameters
    ----------
    image : array or tensor
        ``(H, W)`` uint8.
    seed_points : array-like
        One ``(row, col)`` pair or an ``(N, 2)`` integer array-like of them, inside the image.
    tolerance : float
        A pixel joins a seed's region when its value lies within ``tolerance`` of the seed's
        value (bounds cast to uint8 as skimage does) and it touches the region.
    connectivity : {4, 8}
        4 (edges; skimage's ``connectivity=1``) or 8 (also corners; ``connectivity=2``).

    Returns
    -------
    array or tensor
        An ``(H, W)`` bool mask (a tensor on the input's device for a tensor).

    Raises
    ------
    TypeError
        If ``image`` is not uint8, ``seed_points`` are not integers, or ``connectivity`` is not
        an int.
    ValueError
        If ``image`` is not a non-empty ``(H, W)`` array, ``seed_points`` is not ``(N, 2)``, holds
        no point or a point outside the image, ``tolerance`` is negative, not finite or not a
        number, or ``connectivity`` is not 4 or 8.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep.imgproc import flood
    >>> image = np.array([[5, 5, 9, 5], [5, 9, 9, 5], [9, 5, 5, 5]], np.uint8)
    >>> print(flood(image, (0, 0)).astype(np.uint8))
    [[1 1 0 0]
     [1 0 0 0]
     [0 0 0 0]]
    >>> print(flood(image, (0, 0), connectivity=8).astype(np.uint8))
    [[1 1 0 1]
     [1 0 0 1]
     [0 1 1 1]]
    >>> bool(flood(image, [(0, 0)], tolerance=4).all())
    True
    """
    seeds = to_numpy(seed_points, "seed_points")
    if seeds.ndim == 1:  # one (row, col) pair
        seeds = seeds.reshape(1, -1)
    # The binding checks the arrays' dtypes and shapes; the kernel the seeds, tolerance and
    # connectivity.
    region = _core.flood(
        to_numpy(image, "image"), seeds, float(tolerance), integer(connectivity, "connectivity")
    )
    return like_input(region, image)
