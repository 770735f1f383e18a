"""Mask pasting and Mask R-CNN end to end: maskprep against torchvision (and pycocotools).

paste-dense: 100 masks of 28 x 28 pasted into 800 x 1216 at detection-like boxes (sides 20-400
px, some crossing the border): torchvision's paste_masks_in_image (float [N, 1, H, W]) against
maskprep's bool (N, H, W) on 1 and all threads. paste-rle: what a COCO results writer does,
torchvision's paste + ``>= 0.5`` + pycocotools.mask.encode, against maskprep's fused paste-to-RLE.
max-pool-stem: the 3 x 3 stride-2 max pooling after ResNet-50's stem on the (1, 64, 400, 608)
map of an 800 x 1216 image, torch's F.max_pool2d against maskprep.ops.max_pool2d (the same bits).
maskrcnn-e2e-cpu: one 800 x 1216 image through torchvision's Mask R-CNN (random weights, score
threshold 0 so that 100 detections are pasted) against maskprep.models.MaskRCNN with the same
weights, which returns RLE; maskrcnn-v2-e2e-cpu: the same with maskrcnn_resnet50_fpn_v2. Every
case checks its result against the anchor. Run with ``--benchmark-enable`` to time; CI runs each
case once as a test.
"""

from __future__ import annotations

import numpy as np
import pytest

from maskprep import ops, rle

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
mask_api = pytest.importorskip("pycocotools.mask")

from torchvision.models.detection.roi_heads import paste_masks_in_image  # noqa: E402

H, W = 800, 1216
N, M = 100, 28


@pytest.fixture(scope="module")
def detections():
    rng = np.random.default_rng(0)
    side = np.exp(rng.uniform(np.log(20), np.log(400), N))
    aspect = np.exp(rng.uniform(-0.7, 0.7, N))
    w, h = side * aspect, side / aspect
    x1 = rng.uniform(-w / 4, W - w * 3 / 4)
    y1 = rng.uniform(-h / 4, H - h * 3 / 4)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], 1).astype(np.float32)
    # Mask-head-like probabilities: a smooth blob, sharp enough to have an inside and outside.
    yy, xx = np.mgrid[0:M, 0:M] / (M - 1) - 0.5
    blob = 1 / (1 + np.exp((np.hypot(yy, xx) - 0.3) * 20))
    masks = (blob[None] * rng.uniform(0.8, 1.0, (N, 1, 1))).astype(np.float32)
    return masks, boxes


def torchvision_paste(masks, boxes):
    return paste_masks_in_image(torch.from_numpy(masks[:, None]), torch.from_numpy(boxes), (H, W))


def torchvision_rle(masks, boxes):
    dense = (torchvision_paste(masks, boxes)[:, 0] >= 0.5).numpy()
    return mask_api.encode(np.asfortranarray(dense.transpose(1, 2, 0).astype(np.uint8)))


IMPLS = ["torchvision", "maskprep-1t", "maskprep-all"]


@pytest.mark.parametrize("impl", IMPLS)
def test_paste_dense(benchmark, detections, one_torch_thread, impl):
    benchmark.group = "paste-dense"
    masks, boxes = detections
    if impl == "torchvision":
        out = benchmark(torchvision_paste, masks, boxes)
        np.testing.assert_array_equal(
            out[:, 0].numpy() >= 0.5, ops.paste_masks(masks, boxes, (H, W))
        )
        return
    nt = 1 if impl == "maskprep-1t" else -1
    out = benchmark(ops.paste_masks, masks, boxes, (H, W), num_threads=nt)
    np.testing.assert_array_equal(out, torchvision_paste(masks, boxes)[:, 0].numpy() >= 0.5)


@pytest.mark.parametrize("impl", IMPLS)
def test_paste_rle(benchmark, detections, one_torch_thread, impl):
    benchmark.group = "paste-rle"
    masks, boxes = detections
    if impl == "torchvision":
        out = benchmark(torchvision_rle, masks, boxes)
        ours = ops.paste_masks(masks, boxes, (H, W), output="rle")
    else:
        nt = 1 if impl == "maskprep-1t" else -1
        out = benchmark(ops.paste_masks, masks, boxes, (H, W), output="rle", num_threads=nt)
        ours = torchvision_rle(masks, boxes)
    assert [r["counts"] for r in out] == [r["counts"] for r in ours]


