"""Size arithmetic of the kernels (issue 10): sizes whose products do not fit in 64 bits, grids
that cannot exist and counts beyond 2^59 raise ValueError naming the sizes, where they used to
wrap, overrun a buffer or return an RLE whose counts do not sum to h*w."""

import json

import numpy as np
import pytest

from maskprep import _core, boxes, cli, imgproc, mask, morphology, ops, rle

HUGE = 2**40  # HUGE * HUGE = 2^80 does not fit in 64 bits
SQUARE = [[0, 0, 10, 0, 10, 10]]
WRAPS = {"size": [2**32, 2**32], "counts": [0]}  # h*w = 2^64 wraps to 0 in uint64


# ---- morphology: kh*kw --------------------------------------------------------------------------


def test_dilate_kernel_size_product_overflow():
    # 3 * 6148914691236517206 = 2^64 + 2: wrapped to a 2-byte buffer that was then overrun.
    with pytest.raises(ValueError, match=r"kernel size kh\*kw = 3 x 6148914691236517206 does not"):
        morphology.dilate(np.ones((4, 4), np.uint8), size=(3, 6148914691236517206))


def test_structuring_element_size_product_overflow():
    with pytest.raises(ValueError, match=rf"kernel size kh\*kw = {HUGE} x {HUGE} does not fit"):
        morphology.structuring_element("rect", HUGE)


def test_structuring_element_ellipse_unchanged():
    # cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 5)); its radius product is now checked.
    cross_row, full_row = [0, 0, 0, 1, 0, 0, 0], [1] * 7
    expected = [cross_row, full_row, full_row, full_row, cross_row]
    assert morphology.structuring_element("ellipse", (5, 7)).tolist() == expected


# ---- RLE: h*w -----------------------------------------------------------------------------------


def test_from_polygons_size_product_overflow():
    with pytest.raises(ValueError, match=rf"image size h\*w = {HUGE} x {HUGE} does not fit"):
        rle.from_polygons(SQUARE, (HUGE, HUGE))


def test_from_polygons_rasterizer_grid_overflow():
    # h*w fits, the 5x-upsampled column grid (5 * w) does not.
    with pytest.raises(ValueError, match=r"rasterizer grid 5\*w = 5 x 4611686018427387904"):
        rle.from_polygons(SQUARE, (1, 2**62))


def test_from_bbox_size_product_overflow():
    with pytest.raises(ValueError, match=r"image size h\*w = .* does not fit in 64 bits"):
        rle.from_bbox([[0, 0, 10, 10]], (HUGE, HUGE))


def test_frpyobjects_size_product_overflow():
    with pytest.raises(ValueError, match=r"image size h\*w = .* does not fit in 64 bits"):
        mask.frPyObjects(SQUARE, HUGE, HUGE)


def test_from_segmentations_size_product_overflow():
    with pytest.raises(ValueError, match=r"segmentations\[0\].*h\*w = .* does not fit"):
        rle.from_segmentations([SQUARE], (HUGE, HUGE))


def test_boxes_to_masks_size_product_overflow():
    with pytest.raises(ValueError, match=r"h\*w = .* does not fit in 64 bits"):
        boxes.boxes_to_masks([[0, 0, 10, 10]], (HUGE, HUGE))


def test_large_but_valid_size_still_rasterizes():
    # 2^31 x 2^31 pixels: h*w = 2^62 fits; the counts sum to it exactly.
    (r,) = rle.from_polygons(SQUARE, (2**31, 2**31), compressed=False)
    assert sum(r["counts"]) == 2**62


# A polygon or box reaching far outside a small image: the rasterizer's buffers are sized by the
# column boundaries inside the image, not by the edges' lengths (2e8 pixels, scaled by 5, used to
# size them at ~13 GB: the fuzz harnesses' out-of-memory reports). The child process runs under a
# 3 GiB address-space limit, so the old sizing fails there with MemoryError instead of swapping.
_FAR_OUTSIDE = r"""
import resource, sys
import numpy as np
from maskprep import rle
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
box = rle.from_bbox(np.array([[-1e8, 1, 2e8, 5]]), (10, 12), compressed=False)
poly = rle.from_polygons([[-2e8, 1, 2e8, 1, 2e8, 6, -2e8, 6]], (10, 12), compressed=False)
print(json.dumps([box[0]["counts"], poly[0]["counts"]]))
"""


