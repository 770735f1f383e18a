"""Training-time mask targets: rle.dense_from_segmentations and rle.rasterize_within_boxes.

Anchors:
- dense masks: pycocotools, ``decode(merge(frPyObjects(seg, h, w)))`` per segmentation
  (``decode(frPyObjects(rle))`` for an uncompressed RLE, ``decode(rle)`` for a compressed one);
- RoI targets from polygons: detectron2's ``rasterize_polygons_within_box``; from bitmasks:
  detectron2's ``BitMasks.crop_and_resize`` (torchvision's roi_align, aligned=True, then >= 0.5).
  detectron2 does not install from the package index, so both are re-implemented below
  (``d2_rasterize_polygons_within_box``, ``d2_bitmasks_crop_and_resize``) operation for
  operation from detectron2/structures/masks.py (facebookresearch/detectron2), including its
  numpy dtype behaviour: the box arithmetic happens in the box tensor's dtype (float32 from a
  detectron2 ``Boxes``), the coordinates in float64.

Tolerance: none. Every comparison is bit for bit, on the real COCO data of ../shared/data
(skipped when absent), on the bundled sample (always) and on seeded random polygons.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import maskprep
from conftest import load_json
from helpers.rle_data import random_polygons
from maskprep import cli, rle

M = pytest.importorskip("pycocotools.mask")

ANNOTATION_FILES = [
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
]


def ref_dense(seg, h: int, w: int) -> np.ndarray:
    """pycocotools' mask of one COCO segmentation, (h, w) bool."""
    if isinstance(seg, list):
        r = M.merge(M.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        r = M.frPyObjects(seg, h, w)
    else:
        r = seg
    return M.decode(r).astype(bool)


def images_of(data: dict):
    """(height, width, annotations) per image of a COCO dict, images without annotations too."""
    by_image: dict = {im["id"]: [] for im in data["images"]}
    for a in data["annotations"]:
        by_image[a["image_id"]].append(a)
    for im in data["images"]:
        yield im["height"], im["width"], by_image[im["id"]]


def sample_data() -> dict:
    return json.loads((cli.sample_dir() / "instances.json").read_text())


def random_objects(rng, n: int, h: int, w: int) -> list:
    """n seeded objects of 1-3 random polygons each (partly outside, self-intersecting, tiny)."""
    polys = random_polygons(rng, 3 * n, h, w)
    objs, k = [], 0
    for _ in range(n):
        parts = int(rng.integers(1, 4))
        objs.append(polys[k : k + parts])
        k += parts
    return objs


# ---- dense_from_segmentations -------------------------------------------------------------------


def check_dense(segs, h, w, **kw):
    got = rle.dense_from_segmentations(segs, (h, w), **kw)
    assert got.shape == (len(segs), h, w) and got.dtype == np.bool_
    for i, s in enumerate(segs):
        np.testing.assert_array_equal(got[i], ref_dense(s, h, w), err_msg=f"object {i}")
    return got


@pytest.mark.parametrize("name", ANNOTATION_FILES)
def test_dense_real_data_matches_pycocotools(name):
    data = load_json("annotations", name)
    n = 0
    for h, w, anns in images_of(data):
        check_dense([a["segmentation"] for a in anns], h, w)  # crowd RLEs included
        n += len(anns)
    assert n == len(data["annotations"])


def test_dense_compressed_rles_match_pycocotools(coco_fake_results, coco_val2014):
    sizes = {im["id"]: (im["height"], im["width"]) for im in coco_val2014["images"]}
    by_image: dict = {}
    for r in coco_fake_results:
        by_image.setdefault(r["image_id"], []).append(r["segmentation"])
    for image_id, segs in list(by_image.items())[:30]:
        check_dense(segs, *sizes[image_id])


def test_dense_bundled_sample_matches_pycocotools():
    data = sample_data()
    images = list(images_of(data))
    assert sum(len(a) for _, _, a in images) == 44
    for h, w, anns in images:
        check_dense([a["segmentation"] for a in anns], h, w)


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (64, 48), (480, 640), (33, 301)])
def test_dense_random_polygons_match_pycocotools(rng, shape):
    h, w = shape
    objs = random_objects(rng, 40, h, w)
    check_dense(objs, h, w)


