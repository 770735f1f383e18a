"""Polygons, boxes and whole COCO segmentations to RLE, against pycocotools.

Tolerance: none. pycocotools' rasterizer (1/5-pixel quantisation, pixel-centre rule, even-odd
fill) is reproduced bit for bit, so every compressed string must be byte-identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.rle_data import ann_to_rle, random_polygons, star_polygon
from maskprep import rle

M = pytest.importorskip("pycocotools.mask")
_mask = pytest.importorskip("pycocotools._mask")


def image_sizes(dataset):
    imgs = {im["id"]: im for im in dataset["images"]}
    anns = dataset["annotations"]
    return (
        [a["segmentation"] for a in anns],
        [imgs[a["image_id"]]["height"] for a in anns],
        [imgs[a["image_id"]]["width"] for a in anns],
    )


@pytest.mark.parametrize("name", ["coco_val2014", "cocomini_val", "cocomini_train"])
def test_every_real_annotation_matches_pycocotools(request, name):
    segs, hs, ws = image_sizes(request.getfixturevalue(name))
    ours = rle.from_segmentations(segs, list(zip(hs, ws)))
    assert len(ours) == len(segs)
    for i, (seg, h, w) in enumerate(zip(segs, hs, ws)):
        assert ours[i] == ann_to_rle(seg, h, w), f"annotation {i}"


def test_real_annotations_serial_equals_parallel(coco_val2014):
    segs, hs, ws = image_sizes(coco_val2014)
    segs, hs, ws = segs * 3, hs * 3, ws * 3  # past the 16K-coordinate minimum per thread
    runs = [rle.from_segmentations(segs, list(zip(hs, ws)), num_threads=t) for t in (1, 2, 5, -1)]
    assert all(r == runs[0] for r in runs)


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (48, 64), (480, 640), (37, 1000)])
def test_random_polygons_match_frpoly(rng, size):
    h, w = size
    polys = random_polygons(rng, 300, h, w)
    assert rle.from_polygons(polys, (h, w)) == _mask.frPoly(polys, h, w)


def test_random_multi_part_objects_match_merge(rng):
    h, w = 90, 120
    segs = [random_polygons(rng, int(rng.integers(1, 8)), h, w) for _ in range(200)]
    assert rle.from_segmentations(segs, (h, w)) == [ann_to_rle(s, h, w) for s in segs]


@pytest.mark.parametrize("scale", [1e3, 1e5])
def test_long_edges_far_outside_the_image(rng, scale):
    """Edges thousands of pixels long exercise the jump-to-crossing walk."""
    h, w = 60, 80
    polys = []
    for _ in range(60):
        pts = rng.uniform(-scale, scale, (int(rng.integers(3, 9)), 2))
        pts[rng.integers(len(pts))] = rng.uniform(0, 60, 2)  # one vertex inside
        polys.append(pts.ravel().tolist())
    assert rle.from_polygons(polys, (h, w)) == _mask.frPoly(polys, h, w)


def test_tiny_and_degenerate_vertices():
    cases = [
        [0, 0, 0, 9, 9, 9, 9, 0],  # the cocoapi#659 square: 81 pixels, not 100
        [0.4, 0.4, 0.4, 1.2, 1.2, 1.2, 1.2, 0.4],  # 0.4..1.2 holds one pixel centre
        [0.6, 0.6, 0.6, 0.8, 0.8, 0.8, 0.8, 0.6],  # inside one pixel: no centre
        [1, 1, 1, 1, 1, 1, 5, 5, 5, 5, 1, 5],  # repeated vertices (zero-length edges)
        [2, 2, 8, 8, 2, 8, 8, 2],  # bow tie (self-intersecting)
        [0, 0, 10, 0, 10, 10, 0, 10, 0, 0],  # closed (last = first)
    ]
    assert rle.from_polygons(cases, (10, 10)) == _mask.frPoly(cases, 10, 10)
    assert rle.area(rle.from_polygons(cases[:3], (10, 10))).tolist() == [81, 1, 0]
    # The boxes of anchors.md section 1.5: [x, y, w, h] = [0.4, 0.4, 1.2, 1.2] covers 4 centres.
    boxes = [[0.4, 0.4, 1.2, 1.2], [0.6, 0.6, 0.8, 0.8], [0, 0, 10, 10]]
    assert rle.area(rle.from_bbox(boxes, (10, 10))).tolist() == [4, 0, 100]


def test_one_and_two_point_polygons_in_the_drop_in_are_empty_like_pycocotools():
    from maskprep import mask as ours

    for poly in ([3.0, 4.0, 7.0, 8.0], [3.0, 4.0]):
        expected = _mask.frPoly([poly], 10, 10)[0]
        assert ours.frPyObjects([poly, [1, 1, 5, 1, 5, 5]], 10, 10)[0] == expected
        assert rle.area(expected) == 0


def test_boxes_match_frbbox(rng):
    h, w = 50, 70
    boxes = np.concatenate(
        [
            rng.uniform(-10, 80, (200, 2)).repeat(1, 0),
            rng.uniform(0, 40, (200, 2)),
        ],
        1,
    )
    boxes[:40] = np.round(boxes[:40])
    boxes[40:80] = np.round(boxes[40:80] * 5) / 5  # 1/5-pixel ties
    assert rle.from_bbox(boxes, (h, w)) == M.frPyObjects(boxes, h, w)
    assert rle.from_bbox(boxes[0], (h, w))[0] == M.frPyObjects(boxes[:1], h, w)[0]


def test_uncompressed_and_compressed_rle_segmentations(coco_val2014, coco_fake_results):
    crowd = [a for a in coco_val2014["annotations"] if a["iscrowd"]]
    imgs = {im["id"]: im for im in coco_val2014["images"]}
    segs = [a["segmentation"] for a in crowd]
    hs = [imgs[a["image_id"]]["height"] for a in crowd]
    ws = [imgs[a["image_id"]]["width"] for a in crowd]
    assert rle.from_segmentations(segs, list(zip(hs, ws))) == [
        ann_to_rle(s, h, w) for s, h, w in zip(segs, hs, ws)
    ]
    comp = [d["segmentation"] for d in coco_fake_results[:100]]
    out = rle.from_segmentations(comp, [c["size"] for c in comp])
    assert out == comp


def test_from_segmentations_str_counts(coco_val2014, coco_fake_results):
    imgs = {im["id"]: im for im in coco_val2014["images"]}
    anns = coco_val2014["annotations"][:300]  # polygons and crowd RLEs
    segs = [a["segmentation"] for a in anns]
    segs += [d["segmentation"] for d in coco_fake_results[:20]]  # compressed, str counts
    segs += [{**s, "counts": s["counts"].encode()} for s in segs[-20:]]  # compressed, bytes
    hs = [imgs[a["image_id"]]["height"] for a in anns] + [s["size"][0] for s in segs[-40:]]
    ws = [imgs[a["image_id"]]["width"] for a in anns] + [s["size"][1] for s in segs[-40:]]
    as_bytes = rle.from_segmentations(segs, list(zip(hs, ws)))
    as_str = rle.from_segmentations(segs, list(zip(hs, ws)), counts="str")
    assert all(isinstance(r["counts"], str) for r in as_str)
    for b, s in zip(as_bytes, as_str):
        c = b["counts"]
        assert s == {"size": b["size"], "counts": c.decode() if isinstance(c, bytes) else c}
    with pytest.raises(ValueError, match="counts must be 'bytes' or 'str', got 'list'"):
        rle.from_segmentations(segs, list(zip(hs, ws)), counts="list")


def test_polygon_with_numpy_coordinates(rng):
    poly = np.array(star_polygon(rng, 40, 40, 12))
    assert rle.from_polygons([poly], (40, 40)) == _mask.frPoly([poly.tolist()], 40, 40)


def test_empty_image_size_gives_the_empty_rle():
    r = rle.from_polygons([[0, 0, 5, 0, 5, 5]], (0, 7), compressed=False)[0]
    assert r == {"size": [0, 7], "counts": [0]}