def test_rasterizing_far_outside_a_small_image_needs_little_memory():
    import subprocess
    import sys

    from pycocotools import mask as coco_mask

    script = "import json\n" + _FAR_OUTSIDE
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    box, poly = json.loads(out.stdout)
    # The same crossings inside the image as a box and a polygon just wider than it; pycocotools
    # rasterizes those (it cannot rasterize the far ones: its point buffers would be ~10 GB).
    (near_box,) = coco_mask.frPyObjects(np.array([[-1.0, 1, 14, 5]]), 10, 12)
    (near_poly,) = coco_mask.frPyObjects([[-1.0, 1, 13, 1, 13, 6, -1, 6]], 10, 12)
    for counts, near in ((box, near_box), (poly, near_poly)):
        ours = rle.decode([{"size": [10, 12], "counts": counts}])[..., 0]
        np.testing.assert_array_equal(ours, coco_mask.decode(near))
        assert ours.sum() > 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: rle.area([WRAPS]),
        lambda: rle.merge([WRAPS, WRAPS]),
        lambda: rle.iou([WRAPS], [WRAPS]),
        lambda: rle.decode([WRAPS]),
    ],
    ids=["area", "merge", "iou", "decode"],
)
def test_rle_size_that_wraps_is_rejected(call):
    # h*w = 2^64 used to wrap to 0, so counts [0] "summed to h*w".
    with pytest.raises(ValueError, match=r"size h\*w = 4294967296 x 4294967296 does not fit"):
        call()


def _convert(tmp_path, data):
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(data))
    return cli.main(["convert", str(src), "-o", str(out), "--quiet"]), out


def _dataset(h, w, segmentation):
    return {
        "images": [{"id": 1, "height": h, "width": w, "file_name": "a.jpg"}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "segmentation": segmentation}],
        "categories": [{"id": 1, "name": "a"}],
    }


@pytest.mark.parametrize("segmentation", [SQUARE, WRAPS], ids=["polygon", "rle"])
def test_convert_rejects_size_product_overflow(tmp_path, capsys, segmentation):
    h, w = segmentation["size"] if isinstance(segmentation, dict) else (HUGE, HUGE)
    rc, out = _convert(tmp_path, _dataset(h, w, segmentation))
    assert rc == 1 and not out.exists()
    err = capsys.readouterr().err
    # The command refuses the image size up front (sides above 2^31 - 1) or, for sizes that
    # pass that, the kernel refuses h*w: either way one line naming the sizes.
    assert err.count("\n") == 1 and f"{h} x {w}" in err, err


# ---- the compressed string codec ----------------------------------------------------------------


@pytest.mark.parametrize(
    "counts",
    [
        [0, 2**59],
        [0, 2**60],
        [0, 2**62, 5],
        [0, 2**63],
        [3, 2**64 - 1, 0, 2**64 - 1, 7, 0],
        [2**64 - 1, 0, 2**64 - 1, 0, 1],
        [1, 2, 2**63 + 1, 4, 1],
    ],
)
def test_string_round_trips_every_64_bit_count(counts):
    s = rle.to_string(counts)
    assert rle.from_string(s).tolist() == counts


def test_string_beyond_int64_uses_13_characters():
    # The delta 2^64 - 1 - 0 needs 65 bits: 13 characters; the largest int64 delta needs 13 too
    # (pycocotools' loop on a long writes 13 for it), so nothing shorter changes.
    assert len(rle.to_string([0, 2**64 - 1])) == 1 + 13
    assert rle.to_string([0, 2**63 - 1]) == _pycocotools_string([0, 2**63 - 1])


def _pycocotools_string(counts):
    """pycocotools' rleToString on 64-bit signed arithmetic (its `long x`)."""
    out = bytearray()
    for i, c in enumerate(counts):
        x = c - (counts[i - 2] if i > 2 else 0)
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = x != -1 if ch & 0x10 else x != 0
            if more:
                ch |= 0x20
            out.append(ch + 48)
    return bytes(out)


def test_string_matches_pycocotools_below_int64():
    rng = np.random.default_rng(0)
    counts = [int(v) for v in rng.integers(0, 2**62, size=64)] + [0, 1, 31, 32, 2**32, 2**40]
    assert rle.to_string(counts) == _pycocotools_string(counts)


def test_string_matches_pycocotools_at_every_character_count_boundary():
    """to_string writes deltas of 1 to 4 characters without its loop (rle.cpp append_string):
    every delta at and around the 5, 10, 15 and 20-bit signed limits, positive and negative,
    must give pycocotools' characters (the delta is counts[i] - counts[i - 2])."""
    deltas = [0, 1, -1]
    for bits in (5, 10, 15, 20, 25):
        lim = 2 ** (bits - 1)
        deltas += [lim - 2, lim - 1, lim, lim + 1, -lim - 1, -lim, -lim + 1]
    base = 2**25  # counts[i - 2], so that base + delta stays non-negative
    counts = [3, 1, base, base]
    for d in deltas:
        counts += [base + d, base]  # counts[i] - counts[i - 2] = d, then base - (base + d) = -d
        counts += [base, base]
    assert min(counts) >= 0
    assert rle.to_string(counts) == _pycocotools_string(counts)
    assert rle.from_string(rle.to_string(counts)).tolist() == counts


def test_string_value_longer_than_13_characters():
    with pytest.raises(ValueError, match="longer than 13 characters"):
        rle.from_string(b"P" * 13 + b"1")


