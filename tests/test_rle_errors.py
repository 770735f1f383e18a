"""Every bad-input path of the RLE/polygon API raises a clear exception naming the argument.

pycocotools crashes, returns uninitialised memory or silently wraps on most of these."""

from __future__ import annotations

import numpy as np
import pytest

from maskprep import mask, rle

GOOD = {"size": [2, 3], "counts": [1, 2, 3]}


# ---- compressed strings -------------------------------------------------------------------------


def test_string_byte_outside_alphabet():
    with pytest.raises(ValueError, match=r"byte 112 at offset 1; expected a character in '0'..'o'"):
        rle.from_string(b"1p")


def test_string_non_ascii_str():
    with pytest.raises(ValueError, match="expected a character in '0'..'o'"):
        rle.from_string("1é")


def test_string_truncated_continuation():
    with pytest.raises(
        ValueError, match="truncated: the value starting at byte 1 ends with a continuation"
    ):
        rle.from_string(b"1P")  # 'P' = 48 + 0x20: more characters promised


def test_string_value_overflow():
    with pytest.raises(
        ValueError, match="overflows: the value starting at byte 0 is longer than 13"
    ):
        rle.from_string(b"P" * 13 + b"1")


def test_string_negative_count():
    with pytest.raises(ValueError, match=r"negative count \(-1\) at byte 0"):
        rle.from_string(b"O")  # 'O' = 48 + 0x1f: sign bit set, no continuation: -1


def test_string_wrong_type():
    with pytest.raises(TypeError, match="s must be bytes or str, got int"):
        rle.from_string(5)


def test_decode_names_the_rle_with_a_bad_string():
    bad = {"size": [2, 3], "counts": b"1~"}
    with pytest.raises(ValueError, match=r"rles\[1\]: compressed RLE string has byte 126"):
        rle.decode([GOOD, bad])


# ---- counts and sizes ---------------------------------------------------------------------------


def test_counts_not_summing_to_h_times_w():
    with pytest.raises(
        ValueError, match=r"rles\[0\]: counts sum to 5, expected h\*w = 6 for size \[2, 3\]"
    ):
        rle.decode({"size": [2, 3], "counts": [2, 3]})


def test_counts_too_many():
    with pytest.raises(ValueError, match=r"counts sum to 7, expected h\*w = 6"):
        rle.area({"size": [2, 3], "counts": [2, 5]})


def test_negative_count():
    with pytest.raises(
        ValueError, match=r"rles\[0\]\['counts'\]\[1\] must be a non-negative integer, got -2"
    ):
        rle.decode({"size": [2, 3], "counts": [8, -2]})


def test_non_integer_count():
    with pytest.raises(
        ValueError, match=r"\['counts'\]\[0\] must be a non-negative integer, got 2.5"
    ):
        rle.decode({"size": [2, 3], "counts": [2.5, 3.5]})


def test_bad_size():
    with pytest.raises(
        ValueError, match=r"rles\[0\]\['size'\] must be \[height, width\], got \[2\]"
    ):
        rle.area({"size": [2], "counts": b"6"})


def test_negative_size():
    with pytest.raises(
        ValueError, match=r"rles\[0\]\['size'\]\[0\] must be a non-negative integer, got -2"
    ):
        rle.area({"size": [-2, 3], "counts": b"6"})


def test_missing_keys():
    with pytest.raises(ValueError, match=r"rles\[0\] must have the keys 'size' and 'counts'"):
        rle.area({"counts": b"6"})


def test_not_a_dict():
    with pytest.raises(TypeError, match=r"rles\[1\] must be an RLE dict .* got str"):
        rle.area([GOOD, "x"])


def test_bad_counts_type():
    with pytest.raises(TypeError, match=r"rles\[0\]\['counts'\] must be bytes or str .* got int"):
        rle.area({"size": [2, 3], "counts": 6})


def test_decode_mixed_sizes():
    other = {"size": [3, 2], "counts": [6]}
    with pytest.raises(
        ValueError, match=r"rles\[1\] has size \[3, 2\] but rles\[0\] has size \[2, 3\]"
    ):
        rle.decode([GOOD, other])


def test_decode_empty_list():
    with pytest.raises(ValueError, match="rles must not be empty"):
        rle.decode([])


def test_decode_bad_layout():
    with pytest.raises(ValueError, match="layout must be 'hwn' or 'nhw', got 'whn'"):
        rle.decode([GOOD], layout="whn")


