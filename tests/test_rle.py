"""maskprep.rle against pycocotools: encode, decode, strings, area, bbox, iou, merge.

Tolerance: none. Every comparison is exact (bytes of the compressed strings, pixels, float64
values), because COCOeval must give the same AP with maskprep swapped in.
"""

from __future__ import annotations

import numpy as np
import pytest

import maskprep
from helpers.rle_data import blob_masks, noise_masks
from maskprep import rle

M = pytest.importorskip("pycocotools.mask")


def ref_encode(masks_hwn: np.ndarray) -> list:
    return M.encode(np.asfortranarray((masks_hwn != 0).astype(np.uint8)))


def ref_area(rles: list) -> np.ndarray:
    """pycocotools' area in chunks: it raises OverflowError for 256 or more RLEs (NumPy 2)."""
    return np.concatenate([M.area(rles[i : i + 200]) for i in range(0, len(rles), 200)])


def real_rles(results) -> list:
    return [r["segmentation"] for r in results]


# ---- encode -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["blob", "noise", "sparse"])
@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 9, 5), (64, 48, 6), (33, 130, 4), (480, 640, 2)])
def test_encode_matches_pycocotools_in_every_layout(rng, kind, shape):
    h, w, n = shape
    if kind == "blob":
        masks = blob_masks(rng, n, h, w)
    else:
        masks = noise_masks(rng, n, h, w, 0.5 if kind == "noise" else 0.01)
    expected = ref_encode(masks)
    assert rle.encode(np.asfortranarray(masks)) == expected  # pycocotools' layout
    assert rle.encode(np.ascontiguousarray(masks)) == expected  # H x W x N, C order
    nhw = np.ascontiguousarray(masks.transpose(2, 0, 1))
    assert rle.encode(nhw, layout="nhw") == expected  # N x H x W, C order
    assert rle.encode(masks.astype(bool)) == expected
    for i in range(n):
        assert rle.encode(np.ascontiguousarray(masks[:, :, i])) == expected[i]
        assert rle.encode(np.asfortranarray(masks[:, :, i])) == expected[i]


def test_encode_strided_views_are_read_correctly(rng):
    masks = blob_masks(rng, 6, 40, 50)
    view = masks[::2, 1::3, ::2]  # neither C- nor Fortran-contiguous
    assert rle.encode(view) == ref_encode(np.array(view))
    nhw = masks.transpose(2, 0, 1)[:, ::3, :]
    assert rle.encode(nhw, layout="nhw") == ref_encode(np.array(nhw).transpose(1, 2, 0))


def test_encode_any_nonzero_is_foreground(rng):
    masks = rng.integers(0, 4, (30, 20, 3)).astype(np.uint8) * 85  # 0, 85, 170, 255
    assert rle.encode(masks) == ref_encode(masks != 0)
    assert rle.encode(masks) == rle.encode(masks != 0)


@pytest.mark.parametrize("fill", [0, 1])
def test_encode_constant_masks(fill):
    masks = np.full((5, 4, 2), fill, np.uint8)
    out = rle.encode(masks, compressed=False)
    assert out[0]["counts"] == ([20] if fill == 0 else [0, 20])
    assert rle.encode(masks) == ref_encode(masks)


def test_encode_empty_masks_like_pycocotools():
    masks = np.zeros((0, 5, 2), np.uint8)
    assert rle.encode(masks) == ref_encode(masks)
    assert rle.encode(masks, compressed=False)[0]["counts"] == [0]


@pytest.mark.parametrize("shape", [(3, 0, 7), (3, 7, 0), (2, 0, 0)])
def test_encode_zero_area_masks_in_every_layout(shape):
    # One zero-length background run per mask whatever the layout (pycocotools writes "0").
    masks = np.zeros(shape, np.uint8)
    n, h, w = shape
    for arr, layout in [(masks, "nhw"), (np.asfortranarray(masks.transpose(1, 2, 0)), "hwn")]:
        out = rle.encode(arr, layout=layout, compressed=False)
        assert [r["counts"] for r in out] == [[0]] * n
        assert all(r["size"] == [h, w] for r in out)
    assert rle.encode(np.asfortranarray(masks.transpose(1, 2, 0))) == ref_encode(
        np.asfortranarray(masks.transpose(1, 2, 0))
    )


def test_encode_uncompressed_matches_pycocotools_counts(rng):
    masks = blob_masks(rng, 4, 31, 17)
    for ours, ref in zip(rle.encode(masks, compressed=False), ref_encode(masks)):
        assert rle.to_string(ours["counts"]) == ref["counts"]


def test_encode_real_masks(coco_fake_results):
    rles = real_rles(coco_fake_results)[:150]
    for r in rles:
        dense = M.decode(r)
        assert rle.encode(np.ascontiguousarray(dense)) == M.encode(dense)