def test_dense_mixed_kinds_and_empty_polygon_list(rng):
    h, w = 40, 50
    objs = random_objects(rng, 4, h, w)
    crowd = M.encode(np.asfortranarray((rng.random((h, w)) < 0.3).astype(np.uint8)))
    uncompressed = {"size": [h, w], "counts": rle.from_string(crowd["counts"]).tolist()}
    as_str = {"size": [h, w], "counts": crowd["counts"].decode()}
    segs = [objs[0], crowd, objs[1], uncompressed, as_str, objs[2], [], objs[3]]
    got = rle.dense_from_segmentations(segs, (h, w))
    for i in (0, 1, 2, 3, 4, 5, 7):
        np.testing.assert_array_equal(got[i], ref_dense(segs[i], h, w))
    # pycocotools raises IndexError on []; we give detectron2's polygons_to_bitmask zeros
    assert not got[6].any()


def test_dense_no_objects_and_zero_size():
    assert rle.dense_from_segmentations([], (10, 20)).shape == (0, 10, 20)
    out = rle.dense_from_segmentations([[[0, 0, 5, 0, 5, 5]]], (0, 7))
    assert out.shape == (1, 0, 7)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8])
def test_dense_writes_into_numpy_out(rng, dtype):
    h, w = 60, 70
    objs = random_objects(rng, 9, h, w)
    out = np.full((9, h, w), 7, dtype=dtype) if dtype == np.uint8 else np.ones((9, h, w), bool)
    assert rle.dense_from_segmentations(objs, (h, w), out=out) is out
    ref = np.stack([ref_dense(o, h, w) for o in objs])
    np.testing.assert_array_equal(out, ref.astype(dtype))  # every element written, 0/1


def test_dense_writes_into_a_row_view_of_a_bigger_buffer(rng):
    h, w = 30, 20
    objs = random_objects(rng, 3, h, w)
    big = np.full((5, h, w), 9, np.uint8)
    rle.dense_from_segmentations(objs, (h, w), out=big[1:4])
    assert (big[0] == 9).all() and (big[4] == 9).all()
    np.testing.assert_array_equal(big[1:4], np.stack([ref_dense(o, h, w) for o in objs]))


@pytest.mark.parametrize("dtype", ["bool", "uint8"])
def test_dense_writes_into_torch_out(rng, dtype):
    torch = pytest.importorskip("torch")
    h, w = 48, 64
    objs = random_objects(rng, 6, h, w)
    out = torch.full((6, h, w), 1, dtype=getattr(torch, dtype))
    assert rle.dense_from_segmentations(objs, (h, w), out=out) is out
    ref = torch.from_numpy(np.stack([ref_dense(o, h, w) for o in objs])).to(out.dtype)
    assert torch.equal(out, ref)


@pytest.mark.needs_cuda
def test_dense_writes_into_pinned_tensor(rng):
    import torch

    h, w = 48, 64
    objs = random_objects(rng, 6, h, w)
    out = torch.empty((6, h, w), dtype=torch.uint8, pin_memory=True)
    assert out.is_pinned()
    rle.dense_from_segmentations(objs, (h, w), out=out)
    ref = torch.from_numpy(np.stack([ref_dense(o, h, w) for o in objs]).astype(np.uint8))
    assert torch.equal(out, ref)
    with pytest.raises(ValueError, match="out must be a CPU tensor"):
        rle.dense_from_segmentations(objs, (h, w), out=out.cuda())


def test_dense_serial_equals_parallel(rng):
    h, w = 200, 300
    objs = random_objects(rng, 64, h, w)
    one = rle.dense_from_segmentations(objs, (h, w), num_threads=1)
    for nt in (2, 3, -1):
        np.testing.assert_array_equal(
            rle.dense_from_segmentations(objs, (h, w), num_threads=nt), one
        )
    with maskprep.threads(2):
        np.testing.assert_array_equal(rle.dense_from_segmentations(objs, (h, w)), one)


def test_dense_accepts_numpy_polygons_and_tuples(rng):
    h, w = 30, 40
    objs = random_objects(rng, 5, h, w)
    as_arrays = [[np.asarray(p) for p in o] for o in objs]
    as_tuples = tuple(tuple(tuple(p) for p in o) for o in objs)
    ref = rle.dense_from_segmentations(objs, (h, w))
    np.testing.assert_array_equal(rle.dense_from_segmentations(as_arrays, (h, w)), ref)
    np.testing.assert_array_equal(rle.dense_from_segmentations(as_tuples, (h, w)), ref)


