"""COCO RLE: maskprep (1 thread and all threads) against pycocotools, one group per operation.

Run: `.venv/bin/python -m pytest benchmarks/bench_rle.py --benchmark-enable`. In CI each case
runs once as a correctness test (`--benchmark-disable` is the default)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_json
from helpers.rle_data import ann_to_rle
from maskprep import rle

M = pytest.importorskip("pycocotools.mask")
THREADS = {"maskprep-1t": 1, "maskprep-all": -1}
IMPLS = ["pycocotools", *THREADS]
H, W, N = 480, 640, 500


@pytest.fixture(scope="module")
def real_segmentations():
    segs, hs, ws = [], [], []
    for name in (
        "coco_instances_val2014_100img.json",
        "cocomini_instances_val2017.json",
        "cocomini_instances_train2017.json",
    ):
        data = load_json("annotations", name)
        imgs = {im["id"]: im for im in data["images"]}
        for a in data["annotations"]:
            segs.append(a["segmentation"])
            hs.append(imgs[a["image_id"]]["height"])
            ws.append(imgs[a["image_id"]]["width"])
    return segs, hs, ws


@pytest.fixture(scope="module")
def masks(real_segmentations):
    """500 real object masks (COCO polygons) rasterized at 480 x 640, as (H, W, N) Fortran."""
    segs = [s for s in real_segmentations[0] if isinstance(s, list)][:N]
    rles = rle.from_segmentations(segs, (H, W))
    return rle.decode(rles)


@pytest.fixture(scope="module")
def rles(masks):
    return M.encode(masks)


def run(benchmark, group, impl, fn):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    return benchmark(fn)


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_hwn_fortran(benchmark, impl, masks, rles):
    if impl == "pycocotools":
        out = run(benchmark, "rle-encode-hwn-F", impl, lambda: M.encode(masks))
    else:
        out = run(
            benchmark,
            "rle-encode-hwn-F",
            impl,
            lambda: rle.encode(masks, num_threads=THREADS[impl]),
        )
    assert out == rles


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_nhw_c(benchmark, impl, masks, rles):
    nhw = np.ascontiguousarray(masks.transpose(2, 0, 1))
    if impl == "pycocotools":
        # What pycocotools users must do with a torch-style batch: a transposing copy first.
        out = run(
            benchmark,
            "rle-encode-nhw-C",
            impl,
            lambda: M.encode(np.asfortranarray(nhw.transpose(1, 2, 0))),
        )
    else:
        out = run(
            benchmark,
            "rle-encode-nhw-C",
            impl,
            lambda: rle.encode(nhw, layout="nhw", num_threads=THREADS[impl]),
        )
    assert out == rles


@pytest.mark.parametrize("impl", IMPLS)
def test_decode_hwn(benchmark, impl, masks, rles):
    if impl == "pycocotools":
        out = run(benchmark, "rle-decode-hwn", impl, lambda: M.decode(rles))
    else:
        out = run(
            benchmark, "rle-decode-hwn", impl, lambda: rle.decode(rles, num_threads=THREADS[impl])
        )
    assert np.array_equal(out, masks)


@pytest.mark.parametrize("impl", IMPLS)
def test_decode_nhw(benchmark, impl, masks, rles):
    if impl == "pycocotools":
        out = run(
            benchmark,
            "rle-decode-nhw",
            impl,
            lambda: np.ascontiguousarray(M.decode(rles).transpose(2, 0, 1)),
        )
    else:
        out = run(
            benchmark,
            "rle-decode-nhw",
            impl,
            lambda: rle.decode(rles, layout="nhw", num_threads=THREADS[impl]),
        )
    assert np.array_equal(out, masks.transpose(2, 0, 1))


@pytest.mark.parametrize("impl", IMPLS)
def test_from_segmentations(benchmark, impl, real_segmentations):
    segs, hs, ws = real_segmentations
    expected = [ann_to_rle(s, h, w) for s, h, w in zip(segs, hs, ws)]
    if impl == "pycocotools":
        out = run(
            benchmark,
            "rle-from-segmentations",
            impl,
            lambda: [ann_to_rle(s, h, w) for s, h, w in zip(segs, hs, ws)],
        )
    else:
        sizes = np.column_stack([hs, ws])
        out = run(
            benchmark,
            "rle-from-segmentations",
            impl,
            lambda: rle.from_segmentations(segs, sizes, num_threads=THREADS[impl]),
        )
    assert out == expected


@pytest.mark.parametrize("impl", IMPLS)
def test_iou_100x100(benchmark, impl, rles):
    dt, gt = rles[:100], rles[200:300]
    crowd = [i % 7 == 0 for i in range(100)]
    expected = M.iou(dt, gt, crowd)
    if impl == "pycocotools":
        out = run(benchmark, "rle-iou-100x100", impl, lambda: M.iou(dt, gt, crowd))
    else:
        out = run(
            benchmark,
            "rle-iou-100x100",
            impl,
            lambda: rle.iou(dt, gt, crowd, num_threads=THREADS[impl]),
        )
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("impl", IMPLS)
def test_merge_groups_of_5(benchmark, impl, rles):
    groups = [rles[i : i + 5] for i in range(0, N, 5)]
    expected = [M.merge(g) for g in groups]
    if impl == "pycocotools":
        out = run(benchmark, "rle-merge", impl, lambda: [M.merge(g) for g in groups])
    else:
        nt = THREADS[impl]
        out = run(benchmark, "rle-merge", impl, lambda: rle.merge_groups(groups, num_threads=nt))
    assert out == expected


def test_merge_one_call_per_group(benchmark, rles):
    """maskprep's per-call merge (the drop-in path), for comparison with the group above."""
    groups = [rles[i : i + 5] for i in range(0, N, 5)]
    out = run(benchmark, "rle-merge", "maskprep-per-call", lambda: [rle.merge(g) for g in groups])
    assert out == [M.merge(g) for g in groups]


@pytest.mark.parametrize("impl", IMPLS)
def test_area(benchmark, impl, rles):
    batch = rles[:255]  # pycocotools' area raises OverflowError at 256 under NumPy 2
    expected = M.area(batch)
    if impl == "pycocotools":
        out = run(benchmark, "rle-area", impl, lambda: M.area(batch))
    else:
        out = run(benchmark, "rle-area", impl, lambda: rle.area(batch, num_threads=THREADS[impl]))
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("impl", IMPLS)
def test_to_bbox(benchmark, impl, rles):
    expected = M.toBbox(rles)
    if impl == "pycocotools":
        out = run(benchmark, "rle-to-bbox", impl, lambda: M.toBbox(rles))
    else:
        out = run(
            benchmark, "rle-to-bbox", impl, lambda: rle.to_bbox(rles, num_threads=THREADS[impl])
        )
    assert np.array_equal(out, expected)