def test_encode_torch_tensor(rng):
    torch = pytest.importorskip("torch")
    masks = blob_masks(rng, 3, 20, 30)
    t = torch.from_numpy(np.ascontiguousarray(masks.transpose(2, 0, 1))).bool()
    assert rle.encode(t, layout="nhw") == ref_encode(masks)


# ---- decode -------------------------------------------------------------------------------------


def test_decode_real_rles_match_pycocotools(coco_fake_results):
    rles = real_rles(coco_fake_results)
    for r in rles:
        expected = M.decode(r)
        got = rle.decode(r)
        assert got.dtype == np.uint8 and got.shape == expected.shape
        assert np.array_equal(got, expected)  # (assert_array_equal is 100x slower here)
    # Batched, in both layouts (one image's detections share a size).
    by_size: dict = {}
    for r in rles:
        by_size.setdefault(tuple(r["size"]), []).append(r)
    batch = max(by_size.values(), key=len)
    expected = M.decode(batch)
    hwn = rle.decode(batch)
    assert hwn.flags.f_contiguous and hwn.shape == expected.shape
    assert np.array_equal(hwn, expected)
    nhw = rle.decode(batch, layout="nhw")
    assert nhw.flags.c_contiguous
    assert np.array_equal(nhw, expected.transpose(2, 0, 1))


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 200, 4), (200, 3, 4), (97, 131, 8)])
def test_decode_round_trip_random(rng, shape):
    h, w, n = shape
    for masks in (blob_masks(rng, n, h, w), noise_masks(rng, n, h, w)):
        rles = rle.encode(masks)
        np.testing.assert_array_equal(rle.decode(rles), masks)
        np.testing.assert_array_equal(rle.decode(rles, layout="nhw"), masks.transpose(2, 0, 1))
        np.testing.assert_array_equal(rle.decode(rles[0], layout="nhw"), masks[:, :, 0])


def test_decode_non_canonical_counts_with_zero_runs():
    # Zero-length runs are legal (pycocotools writes them when merging toggles).
    r = {"size": [3, 4], "counts": [0, 2, 0, 3, 1, 0, 6]}
    expected = M.decode(M.frPyObjects(r, 3, 4))
    np.testing.assert_array_equal(rle.decode(r), expected)
    np.testing.assert_array_equal(rle.decode(r, layout="nhw"), expected)


# ---- compressed strings -------------------------------------------------------------------------


def test_string_worked_example_from_the_notes():
    counts = [5, 10, 20, 30, 40, 5000, 100, 4795]
    ref = M.frPyObjects({"size": [100, 100], "counts": counts}, 100, 100)["counts"]
    assert rle.to_string(counts) == ref
    np.testing.assert_array_equal(rle.from_string(ref), counts)


def test_string_codec_matches_pycocotools_on_random_counts(rng):
    for _ in range(200):
        m = int(rng.integers(1, 40))
        # Below 2^28: pycocotools' rleToString overruns its buffer for |delta| >= 2^29.
        scale = 10 ** int(rng.integers(0, 9))
        counts = rng.integers(0, min(scale, 2**28) + 1, m).tolist()
        total = int(sum(counts))
        ref = M.frPyObjects({"size": [1, total], "counts": counts}, 1, total)["counts"]
        assert rle.to_string(counts) == ref
        np.testing.assert_array_equal(rle.from_string(ref), counts)
        np.testing.assert_array_equal(rle.from_string(ref.decode()), counts)


def test_string_codec_64_bit_counts_round_trip():
    counts = [0, 2**40 + 3, 7, 2**45, 1, 2**33]
    np.testing.assert_array_equal(rle.from_string(rle.to_string(counts)), counts)


# ---- area / bbox --------------------------------------------------------------------------------


def test_area_and_bbox_real(coco_fake_results, coco_val2014):
    rles = real_rles(coco_fake_results)
    np.testing.assert_array_equal(rle.area(rles), ref_area(rles))
    np.testing.assert_array_equal(rle.to_bbox(rles), M.toBbox(rles))
    crowd = [a["segmentation"] for a in coco_val2014["annotations"] if a["iscrowd"]]
    comp = [M.frPyObjects(c, *c["size"]) for c in crowd]
    np.testing.assert_array_equal(rle.area(crowd), M.area(comp))
    np.testing.assert_array_equal(rle.to_bbox(crowd), M.toBbox(comp))
    assert rle.area(rles[0]) == int(M.area(rles[0]))
    np.testing.assert_array_equal(rle.to_bbox(rles[0]), M.toBbox(rles[0]))


