"""maskprep.imgproc against its anchors: OpenCV 5 (cvtColor, GaussianBlur, equalizeHist,
threshold with THRESH_OTSU) and scikit-image (threshold_otsu, segmentation.flood).

Tolerances: everything on uint8 is compared bit for bit (colour conversions exhaustively over all
2^24 colours). The one exception is the float32 Gaussian blur, where OpenCV's SIMD code sums the
taps in another order: held to 2e-4 absolute on a 0-255 range (a few float32 ulps at 255, which
is 1.5e-5; the sums of up to 2 x 25 taps accumulate about ten of them).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import IMAGES, shared_file
from maskprep import imgproc

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")
from skimage.filters import threshold_otsu  # noqa: E402
from skimage.segmentation import flood as sk_flood  # noqa: E402

COCO_PHOTOS = ["000000000139.jpg", "000000000802.jpg", "000000011813.jpg"]


@pytest.fixture(scope="module", params=COCO_PHOTOS)
def photo(request):
    """A real COCO photo as (H, W, 3) RGB uint8 (skips when the shared data is absent)."""
    path = shared_file("images", "coco_val2017", request.param)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def all_colours():
    """Every 24-bit colour once, as a (4096, 4096, 3) image."""
    c = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=-1).astype(np.uint8)
    return rgb.reshape(4096, 4096, 3)


def bundled_gray():
    return {
        "camera": skimage_data.camera(),
        "coins": skimage_data.coins(),
        "astronaut": cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2GRAY),
    }


def gray_photo(photo):
    return cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)


# ---- colour -------------------------------------------------------------------------------------


def test_rgb_to_gray_all_colours(all_colours):
    ref = cv2.cvtColor(all_colours, cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(imgproc.rgb_to_gray(all_colours), ref)


def test_rgb_to_hsv_all_colours(all_colours):
    ref = cv2.cvtColor(all_colours, cv2.COLOR_RGB2HSV)
    np.testing.assert_array_equal(imgproc.rgb_to_hsv(all_colours), ref)


def test_colour_on_photos_and_rgba(photo):
    np.testing.assert_array_equal(
        imgproc.rgb_to_gray(photo), cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    )
    np.testing.assert_array_equal(imgproc.rgb_to_hsv(photo), cv2.cvtColor(photo, cv2.COLOR_RGB2HSV))
    rgba = cv2.cvtColor(photo, cv2.COLOR_RGB2RGBA)
    rgba[..., 3] = np.arange(rgba.shape[1], dtype=np.uint8)  # alpha must not matter
    np.testing.assert_array_equal(
        imgproc.rgb_to_gray(rgba), cv2.cvtColor(rgba, cv2.COLOR_RGBA2GRAY)
    )
    np.testing.assert_array_equal(imgproc.rgb_to_hsv(rgba), cv2.cvtColor(photo, cv2.COLOR_RGB2HSV))


@pytest.mark.parametrize("shape", [(7, 13, 3), (5, 11, 4), (1, 1, 3), (3, 37, 3)])
def test_colour_odd_sizes(rng, shape):
    # Pixel counts that are not a multiple of the 16-pixel SIMD step exercise the scalar tail.
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    code = cv2.COLOR_RGB2GRAY if shape[2] == 3 else cv2.COLOR_RGBA2GRAY
    np.testing.assert_array_equal(imgproc.rgb_to_gray(image), cv2.cvtColor(image, code))
    code = cv2.COLOR_RGB2HSV
    np.testing.assert_array_equal(imgproc.rgb_to_hsv(image), cv2.cvtColor(image[..., :3], code))


def test_colour_non_contiguous_input():
    image = skimage_data.astronaut()[::3, ::2]
    np.testing.assert_array_equal(
        imgproc.rgb_to_gray(image), cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    )


# ---- Gaussian blur ------------------------------------------------------------------------------

# (ksize, sigma): OpenCV's fixed tables (sigma 0, k <= 9), computed taps, sizes from sigma.
BLUR_CASES = [
    (3, 0),
    (5, 0),
    (7, 0),
    (9, 0),
    (11, 0),
    (31, 0),
    (None, 0.5),
    (None, 1.0),
    (None, 1.5),
    (None, 2.0),
    (None, 3.3),
    (None, 5.0),
    (15, 2.0),
    (5, 3.0),
]


@pytest.mark.parametrize("ksize, sigma", BLUR_CASES)
def test_gaussian_blur_uint8_bit_exact_bundled(ksize, sigma):
    for image in [skimage_data.camera(), skimage_data.astronaut()]:
        ref = cv2.GaussianBlur(image, (ksize or 0, ksize or 0), sigma)
        got = imgproc.gaussian_blur(image, ksize=ksize, sigma=sigma)
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("ksize, sigma", [(5, 0), (None, 2.0), (None, 4.5)])
def test_gaussian_blur_uint8_bit_exact_photos(photo, ksize, sigma):
    ref = cv2.GaussianBlur(photo, (ksize or 0, ksize or 0), sigma)
    np.testing.assert_array_equal(imgproc.gaussian_blur(photo, ksize=ksize, sigma=sigma), ref)


def test_gaussian_blur_anisotropic_and_channels(rng):
    image = rng.integers(0, 256, (97, 131, 5), dtype=np.uint8)
    cases = [((3, 7), (0, 0)), ((9, 1), (0, 0)), (None, (1.2, 3.1)), ((5, 11), (2.0, 0.7))]
    for ksize, (sy, sx) in cases:
        kh, kw = ksize or (0, 0)
        ref = cv2.GaussianBlur(image, (kw, kh), sx, sigmaY=sy)
        got = imgproc.gaussian_blur(image, ksize=ksize, sigma=(sy, sx))
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (3, 4), (6, 2)])
def test_gaussian_blur_kernel_larger_than_image(rng, shape):
    # Reflect-101 folds more than once when the radius exceeds the image.
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    for k in (3, 9, 15):
        np.testing.assert_array_equal(
            imgproc.gaussian_blur(image, ksize=k), cv2.GaussianBlur(image, (k, k), 0)
        )


@pytest.mark.parametrize("ksize, sigma", [(5, 0), (None, 1.3), (None, 2.0), (7, 1.1)])
def test_gaussian_blur_float32_close(ksize, sigma):
    image = skimage_data.camera().astype(np.float32)
    ref = cv2.GaussianBlur(image, (ksize or 0, ksize or 0), sigma)
    got = imgproc.gaussian_blur(image, ksize=ksize, sigma=sigma)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-4)


# ---- equalizeHist -------------------------------------------------------------------------------


def test_equalize_hist_bit_exact(rng, photo):
    images = list(bundled_gray().values()) + [gray_photo(photo)]
    images.append(rng.integers(40, 90, (123, 77), dtype=np.uint8))  # low contrast
    images.append(np.where(rng.random((50, 60)) < 0.3, 7, 200).astype(np.uint8))  # two levels
    for image in images:
        np.testing.assert_array_equal(imgproc.equalize_hist(image), cv2.equalizeHist(image))


def test_equalize_hist_constant_image():
    image = np.full((10, 12), 77, np.uint8)
    np.testing.assert_array_equal(imgproc.equalize_hist(image), cv2.equalizeHist(image))


# ---- Otsu ---------------------------------------------------------------------------------------


def check_otsu(image):
    t, mask = imgproc.otsu_threshold(image, convention="skimage")
    ts = threshold_otsu(image)
    assert t == ts
    np.testing.assert_array_equal(mask, image > ts)
    t, mask = imgproc.otsu_threshold(image, convention="opencv")
    tc, ref = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    assert t == tc
    np.testing.assert_array_equal(mask, ref > 0)


def test_otsu_bundled_and_photos(photo):
    for image in list(bundled_gray().values()) + [gray_photo(photo)]:
        check_otsu(image)


def test_otsu_random_bimodal():
    # Where the two anchors disagree (139 vs 140 on 1 in 200 such images) both must still match.
    rng = np.random.default_rng(2024)
    for _ in range(200):
        a, b = rng.uniform(20, 235, 2)
        n = int(rng.integers(100, 3000))
        values = np.concatenate([rng.normal(a, rng.uniform(3, 30), n), rng.normal(b, 15, 3000 - n)])
        image = np.clip(values, 0, 255).astype(np.uint8).reshape(60, 50)
        check_otsu(image)


def test_otsu_constant_and_two_level_images():
    check_otsu(np.full((5, 7), 42, np.uint8))
    check_otsu(np.array([[3, 3, 250]], np.uint8))


# ---- flood fill ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tolerance", [0, 3, 10, 2.5, 7.7, 40])
@pytest.mark.parametrize("connectivity", [4, 8])
def test_flood_matches_skimage(tolerance, connectivity):
    for image in bundled_gray().values():
        for seed in [(50, 60), (0, 0), (image.shape[0] - 1, 123)]:
            ref = sk_flood(image, seed, tolerance=tolerance, connectivity=connectivity // 4)
            got = imgproc.flood(image, seed, tolerance=tolerance, connectivity=connectivity)
            np.testing.assert_array_equal(got, ref)


def test_flood_photo_large_region(photo):
    image = gray_photo(photo)
    seed = (image.shape[0] // 2, image.shape[1] // 2)
    ref = sk_flood(image, seed, tolerance=25, connectivity=2)
    np.testing.assert_array_equal(imgproc.flood(image, seed, tolerance=25, connectivity=8), ref)


def test_flood_several_seeds_is_union(rng):
    # Quantised noise makes many small regions; seeds of different values may not block each
    # other (each keeps its own range).
    image = (rng.integers(0, 6, (80, 90)) * 20).astype(np.uint8)
    seeds = rng.integers(0, [80, 90], (12, 2))
    for tol, conn in [(0, 4), (20, 8), (25, 4)]:
        ref = np.zeros(image.shape, bool)
        for s in seeds:
            ref |= sk_flood(image, tuple(s), tolerance=tol, connectivity=conn // 4)
        np.testing.assert_array_equal(
            imgproc.flood(image, seeds, tolerance=tol, connectivity=conn), ref
        )


def test_flood_uint8_bounds_saturate():
    image = np.array([[0, 1, 2, 250, 255, 255, 254]], np.uint8)
    for seed in [(0, 0), (0, 4)]:
        ref = sk_flood(image, seed, tolerance=3)
        np.testing.assert_array_equal(imgproc.flood(image, seed, tolerance=3), ref)


# ---- serial == parallel -------------------------------------------------------------------------
# Sizes above each kernel's work threshold (parallel.hpp's kMinBytesPerThread = 2 MiB per
# thread: bytes streamed for colour/histograms, multiply-adds for the blur), so that two
# threads really split the rows.


def test_serial_equals_parallel(rng):
    big = np.ascontiguousarray(np.tile(skimage_data.astronaut(), (3, 3, 1)))  # 1536^2 x 3
    gray = np.ascontiguousarray(np.tile(skimage_data.camera(), (5, 5)))  # 2560^2
    for f, x in [
        (imgproc.rgb_to_gray, big),
        (imgproc.rgb_to_hsv, big),
        (imgproc.equalize_hist, gray),
        (lambda im, **kw: imgproc.gaussian_blur(im, sigma=1.5, **kw), big),
        (lambda im, **kw: imgproc.gaussian_blur(im, ksize=7, **kw), big.astype(np.float32)),
    ]:
        np.testing.assert_array_equal(f(x, num_threads=1), f(x, num_threads=2))
    for convention in ("skimage", "opencv"):
        t1, m1 = imgproc.otsu_threshold(gray, convention=convention, num_threads=1)
        t2, m2 = imgproc.otsu_threshold(gray, convention=convention, num_threads=2)
        assert t1 == t2
        np.testing.assert_array_equal(m1, m2)


# ---- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [imgproc.rgb_to_gray, imgproc.rgb_to_hsv])
def test_colour_errors(f):
    expected = r"image must be a non-empty \(H, W, 3\) or \(H, W, 4\) uint8 array, got "
    with pytest.raises(TypeError, match=expected + r"float32 with shape \(4, 4, 3\)"):
        f(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(4, 4\)"):
        f(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(4, 4, 2\)"):
        f(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(0, 4, 3\)"):
        f(np.zeros((0, 4, 3), np.uint8))


def test_gaussian_blur_errors():
    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="needs sigma or ksize"):
        imgproc.gaussian_blur(image)
    with pytest.raises(ValueError, match="ksize must be odd and positive, got 4"):
        imgproc.gaussian_blur(image, ksize=4)
    with pytest.raises(ValueError, match=r"ksize must be odd and positive, got \(3, 0\)"):
        imgproc.gaussian_blur(image, ksize=(3, 0))
    with pytest.raises(TypeError, match="ksize must be an int or a pair of ints"):
        imgproc.gaussian_blur(image, ksize=3.0)
    with pytest.raises(TypeError, match="sigma must be a number or a pair"):
        imgproc.gaussian_blur(image, sigma=True)
    with pytest.raises(ValueError, match="sigma must be a number or a pair"):
        imgproc.gaussian_blur(image, sigma=(1, 2, 3))
    with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
        imgproc.gaussian_blur(image, sigma=-1.0, ksize=3)
    with pytest.raises(ValueError, match="ksize must be given"):
        imgproc.gaussian_blur(image, sigma=0.0)
    expected = r"image must be a non-empty \(H, W\) or \(H, W, C\) uint8 or float32 array, got "
    with pytest.raises(TypeError, match=expected + r"float64 with shape \(8, 8\)"):
        imgproc.gaussian_blur(np.zeros((8, 8)), ksize=3)
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(8,\)"):
        imgproc.gaussian_blur(np.zeros(8, np.uint8), ksize=3)
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(8, 0\)"):
        imgproc.gaussian_blur(np.zeros((8, 0), np.uint8), ksize=3)
    with pytest.raises(ValueError, match="num_threads"):
        imgproc.gaussian_blur(image, ksize=3, num_threads=0)


def test_equalize_and_otsu_errors():
    expected = r"image must be a non-empty \(H, W\) uint8 array, got "
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(4, 4, 3\)"):
        imgproc.equalize_hist(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(TypeError, match=expected + "uint16"):
        imgproc.equalize_hist(np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError, match="convention must be 'skimage' or 'opencv', got 'matlab'"):
        imgproc.otsu_threshold(np.zeros((4, 4), np.uint8), convention="matlab")
    with pytest.raises(ValueError, match=expected + r"uint8 with shape \(0, 4\)"):
        imgproc.otsu_threshold(np.zeros((0, 4), np.uint8))


def test_flood_errors():
    image = np.zeros((5, 6), np.uint8)
    with pytest.raises(ValueError, match=r"seed_points\[1\] = \(5, 0\) is outside the image"):
        imgproc.flood(image, [(0, 0), (5, 0)])
    with pytest.raises(ValueError, match=r"seed_points\[0\] = \(0, -1\) is outside the image"):
        imgproc.flood(image, (0, -1))
    expected = r"seed_points must be an \(N, 2\) integer array of \(row, col\) points, got "
    with pytest.raises(ValueError, match=expected + r"int64 with shape \(1, 3\)"):
        imgproc.flood(image, [(1, 2, 3)])
    with pytest.raises(ValueError, match="seed_points must hold at least one"):
        imgproc.flood(image, np.zeros((0, 2), np.int64))
    with pytest.raises(TypeError, match=expected + r"float64 with shape \(1, 2\)"):
        imgproc.flood(image, (1.5, 2))
    with pytest.raises(ValueError, match="connectivity must be 4 or 8, got 1"):
        imgproc.flood(image, (1, 2), connectivity=1)
    with pytest.raises(ValueError, match="tolerance must be finite and >= 0"):
        imgproc.flood(image, (1, 2), tolerance=-1)
    with pytest.raises(TypeError, match="connectivity must be an int, got str"):
        imgproc.flood(image, (1, 2), connectivity="4")
    with pytest.raises(ValueError, match=r"image must be a non-empty \(H, W\) uint8 array"):
        imgproc.flood(np.zeros((5, 6, 3), np.uint8), (1, 2))


def test_real_images_folder_is_used():
    # The COCO parametrisation above reads these files: fail loudly if the names drift.
    if not IMAGES.exists():
        pytest.skip("real test data not available")
    for name in COCO_PHOTOS:
        assert (IMAGES / name).exists()