# errors: each names the argument (and the segmentation) and says what was expected
TRI = [[1.0, 1.0, 8.0, 1.0, 4.0, 6.0]]


@pytest.mark.parametrize(
    "segs, kw, exc, match",
    [
        (np.zeros((2, 4, 4)), {}, TypeError, r"segmentations must be a list"),
        ([TRI, "x"], {}, TypeError, r"segmentations\[1\] must be a polygon list"),
        ([TRI, [[1, 2, 3, 4]]], {}, ValueError, r"segmentations\[1\] polygon 0 .*at least 3"),
        ([TRI, [[0, 0, 1, 0, 1]]], {}, ValueError, r"segmentations\[1\] polygon 0"),
        ([[[0, 0, 5, float("nan"), 1, 1]]], {}, ValueError, r"segmentations\[0\] polygon 0"),
        ([[[0, 0, "a", 1, 1, 1]]], {}, TypeError, r"segmentations\[0\]\[0\]\[2\] must be a number"),
        ([[np.array(["a", "b"])]], {}, TypeError, r"segmentations\[0\]\[0\] must be a numeric"),
        ([[np.zeros((3, 2))]], {}, ValueError, r"segmentations\[0\]\[0\] must be 1-D"),
        (
            [TRI, {"size": [5, 5], "counts": [25]}],
            {},
            ValueError,
            r"segmentations\[1\] is an RLE of size",
        ),
        (
            [TRI, {"size": [10, 10], "counts": [3, 4]}],
            {},
            ValueError,
            r"segmentations\[1\]: counts sum",
        ),
        ([TRI, {"size": [10, 10], "counts": "\x01"}], {}, ValueError, r"segmentations\[1\]"),
        (
            [TRI],
            {"out": np.zeros((1, 10, 10), np.float32)},
            TypeError,
            r"out must be a bool or uint8",
        ),
        (
            [TRI],
            {"out": np.zeros((1, 1, 10, 10), bool)},
            ValueError,
            r"out must have shape \(1, 10, 10\)",
        ),
        ([TRI], {"out": np.zeros((0,), bool)}, ValueError, r"out must have shape \(1, 10, 10\)"),
        (
            [TRI],
            {"out": np.zeros((1, 10, 20), bool)[:, :, ::2]},
            ValueError,
            r"out must be C-contig",
        ),
        ([TRI], {"out": [[0]]}, TypeError, r"out must be a numpy array or a torch tensor"),
        ([TRI], {"num_threads": 0}, ValueError, r"num_threads"),
    ],
)
def test_dense_errors(segs, kw, exc, match):
    with pytest.raises(exc, match=match):
        rle.dense_from_segmentations(segs, (10, 10), **kw)


def test_dense_read_only_out_and_bad_sizes():
    out = np.zeros((1, 10, 10), bool)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writable"):
        rle.dense_from_segmentations([TRI], (10, 10), out=out)
    with pytest.raises(ValueError, match=r"image_size must be \(height, width\), two ints >= 0"):
        rle.dense_from_segmentations([TRI], (-1, 10))
    with pytest.raises(ValueError, match=r"image_size must be .* got \(10, 2.5\)"):
        rle.dense_from_segmentations([TRI], (10, 2.5))
    # the deprecated (height, width) spelling keeps its own checks
    with pytest.deprecated_call(), pytest.raises(ValueError, match="height must be a non-negative"):
        rle.dense_from_segmentations([TRI], -1, 10)
    with (
        pytest.deprecated_call(),
        pytest.raises(TypeError, match="width must be a non-negative int"),
    ):
        rle.dense_from_segmentations([TRI], 10, 10.0)


# ---- rasterize_within_boxes: detectron2's rules, re-implemented ---------------------------------


def d2_polygons_to_bitmask(polygons, height, width):
    # detectron2: empty -> zeros (recent versions; older ones assert), else frPyObjects/merge/decode
    if len(polygons) == 0:
        return np.zeros((height, width)).astype(bool)
    rles = M.frPyObjects(polygons, height, width)
    return M.decode(M.merge(rles)).astype(bool)


