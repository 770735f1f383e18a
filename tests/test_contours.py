"""Masks to COCO polygons: the round trip through pycocotools' rasterizer, structure against
OpenCV and scikit-image, simplification, batching and errors.

Tolerance: with tolerance=0 the round trip mask -> polygons -> RLE -> mask is exact (IoU 1.0,
asserted pixel for pixel) on every real annotation and every seeded mask. With Douglas-Peucker
simplification the bounds are written next to each test.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.region_data import annotation_masks, image_masks, photo_masks, random_masks
from maskprep import components, contours, rle

M = pytest.importorskip("pycocotools.mask")
cv2 = pytest.importorskip("cv2")
ndi = pytest.importorskip("scipy.ndimage")
skm = pytest.importorskip("skimage.measure")


def rasterize(polys, h, w):
    """maskprep's pycocotools-exact rasterizer: the union of the polygons, as uint8 (h, w)."""
    if not polys:
        return np.zeros((h, w), dtype=np.uint8)
    return rle.decode(rle.from_segmentations([polys], (h, w))[0])


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / union if union else 1.0


@pytest.mark.parametrize("name", ["coco_val2014", "cocomini_val", "cocomini_train"])
def test_round_trip_every_real_annotation_is_exact(request, name):
    masks = annotation_masks(request.getfixturevalue(name))
    polys = (
        contours.masks_to_polygons(np.stack(masks))
        if len({m.shape for m in masks}) == 1
        else [contours.mask_to_polygons(m) for m in masks]
    )
    worst = 1.0
    for i, (m, p) in enumerate(zip(masks, polys)):
        back = rasterize(p, *m.shape)
        worst = min(worst, iou(m, back))
        assert np.array_equal(back, m), f"annotation {i}: IoU {iou(m, back)}"
    assert worst == 1.0


def test_round_trip_through_pycocotools_itself(coco_val2014):
    for i, m in enumerate(annotation_masks(coco_val2014)[::4]):
        p = contours.mask_to_polygons(m)
        h, w = m.shape
        assert np.array_equal(M.decode(M.merge(M.frPyObjects(p, h, w))), m), f"annotation {i}"


def test_round_trip_real_images_and_photos(coco_val2014):
    for i, m in enumerate(image_masks(coco_val2014, limit=30) + photo_masks(6)):
        assert np.array_equal(rasterize(contours.mask_to_polygons(m), *m.shape), m), i
        filled = rasterize(contours.mask_to_polygons(m, holes=False), *m.shape)
        assert np.array_equal(filled, ndi.binary_fill_holes(m)), i


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (7, 1), (16, 16), (61, 83)])
def test_round_trip_seeded_masks(size):
    rng = np.random.default_rng(5)
    for _ in range(5):
        for kind, m in random_masks(rng, *size).items():
            assert np.array_equal(rasterize(contours.mask_to_polygons(m), *size), m), kind
            filled = rasterize(contours.mask_to_polygons(m, holes=False), *size)
            assert np.array_equal(filled, ndi.binary_fill_holes(m)), kind


