"""Connected components, hole filling and small-region removal against their anchors.

Tolerance: none. Labels equal skimage.measure.label bit for bit; the partition, areas, boxes and
centroids equal cv2.connectedComponentsWithStats after mapping labels (OpenCV's Spaghetti
numbering is a permutation of ours; centroids are both sums of integers divided once, so they
match exactly); fill_holes equals scipy.ndimage.binary_fill_holes; remove_small_objects/holes
equal scikit-image 0.26.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.region_data import image_masks, photo_masks, random_masks
from maskprep import components as C

cv2 = pytest.importorskip("cv2")
ndi = pytest.importorskip("scipy.ndimage")
skm = pytest.importorskip("skimage.measure")
skmorph = pytest.importorskip("skimage.morphology")

SK_CONN = {4: 1, 8: 2}


@pytest.fixture(scope="module")
def real_masks(request):
    masks = image_masks(request.getfixturevalue("coco_val2014"), limit=40)
    return masks + photo_masks(8)


def seeded_masks():
    rng = np.random.default_rng(7)
    out = []
    for h, w in [(1, 1), (1, 17), (23, 1), (9, 9), (64, 48), (131, 257)]:
        out += list(random_masks(rng, h, w).values())
    return out


def check_against_cv2(mask, connectivity):
    res = C.connected_components(mask, connectivity=connectivity)
    n, cv_labels, cv_stats, cv_cent = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=connectivity, ltype=cv2.CV_32S
    )
    assert res.num == n - 1
    # Map each of our labels to OpenCV's through one pixel, then demand equality everywhere.
    first = np.zeros(res.num + 1, dtype=np.int64)
    flat = res.labels.ravel()
    order = np.flatnonzero(flat)
    first[flat[order[::-1]]] = order[::-1]  # any pixel of each label
    to_cv = np.zeros(res.num + 1, dtype=np.int64)
    to_cv[1:] = cv_labels.ravel()[first[1:]]
    assert np.array_equal(to_cv[res.labels], cv_labels)
    assert len(np.unique(to_cv[1:])) == res.num  # a bijection, so the partitions are equal
    rows = to_cv[1:]
    np.testing.assert_array_equal(res.area, cv_stats[rows, cv2.CC_STAT_AREA])
    np.testing.assert_array_equal(res.bbox, cv_stats[rows, :4])
    np.testing.assert_array_equal(res.centroid, cv_cent[rows])
    assert res.labels.dtype == np.int32 and res.area.dtype == np.int64
    return res


@pytest.mark.parametrize("connectivity", [4, 8])
def test_real_masks_match_skimage_and_opencv(real_masks, connectivity):
    for i, m in enumerate(real_masks):
        ref = skm.label(m, connectivity=SK_CONN[connectivity])
        assert np.array_equal(C.label(m, connectivity=connectivity), ref), f"mask {i}"
        check_against_cv2(m, connectivity)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_seeded_masks_match_skimage_and_opencv(connectivity):
    for i, m in enumerate(seeded_masks()):
        ref = skm.label(m, connectivity=SK_CONN[connectivity])
        assert np.array_equal(C.label(m.astype(bool), connectivity=connectivity), ref), i
        check_against_cv2(m, connectivity)


def test_any_nonzero_byte_is_foreground():
    rng = np.random.default_rng(3)
    m = rng.integers(0, 4, (50, 70), dtype=np.uint8) * 85  # 0, 85, 170, 255
    assert np.array_equal(C.label(m), skm.label(m > 0, connectivity=2))
    assert np.array_equal(C.fill_holes(m), ndi.binary_fill_holes(m > 0))


def test_without_stats():
    m = np.array([[1, 0, 1], [0, 0, 1]], dtype=np.uint8)
    res = C.connected_components(m, connectivity=4, stats=False)
    assert res.num == 2 and res.area is None and res.bbox is None and res.centroid is None
    assert res.labels.tolist() == [[1, 0, 2], [0, 0, 2]]


def test_fill_holes_matches_scipy(real_masks):
    for i, m in enumerate(real_masks + seeded_masks()):
        out = C.fill_holes(m)
        assert out.dtype == np.bool_
        assert np.array_equal(out, ndi.binary_fill_holes(m)), f"mask {i}"


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("size", [0, 1, 5, 64])
def test_remove_small_objects_and_holes_match_skimage(real_masks, connectivity, size):
    for i, m in enumerate(real_masks[:20] + seeded_masks()):
        b = m.astype(bool)
        kw = {"connectivity": SK_CONN[connectivity], "max_size": size}
        ref_obj = skmorph.remove_small_objects(b, **kw)
        ref_hole = skmorph.remove_small_holes(b, **kw)
        got = C.remove_small_objects(m, max_size=size, connectivity=connectivity)
        assert np.array_equal(got, ref_obj), f"objects, mask {i}"
        got = C.remove_small_holes(m, max_size=size, connectivity=connectivity)
        assert np.array_equal(got, ref_hole), f"holes, mask {i}"
        # min_size / area_threshold: strictly fewer pixels (scikit-image's deprecated names).
        got = C.remove_small_objects(m, size + 1, connectivity=connectivity)
        assert np.array_equal(got, ref_obj)
        got = C.remove_small_holes(m, size + 1, connectivity=connectivity)
        assert np.array_equal(got, ref_hole)


def test_min_size_is_strict():
    m = np.zeros((5, 9), dtype=bool)
    m[0, 0:3] = True  # 3 pixels
    m[3, 5:9] = True  # 4 pixels
    assert C.remove_small_objects(m, 4).sum() == 4
    assert C.remove_small_objects(m, max_size=4).sum() == 0
    assert np.array_equal(C.remove_small_objects(m, 0), m)


@pytest.mark.parametrize("kind", ["noise0.3", "noise0.5", "noise0.7", "blobs_xor"])
def test_serial_equals_parallel(kind):
    """2000 x 3000 runs on 2 bands; the band border is merged serially."""
    m = random_masks(np.random.default_rng(11), 2000, 3000)[kind]
    for conn in (4, 8):
        one = C.connected_components(m, connectivity=conn, num_threads=1)
        for t in (2, 3, -1):
            par = C.connected_components(m, connectivity=conn, num_threads=t)
            assert par.num == one.num
            for a, b in zip(one[2:], par[2:]):
                assert np.array_equal(a, b)
            assert np.array_equal(one.labels, par.labels)
        assert np.array_equal(one.labels, skm.label(m, connectivity=SK_CONN[conn]))
        for fn in (C.remove_small_objects, C.remove_small_holes):
            runs = [fn(m, max_size=3, connectivity=conn, num_threads=t) for t in (1, 2, -1)]
            assert all(np.array_equal(runs[0], r) for r in runs)
    runs = [C.fill_holes(m, num_threads=t) for t in (1, 2, -1)]
    assert all(np.array_equal(runs[0], r) for r in runs)
    assert np.array_equal(runs[0], ndi.binary_fill_holes(m))


def test_one_component_spanning_every_band():
    m = np.zeros((4000, 700), dtype=np.uint8)
    m[:, 3] = 1  # a vertical line crosses every band border
    m[::2, 600:] = 1  # many rows of separate runs, joined by the right column
    m[:, 699] = 1
    for t in (1, 2):
        res = C.connected_components(m, connectivity=4, num_threads=t)
        assert res.num == 2
        assert res.bbox.tolist() == [[3, 0, 1, 4000], [600, 0, 100, 4000]]


def test_int64_stats_and_centroid_formula():
    m = np.zeros((3, 4), dtype=np.uint8)
    m[1, 1:4] = 1
    m[2, 3] = 1
    res = C.connected_components(m, connectivity=4)
    assert res.area.tolist() == [4]
    assert res.bbox.tolist() == [[1, 1, 3, 2]]
    assert res.centroid.tolist() == [[(1 + 2 + 3 + 3) / 4, (1 + 1 + 1 + 2) / 4]]


# ---- error paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        C.label,
        C.connected_components,
        C.fill_holes,
        lambda m, **k: C.remove_small_objects(m, 3, **k),
        lambda m, **k: C.remove_small_holes(m, 3, **k),
    ],
)
class TestErrors:
    def test_wrong_dtype(self, fn):
        with pytest.raises(
            TypeError,
            match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got int32 with shape \(3, 3\)",
        ):
            fn(np.zeros((3, 3), dtype=np.int32))

    def test_wrong_ndim(self, fn):
        with pytest.raises(
            ValueError,
            match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got bool with shape \(2, 3, 3\)",
        ):
            fn(np.zeros((2, 3, 3), dtype=bool))

    def test_empty(self, fn):
        with pytest.raises(
            ValueError,
            match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got bool with shape \(0, 5\)",
        ):
            fn(np.zeros((0, 5), dtype=bool))

    def test_zero_threads(self, fn):
        with pytest.raises(ValueError, match="num_threads"):
            fn(np.zeros((3, 3), dtype=bool), num_threads=0)


@pytest.mark.parametrize(
    "conn, exc, match",
    [
        (0, ValueError, "connectivity must be 4 or 8, got 0"),
        (6, ValueError, "connectivity must be 4 or 8, got 6"),
        (True, TypeError, "connectivity must be an int, got bool"),
        ("8", TypeError, "connectivity must be an int, got str"),
    ],
)
def test_bad_connectivity(conn, exc, match):
    m = np.zeros((3, 3), dtype=bool)
    for fn in (C.label, C.connected_components):
        with pytest.raises(exc, match=match):
            fn(m, connectivity=conn)
    with pytest.raises(exc, match=match):
        C.remove_small_objects(m, 2, connectivity=conn)
    with pytest.raises(exc, match=match):
        C.remove_small_holes(m, 2, connectivity=conn)


def test_negative_sizes():
    m = np.zeros((3, 3), dtype=bool)
    with pytest.raises(ValueError, match="min_size must be >= 0, got -1"):
        C.remove_small_objects(m, -1)
    with pytest.raises(ValueError, match="max_size must be >= 0, got -2"):
        C.remove_small_objects(m, max_size=-2)
    with pytest.raises(ValueError, match="area_threshold must be >= 0, got -1"):
        C.remove_small_holes(m, -1)
    with pytest.raises(ValueError, match="max_size must be >= 0, got -3"):
        C.remove_small_holes(m, max_size=-3)


def test_size_arguments():
    m = np.zeros((3, 3), dtype=bool)
    with pytest.raises(TypeError, match="exactly one of min_size and max_size"):
        C.remove_small_objects(m)
    with pytest.raises(TypeError, match="exactly one of area_threshold and max_size"):
        C.remove_small_holes(m, 3, max_size=3)
    with pytest.raises(TypeError, match="min_size must be an int, got float"):
        C.remove_small_objects(m, 2.5)


def test_core_rejects_bad_shapes_directly():
    """The compiled functions check shapes themselves (no crash when called directly)."""
    from maskprep import _core

    with pytest.raises(
        ValueError,
        match=r"mask must be a non-empty \(H, W\) bool or uint8 array, got uint8 with shape \(4,\)",
    ):
        _core.label(np.zeros(4, dtype=np.uint8), 4, False)
    with pytest.raises(ValueError, match="max_size must be >= 0"):
        _core.remove_small_holes(np.zeros((2, 2), dtype=np.uint8), -1, 4)