def test_area_and_bbox_random(rng):
    masks = np.concatenate([blob_masks(rng, 20, 37, 53), noise_masks(rng, 5, 37, 53, 0.02)], 2)
    rles = ref_encode(masks)
    np.testing.assert_array_equal(rle.area(rles), M.area(rles))
    np.testing.assert_array_equal(rle.to_bbox(rles), M.toBbox(rles))


def test_area_of_many_rles_works_under_numpy2(rng):
    rles = ref_encode(blob_masks(rng, 300, 8, 8))  # pycocotools raises OverflowError at >= 256
    expected = [int(np.count_nonzero(rle.decode(r))) for r in rles]
    np.testing.assert_array_equal(rle.area(rles), expected)


def test_bbox_of_empty_mask_is_zero():
    np.testing.assert_array_equal(rle.to_bbox({"size": [10, 10], "counts": [100]}), [0, 0, 0, 0])
    np.testing.assert_array_equal(rle.to_bbox({"size": [10, 10], "counts": [100, 0]}), [0, 0, 0, 0])


# ---- iou / merge --------------------------------------------------------------------------------


def test_iou_real_detections_against_ground_truth(coco_fake_results, coco_val2014):
    gt_by_img: dict = {}
    imgs = {i["id"]: i for i in coco_val2014["images"]}
    for a in coco_val2014["annotations"]:
        gt_by_img.setdefault(a["image_id"], []).append(a)
    dt_by_img: dict = {}
    for d in coco_fake_results:
        dt_by_img.setdefault(d["image_id"], []).append(d["segmentation"])
    checked = 0
    for img_id, dts in dt_by_img.items():
        anns = gt_by_img.get(img_id, [])
        if not anns:
            continue
        im = imgs[img_id]
        gts = rle.from_segmentations([a["segmentation"] for a in anns], (im["height"], im["width"]))
        crowd = [a["iscrowd"] for a in anns]
        expected = M.iou(dts, gts, crowd)
        got = rle.iou(dts, gts, crowd)
        np.testing.assert_array_equal(got, expected)
        checked += 1
    assert checked > 50


def test_iou_random_with_crowd(rng):
    dt = ref_encode(blob_masks(rng, 13, 40, 60))
    gt = ref_encode(blob_masks(rng, 9, 40, 60))
    crowd = rng.integers(0, 2, 9).tolist()
    np.testing.assert_array_equal(rle.iou(dt, gt, crowd), M.iou(dt, gt, crowd))
    np.testing.assert_array_equal(rle.iou(dt, gt), M.iou(dt, gt, [0] * 9))


def test_bbox_iou_random(rng):
    dt = rng.uniform(-5, 50, (20, 4))
    gt = rng.uniform(-5, 50, (7, 4))
    crowd = rng.integers(0, 2, 7).tolist()
    np.testing.assert_array_equal(rle.iou(dt, gt, crowd), M.iou(dt, gt, crowd))


def test_bbox_iou_non_finite_boxes_like_pycocotools(rng):
    # pycocotools' bbIou uses fmin/fmax: a NaN operand yields the other one. The inlined
    # compares that replaced the libm calls must keep that, NaN results included.
    dt = rng.uniform(-5, 50, (30, 4))
    gt = rng.uniform(-5, 50, (20, 4))
    dt[rng.random((30, 4)) < 0.15] = np.nan
    gt[rng.random((20, 4)) < 0.15] = np.inf
    gt[0, 0] = np.nan
    crowd = rng.integers(0, 2, 20).tolist()
    got, expected = rle.iou(dt, gt, crowd), M.iou(dt, gt, crowd)
    assert np.isnan(expected).any() and (expected > 0).any()
    np.testing.assert_array_equal(got, expected)  # NaNs in the same places


@pytest.mark.parametrize("intersect", [False, True])
def test_merge_random(rng, intersect):
    for n in (1, 2, 3, 7):
        rles = ref_encode(blob_masks(rng, n, 29, 41))
        assert rle.merge(rles, intersect=intersect) == M.merge(rles, intersect=intersect)


def test_merge_empty_list_like_pycocotools():
    assert rle.merge([]) == M.merge([])


@pytest.mark.parametrize("intersect", [False, True])
def test_merge_groups_equals_merge_per_group(rng, intersect, coco_fake_results):
    # Groups of 0..6 masks of random sizes, including real compressed results.
    groups = [ref_encode(blob_masks(rng, n, 20 + n, 30)) for n in (1, 2, 3, 6)] + [[]]
    groups += [[d["segmentation"] for d in coco_fake_results[i : i + 4]] for i in (0, 8)]
    groups = [g for g in groups if len({tuple(r["size"]) for r in g}) <= 1]
    for nt in (1, 2):
        got = rle.merge_groups(groups, intersect=intersect, num_threads=nt)
        assert got == [M.merge(g, intersect=intersect) for g in groups]