@pytest.fixture(scope="module")
def stem_map():
    g = torch.Generator().manual_seed(2)
    return torch.randn(1, 64, H // 2, W // 2, generator=g).relu()


@pytest.mark.parametrize("impl", IMPLS)
def test_max_pool_stem(benchmark, stem_map, one_torch_thread, impl):
    benchmark.group = "max-pool-stem"
    expected = torch.nn.functional.max_pool2d(stem_map, 3, 2, 1)
    if impl == "torchvision":  # torch's op, the one torchvision's ResNet calls
        out = benchmark(torch.nn.functional.max_pool2d, stem_map, 3, 2, 1)
    else:
        nt = 1 if impl == "maskprep-1t" else -1
        out = benchmark(ops.max_pool2d, stem_map, 3, 2, 1, num_threads=nt)
    assert torch.equal(out.view(torch.int32), expected.view(torch.int32))


# ---- Mask R-CNN end to end ---------------------------------------------------------------------

E2E = dict(box_score_thresh=0.0)  # random weights score ~1/91: keep all 100 detections


@pytest.fixture(scope="module")
def e2e_image():
    return np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)


def e2e_models(device, arch="v1"):
    from maskprep.models import MaskRCNN

    ours = MaskRCNN(arch, seed=0, device=device, **E2E)
    d = torchvision.models.detection
    builder = d.maskrcnn_resnet50_fpn if arch == "v1" else d.maskrcnn_resnet50_fpn_v2
    tv = builder(weights=None, weights_backbone=None, **E2E)
    tv.load_state_dict(ours.model.state_dict())
    return ours, tv.eval().to(device)


def run_torchvision(tv, tensor):
    with torch.inference_mode():
        out = tv([tensor])[0]
    if out["masks"].is_cuda:
        torch.cuda.synchronize()
    return out


def e2e(benchmark, device, impl, image, arch="v1"):
    ours, tv = e2e_models(device, arch)
    tensor = (torch.from_numpy(image).permute(2, 0, 1).float() / 255).to(device)
    run_torchvision(tv, tensor)  # warm-up: oneDNN / cuDNN initialisation
    rounds = 1 if benchmark.disabled else 5
    if impl == "torchvision":
        ref = benchmark.pedantic(run_torchvision, (tv, tensor), rounds=rounds, iterations=1)
        got = ours.predict([image])[0]
    else:
        got = benchmark.pedantic(ours.predict, ([image],), rounds=rounds, iterations=1)[0]
        ref = run_torchvision(tv, tensor)
    assert len(got["masks"]) == len(ref["boxes"]) > 0
    if device == "cpu":
        np.testing.assert_array_equal(got["boxes"], ref["boxes"].numpy())
        dense = rle.decode(got["masks"], layout="nhw").astype(bool)
        np.testing.assert_array_equal(dense, (ref["masks"][:, 0] >= 0.5).numpy())


@pytest.mark.parametrize("impl", ["torchvision", "maskprep"])
def test_maskrcnn_e2e_cpu(benchmark, e2e_image, impl):
    benchmark.group = "maskrcnn-e2e-cpu"
    e2e(benchmark, "cpu", impl, e2e_image)


@pytest.mark.parametrize("impl", ["torchvision", "maskprep"])
def test_maskrcnn_v2_e2e_cpu(benchmark, e2e_image, impl):
    benchmark.group = "maskrcnn-v2-e2e-cpu"
    e2e(benchmark, "cpu", impl, e2e_image, "v2")


@pytest.mark.needs_cuda
@pytest.mark.parametrize("impl", ["torchvision", "maskprep"])
def test_maskrcnn_e2e_cuda(benchmark, e2e_image, impl):
    benchmark.group = "maskrcnn-e2e-cuda"
    e2e(benchmark, "cuda", impl, e2e_image)
