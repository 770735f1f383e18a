"""Box to mask: "box" is pycocotools' frBbox bit for bit, "ellipse" is pycocotools' polygon rule
applied to the inscribed ellipse, "grow" finds the object in the image."""

from __future__ import annotations

import numpy as np
import pytest

from maskprep import boxes, rle

_mask = pytest.importorskip("pycocotools._mask")
M = pytest.importorskip("pycocotools.mask")


def random_boxes(rng, n, h, w):
    """Boxes inside, across and beyond the borders, with integer, half and arbitrary corners."""
    x = rng.uniform(-0.3 * w, 1.1 * w, n)
    y = rng.uniform(-0.3 * h, 1.1 * h, n)
    bw = rng.uniform(0, 0.6 * w, n)
    bh = rng.uniform(0, 0.6 * h, n)
    b = np.stack([x, y, bw, bh], 1)
    b[: n // 3] = np.round(b[: n // 3])
    b[n // 3 : 2 * n // 3] = np.round(b[n // 3 : 2 * n // 3] * 2) / 2
    return b


def test_box_is_pycocotools_frbbox(rng):
    h, w = 97, 131
    b = random_boxes(rng, 300, h, w)
    assert boxes.boxes_to_masks(b, (h, w)) == _mask.frBbox(b, h, w)


def test_xyxy_is_the_same_box(rng):
    h, w = 60, 80
    b = random_boxes(rng, 50, h, w)
    xyxy = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1)
    assert boxes.boxes_to_masks(xyxy, (h, w), box_format="xyxy") == boxes.boxes_to_masks(b, (h, w))


def test_ellipse_is_the_pycocotools_rasterized_inscribed_polygon(rng):
    h, w = 120, 160
    b = random_boxes(rng, 60, h, w)
    polys = boxes.ellipse_polygons(b)
    ref = [M.frPyObjects([p], h, w)[0] for p in polys]
    assert boxes.boxes_to_masks(b, (h, w), method="ellipse") == ref


@pytest.mark.parametrize("size", [(20, 12), (41, 77), (300, 180)])
def test_ellipse_matches_the_analytic_ellipse(size):
    # Pixel centres inside the true ellipse; the polygon's chords and the 1/5-pixel vertex
    # rounding only move pixels along the outline: IoU >= 0.97 from 12 pixels up.
    bw, bh = size
    h, w = bh + 20, bw + 20
    box = np.array([[7.0, 9.0, bw, bh]])
    got = boxes.boxes_to_masks(box, (h, w), method="ellipse", output="dense")[0]
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    cx, cy, rx, ry = 7 + bw / 2, 9 + bh / 2, bw / 2, bh / 2
    ref = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    iou = (got & ref).sum() / (got | ref).sum()
    assert iou >= 0.97, iou
    assert not got[:9].any() and not got[:, :7].any()  # nothing outside the box


def test_dense_is_decoded_rle(rng):
    h, w = 50, 70
    b = random_boxes(rng, 20, h, w)
    for method in ("box", "ellipse"):
        dense = boxes.boxes_to_masks(b, (h, w), method=method, output="dense")
        assert dense.dtype == bool and dense.shape == (20, h, w)
        ref = rle.decode(boxes.boxes_to_masks(b, (h, w), method=method), layout="nhw")
        np.testing.assert_array_equal(dense, ref.astype(bool))


def test_uncompressed_counts():
    out = boxes.boxes_to_masks([[1, 1, 2, 2]], (4, 4), compressed=False)
    assert out[0]["counts"] == [5, 2, 2, 2, 5]


def test_no_boxes():
    assert boxes.boxes_to_masks(np.zeros((0, 4)), (5, 6)) == []
    assert boxes.boxes_to_masks([], (5, 6), output="dense").shape == (0, 5, 6)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"boxes": [[0, 0, np.nan, 2]]}, ValueError, "boxes must be finite: box 0"),
        ({"boxes": [[0, 0, np.inf, 2]]}, ValueError, "boxes must be finite"),
        (
            {"boxes": [[0, 0, 2]]},
            ValueError,
            r"boxes must be an \(N, 4\) array of numbers, got int64 with shape \(1, 3\)",
        ),
        ({"boxes": [[0, 0, -1, 2]]}, ValueError, "non-negative width and height"),
        ({"boxes": [["a", 0, 1, 2]]}, TypeError, r"boxes must be an \(N, 4\) array of numbers"),
        ({"boxes": [[0, 0, 1, 2]], "box_format": "cxcywh"}, ValueError, "box_format must be"),
        ({"boxes": [[0, 0, 1, 2]], "method": "magic"}, ValueError, "method must be one of"),
        ({"boxes": [[0, 0, 1, 2]], "output": "png"}, ValueError, "output must be 'rle' or"),
        ({"boxes": [[0, 0, 1, 2]], "image_size": (4,)}, ValueError, "image_size must be"),
        ({"boxes": [[0, 0, 1, 2]], "image_size": (-1, 4)}, ValueError, "image_size must be"),
        ({"boxes": [[0, 0, 1, 2]], "image_size": (2.5, 4)}, ValueError, "image_size must be"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = {"boxes": [[0, 0, 1, 1]], "image_size": (4, 4), **kwargs}
    with pytest.raises(exc, match=match):
        boxes.boxes_to_masks(args.pop("boxes"), args.pop("image_size"), **args)


# ---- grow ----------------------------------------------------------------------------------------


def synthetic_scene(rng, h=200, w=300):
    """Noisy mid-grey background with a bright ellipse and a dark rectangle-with-a-hole."""
    img = rng.integers(90, 131, (h, w, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    ellipse = ((xx + 0.5 - 100) / 40) ** 2 + ((yy + 0.5 - 80) / 30) ** 2 <= 1
    rect = np.zeros((h, w), bool)
    rect[120:180, 190:270] = True
    rect[128:148, 200:220] = False  # a hole off the centre: filled by "grow"
    img[ellipse] = rng.integers(180, 231, (ellipse.sum(), 3)).astype(np.uint8)
    img[rect] = rng.integers(10, 41, (rect.sum(), 3)).astype(np.uint8)
    filled = rect.copy()
    filled[128:148, 200:220] = True
    boxes_xywh = np.array([[56.0, 46.0, 88.0, 68.0], [186.0, 116.0, 88.0, 68.0]])
    return img, [ellipse, filled], boxes_xywh


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("seed", ["otsu", "flood"])
def test_grow_finds_the_object_in_its_box(rng, seed):
    img, truths, b = synthetic_scene(rng)
    h, w = img.shape[:2]
    got = boxes.boxes_to_masks(b, (h, w), method="grow", image=img, seed=seed, output="dense")
    box = boxes.boxes_to_masks(b, (h, w), output="dense")
    for g, t, bx in zip(got, truths, box):
        assert iou(g, t) >= 0.97  # noise makes a few boundary pixels go either way
        assert iou(g, t) > iou(bx, t) + 0.15
        assert not (g & ~bx).any()  # never outside the box


def test_grow_on_real_coins():
    # skimage's coins photo: boxes from the reference segmentation (Otsu on the whole image,
    # components >= 500 px); growing inside each box must recover each coin far better than
    # the box does.
    data = pytest.importorskip("skimage.data")
    ski_filters = pytest.importorskip("skimage.filters")
    measure = pytest.importorskip("skimage.measure")
    ndi = pytest.importorskip("scipy.ndimage")
    img = data.coins()
    ref = ndi.binary_fill_holes(img > ski_filters.threshold_otsu(img))
    props = [p for p in measure.regionprops(measure.label(ref)) if p.area >= 500]
    b = np.array(
        [[p.bbox[1], p.bbox[0], p.bbox[3] - p.bbox[1], p.bbox[2] - p.bbox[0]] for p in props], float
    )
    got = boxes.boxes_to_masks(b, img.shape, method="grow", image=img, output="dense")
    box = boxes.boxes_to_masks(b, img.shape, output="dense")
    scores = [iou(g, ref & bx) for g, bx in zip(got, box)]
    box_scores = [iou(bx, ref & bx) for bx in box]
    assert np.median(scores) >= 0.85 and np.median(scores) > np.median(box_scores) + 0.1


def test_grow_falls_back_to_the_box(rng):
    h, w = 60, 80
    flat = np.full((h, w, 3), 128, np.uint8)
    b = np.array([[10.0, 10.0, 30.0, 20.0], [70.0, 50.0, 2.0, 2.0]])  # flat crop; tiny box
    got = boxes.boxes_to_masks(b, (h, w), method="grow", image=flat)
    assert got == boxes.boxes_to_masks(b, (h, w))


def test_grow_serial_equals_threads(rng):
    img, _, b = synthetic_scene(rng)
    b = np.concatenate([b, rng.uniform(0, 150, (30, 4))])
    one = boxes.boxes_to_masks(b, img.shape[:2], method="grow", image=img, num_threads=1)
    two = boxes.boxes_to_masks(b, img.shape[:2], method="grow", image=img, num_threads=2)
    assert one == two


def test_grow_accepts_gray_images(rng):
    img, truths, b = synthetic_scene(rng)
    gray = np.ascontiguousarray(img[:, :, 0])
    got = boxes.boxes_to_masks(b, gray.shape, method="grow", image=gray, output="dense")
    assert iou(got[0], truths[0]) >= 0.95


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (None, {}, "method 'grow' needs image"),
        (
            np.zeros((10, 10, 3), np.float32),
            {},
            r"image must be an \(H, W\) or \(H, W, 3\) uint8 array, got float32",
        ),
        (
            np.zeros((10, 10, 4), np.uint8),
            {},
            r"image must be an \(H, W\) or \(H, W, 3\) uint8 array, got uint8 with shape \(10, 10, 4\)",
        ),
        (np.zeros((9, 10, 3), np.uint8), {}, "image is 9 x 10 but image_size is 10 x 10"),
        (np.zeros((10, 10), np.uint8), {"seed": "magic"}, "seed must be 'otsu' or 'flood'"),
        (np.zeros((10, 10), np.uint8), {"tolerance": -1.0}, "tolerance must be None or a finite"),
        (np.zeros((10, 10), np.uint8), {"min_fill": 1.5}, r"min_fill must be in \[0, 1\]"),
        (np.zeros((10, 10), np.uint8), {"min_ellipse_iou": -0.1}, r"min_ellipse_iou must be in"),
    ],
)
def test_grow_bad_arguments(image, kwargs, match):
    exc = TypeError if image is not None and image.dtype != np.uint8 else ValueError
    with pytest.raises(exc, match=match):
        boxes.boxes_to_masks([[1, 1, 5, 5]], (10, 10), method="grow", image=image, **kwargs)
