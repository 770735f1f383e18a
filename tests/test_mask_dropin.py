"""maskprep.mask as a drop-in for pycocotools.mask: same results and types on valid input,
the right answer where pycocotools crashes, and COCOeval reproducing the official output."""

from __future__ import annotations

import copy
import io
import re
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest

import maskprep
from conftest import shared_file
from helpers.rle_data import blob_masks, random_polygons
from maskprep import mask as ours

M = pytest.importorskip("pycocotools.mask")


@pytest.fixture
def restore_pycocotools():
    """Undo install_as_pycocotools() after the test."""
    saved = {k: v for k, v in sys.modules.items() if k.startswith("pycocotools")}
    attrs = {k: getattr(v, "maskUtils", None) for k, v in saved.items()}
    package_mask = getattr(saved.get("pycocotools"), "mask", None)
    package_core = getattr(saved.get("pycocotools"), "_mask", None)
    yield
    for k in [k for k in sys.modules if k.startswith("pycocotools")]:
        del sys.modules[k]
    sys.modules.update(saved)
    for k, v in saved.items():
        if attrs[k] is not None:
            v.maskUtils = attrs[k]
    if "pycocotools" in saved and package_mask is not None:
        saved["pycocotools"].mask = package_mask
    if "pycocotools" in saved and package_core is not None:
        saved["pycocotools"]._mask = package_core


def test_encode_decode_types_match(rng):
    masks = np.asfortranarray(blob_masks(rng, 3, 20, 30))
    a, b = ours.encode(masks), M.encode(masks)
    assert a == b and type(a) is type(b) and type(a[0]["counts"]) is bytes
    assert [type(v) for v in a[0]["size"]] == [type(v) for v in b[0]["size"]]
    single_a, single_b = (
        ours.encode(masks[:, :, 0]),
        M.encode(np.asfortranarray(masks[:, :, :1]))[0],
    )
    assert single_a == single_b
    da, db = ours.decode(a), M.decode(b)
    assert da.dtype == db.dtype and da.shape == db.shape and da.flags.f_contiguous
    assert np.array_equal(da, db)
    assert np.array_equal(ours.decode(a[1]), M.decode(b[1]))


def test_encode_accepts_c_order_which_pycocotools_rejects(rng):
    masks = np.ascontiguousarray(blob_masks(rng, 2, 10, 12))
    with pytest.raises(ValueError):
        M.encode(masks)
    assert ours.encode(masks) == M.encode(np.asfortranarray(masks))


def test_area_tobbox_merge_iou_types_match(rng):
    rles = M.encode(np.asfortranarray(blob_masks(rng, 6, 25, 35)))
    a = ours.area(rles)
    assert a.dtype == np.uint32 and np.array_equal(a, M.area(rles))
    assert isinstance(ours.area(rles[0]), np.uint32) and ours.area(rles[0]) == M.area(rles[0])
    bb = ours.toBbox(rles)
    assert bb.dtype == np.float64 and bb.shape == (6, 4) and np.array_equal(bb, M.toBbox(rles))
    assert np.array_equal(ours.toBbox(rles[2]), M.toBbox(rles[2]))
    assert ours.merge(rles) == M.merge(rles)
    assert ours.merge(rles, 1) == M.merge(rles, 1)
    crowd = [0, 1, 0]
    i = ours.iou(rles, rles[:3], crowd)
    assert i.shape == (6, 3) and np.array_equal(i, M.iou(rles, rles[:3], crowd))
    boxes = rng.uniform(0, 30, (5, 4))
    assert np.array_equal(ours.iou(boxes, boxes[:2], [0, 1]), M.iou(boxes, boxes[:2], [0, 1]))
    assert np.array_equal(
        ours.iou(boxes.tolist(), boxes[:2].tolist(), [1, 0]), M.iou(boxes, boxes[:2], [1, 0])
    )
    assert ours.iou([], rles, [0] * 6) == M.iou([], rles, [0] * 6) == []