# ---- serial == parallel, 64-bit sizes -----------------------------------------------------------


def test_serial_equals_parallel(rng, coco_fake_results):
    """Inputs are sized past the per-thread work minimums (2 MB of mask bytes, 128K string
    characters, 4096 IoU pairs), so the parallel paths really run."""
    masks = np.concatenate([blob_masks(rng, 40, 240, 360), noise_masks(rng, 8, 240, 360)], 2)
    nhw = np.ascontiguousarray(masks.transpose(2, 0, 1))
    big = np.ascontiguousarray(blob_masks(rng, 1, 2000, 2200)[:, :, 0])  # row bands in one mask
    for layout, arr in (
        ("hwn", np.asfortranarray(masks)),
        ("hwn", np.ascontiguousarray(masks)),
        ("nhw", nhw),
        ("hwn", big),
    ):
        results = [rle.encode(arr, layout=layout, num_threads=t) for t in (1, 2, 3, -1)]
        assert all(r == results[0] for r in results)
    rles = rle.encode(masks)
    for layout in ("hwn", "nhw"):
        dec = [rle.decode(rles, layout=layout, num_threads=t) for t in (1, 2, -1)]
        assert all(np.array_equal(d, dec[0]) for d in dec)
    real = real_rles(coco_fake_results) * 2
    assert sum(len(r["counts"]) for r in real) > 2 * (1 << 17)
    areas = [rle.area(real, num_threads=t) for t in (1, 2, -1)]
    assert all(np.array_equal(a, areas[0]) for a in areas)
    ious = [rle.iou(rles, rles, num_threads=t) for t in (1, 2, -1)]
    assert all(np.array_equal(i, ious[0]) for i in ious)


def test_threads_context_governs_calls(rng):
    masks = blob_masks(rng, 4, 10, 10)
    with maskprep.threads(1):
        a = rle.encode(masks)
    assert a == rle.encode(masks, num_threads=2)


@pytest.mark.slow
def test_masks_above_2_to_the_32_pixels():
    """65537 x 65537 > 2^32 pixels: pycocotools' 32-bit counts wrap; ours are exact."""
    h = w = 65537
    n_pixels = h * w
    assert n_pixels > 2**32
    mask = np.zeros((h, w), np.uint8, order="F")  # untouched pages stay virtual
    mask[-3:, -1] = 1  # the last three pixels in column-major order
    mask[0, 0] = 1
    r = rle.encode(mask, compressed=False)
    assert r["counts"] == [0, 1, n_pixels - 4, 3]
    assert rle.area(r) == 4
    np.testing.assert_array_equal(rle.to_bbox(r), [0, 0, w, h])
    s = rle.encode(mask)
    np.testing.assert_array_equal(rle.from_string(s["counts"]), r["counts"])
    box = rle.from_bbox([[0, 0, w, h]], (h, w), compressed=False)[0]
    assert box["counts"] == [0, n_pixels] and rle.area(box) == n_pixels


def test_non_canonical_rles_with_zero_runs(rng):
    """Zero-length runs (legal in COCO files) are handled correctly. pycocotools' iou and merge
    walks stop early on them (a mask's IoU with itself can come out 0), so those are compared
    against pycocotools on the canonical form of the same masks (re-encoded)."""
    h, w = 12, 9
    rles = []
    for _ in range(40):
        cuts = np.sort(rng.integers(0, h * w + 1, int(rng.integers(1, 12))))
        counts = np.diff(np.concatenate([[0], cuts, [h * w]])).tolist()  # zeros where cuts repeat
        rles.append(M.frPyObjects({"size": [h, w], "counts": counts}, h, w))
    canon = [M.encode(np.asfortranarray(M.decode(r))) for r in rles]
    assert all(np.array_equal(rle.decode(a), rle.decode(b)) for a, b in zip(rles, canon))
    crowd = rng.integers(0, 2, 40).tolist()
    np.testing.assert_array_equal(rle.iou(rles, rles, crowd), M.iou(canon, canon, crowd))
    assert (np.diag(rle.iou(rles, rles)) == [1.0 if rle.area(r) else 0.0 for r in rles]).all()
    np.testing.assert_array_equal(rle.area(rles), M.area(rles))
    np.testing.assert_array_equal(rle.to_bbox(rles), M.toBbox(rles))
    for i in range(0, 40, 4):
        assert rle.merge(rles[i : i + 4]) == M.merge(canon[i : i + 4])
        assert rle.merge(rles[i : i + 4], intersect=True) == M.merge(
            canon[i : i + 4], intersect=True
        )
        assert rle.merge(rles[i : i + 1]) == M.merge(rles[i : i + 1])  # one RLE: returned as is