def d2_rasterize_polygons_within_box(polygons, box, mask_size):
    """detectron2's rasterize_polygons_within_box; `box` is box_tensor.numpy() (a numpy row)."""
    w, h = box[2] - box[0], box[3] - box[1]
    polygons = copy.deepcopy(polygons)
    for p in polygons:
        p[0::2] = p[0::2] - box[0]
        p[1::2] = p[1::2] - box[1]
    ratio_h = mask_size / max(h, 0.1)
    ratio_w = mask_size / max(w, 0.1)
    if ratio_h == ratio_w:
        for p in polygons:
            p *= ratio_h
    else:
        for p in polygons:
            p[0::2] *= ratio_w
            p[1::2] *= ratio_h
    return d2_polygons_to_bitmask(polygons, mask_size, mask_size)


def d2_polygon_crop_and_resize(objs, boxes, mask_size):
    """detectron2's PolygonMasks(objs).crop_and_resize(boxes, mask_size) (boxes: numpy rows)."""
    polys = [[np.asarray(p).astype("float64") for p in o] for o in objs]
    out = [d2_rasterize_polygons_within_box(p, b, mask_size) for p, b in zip(polys, boxes)]
    return np.stack(out) if out else np.zeros((0, mask_size, mask_size), bool)


def d2_bitmasks_crop_and_resize(masks, boxes, mask_size):
    """detectron2's BitMasks(masks).crop_and_resize(boxes, mask_size): ROIAlign(aligned=True,
    sampling_ratio=0) from torchvision on the float32 masks, then >= 0.5."""
    torch = pytest.importorskip("torch")
    tvops = pytest.importorskip("torchvision.ops")
    boxes = torch.as_tensor(boxes)
    t = torch.as_tensor(masks).to(torch.bool)
    batch_inds = torch.arange(len(boxes)).to(dtype=boxes.dtype)[:, None]
    rois = torch.cat([batch_inds, boxes], dim=1)
    feats = t.to(dtype=torch.float32)[:, None]
    out = tvops.roi_align(feats, rois.to(feats.dtype), (mask_size, mask_size), 1.0, 0, True)
    return (out.squeeze(1) >= 0.5).numpy()


def sampled_boxes(rng, objs, n_per_obj, h, w, dtype):
    """Boxes around each object (its polygon extent, jittered like RPN proposals), plus random,
    tiny (< 0.1 px side), degenerate (x1 < x0) and out-of-image ones."""
    boxes, owners = [], []
    for i, o in enumerate(objs):
        pts = np.concatenate([np.asarray(p, float) for p in o]) if o else np.zeros(4)
        xs, ys = pts[0::2], pts[1::2]
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
        bw, bh = max(x1 - x0, 1), max(y1 - y0, 1)
        for k in range(n_per_obj):
            kind = k % 6
            if kind == 0:
                b = [x0, y0, x1, y1]
            elif kind <= 2:
                j = rng.normal(0, 0.15, 4) * [bw, bh, bw, bh]
                b = [x0 + j[0], y0 + j[1], x1 + j[2], y1 + j[3]]
            elif kind == 3:
                cx, cy = rng.uniform(-10, w + 10), rng.uniform(-10, h + 10)
                b = [cx, cy, cx + rng.uniform(0, w), cy + rng.uniform(0, h)]
            elif kind == 4:
                b = [x0, y0, x0 + rng.uniform(0, 0.12), y0 + rng.uniform(0, 0.12)]
            else:
                b = [x1, y0, x0, y1]  # x1 < x0
            boxes.append(b)
            owners.append(i)
    return [objs[i] for i in owners], np.asarray(boxes).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_size", [28, 14, 7])
def test_within_boxes_random_polygons_match_detectron2(rng, dtype, mask_size):
    h, w = 120, 160
    objs, boxes = sampled_boxes(rng, random_objects(rng, 30, h, w), 12, h, w, dtype)
    got = rle.rasterize_within_boxes(objs, boxes, mask_size)
    assert got.shape == (len(objs), mask_size, mask_size) and got.dtype == np.bool_
    np.testing.assert_array_equal(got, d2_polygon_crop_and_resize(objs, boxes, mask_size))


