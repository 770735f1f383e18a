"""maskprep.morphology against OpenCV 5 (cv2.erode / dilate / morphologyEx with
getStructuringElement), compared bit for bit: binary masks have no rounding. scikit-image's
binary_opening agrees in the interior only (it pads differently), so it is checked away from the
borders for the one kernel both libraries share.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_file
from maskprep import morphology

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

SHAPES = {"rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE, "cross": cv2.MORPH_CROSS}
OPS = {
    "erode": cv2.MORPH_ERODE,
    "dilate": cv2.MORPH_DILATE,
    "open": cv2.MORPH_OPEN,
    "close": cv2.MORPH_CLOSE,
}
FUNCS = {
    "erode": morphology.erode,
    "dilate": morphology.dilate,
    "open": morphology.open,
    "close": morphology.close,
}


def opencv(mask, op, kernel, iterations=1):
    return cv2.morphologyEx(mask.astype(np.uint8), OPS[op], kernel, iterations=iterations) > 0


def random_mask(rng, shape, p):
    return rng.random(shape) < p


@pytest.fixture(scope="module")
def coins_mask():
    """A real binary mask: coins thresholded at Otsu's level (with its small noise blobs)."""
    coins = skimage_data.coins()
    _, mask = cv2.threshold(coins, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask > 0


@pytest.mark.parametrize("shape", ["rect", "ellipse", "cross"])
@pytest.mark.parametrize("size", [1, 3, 5, 7, (3, 7), (9, 5), 15, 31])
def test_structuring_element_matches_opencv(shape, size):
    kh, kw = (size, size) if np.ndim(size) == 0 else size
    ref = cv2.getStructuringElement(SHAPES[shape], (kw, kh))
    np.testing.assert_array_equal(morphology.structuring_element(shape, size), ref)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("shape", ["rect", "ellipse", "cross"])
@pytest.mark.parametrize("size", [3, 5, (3, 9), (7, 1), 13])
@pytest.mark.parametrize("iterations", [1, 2])
def test_random_masks_bit_exact(rng, op, shape, size, iterations):
    kernel = morphology.structuring_element(shape, size)
    for p in (0.3, 0.9):  # sparse noise and mostly foreground (erosion matters at the edges)
        mask = random_mask(rng, (67, 83), p)
        got = FUNCS[op](mask, shape=shape, size=size, iterations=iterations)
        np.testing.assert_array_equal(got, opencv(mask, op, kernel, iterations))


@pytest.mark.parametrize("op", list(OPS))
def test_even_rect_and_custom_kernels(rng, op):
    mask = random_mask(rng, (40, 51), 0.6)
    for size in [2, (4, 6), (1, 2)]:  # even sizes: OpenCV's anchor k // 2
        kernel = morphology.structuring_element("rect", size)
        got = FUNCS[op](mask, shape="rect", size=size)
        np.testing.assert_array_equal(got, opencv(mask, op, kernel))
    # Asymmetric kernels with several spans per row: the anchor convention and span splitting.
    for kernel in [
        np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]], np.uint8),
        np.array([[0, 1], [1, 0], [1, 1]], np.uint8),
        (rng.random((5, 8)) < 0.5).astype(np.uint8),
    ]:
        for iterations in (1, 3):
            got = FUNCS[op](mask, kernel, iterations=iterations)
            np.testing.assert_array_equal(got, opencv(mask, op, kernel, iterations))


@pytest.mark.parametrize("op", list(OPS))
def test_real_masks(coins_mask, op):
    for shape, size in [("ellipse", 5), ("rect", (3, 7)), ("cross", 9), ("ellipse", 21)]:
        kernel = morphology.structuring_element(shape, size)
        got = FUNCS[op](coins_mask, shape=shape, size=size)
        np.testing.assert_array_equal(got, opencv(coins_mask, op, kernel))


def test_coco_photo_mask():
    path = shared_file("images", "coco_val2017", "000000000139.jpg")
    gray = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
    mask = gray > 100
    kernel = morphology.structuring_element("ellipse", 7)
    for op in OPS:
        np.testing.assert_array_equal(FUNCS[op](mask, kernel), opencv(mask, op, kernel))


def test_uint8_input_nonzero_is_foreground(rng):
    values = rng.integers(0, 4, (30, 40)).astype(np.uint8)  # 0..3, nonzero = foreground
    got = morphology.dilate(values, shape="ellipse", size=5)
    kernel = morphology.structuring_element("ellipse", 5)
    np.testing.assert_array_equal(got, opencv(values > 0, "dilate", kernel))
    assert got.dtype == np.bool_


def test_tiny_masks_and_big_kernels(rng):
    for shape in [(1, 1), (1, 9), (7, 1), (3, 4)]:
        mask = random_mask(rng, shape, 0.5)
        for size in (3, 11):
            kernel = morphology.structuring_element("ellipse", size)
            for op in OPS:
                got = FUNCS[op](mask, kernel)
                np.testing.assert_array_equal(got, opencv(mask, op, kernel))


