"""Connected components, hole filling, small-object removal and mask -> polygons: maskprep
(1 thread and all threads) against OpenCV (at one thread), scikit-image and scipy, one group
per operation.

Run: `.venv/bin/python -m pytest benchmarks/bench_regions.py --benchmark-enable`. In CI each
case runs once as a correctness test (`--benchmark-disable` is the default): every case checks
its result against the anchor."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_json
from maskprep import components, contours, rle

cv2 = pytest.importorskip("cv2")
ndi = pytest.importorskip("scipy.ndimage")
skm = pytest.importorskip("skimage.measure")
skmorph = pytest.importorskip("skimage.morphology")

THREADS = {"maskprep-1t": 1, "maskprep-all": -1}
H, W = 2000, 3000


def object_mask(rng: np.random.Generator) -> np.ndarray:
    """2000 x 3000: 300 overlapping discs combined by XOR (objects with holes and islands) plus
    2% speckle (many one-pixel components): a thresholded-segmentation-like mask."""
    m = np.zeros((H, W), dtype=np.uint8)
    for _ in range(300):
        cy, cx, r = rng.uniform(0, H), rng.uniform(0, W), rng.uniform(5, 80)
        y0, y1 = int(max(cy - r, 0)), int(min(cy + r + 1, H))
        x0, x1 = int(max(cx - r, 0)), int(min(cx + r + 1, W))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        m[y0:y1, x0:x1] ^= ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)
    return m | (rng.random((H, W)) < 0.02).astype(np.uint8)


@pytest.fixture(scope="module", autouse=True)
def opencv_one_thread():
    """OpenCV's labelling runs in parallel by default; the goals compare single-thread kernels."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


@pytest.fixture(scope="module")
def masks():
    rng = np.random.default_rng(2024)
    return {"objects": object_mask(rng), "noise50": (rng.random((H, W)) < 0.5).astype(np.uint8)}


def run(benchmark, group, impl, fn):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    return benchmark(fn)


@pytest.mark.parametrize("kind", ["objects", "noise50"])
@pytest.mark.parametrize("impl", ["opencv", "skimage", *THREADS])
def test_connected_components(benchmark, impl, kind, masks):
    m = masks[kind]
    group = f"cc-stats-8conn-{kind}"
    if impl == "opencv":
        out = run(
            benchmark, group, impl, lambda: cv2.connectedComponentsWithStats(m, connectivity=8)
        )
        assert out[0] - 1 == skm.label(m, connectivity=2).max()
    elif impl == "skimage":  # labels only: regionprops would be far slower still
        out = run(benchmark, group, impl, lambda: skm.label(m, connectivity=2))
        assert np.array_equal(out, components.label(m))
    else:
        t = THREADS[impl]
        out = run(benchmark, group, impl, lambda: components.connected_components(m, num_threads=t))
        n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        assert out.num == n - 1 and out.area.sum() == stats[1:, cv2.CC_STAT_AREA].sum()


def floodfill_holes(m: np.ndarray) -> np.ndarray:
    """The usual OpenCV recipe: flood the background from outside a 1-pixel frame (4-connected),
    then everything not reached is foreground."""
    p = np.zeros((m.shape[0] + 2, m.shape[1] + 2), dtype=np.uint8)
    p[1:-1, 1:-1] = m
    cv2.floodFill(p, None, (0, 0), 2)
    return p[1:-1, 1:-1] != 2


@pytest.mark.parametrize("impl", ["scipy", "opencv-floodfill", *THREADS])
def test_fill_holes(benchmark, impl, masks):
    m = masks["objects"]
    if impl == "scipy":
        out = run(benchmark, "fill-holes", impl, lambda: ndi.binary_fill_holes(m))
    elif impl == "opencv-floodfill":
        out = run(benchmark, "fill-holes", impl, lambda: floodfill_holes(m))
    else:
        t = THREADS[impl]
        out = run(benchmark, "fill-holes", impl, lambda: components.fill_holes(m, num_threads=t))
    assert np.array_equal(out, components.fill_holes(m))


@pytest.mark.parametrize("impl", ["skimage", *THREADS])
def test_remove_small_objects(benchmark, impl, masks):
    m = masks["objects"]
    b = m.astype(bool)
    if impl == "skimage":
        out = run(
            benchmark,
            "remove-small-objects",
            impl,
            lambda: skmorph.remove_small_objects(b, max_size=50),
        )
    else:
        t = THREADS[impl]
        out = run(
            benchmark,
            "remove-small-objects",
            impl,
            lambda: components.remove_small_objects(m, max_size=50, num_threads=t),
        )
    assert np.array_equal(out, skmorph.remove_small_objects(b, max_size=50))


@pytest.fixture(scope="module")
def object_masks():
    """500 real COCO objects (val2014 polygons) rasterized at 480 x 640, (N, H, W)."""
    data = load_json("annotations", "coco_instances_val2014_100img.json")
    segs = [a["segmentation"] for a in data["annotations"] if isinstance(a["segmentation"], list)]
    return rle.decode(rle.from_segmentations(segs[:500], (480, 640)), layout="nhw")


def opencv_polygons(m: np.ndarray, tolerance: float) -> list:
    """The usual recipe: findContours + approxPolyDP, flattened to COCO lists (vertices on pixel
    centres, so rasterizing it back loses about half a pixel all round)."""
    cs, _ = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if tolerance > 0:
        cs = [cv2.approxPolyDP(c, tolerance, True) for c in cs]
    return [c.reshape(-1).astype(float).tolist() for c in cs if len(c) >= 3]


@pytest.mark.parametrize("tolerance", [0.0, 1.0])
@pytest.mark.parametrize("impl", ["opencv", *THREADS])
def test_masks_to_polygons(benchmark, impl, tolerance, object_masks):
    group = f"mask-to-polygons-tol{tolerance:g}"
    if impl == "opencv":
        out = run(
            benchmark, group, impl, lambda: [opencv_polygons(m, tolerance) for m in object_masks]
        )
    else:
        t = THREADS[impl]
        out = run(
            benchmark,
            group,
            impl,
            lambda: contours.masks_to_polygons(object_masks, tolerance=tolerance, num_threads=t),
        )
        if tolerance == 0:
            full = [i for i, p in enumerate(out) if p]  # objects outside the frame give []
            back = rle.decode(
                rle.from_segmentations([out[i] for i in full], (480, 640)), layout="nhw"
            )
            assert np.array_equal(back, object_masks[full])
            assert object_masks.sum() == object_masks[full].sum()
    assert len(out) == len(object_masks)