def test_frpyobjects_dispatch_matches(rng):
    h, w = 40, 50
    polys = random_polygons(rng, 20, h, w)
    polys = [p for p in polys if len(p) > 4]
    assert ours.frPyObjects(polys, h, w) == M.frPyObjects(polys, h, w)
    # A single flat polygon: pycocotools calls len() on its first number and raises.
    assert ours.frPyObjects(polys[0], h, w) == M.frPyObjects([polys[0]], h, w)[0]
    boxes = rng.uniform(0, 30, (4, 4))
    assert ours.frPyObjects(boxes, h, w) == M.frPyObjects(boxes, h, w)
    unc = {"size": [h, w], "counts": [5, 10, h * w - 15]}
    assert ours.frPyObjects(unc, h, w) == M.frPyObjects(unc, h, w)
    assert ours.frPyObjects([unc, unc], h, w) == M.frPyObjects([unc, unc], h, w)


def test_frpyobjects_uncompressed_passes_a_bool_for_str_counts(monkeypatch):
    """frPyObjects of uncompressed RLEs asked the kernel for str_counts=None (mypy's one real
    finding): it must be the bool False (bytes counts, as pycocotools gives)."""
    from maskprep import _core

    seen = []
    real = _core.rle_from_segmentations

    def spy(segmentations, heights, widths, str_counts, num_threads=None):
        seen.append(str_counts)
        return real(segmentations, heights, widths, str_counts, num_threads=num_threads)

    monkeypatch.setattr(_core, "rle_from_segmentations", spy)
    unc = {"size": [3, 2], "counts": [1, 2, 3]}
    out = ours.frPyObjects([unc], 3, 2)
    assert seen == [False] and type(seen[0]) is bool
    assert isinstance(out[0]["counts"], bytes)


def test_frpyobjects_where_pycocotools_crashes():
    h, w = 20, 20
    # A list of box lists: documented by pycocotools, but it raises TypeError.
    with pytest.raises(TypeError):
        M.frPyObjects([[2, 3, 4, 5]], h, w)
    # We read a list of lists as polygons (a 2-point polygon has no area), and a flat
    # [x, y, w, h] as a box.
    assert ours.area(ours.frPyObjects([[2, 3, 4, 5]], h, w)[0]) == 0
    box = ours.frPyObjects([2, 3, 4, 5], h, w)
    assert box == M.frPyObjects(np.array([[2, 3, 4, 5]], np.float64), h, w)[0]


def test_area_of_256_or_more(rng):
    rles = M.encode(np.asfortranarray(blob_masks(rng, 300, 6, 6)))
    with pytest.raises(OverflowError):
        M.area(rles)
    expected = np.concatenate([M.area(rles[:150]), M.area(rles[150:])])
    assert np.array_equal(ours.area(rles), expected)


def test_install_as_pycocotools_routes_coco_and_cocoeval(restore_pycocotools):
    maskprep.install_as_pycocotools()
    import pycocotools.coco
    import pycocotools.cocoeval
    import pycocotools.mask

    assert pycocotools.mask is ours
    assert pycocotools.coco.maskUtils is ours
    assert pycocotools.cocoeval.maskUtils is ours


def _summarize(gt_path, dt_results):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(dt_results)
        ev = COCOeval(gt, dt, "segm")
        ev.evaluate()
        ev.accumulate()
    out = io.StringIO()
    with redirect_stdout(out):
        ev.summarize()
    return ev.stats, out.getvalue()


def test_cocoeval_segm_reproduces_the_official_output(restore_pycocotools, coco_fake_results):
    gt_path = shared_file("annotations", "coco_instances_val2014_100img.json")
    golden = shared_file("annotations", "coco_val2014_fake_eval_res.txt").read_text()
    segm_block = golden.split("type=segm")[1].split("type=bbox")[0]

    # Whitespace is normalised: newer pycocotools pads "Precision" differently.
    def lines(text):
        return [re.sub(r"\s+", " ", x) for x in re.findall(r"^ Average .*$", text, re.M)]

    expected_lines = lines(segm_block)
    assert len(expected_lines) == 12

    ref_stats, _ = _summarize(gt_path, copy.deepcopy(coco_fake_results))

    calls = {"iou": 0}
    real_iou = ours.iou

    def counting_iou(*args):
        calls["iou"] += 1
        return real_iou(*args)

    maskprep.install_as_pycocotools()
    ours.iou = counting_iou
    try:
        stats, printed = _summarize(gt_path, copy.deepcopy(coco_fake_results))
    finally:
        ours.iou = real_iou
    assert calls["iou"] > 0  # COCOeval really went through maskprep
    assert lines(printed) == expected_lines
    assert np.array_equal(stats, ref_stats)  # bitwise, not just to 3 decimals