def test_opening_matches_scipy_away_from_borders(coins_mask):
    ndimage = pytest.importorskip("scipy.ndimage")
    kernel = morphology.structuring_element("ellipse", 5)
    ref = ndimage.binary_opening(coins_mask, structure=kernel.astype(bool))
    got = morphology.open(coins_mask, kernel)
    # scipy treats outside as background for the erosion: the border 4 pixels may differ.
    np.testing.assert_array_equal(got[4:-4, 4:-4], ref[4:-4, 4:-4])


def test_kernels_wider_than_a_word(rng):
    # Spans longer than 64 pixels and reaching more than a word away: multi-word shifts.
    mask = random_mask(rng, (37, 301), 0.93)
    kernels = [
        morphology.structuring_element("rect", (3, 150)),
        morphology.structuring_element("ellipse", (5, 131)),
        (rng.random((3, 200)) < 0.97).astype(np.uint8),
    ]
    for kernel in kernels:
        for op in OPS:
            got = FUNCS[op](mask, kernel)
            np.testing.assert_array_equal(got, opencv(mask, op, kernel))


def test_serial_equals_parallel(rng):
    # 1600 x 1500 pixels x (1 + passes) bytes of work: above parallel.hpp's 2 MiB per thread
    # even for a single erosion, so two threads split the bands.
    mask = random_mask(rng, (1600, 1500), 0.7)
    for op in OPS:
        for shape in ("ellipse", "rect"):
            one = FUNCS[op](mask, shape=shape, size=5, num_threads=1)
            two = FUNCS[op](mask, shape=shape, size=5, num_threads=2)
            np.testing.assert_array_equal(one, two)
            np.testing.assert_array_equal(
                one, opencv(mask, op, morphology.structuring_element(shape, 5))
            )


# ---- errors -------------------------------------------------------------------------------------


def test_errors():
    mask = np.zeros((6, 7), bool)
    expected = r"mask must be a non-empty \(H, W\) bool or uint8 array, got "
    with pytest.raises(TypeError, match=expected + r"float64 with shape \(6, 7\)"):
        morphology.erode(np.zeros((6, 7)))
    with pytest.raises(ValueError, match=expected + r"bool with shape \(6,\)"):
        morphology.erode(np.zeros(6, bool))
    with pytest.raises(ValueError, match=expected + r"bool with shape \(0, 7\)"):
        morphology.dilate(np.zeros((0, 7), bool))
    with pytest.raises(ValueError, match="shape must be 'rect', 'ellipse' or 'cross', got 'disk'"):
        morphology.open(mask, shape="disk")
    with pytest.raises(ValueError, match="size must be positive, got 0"):
        morphology.close(mask, size=0)
    with pytest.raises(ValueError, match=r"size must be positive, got \(3, -1\)"):
        morphology.erode(mask, size=(3, -1))
    with pytest.raises(ValueError, match="size must be odd for shape 'ellipse'"):
        morphology.erode(mask, shape="ellipse", size=4)
    with pytest.raises(ValueError, match="size must be odd for shape 'cross'"):
        morphology.erode(mask, shape="cross", size=(3, 2))
    with pytest.raises(TypeError, match="size must be an int or a pair"):
        morphology.erode(mask, size=2.5)
    with pytest.raises(ValueError, match="iterations must be >= 1, got 0"):
        morphology.erode(mask, iterations=0)
    with pytest.raises(TypeError, match="iterations must be an int, got float"):
        morphology.erode(mask, iterations=1.5)
    with pytest.raises(ValueError, match="kernel must have at least one nonzero element"):
        morphology.erode(mask, np.zeros((3, 3), np.uint8))
    kernel = r"kernel must be a non-empty \(kh, kw\) bool or uint8 array, got "
    with pytest.raises(ValueError, match=kernel + r"uint8 with shape \(3,\)"):
        morphology.erode(mask, np.ones(3, np.uint8))
    with pytest.raises(ValueError, match=kernel + r"uint8 with shape \(0, 3\)"):
        morphology.erode(mask, np.ones((0, 3), np.int64))
    with pytest.raises(TypeError, match=kernel + r"float64 with shape \(3, 3\)"):
        morphology.erode(mask, np.ones((3, 3)))
    with pytest.raises(ValueError, match="pass either kernel or shape/size"):
        morphology.erode(mask, np.ones((3, 3), np.uint8), size=3)
    with pytest.raises(ValueError, match="num_threads"):
        morphology.erode(mask, num_threads=0)


def test_core_errors():
    from maskprep import _core

    mask = np.zeros((6, 7), np.uint8)
    with pytest.raises(ValueError, match="op must be 'erode', 'dilate', 'open' or 'close'"):
        _core.morphology(mask, np.ones((3, 3), np.uint8), "tophat", 1)
    with pytest.raises(
        TypeError, match="kernel must be a non-empty .* bool or uint8 array, got int64"
    ):
        _core.morphology(mask, np.ones((3, 3), np.int64), "erode", 1)
    with pytest.raises(ValueError, match="iterations must be >= 1, got 0"):
        _core.morphology(mask, np.ones((3, 3), np.uint8), "erode", 0)
