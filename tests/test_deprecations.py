"""The old spellings of renamed APIs keep working, each with a DeprecationWarning, and give what
the new spelling gives (issue 11: one image-size spelling, ``(height, width)``)."""

from __future__ import annotations

import numpy as np
import pytest

from maskprep import rle

TRI = [[1.0, 1.0, 6.0, 1.0, 6.0, 6.0]]
BOXES = np.array([[1.0, 2.0, 3.0, 4.0]])


def test_from_bbox_h_w_is_deprecated():
    with pytest.deprecated_call(match=r"from_bbox\(\.\.\., h, w\) is deprecated"):
        old = rle.from_bbox(BOXES, 8, 9)
    assert old == rle.from_bbox(BOXES, (8, 9))


def test_from_polygons_h_w_is_deprecated():
    with pytest.deprecated_call(match=r"from_polygons\(\.\.\., h, w\) is deprecated"):
        old = rle.from_polygons(TRI, 8, 9, compressed=False)
    assert old == rle.from_polygons(TRI, (8, 9), compressed=False)


def test_dense_from_segmentations_height_width_is_deprecated():
    with pytest.deprecated_call(match=r"dense_from_segmentations\(.*\) is deprecated"):
        old = rle.dense_from_segmentations([TRI], 8, 9)
    np.testing.assert_array_equal(old, rle.dense_from_segmentations([TRI], (8, 9)))


@pytest.mark.parametrize("size", [(8, 9), [8, 9], np.array([8, 9]), (8.0, 9), (np.int64(8), 9)])
def test_one_image_size_spelling_across_modules(size):
    """Every function that takes an image size takes it as (height, width), alike."""
    from maskprep import boxes, paste

    expected = rle.from_bbox(BOXES, (8, 9))
    assert rle.from_bbox(BOXES, size) == expected
    assert boxes.boxes_to_masks(BOXES, size) == expected
    pasted = paste.paste_masks(np.ones((1, 4, 4), np.float32), BOXES, size)
    assert pasted.shape == (1, 8, 9)
    assert rle.dense_from_segmentations([TRI], size).shape == (1, 8, 9)


def test_from_segmentations_heights_widths_is_deprecated():
    segs = [TRI, TRI]
    with pytest.deprecated_call(match=r"from_segmentations\(.*heights, widths\) is deprecated"):
        old = rle.from_segmentations(segs, [8, 7], [9, 9])
    assert old == rle.from_segmentations(segs, [(8, 9), (7, 9)])
    with pytest.deprecated_call():
        assert rle.from_segmentations(segs, 8, 9) == rle.from_segmentations(segs, (8, 9))