@pytest.mark.parametrize("name", ANNOTATION_FILES[1:])
def test_within_boxes_real_polygons_match_detectron2(rng, name):
    data = load_json("annotations", name)
    objs = [a["segmentation"] for a in data["annotations"] if not a["iscrowd"]]
    objs, boxes = sampled_boxes(rng, objs, 6, 640, 640, np.float32)
    got = rle.rasterize_within_boxes(objs, boxes, 28)
    np.testing.assert_array_equal(got, d2_polygon_crop_and_resize(objs, boxes, 28))


def test_within_boxes_bundled_sample_matches_detectron2(rng):
    objs = [a["segmentation"] for a in sample_data()["annotations"] if not a["iscrowd"]]
    objs, boxes = sampled_boxes(rng, objs, 12, 640, 640, np.float32)
    got = rle.rasterize_within_boxes(objs, boxes, 28)
    np.testing.assert_array_equal(got, d2_polygon_crop_and_resize(objs, boxes, 28))


def test_within_boxes_float32_boxes_use_detectron2s_float32_ratio():
    """A box of side w = 176.84210205078125 (float32): 28 / w in float32 and in float64 round
    the vertex 12 px from the corner (5 * 12 * ratio + .5) to different 1/5-pixel grid points.
    detectron2 computes the ratio in the boxes' dtype; so must we (the float64 rule differs)."""
    w, x0, y0 = 176.84210205078125, 3.0, 5.0
    objs = [[[x0 + 12, y0 + 0, x0 + 63, y0 + 170, x0 + 63, y0 + 2]]]
    boxes = np.array([[x0, y0, x0 + w, y0 + w]], np.float32)
    ref = d2_polygon_crop_and_resize(objs, boxes, 28)
    np.testing.assert_array_equal(rle.rasterize_within_boxes(objs, boxes, 28), ref)
    as_double = rle.rasterize_within_boxes(objs, boxes.astype(np.float64), 28)
    assert (as_double != ref).any()  # the case really tells the two rules apart
    np.testing.assert_array_equal(
        as_double, d2_polygon_crop_and_resize(objs, boxes.astype(np.float64), 28)
    )


def test_within_boxes_torch_boxes_give_a_tensor_equal_to_detectron2(rng):
    torch = pytest.importorskip("torch")
    objs, boxes = sampled_boxes(rng, random_objects(rng, 10, 50, 60), 6, 50, 60, np.float32)
    t = torch.from_numpy(boxes)
    got = rle.rasterize_within_boxes(objs, t, 28)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.bool
    ref = [d2_rasterize_polygons_within_box([np.asarray(p, "float64") for p in o], b.numpy(), 28)
           for o, b in zip(objs, t)]  # fmt: skip
    assert torch.equal(got, torch.from_numpy(np.stack(ref)))


def test_within_boxes_empty_polygon_list_and_no_objects():
    got = rle.rasterize_within_boxes([[], TRI], np.array([[0, 0, 5, 5], [0, 0, 9, 9]], "f4"), 8)
    assert not got[0].any() and got[1].any()
    assert rle.rasterize_within_boxes([], [], 28).shape == (0, 28, 28)
    assert rle.rasterize_within_boxes([], np.zeros((0, 4), "f4"), 28).shape == (0, 28, 28)