def test_iou_is_fortran_ordered_like_pycocotools(rng):
    rles = M.encode(np.asfortranarray(blob_masks(rng, 5, 20, 30)))
    for dt, gt in ((rles, rles[:3]), (rng.uniform(0, 30, (5, 4)), rng.uniform(0, 30, (3, 4)))):
        theirs, got = M.iou(dt, gt, [0, 1, 0]), ours.iou(dt, gt, [0, 1, 0])
        assert theirs.flags.f_contiguous and got.flags.f_contiguous
        assert got.dtype == theirs.dtype and np.array_equal(got, theirs)


def test_private_mask_module_matches_pycocotools_mask(rng):
    """``maskprep.mask._mask`` keeps pycocotools._mask's list-in, list-out contract."""
    C = pytest.importorskip("pycocotools._mask")
    masks = np.asfortranarray(blob_masks(rng, 4, 20, 30))
    rles = C.encode(masks)
    assert ours._mask.encode(masks) == rles
    assert np.array_equal(ours._mask.decode(rles), C.decode(rles))
    assert ours._mask.decode(rles).flags.f_contiguous
    assert np.array_equal(ours._mask.area(rles), C.area(rles))
    assert np.array_equal(ours._mask.toBbox(rles), C.toBbox(rles))
    assert ours._mask.merge(rles) == C.merge(rles)
    assert ours._mask.merge(rles, 1) == C.merge(rles, 1)
    assert np.array_equal(ours._mask.iou(rles, rles, [0] * 4), C.iou(rles, rles, [0] * 4))
    boxes = rng.uniform(0, 15, (3, 4))
    assert ours._mask.frBbox(boxes, 20, 30) == C.frBbox(boxes, 20, 30)
    polys = [p for p in random_polygons(rng, 3, 20, 30)]
    assert ours._mask.frPoly(polys, 20, 30) == C.frPoly(polys, 20, 30)
    uc = [{"size": [20, 30], "counts": [0, 300, 300]}]
    assert ours._mask.frUncompressedRLE(uc, 20, 30) == C.frUncompressedRLE(uc, 20, 30)
    assert ours._mask.frPyObjects(boxes, 20, 30) == C.frPyObjects(boxes, 20, 30)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda: ours._mask.encode(np.zeros((4, 4), np.uint8)),
            ValueError,
            r"^bimask must be an \(h, w, n\) array, got shape \(4, 4\)",
        ),
        (
            lambda: ours._mask.decode({"size": [1, 1], "counts": b"1"}),
            TypeError,
            r"^rleObjs must be a list of RLE dicts, got dict",
        ),
        (
            lambda: ours._mask.area({"size": [1, 1], "counts": b"1"}),
            TypeError,
            r"^rleObjs must be a list",
        ),
        (
            lambda: ours._mask.toBbox("x"),
            TypeError,
            r"^rleObjs must be a list of RLE dicts, got str",
        ),
        (
            lambda: ours._mask.merge(None),
            TypeError,
            r"^rleObjs must be a list of RLE dicts, got NoneType",
        ),
        (lambda: ours._mask.frPoly(np.zeros(6), 4, 4), TypeError, r"^poly must be a list"),
        (lambda: ours._mask.frUncompressedRLE({}, 4, 4), TypeError, r"^ucRles must be a list"),
    ],
)
def test_private_mask_module_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_install_as_pycocotools_routes_the_private_module(restore_pycocotools):
    maskprep.install_as_pycocotools()
    import pycocotools
    import pycocotools._mask

    assert pycocotools._mask is ours._mask and sys.modules["pycocotools._mask"] is ours._mask
