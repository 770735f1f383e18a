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
        ({"boxes": [[0, 0, 2]]}, ValueError, r"boxes must have shape \(N, 4\), got \(1, 3\)"),
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