def test_structure_one_polygon_per_component_in_raster_order(coco_val2014):
    """One polygon per 8-connected component (as many as OpenCV's outer contours in its
    two-level hierarchy), each starting at the top-left corner of its component's first pixel,
    and each outer ring enclosing exactly its filled component."""
    rng = np.random.default_rng(9)
    masks = image_masks(coco_val2014, limit=15) + list(random_masks(rng, 70, 90).values())
    for i, m in enumerate(masks):
        labels = skm.label(m, connectivity=2)
        polys = contours.mask_to_polygons(m, holes=False)
        assert len(polys) == labels.max(), i
        cs, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        outer = 0 if hier is None else int((hier[0, :, 3] == -1).sum())
        assert len(polys) == outer, i
        for k, p in enumerate(polys, start=1):
            first = np.flatnonzero(labels.ravel() == k)[0]
            assert p[:2] == [float(first % m.shape[1]), float(first // m.shape[1])]
            xy = np.asarray(p).reshape(-1, 2)
            area = 0.5 * np.sum(xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1])
            assert area == ndi.binary_fill_holes(labels == k).sum()  # clockwise on screen: > 0


def test_hole_is_bridged_into_its_polygon():
    m = np.zeros((6, 6), dtype=np.uint8)
    m[1:5, 1:5] = 1
    m[2:4, 2:4] = 0
    (p,) = contours.mask_to_polygons(m)
    # Outer ring clockwise from (1, 1); at (2, 1) a vertical bridge down to the hole's top-left
    # corner (2, 2), the hole anticlockwise, back up the bridge, and on round the outer ring.
    assert p == [1, 1, 2, 1, 2, 2, 2, 4, 4, 4, 4, 2, 2, 2, 2, 1, 5, 1, 5, 5, 1, 5]
    assert contours.mask_to_polygons(m, holes=False) == [[1, 1, 5, 1, 5, 5, 1, 5]]
    assert np.array_equal(rasterize([p], 6, 6), m)


def test_bridges_are_short_and_vertical():
    """Every edge is axis-parallel (bridges run straight up a pixel-corner column, so they add
    no crossing to the even-odd fill), and a bridge only spans the component between a hole and
    the boundary above it: the polygons of a noisy mask stay proportional to its boundary."""
    m = random_masks(np.random.default_rng(8), 300, 400)["noise0.5"]
    polys = contours.mask_to_polygons(m)
    total = 0
    for p in polys:
        xy = np.reshape(p, (-1, 2))
        step = np.diff(np.vstack([xy, xy[:1]]), axis=0)
        assert ((step[:, 0] == 0) | (step[:, 1] == 0)).all()
        total += np.abs(step).sum()
    boundary = (
        np.abs(np.diff(m.astype(int), axis=0)).sum() + np.abs(np.diff(m.astype(int), axis=1)).sum()
    )
    # Measured: the path is 1.09x the boundary (bridges 9%); bridging every hole to the outer
    # ring's first corner, as a naive cut does, makes it many times longer.
    frame = 2 * (m.shape[0] + m.shape[1])
    assert total < 1.5 * (boundary + frame)
    assert np.array_equal(rasterize(polys, *m.shape), m)


def test_diagonal_pixels_are_one_component():
    m = np.array([[1, 0], [0, 1]], dtype=bool)
    (p,) = contours.mask_to_polygons(m)
    assert p == [0, 0, 1, 0, 1, 1, 2, 1, 2, 2, 1, 2, 1, 1, 0, 1]
    assert np.array_equal(rasterize([p], 2, 2), m)


def test_empty_and_full_masks():
    assert contours.mask_to_polygons(np.zeros((4, 5), dtype=bool)) == []
    assert contours.mask_to_polygons(np.ones((4, 5), dtype=bool)) == [[0, 0, 5, 0, 5, 4, 0, 4]]


def test_min_area_drops_components_and_fills_holes():
    m = np.zeros((20, 20), dtype=np.uint8)
    m[1:12, 1:12] = 1
    m[3:5, 3:5] = 0  # hole of 4 pixels
    m[6:10, 6:10] = 0  # hole of 16 pixels
    m[15:17, 15:18] = 1  # component of 6 pixels
    back = rasterize(contours.mask_to_polygons(m, min_area=5), 20, 20)
    expected = m.copy()
    expected[3:5, 3:5] = 1
    assert np.array_equal(back, expected)
    back = rasterize(contours.mask_to_polygons(m, min_area=7), 20, 20)
    expected[15:17, 15:18] = 0
    assert np.array_equal(back, expected)
    assert len(contours.mask_to_polygons(m, min_area=17)) == 1  # both holes filled
    assert np.array_equal(
        rasterize(contours.mask_to_polygons(m, min_area=17), 20, 20)[:13],
        ndi.binary_fill_holes(m)[:13],
    )
    assert contours.mask_to_polygons(m, min_area=500) == []


@pytest.mark.parametrize("min_area", [2, 5, 30])
def test_min_area_matches_skimage_then_scipy(min_area):
    """Round trip with min_area = remove_small_objects (skimage, 8-connected) followed by filling
    the enclosed 4-connected background components of fewer than min_area pixels (scipy)."""
    skmorph = pytest.importorskip("skimage.morphology")
    rng = np.random.default_rng(6)
    for kind, m in random_masks(rng, 80, 110).items():
        kept = skmorph.remove_small_objects(m.astype(bool), max_size=min_area - 1, connectivity=2)
        bg, n = ndi.label(~kept)
        sizes = np.bincount(bg.ravel(), minlength=n + 1)
        border = np.unique(np.concatenate([bg[0], bg[-1], bg[:, 0], bg[:, -1]]))
        small = sizes < min_area
        small[0] = False
        small[border] = False
        expected = kept | small[bg]
        back = rasterize(contours.mask_to_polygons(m, min_area=min_area), *m.shape)
        assert np.array_equal(back, expected), kind


def test_tolerance_simplifies_within_bounds(coco_val2014):
    """Douglas-Peucker keeps a subset of the exact corners; measured on every val2014 annotation
    at tolerance 1 px: about 16% of the corners, worst IoU 0.60 (a 44-pixel object), so the bound
    is IoU >= 0.9 for objects of 1,000+ pixels and >= 0.5 for all."""
    for i, m in enumerate(annotation_masks(coco_val2014)):
        exact = contours.mask_to_polygons(m)
        simple = contours.mask_to_polygons(m, tolerance=1.0)
        assert len(simple) <= len(exact)
        corners = {tuple(xy) for p in exact for xy in np.reshape(p, (-1, 2)).tolist()}
        assert all(tuple(xy) in corners for p in simple for xy in np.reshape(p, (-1, 2)).tolist())
        score = iou(m, rasterize(simple, *m.shape))
        assert score >= (0.9 if m.sum() >= 1000 else 0.5), f"annotation {i}: {score}"
    m = np.zeros((50, 50), dtype=np.uint8)
    m[10:40, 10:40] = 1
    m[10:12, 10:12] = 0  # a notch smaller than the tolerance disappears
    assert contours.mask_to_polygons(m, tolerance=3) == [[12, 10, 40, 10, 40, 40, 10, 40]]


def test_batch_equals_single_and_serial_equals_parallel():
    rng = np.random.default_rng(2)
    masks = np.stack([m for _ in range(6) for m in random_masks(rng, 300, 400).values()])
    single = [contours.mask_to_polygons(m, tolerance=0.7) for m in masks]
    for t in (1, 2, -1):
        assert contours.masks_to_polygons(masks, tolerance=0.7, num_threads=t) == single
    assert contours.masks_to_polygons(np.zeros((0, 3, 4), dtype=bool)) == []


def test_components_and_contours_agree():
    m = random_masks(np.random.default_rng(4), 120, 160)["noise0.3"]
    res = components.connected_components(m, connectivity=8)
    polys = contours.mask_to_polygons(m)
    assert len(polys) == res.num
    for k, p in enumerate(polys):
        xy = np.reshape(p, (-1, 2))
        x0, y0, bw, bh = res.bbox[k]
        assert (xy.min(axis=0) == [x0, y0]).all() and (xy.max(axis=0) == [x0 + bw, y0 + bh]).all()
        assert p[1] == y0  # starts on the component's top row


# ---- error paths ---------------------------------------------------------------------------


def test_wrong_dtype():
    with pytest.raises(
        TypeError, match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got float64"
    ):
        contours.mask_to_polygons(np.zeros((3, 3)))
    with pytest.raises(
        TypeError,
        match=r"masks must be an \(N, H, W\) bool or uint8 array with non-empty images, got int64",
    ):
        contours.masks_to_polygons(np.zeros((1, 3, 3), dtype=np.int64))


def test_wrong_ndim():
    with pytest.raises(
        ValueError,
        match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got .* with shape \(3,\)",
    ):
        contours.mask_to_polygons(np.zeros(3, dtype=bool))
    with pytest.raises(
        ValueError,
        match=r"masks must be an \(N, H, W\) bool or uint8 array with non-empty images, got .* with shape \(3, 3\)",
    ):
        contours.masks_to_polygons(np.zeros((3, 3), dtype=bool))


def test_empty_images():
    with pytest.raises(
        ValueError,
        match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got .* with shape \(4, 0\)",
    ):
        contours.mask_to_polygons(np.zeros((4, 0), dtype=bool))
    with pytest.raises(
        ValueError,
        match=r"masks must be an \(N, H, W\) bool or uint8 array with non-empty images, got .* with shape \(2, 0, 3\)",
    ):
        contours.masks_to_polygons(np.zeros((2, 0, 3), dtype=bool))


@pytest.mark.parametrize("tol", [-0.5, float("nan"), float("inf")])
def test_bad_tolerance(tol):
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
        contours.mask_to_polygons(np.zeros((3, 3), dtype=bool), tolerance=tol)


def test_tolerance_type():
    with pytest.raises(TypeError, match="tolerance must be a number, got str"):
        contours.masks_to_polygons(np.zeros((1, 3, 3), dtype=bool), tolerance="1")


def test_negative_min_area():
    with pytest.raises(ValueError, match="min_area must be >= 0, got -1"):
        contours.mask_to_polygons(np.zeros((3, 3), dtype=bool), min_area=-1)


def test_zero_threads():
    with pytest.raises(ValueError, match="num_threads"):
        contours.masks_to_polygons(np.zeros((1, 3, 3), dtype=bool), num_threads=0)


def test_core_checks_options_directly():
    from maskprep import _core

    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0, got -1"):
        _core.mask_to_polygons(np.zeros((2, 2), dtype=np.uint8), -1.0, True, 0)
    with pytest.raises(
        ValueError,
        match=r"masks must be an \(N, H, W\) bool or uint8 array with non-empty images, got .* with shape \(2, 2\)",
    ):
        _core.masks_to_polygons(np.zeros((2, 2), dtype=np.uint8), 0.0, True, 0)
