"""Training-time mask targets: maskprep against torchvision's loaders and detectron2's rule.

train-targets-v2: per image, the per-sample function of torchvision's
``wrap_dataset_for_transforms_v2`` for ``CocoDetection`` (target_keys: boxes, masks, labels,
image_id) against maskprep.datasets' drop-in, on the 79 real photos of ../shared/data
(images decoded beforehand: this group times target building only). train-targets-references:
the same for the detection references' ``ConvertCocoPolysToMask`` (re-implemented in
tests/test_datasets.py). train-roi-targets: detectron2's ``PolygonMasks.crop_and_resize`` rule
(``rasterize_polygons_within_box``, re-implemented in tests/test_targets.py) for 512 sampled
float32 boxes of 28 x 28 per image, against ``rle.rasterize_within_boxes``; 8 images.
train-dataloader: a ``torch.utils.data.DataLoader`` (2 workers, batch 2, JPEG decode with PIL
included) over the 79 photos with torchvision's wrapper against maskprep's; one maskprep thread
per worker. Every case checks its output against the anchor's. The medians are per image
for the first two groups (extra_info["per"]), per call otherwise. The target groups keep one
image's targets alive at a time, as a loader does (their memory is then reused).

Run: ``.venv/bin/python -m pytest benchmarks/bench_train.py --benchmark-enable``.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import maskprep
from conftest import shared_file
from maskprep import datasets, rle

torch = pytest.importorskip("torch")
tvd = pytest.importorskip("torchvision.datasets")
pytest.importorskip("pycocotools")

from test_datasets import RefConvertCocoPolysToMask, assert_same  # noqa: E402
from test_targets import d2_polygon_crop_and_resize, sampled_boxes  # noqa: E402

KEYS = {"image_id", "boxes", "masks", "labels"}
THREADS = {"maskprep-1t": 1, "maskprep-all": -1}


def coco():
    ann = shared_file("annotations", "cocomini_instances_val2017.json")
    root = shared_file("images", "coco_val2017")
    with contextlib.redirect_stdout(io.StringIO()):
        return tvd.CocoDetection(str(root), str(ann))


@pytest.fixture(scope="module")
def photos():
    ds = coco()
    return ds, [ds[i] for i in range(len(ds))]


def per_image(benchmark, group, impl, fn, n):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["per"] = f"all {n} images (divide by {n} for one image)"
    return benchmark(fn)


@pytest.mark.parametrize("impl", ["torchvision", *THREADS])
def test_targets_v2_wrapper(benchmark, photos, impl, one_torch_thread):
    ds, samples = photos
    tv = tvd.wrap_dataset_for_transforms_v2(ds, target_keys=KEYS)._wrapper
    ours = datasets.wrap_dataset_for_transforms_v2(coco(), target_keys=KEYS)._wrapper
    fn = tv if impl == "torchvision" else ours

    def run():  # one image's targets alive at a time, as in a loader
        for i, s in enumerate(samples):
            out = fn(i, s)
        return out

    with maskprep.threads(THREADS.get(impl, 1)):
        per_image(benchmark, "train-targets-v2", impl, run, len(samples))
        for i in (0, 17, 78):
            assert_same(fn(i, samples[i]), tv(i, samples[i]))


@pytest.mark.parametrize("impl", ["torchvision-references", *THREADS])
def test_targets_references(benchmark, photos, impl, one_torch_thread):
    ds, samples = photos
    targets = [{"image_id": ds.ids[i], "annotations": a} for i, (_, a) in enumerate(samples)]
    ref = RefConvertCocoPolysToMask()
    fn = ref if impl == "torchvision-references" else datasets.ConvertCocoPolysToMask()

    def run():
        for (image, _), t in zip(samples, targets):
            out = fn(image, t)
        return out

    with maskprep.threads(THREADS.get(impl, 1)):
        per_image(benchmark, "train-targets-references", impl, run, len(samples))
        for i in (0, 40):
            assert_same(fn(samples[i][0], targets[i])[1], ref(samples[i][0], targets[i])[1])


@pytest.fixture(scope="module")
def roi_inputs():
    """512 boxes per image around its non-crowd objects (jittered, random, tiny, degenerate),
    float32 as detectron2's proposals, for the 8 first photos with objects."""
    ds = coco()
    rng = np.random.default_rng(0)
    out = []
    for i in range(len(ds)):
        anns = ds.coco.loadAnns(ds.coco.getAnnIds(imgIds=ds.ids[i], iscrowd=False))
        objs = [a["segmentation"] for a in anns]
        if not objs:
            continue
        info = ds.coco.imgs[ds.ids[i]]
        per_obj = -(-512 // len(objs))
        o, b = sampled_boxes(rng, objs, per_obj, info["height"], info["width"], np.float32)
        d2_polys = [[np.asarray(p, "float64") for p in x] for x in o[:512]]
        out.append((d2_polys, b[:512]))
        if len(out) == 8:
            break
    return out


@pytest.mark.parametrize("impl", ["detectron2-rule", *THREADS])
def test_roi_targets(benchmark, roi_inputs, impl):
    if impl == "detectron2-rule":

        def run():
            return [d2_polygon_crop_and_resize(p, b, 28) for p, b in roi_inputs]
    else:

        def run():
            return [rle.rasterize_within_boxes(p, b, 28) for p, b in roi_inputs]

    with maskprep.threads(THREADS.get(impl, 1)):
        got = per_image(benchmark, "train-roi-targets", impl, run, len(roi_inputs))
    for (p, b), g in zip(roi_inputs[:2], got[:2]):
        np.testing.assert_array_equal(np.asarray(g), d2_polygon_crop_and_resize(p, b, 28))


def _one_thread(_worker_id):
    maskprep.set_num_threads(1)
    torch.set_num_threads(1)


def _batch(b):
    return b


@pytest.mark.parametrize("impl", ["torchvision", "maskprep"])
def test_dataloader(benchmark, impl):
    wrap = (
        tvd.wrap_dataset_for_transforms_v2
        if impl == "torchvision"
        else datasets.wrap_dataset_for_transforms_v2
    )
    ds = wrap(coco(), target_keys=KEYS)

    def run():
        loader = torch.utils.data.DataLoader(
            ds, batch_size=2, num_workers=2, collate_fn=_batch, worker_init_fn=_one_thread
        )
        return [s for batch in loader for s in batch]

    benchmark.group = "train-dataloader"
    benchmark.extra_info["impl"] = impl
    benchmark.extra_info["images"] = len(ds)
    got = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(got) == 79
    ref = tvd.wrap_dataset_for_transforms_v2(coco(), target_keys=KEYS)
    for i in (0, 78):
        assert_same(got[i][1], ref[i][1])