def test_string_count_above_64_bits():
    # counts[3] = counts[1] + (2^64 - 1) does not fit: refused, not wrapped.
    s = rle.to_string([0, 5, 0]) + rle.to_string([0, 0, 0, 2**64 - 1])[3:]
    with pytest.raises(ValueError, match="overflows 64 bits at byte 3"):
        rle.from_string(s)


def test_string_counts_whose_sum_overflows_are_refused_as_an_rle():
    s = rle.to_string([2**63, 2**63])
    assert rle.from_string(s).tolist() == [2**63, 2**63]  # the codec alone reads them back
    with pytest.raises(ValueError, match="overflow 64 bits"):
        rle.area([{"size": [1, 1], "counts": s}])


# ---- paste --------------------------------------------------------------------------------------

MASKS = np.ones((1, 28, 28), np.float32)
BOX = np.array([[0, 0, 10, 10]], np.float32)


@pytest.mark.parametrize("output", ["dense", "rle"])
def test_paste_refuses_sides_beyond_2_52(output):
    with pytest.raises(ValueError, match=r"image_size \(4611686018427387904, 4\) is too large"):
        ops.paste_masks(MASKS, BOX, (2**62, 4), output=output)


def test_paste_refuses_size_product_overflow():
    with pytest.raises(ValueError, match=r"height\*width = 4503599627370496 x 4503599627370496"):
        ops.paste_masks(MASKS, BOX, (2**52, 2**52), output="rle")


def test_paste_dense_refuses_output_that_cannot_be_allocated():
    with pytest.raises(ValueError, match=r"dense output n\*height\*width = 3 x 4503599627370496 x"):
        ops.paste_masks(np.ones((3, 28, 28), np.float32), np.repeat(BOX, 3, 0), (2**52, 2**10))


def test_paste_large_image_rle_still_works():
    (r,) = ops.paste_masks(MASKS, BOX, (2**31, 2**31), output="rle", compressed=False)
    assert sum(r["counts"]) == 2**62 and len(r["counts"]) > 2


# ---- roi_align ----------------------------------------------------------------------------------

FEATURES = np.zeros((1, 1, 8, 8), np.float32)
ROI = np.array([[0, 0, 0, 4, 4]], np.float32)


@pytest.mark.parametrize("ratio", [2**31, 2**40, 46341])
def test_roi_align_sampling_ratio_too_large(ratio):
    with pytest.raises(ValueError, match=rf"sampling_ratio {ratio} is too large"):
        ops.roi_align(FEATURES, ROI, (2, 2), sampling_ratio=ratio)


def test_roi_align_largest_sampling_ratio_torchvision_counts():
    out = ops.roi_align(FEATURES + 1, ROI, (1, 1), sampling_ratio=256)
    assert out.shape == (1, 1, 1, 1) and out[0, 0, 0, 0] == 1


def test_roi_align_adaptive_grid_too_large():
    # ceil(roi / pooled) per axis fits in 32 bits; the samples per bin (their product) do not.
    box = np.array([[0, 0, 0, 2e5, 2e5]], np.float32)
    with pytest.raises(ValueError, match=r"boxes\[0\] samples a 100000 x 100000 grid per bin"):
        ops.roi_align(FEATURES, box, (2, 2))


def test_roi_align_output_size_product_overflow():
    with pytest.raises(ValueError, match=r"output_size = 4294967296 x 4294967296 does not fit"):
        _core.roi_align_forward(
            FEATURES, ROI, (2**32, 2**32), 1.0, 2, False, "avg", "NCHW", num_threads=1
        )


# ---- max_pool2d and gaussian_blur: user sizes --------------------------------------------------


def test_max_pool2d_padding_that_overflows():
    x = np.zeros((1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"padded height = 4 \+ 9223372036854775806 does not fit"):
        _core.max_pool2d(x, (2**63 - 1, 1), (1, 1), (2**62 - 1, 0), num_threads=1)


def test_gaussian_blur_ksize_too_large():
    with pytest.raises(ValueError, match=r"ksize x ksize = .* does not fit|blur scratch"):
        imgproc.gaussian_blur(np.zeros((4, 4), np.uint8), ksize=(1, 2**62 + 1))


def test_string_of_a_list_with_counts_beyond_int64_is_exact():
    # numpy reads [0, 2**63 + 1] as float64 (2**63 + 1 would round to 2**63): to_string takes
    # Python ints exactly, and still refuses floats and ints outside [0, 2^64).
    assert rle.from_string(rle.to_string([0, 2**63 + 1])).tolist() == [0, 2**63 + 1]
    with pytest.raises(ValueError, match=r"counts must be integers in \[0, 2\^64\)"):
        rle.to_string([-1, 2**63])
    with pytest.raises(ValueError, match=r"counts must be integers in \[0, 2\^64\)"):
        rle.to_string([0, 2**64])
    with pytest.raises(TypeError, match="counts must be a 1-D array of non-negative integers"):
        rle.to_string([0.0, 2**63])