def test_merge_size_mismatch():
    with pytest.raises(ValueError, match=r"rles\[1\] has size \[3, 2\]"):
        rle.merge([GOOD, {"size": [3, 2], "counts": [6]}])


def test_merge_groups_not_a_list():
    with pytest.raises(TypeError, match="groups must be a list of lists of RLE dicts, got int"):
        rle.merge_groups(3)


def test_merge_groups_group_not_a_list():
    with pytest.raises(TypeError, match=r"groups\[1\] must be a list of RLE dicts, got dict"):
        rle.merge_groups([[GOOD], GOOD])


def test_merge_groups_size_mismatch():
    with pytest.raises(ValueError, match=r"groups\[1\]\[1\] has size \[3, 2\]"):
        rle.merge_groups([[GOOD], [GOOD, {"size": [3, 2], "counts": [6]}]])


def test_merge_groups_bad_counts():
    with pytest.raises(ValueError, match=r"groups\[0\]\[0\]: counts sum to 5"):
        rle.merge_groups([[{"size": [2, 3], "counts": [5]}]])


def test_iou_size_mismatch():
    with pytest.raises(ValueError, match="dt masks are 2 x 3 but gt masks are 3 x 2"):
        rle.iou([GOOD], [{"size": [3, 2], "counts": [6]}])


def test_iou_iscrowd_length():
    with pytest.raises(ValueError, match="iscrowd must be a sequence of 1 values"):
        rle.iou([GOOD], [GOOD], [0, 1])


def test_dropin_iou_iscrowd_length():
    with pytest.raises(
        ValueError, match=r"iscrowd=\) must have the same length as gt \(1\), got 2"
    ):
        mask.iou([GOOD], [GOOD], [0, 1])


def test_dropin_iou_mixed_types():
    with pytest.raises(TypeError, match="both RLE lists or both boxes"):
        mask.iou([GOOD], [[0, 0, 1, 1]], [0])


def test_bbox_iou_bad_shape():
    with pytest.raises(
        ValueError,
        match=r"dt must be an \(N, 4\) array of \[x, y, w, h\] boxes \(real numbers\), got float64 with shape \(2, 3\)",
    ):
        rle.iou(np.zeros((2, 3)), np.zeros((1, 4)))


# ---- encode -------------------------------------------------------------------------------------


def test_encode_wrong_dtype():
    with pytest.raises(
        TypeError,
        match=r"masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array, got float64",
    ):
        rle.encode(np.zeros((3, 3)))


def test_encode_wrong_ndim():
    with pytest.raises(
        ValueError,
        match=r"masks must be an \(H, W\) or \(H, W, N\) bool or uint8 array, got .* with shape \(3,\)",
    ):
        rle.encode(np.zeros(3, np.uint8))


def test_encode_bad_layout():
    with pytest.raises(ValueError, match="layout must be 'hwn' .* or 'nhw' .* got 'chw'"):
        rle.encode(np.zeros((2, 2, 2), np.uint8), layout="chw")


def test_encode_num_threads_zero():
    with pytest.raises(ValueError, match="num_threads must be None, -1"):
        rle.encode(np.zeros((2, 2), np.uint8), num_threads=0)


# ---- polygons and boxes -------------------------------------------------------------------------


def test_polygon_odd_length():
    with pytest.raises(
        ValueError, match=r"polygons\[0\] must have an even number of coordinates .* got 7"
    ):
        rle.from_polygons([[0, 0, 5, 0, 5, 5, 1]], (10, 10))


def test_polygon_fewer_than_three_points():
    with pytest.raises(
        ValueError, match=r"polygons\[1\] must have at least 3 point\(s\) \(6 numbers\), got 2"
    ):
        rle.from_polygons([[0, 0, 5, 0, 5, 5], [0, 0, 4, 4]], (10, 10))


def test_polygon_non_finite():
    with pytest.raises(ValueError, match="has a non-finite coordinate at position 3"):
        rle.from_polygons([[0, 0, 5, float("nan"), 5, 5]], (10, 10))


def test_polygon_huge_coordinate():
    with pytest.raises(
        ValueError, match=r"has coordinate 3e\+09 at position 0; \|coordinates\| must be <= 2e\+08"
    ):
        rle.from_polygons([[3e9, 0, 5, 0, 5, 5]], (10, 10))


def test_polygon_non_number():
    with pytest.raises(TypeError, match=r"polygons\[0\]\[2\] must be a number, got str"):
        rle.from_polygons([[0, 0, "5", 0, 5, 5]], (10, 10))