def test_within_boxes_serial_equals_parallel(rng):
    objs, boxes = sampled_boxes(rng, random_objects(rng, 40, 100, 100), 16, 100, 100, np.float32)
    one = rle.rasterize_within_boxes(objs, boxes, 28, num_threads=1)
    for nt in (2, -1):
        np.testing.assert_array_equal(
            rle.rasterize_within_boxes(objs, boxes, 28, num_threads=nt), one
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_within_boxes_bitmasks_match_detectron2(rng, dtype):
    pytest.importorskip("torchvision")
    h, w = 90, 110
    objs, boxes = sampled_boxes(rng, random_objects(rng, 12, h, w), 6, h, w, dtype)
    keep = boxes[:, 2] >= boxes[:, 0]  # adaptive sampling: torchvision raises on x1 < x0
    objs = [o for o, k in zip(objs, keep) if k]
    boxes = boxes[keep]
    masks = rle.dense_from_segmentations(objs, (h, w))
    got = rle.rasterize_within_boxes(masks, boxes, 28)
    np.testing.assert_array_equal(got, d2_bitmasks_crop_and_resize(masks, boxes, 28))
    np.testing.assert_array_equal(rle.rasterize_within_boxes(masks.view(np.uint8), boxes, 28), got)
    # RLE dicts in a list take the bitmask path too
    rles = rle.encode(masks, layout="nhw")
    np.testing.assert_array_equal(rle.rasterize_within_boxes(rles, boxes, 28), got)


def test_within_boxes_real_crowd_rles_take_the_bitmask_path(rng, coco_val2014):
    pytest.importorskip("torchvision")
    sizes = {im["id"]: (im["height"], im["width"]) for im in coco_val2014["images"]}
    for a in [a for a in coco_val2014["annotations"] if a["iscrowd"]][:4]:
        h, w = sizes[a["image_id"]]
        x, y, bw, bh = a["bbox"]
        boxes = np.array([[x, y, x + bw, y + bh], [x + 3, y - 2, x + bw / 2, y + bh]], "f4")
        got = rle.rasterize_within_boxes([a["segmentation"]] * 2, boxes, 28)
        dense = np.stack([ref_dense(a["segmentation"], h, w)] * 2)
        np.testing.assert_array_equal(got, d2_bitmasks_crop_and_resize(dense, boxes, 28))


B1 = np.array([[0, 0, 5, 5]], np.float32)


@pytest.mark.parametrize(
    "segs, boxes, m, exc, match",
    [
        (
            [TRI],
            np.array([[0, 0, 5, 5]], np.int64),
            28,
            TypeError,
            r"boxes must be float32 or float64",
        ),
        ([TRI], np.zeros((1, 4), np.float16), 28, TypeError, r"boxes must be float32 or float64"),
        ([TRI], np.zeros((1, 5), np.float32), 28, ValueError, r"boxes must have shape \(1, 4\)"),
        ([TRI], np.zeros((1, 1, 4), np.float32), 28, ValueError, r"boxes must have shape \(1, 4\)"),
        ([TRI], np.zeros((0,), np.float32), 28, ValueError, r"boxes must have shape \(1, 4\)"),
        ([TRI, TRI], B1, 28, ValueError, r"boxes must have shape \(2, 4\)"),
        (
            [TRI],
            np.array([[0, 0, np.inf, 5]], np.float32),
            28,
            ValueError,
            r"boxes\[0\] must be finite",
        ),
        ([TRI], [["a", 0, 1, 1]], 28, TypeError, r"boxes must be an \(N, 4\) array of numbers"),
        ([TRI], B1, 0, ValueError, r"mask_size must be a positive int"),
        ([TRI], B1, 2.0, TypeError, r"mask_size must be a positive int"),
        ([TRI], B1, 1 << 16, ValueError, r"mask_size must be in \[1, 32768\]"),
        ([[[0, 0, 1, 1]]], B1, 28, ValueError, r"segmentations\[0\] polygon 0 .*at least 3"),
        (
            [[[0, 0, 1e8, 0, 0, 1]]],
            np.array([[0, 0, 0.01, 5]], "f4"),
            28,
            ValueError,
            r"segmentations\[0\]: a vertex maps to",
        ),
        (
            np.zeros((1, 8, 8), np.float32),
            B1,
            28,
            TypeError,
            r"segmentations must be .* bool or uint8",
        ),
        (np.zeros((1, 1, 8, 8), bool), B1, 28, ValueError, r"segmentations masks must have shape"),
        (np.zeros((2, 8, 8), bool), B1, 28, ValueError, r"boxes must have shape \(2, 4\)"),
        (
            np.zeros((1, 8, 8), bool),
            np.array([[0, 0, np.nan, 1]], "f4"),
            28,
            ValueError,
            r"boxes must be finite",
        ),
        ([{"counts": [9]}], B1, 28, ValueError, r"segmentations\[0\]\['size'\] must be"),
        (
            [TRI, {"size": [3, 3], "counts": [9]}, {"size": [4, 4], "counts": [16]}],
            np.zeros((3, 4), "f4"),
            28,
            ValueError,
            r"segmentations\[2\] is an RLE of size",
        ),
    ],
)
def test_within_boxes_errors(segs, boxes, m, exc, match):
    with pytest.raises(exc, match=match):
        rle.rasterize_within_boxes(segs, boxes, m)
