"""RoI Align: maskprep (1 thread and all threads, NCHW and NHWC) against torchvision's CPU kernel.

Mask R-CNN's stride-4 level: a (2, 256, 200, 272) float32 map (800 x 1088 input), 1,000 boxes
per image, aligned, output 7x7 and 14x14 with sampling_ratio 2 and adaptive; a 4-level FPN pooler
(box head); the backward. Each case also checks its result against torchvision (bit for bit).
Run with `--benchmark-enable` to time. CI runs each case once as a test (benchmarks disabled),
on a tenth of the boxes so that the file stays under a minute on two cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from maskprep import _core, ops

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

N, C, H, W = 2, 256, 200, 272
SCALE = 0.25  # feature pixels per input pixel
ROIS_PER_IMAGE = 1000


def proposals(rng, n_per_image, image_h, image_w, batch=N):
    """RPN-like boxes: log-uniform sides from 16 to 512 input pixels, aspect 1:2 to 2:1."""
    rows = []
    for b in range(batch):
        side = np.exp(rng.uniform(np.log(16), np.log(512), n_per_image))
        aspect = np.exp(rng.uniform(-0.7, 0.7, n_per_image))
        w, h = side * aspect, side / aspect
        x1 = rng.uniform(-w / 4, image_w - w * 3 / 4)
        y1 = rng.uniform(-h / 4, image_h - h * 3 / 4)
        rows.append(np.stack([np.full(n_per_image, b), x1, y1, x1 + w, y1 + h], 1))
    return np.concatenate(rows).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((N, C, H, W), dtype=np.float32)
    rois = proposals(rng, ROIS_PER_IMAGE, H / SCALE, W / SCALE)
    return {
        "nchw": features,
        "nhwc": np.ascontiguousarray(features.transpose(0, 2, 3, 1)),
        "torch": torch.from_numpy(features),
        "rois": rois,
    }


def subset(benchmark, rows):
    """All the rows when timing; every tenth when the benchmark only runs as a test."""
    return rows[::10] if benchmark.disabled else rows


CONFIGS = [(7, 2), (7, -1), (14, 2), (14, -1)]  # (output size, sampling_ratio)
IMPLS = [
    "torchvision",
    "maskprep-nchw-1",
    "maskprep-nchw-all",
    "maskprep-nhwc-1",
    "maskprep-nhwc-all",
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("size, sampling_ratio", CONFIGS)
def test_roi_align_forward(benchmark, data, size, sampling_ratio, impl):
    benchmark.group = f"roi_align-{size}x{size}-s{sampling_ratio}"
    torch.set_num_threads(1)  # torchvision's kernel is serial; keep ATen's copies comparable
    args = ((size, size), SCALE, sampling_ratio, True)
    rois = subset(benchmark, data["rois"])
    if impl == "torchvision":
        out = benchmark(torchvision.ops.roi_align, data["torch"], torch.from_numpy(rois), *args)
        ours = ops.roi_align(data["nchw"], rois, *args, num_threads=-1)
        np.testing.assert_array_equal(out.numpy(), ours)
        return
    _, layout, threads = impl.split("-")
    features = data[layout]
    out = benchmark(
        ops.roi_align,
        features,
        rois,
        *args,
        layout=layout.upper(),
        num_threads=1 if threads == "1" else -1,
    )
    if layout == "nhwc":
        out = out.transpose(0, 3, 1, 2)
    # Spot-check against torchvision on a slice of the boxes (the full run is its own case).
    some = torch.from_numpy(rois[::50])
    ref = torchvision.ops.roi_align(data["torch"], some, *args).numpy()
    np.testing.assert_array_equal(out[::50], ref)


@pytest.fixture(scope="module")
def fpn():
    rng = np.random.default_rng(1)
    image_shapes = [(800, 1088), (800, 1088)]
    levels = {
        str(k): torch.from_numpy(rng.standard_normal((N, C, 800 >> k, 1088 >> k), np.float32))
        for k in range(2, 6)
    }
    rois = proposals(rng, ROIS_PER_IMAGE, 800, 1088)
    boxes = [torch.from_numpy(rois[rois[:, 0] == b, 1:]) for b in range(N)]
    pooler = torchvision.ops.MultiScaleRoIAlign(list(levels), 7, 2)
    return levels, boxes, image_shapes, pooler


@pytest.mark.needs_cuda
@pytest.mark.parametrize("size, sampling_ratio", CONFIGS)
def test_roi_align_forward_cuda(benchmark, data, size, sampling_ratio):
    """torchvision's CUDA kernel in the same groups as the CPU cases (maskprep hands CUDA
    tensors to it), timed with a synchronize; the result must equal the CPU kernel's to float
    rounding (CUDA sums in its own order)."""
    benchmark.group = f"roi_align-{size}x{size}-s{sampling_ratio}"
    benchmark.extra_info["impl"] = "torchvision-cuda"
    args = ((size, size), SCALE, sampling_ratio, True)
    features = data["torch"].cuda()
    rois = torch.from_numpy(subset(benchmark, data["rois"])).cuda()

    def run():
        out = ops.roi_align(features, rois, *args)
        torch.cuda.synchronize()
        return out

    run()  # warm-up: CUDA context and kernel load
    out = benchmark(run)
    ref = ops.roi_align(data["nchw"], rois.cpu().numpy(), *args, num_threads=-1)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", ["torchvision", "maskprep-1", "maskprep-all"])
def test_multi_scale_roi_align(benchmark, fpn, impl):
    benchmark.group = "roi_align-fpn4-7x7-s2"
    torch.set_num_threads(1)
    levels, boxes, image_shapes, pooler = fpn
    boxes = [subset(benchmark, b) for b in boxes]
    if impl == "torchvision":
        out = benchmark(pooler, levels, boxes, image_shapes)
        ours = ops.multi_scale_roi_align(levels, boxes, image_shapes, 7, 2)
    else:
        threads = 1 if impl == "maskprep-1" else -1
        out = benchmark(
            ops.multi_scale_roi_align, levels, boxes, image_shapes, 7, 2, num_threads=threads
        )
        ours = pooler(levels, boxes, image_shapes)
    assert torch.equal(out, ours)


@pytest.mark.parametrize("impl", ["torchvision", "maskprep-1", "maskprep-all"])
def test_roi_align_backward(benchmark, data, impl):
    """Gradient of a 7x7, sampling 2 pooling of 500 boxes per image (kernels only)."""
    benchmark.group = "roi_align-backward-7x7-s2"
    torch.set_num_threads(1)
    rois = subset(benchmark, data["rois"][np.r_[0:500, ROIS_PER_IMAGE : ROIS_PER_IMAGE + 500]])
    grad = np.random.default_rng(2).standard_normal((len(rois), C, 7, 7), dtype=np.float32)
    tv_args = (torch.from_numpy(grad), torch.from_numpy(rois), SCALE, 7, 7, N, C, H, W, 2, True)
    tv_backward = torch.ops.torchvision._roi_align_backward
    if impl == "torchvision":
        out = benchmark(tv_backward, *tv_args).numpy()
        ours = _core.roi_align_backward(
            grad, rois, (N, C, H, W), (7, 7), SCALE, 2, True, "avg", "NCHW", None, num_threads=-1
        )
    else:
        threads = 1 if impl == "maskprep-1" else -1
        out = benchmark(
            _core.roi_align_backward,
            grad,
            rois,
            (N, C, H, W),
            (7, 7),
            SCALE,
            2,
            True,
            "avg",
            "NCHW",
            None,
            num_threads=threads,
        )
        ours = tv_backward(*tv_args).numpy()
    np.testing.assert_array_equal(out, ours)