def test_polygons_not_a_list():
    with pytest.raises(TypeError, match="polygons must be a list of polygons"):
        rle.from_polygons(5, (10, 10))


def test_polygon_negative_image_size():
    with pytest.raises(ValueError, match=r"image_size must be \(height, width\), two ints >= 0"):
        rle.from_polygons([[0, 0, 5, 0, 5, 5]], (-1, 10))
    # the deprecated h, w spelling reaches the kernel's own check
    with pytest.deprecated_call(), pytest.raises(ValueError, match="h and w must be non-negative"):
        rle.from_polygons([[0, 0, 5, 0, 5, 5]], -1, 10)


def test_box_non_finite():
    with pytest.raises(ValueError, match=r"boxes\[1\] has a non-finite or out-of-range value"):
        rle.from_bbox([[0, 0, 1, 1], [0, float("inf"), 1, 1]], (10, 10))


def test_box_bad_shape():
    with pytest.raises(
        ValueError,
        match=r"boxes must be an \(N, 4\) array of \[x, y, w, h\] boxes \(real numbers\), got float64 with shape \(2, 3\)",
    ):
        rle.from_bbox(np.zeros((2, 3)), (10, 10))


def test_box_nan_in_drop_in():
    with pytest.raises(ValueError, match=r"boxes\[0\] has a non-finite"):
        mask.frPyObjects(np.array([[0, np.nan, 1, 1]]), 10, 10)


def test_segmentation_error_names_the_annotation():
    segs = [[[0, 0, 5, 0, 5, 5]], [[0, 0, 5, 0, 5, 5], [1, 1, 2]]]
    with pytest.raises(ValueError, match=r"segmentations\[1\] polygon 1 must have an even number"):
        rle.from_segmentations(segs, (10, 10))


def test_segmentation_empty_polygon_list():
    with pytest.raises(ValueError, match=r"segmentations\[0\] is an empty polygon list"):
        rle.from_segmentations([[]], (10, 10))


def test_segmentation_rle_size_mismatch():
    with pytest.raises(
        ValueError, match=r"segmentations\[0\] has size \[2, 3\] but its image is 10 x 10"
    ):
        rle.from_segmentations([GOOD], (10, 10))


def test_segmentation_bad_type():
    with pytest.raises(
        TypeError, match=r"segmentations\[0\] must be a polygon list or an RLE dict, got int"
    ):
        rle.from_segmentations([3], (10, 10))


def test_segmentation_heights_length():
    with pytest.raises(
        ValueError, match=r"one \(height, width\) pair per segmentation \(1\), got 2"
    ):
        rle.from_segmentations([[[0, 0, 5, 0, 5, 5]]], [(10, 10), (10, 10)])
    with pytest.raises(ValueError, match=r"image_size must be one \(height, width\) pair or one"):
        rle.from_segmentations([[[0, 0, 5, 0, 5, 5]]], 10)
    with pytest.deprecated_call(), pytest.raises(ValueError, match="broadcast"):
        rle.from_segmentations([[[0, 0, 5, 0, 5, 5]]], [10, 10], 10)


def test_dropin_frpyobjects_unsupported():
    with pytest.raises(TypeError, match="frPyObjects input must be polygons"):
        mask.frPyObjects(5, 10, 10)


class _ClearsOnFloat:
    """A coordinate whose __float__ empties a list: reading it runs Python code that changes
    the lists being read (they are re-checked after such a call, never read stale)."""

    def __init__(self, target):
        self.target = target

    def __float__(self):
        self.target.clear()
        return 1.0


_SQUARE = [1.0, 1.0, 5.0, 1.0, 5.0, 5.0, 1.0, 5.0]


def test_polygon_that_changes_size_while_read():
    poly = list(_SQUARE)
    poly[2] = _ClearsOnFloat(poly)
    with pytest.raises(ValueError, match=r"segmentations\[0\]\[0\] changed size while being read"):
        rle.from_segmentations([[poly]], (8, 8))


def test_polygon_list_that_changes_size_while_read():
    seg = [list(_SQUARE), list(_SQUARE)]
    seg[0][2] = _ClearsOnFloat(seg)
    with pytest.raises(ValueError, match=r"segmentations\[0\] changed size while being read"):
        rle.from_segmentations([seg], (8, 8))


def test_segmentations_that_change_size_while_read():
    segs = [[list(_SQUARE)], [list(_SQUARE)]]
    segs[0][0][2] = _ClearsOnFloat(segs)
    with pytest.raises(ValueError, match=r"^segmentations changed size while being read"):
        rle.from_segmentations(segs, (8, 8))
