"""Image preprocessing and binary morphology: maskprep (1 thread and all threads) against OpenCV
(cv2.setNumThreads(1)) and scikit-image / scipy.ndimage, each group on one 2000 x 3000 image.

The image is a COCO photo resized to 2000 x 3000 (skimage's astronaut when the shared data is
absent). Every case checks its result against the anchor where the anchor defines the answer.
Run with `--benchmark-enable` to time; CI runs each case once as a test (benchmarks disabled)
on a 500 x 750 crop so that the slow scikit-image anchors stay cheap.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import IMAGES
from maskprep import imgproc, morphology

cv2 = pytest.importorskip("cv2")
skimage = pytest.importorskip("skimage")
ndimage = pytest.importorskip("scipy.ndimage")
from skimage import color, exposure, filters, segmentation  # noqa: E402
from skimage import morphology as sk_morphology  # noqa: E402

H, W = 2000, 3000
IMPLS = ["opencv", "skimage", "maskprep-1t", "maskprep-all"]


@pytest.fixture(scope="module")
def full_rgb():
    path = IMAGES / "000000000139.jpg"
    if path.exists():
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    else:
        rgb = skimage.data.astronaut()
    return np.ascontiguousarray(cv2.resize(rgb, (W, H), interpolation=cv2.INTER_LINEAR))


@pytest.fixture
def rgb(benchmark, full_rgb):
    """The full image when timing; a crop when the benchmark only runs as a test."""
    return np.ascontiguousarray(full_rgb[:500, :750]) if benchmark.disabled else full_rgb


@pytest.fixture
def gray(rgb):
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


@pytest.fixture
def mask(gray):
    return gray > filters.threshold_otsu(gray)


@pytest.fixture
def opencv_one_thread():
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


def threads(impl):
    return 1 if impl == "maskprep-1t" else -1


@pytest.mark.parametrize("impl", IMPLS)
def test_rgb_to_gray(benchmark, rgb, impl, opencv_one_thread):
    benchmark.group = "imgproc-rgb2gray"
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if impl == "opencv":
        benchmark(cv2.cvtColor, rgb, cv2.COLOR_RGB2GRAY)
    elif impl == "skimage":  # float64 luma with other weights: timed, not compared
        benchmark(color.rgb2gray, rgb)
    else:
        out = benchmark(imgproc.rgb_to_gray, rgb, num_threads=threads(impl))
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("impl", IMPLS)
def test_rgb_to_hsv(benchmark, rgb, impl, opencv_one_thread):
    benchmark.group = "imgproc-rgb2hsv"
    if impl == "opencv":
        benchmark(cv2.cvtColor, rgb, cv2.COLOR_RGB2HSV)
    elif impl == "skimage":  # float64 in [0, 1]: timed, not compared
        benchmark(color.rgb2hsv, rgb)
    else:
        out = benchmark(imgproc.rgb_to_hsv, rgb, num_threads=threads(impl))
        np.testing.assert_array_equal(out, cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV))


@pytest.mark.parametrize("impl", IMPLS)
def test_gaussian_blur(benchmark, rgb, impl, opencv_one_thread):
    """sigma 2 on the RGB image (13 x 13 taps, uint8)."""
    benchmark.group = "imgproc-gaussian-sigma2-rgb"
    if impl == "opencv":
        benchmark(cv2.GaussianBlur, rgb, (0, 0), 2.0)
    elif impl == "skimage":  # float64, truncate=3 to use the same 13 taps
        benchmark(filters.gaussian, rgb, sigma=2.0, truncate=3.0, channel_axis=-1)
    else:
        out = benchmark(imgproc.gaussian_blur, rgb, sigma=2.0, num_threads=threads(impl))
        np.testing.assert_array_equal(out, cv2.GaussianBlur(rgb, (0, 0), 2.0))


@pytest.mark.parametrize("impl", IMPLS)
def test_equalize_hist(benchmark, gray, impl, opencv_one_thread):
    benchmark.group = "imgproc-equalize-hist"
    if impl == "opencv":
        benchmark(cv2.equalizeHist, gray)
    elif impl == "skimage":  # float64 CDF mapping: timed, not compared
        benchmark(exposure.equalize_hist, gray)
    else:
        out = benchmark(imgproc.equalize_hist, gray, num_threads=threads(impl))
        np.testing.assert_array_equal(out, cv2.equalizeHist(gray))


def skimage_otsu(gray):
    t = filters.threshold_otsu(gray)
    return t, gray > t


@pytest.mark.parametrize("impl", IMPLS)
def test_otsu(benchmark, gray, impl, opencv_one_thread):
    """Threshold and mask (the mask is what a pipeline uses)."""
    benchmark.group = "imgproc-otsu"
    if impl == "opencv":
        t, m = benchmark(cv2.threshold, gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        ours, ours_mask = imgproc.otsu_threshold(gray, convention="opencv")
        assert ours == t
        np.testing.assert_array_equal(ours_mask, m > 0)
    elif impl == "skimage":
        t, _ = benchmark(skimage_otsu, gray)
        assert imgproc.otsu_threshold(gray)[0] == t
    else:
        t, m = benchmark(imgproc.otsu_threshold, gray, num_threads=threads(impl))
        ts, ms = skimage_otsu(gray)
        assert t == ts
        np.testing.assert_array_equal(m, ms)


def opencv_flood(gray, seed, tol):
    """cv2.floodFill in fixed-range mask-only mode: skimage's tolerance semantics."""
    mask = np.zeros((gray.shape[0] + 2, gray.shape[1] + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(gray, mask, (seed[1], seed[0]), 0, tol, tol, flags)
    return mask[1:-1, 1:-1] > 0


@pytest.mark.parametrize("impl", IMPLS)
def test_flood(benchmark, gray, impl):
    """Flood from the centre with tolerance 30 (a region of a sizeable share of the image)."""
    benchmark.group = "imgproc-flood-tol30"
    seed = (gray.shape[0] // 2, gray.shape[1] // 2)
    if impl == "opencv":
        out = benchmark(opencv_flood, gray, seed, 30)
    elif impl == "skimage":
        out = benchmark(segmentation.flood, gray, seed, tolerance=30, connectivity=1)
    else:  # serial kernel: 1t and all are the same code
        out = benchmark(imgproc.flood, gray, seed, tolerance=30)
    np.testing.assert_array_equal(out, segmentation.flood(gray, seed, tolerance=30, connectivity=1))


@pytest.mark.parametrize("impl", IMPLS + ["scipy"])
def test_opening_ellipse5(benchmark, mask, impl, opencv_one_thread):
    """Opening with the 5 x 5 ellipse (OpenCV's MORPH_ELLIPSE, a 21-pixel disk)."""
    benchmark.group = "morphology-open-ellipse5"
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    m8 = mask.astype(np.uint8)
    ref = cv2.morphologyEx(m8, cv2.MORPH_OPEN, kernel) > 0
    if impl == "opencv":
        benchmark(cv2.morphologyEx, m8, cv2.MORPH_OPEN, kernel)
        return
    if impl in ("skimage", "scipy"):
        f = sk_morphology.opening if impl == "skimage" else ndimage.binary_opening
        kw = {"footprint": kernel} if impl == "skimage" else {"structure": kernel}
        out = benchmark(f, mask, **kw)
        # Border conventions differ (scipy erodes from a background outside, skimage reflects).
        np.testing.assert_array_equal(out[4:-4, 4:-4], ref[4:-4, 4:-4])
        return
    out = benchmark(morphology.open, mask, kernel, num_threads=threads(impl))
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("op", ["erode", "dilate"])
def test_erode_dilate_ellipse5(benchmark, mask, op, impl, opencv_one_thread):
    """One erosion or dilation with the 5 x 5 ellipse (the halves of the opening above)."""
    benchmark.group = f"morphology-{op}-ellipse5"
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    m8 = mask.astype(np.uint8)
    cv_op = cv2.erode if op == "erode" else cv2.dilate
    ref = cv_op(m8, kernel) > 0
    if impl == "opencv":
        benchmark(cv_op, m8, kernel)
    elif impl == "skimage":
        sk_op = sk_morphology.erosion if op == "erode" else sk_morphology.dilation
        out = benchmark(sk_op, mask, kernel)
        np.testing.assert_array_equal(out[2:-2, 2:-2], ref[2:-2, 2:-2])  # borders differ
    else:
        ours = morphology.erode if op == "erode" else morphology.dilate
        out = benchmark(ours, mask, kernel, num_threads=threads(impl))
        np.testing.assert_array_equal(out, ref)
