"""torch.ops.maskprep.roi_align (maskprep.torch_ops) against torchvision's operator.

Tolerances: float32 and float64 forward and backward are compared bit for bit with
torchvision's CPU kernel (the same kernel as maskprep.ops.roi_align). float16 / bfloat16 are
computed in float32 and rounded once, so they equal torchvision's float32 result rounded to the
half type exactly; torchvision's own half kernel accumulates in the half type, so against it the
documented tolerance is 1e-2 absolute for float16 on values in [0, 1) (its CPU kernel has no
bfloat16, which torchvision refuses; maskprep accepts it).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pytest

from conftest import torch_or_skip

torch = torch_or_skip()
torchvision = pytest.importorskip("torchvision")
T = pytest.importorskip("maskprep.torch_ops")


def _script(obj):
    # torch.jit.script is deprecated in favour of torch.compile (FutureWarning) but still used
    # by torchvision's detection models, so scripting is supported.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.script(obj)


def _boxes(rng, n, height, width, scale=0.5, batch=2):
    ih, iw = height / scale, width / scale
    x1, y1 = rng.uniform(-0.2 * iw, iw, n), rng.uniform(-0.2 * ih, ih, n)
    w, h = np.exp(rng.uniform(0, np.log(iw), n)), np.exp(rng.uniform(0, np.log(ih), n))
    return np.stack([rng.integers(0, batch, n), x1, y1, x1 + w, y1 + h], axis=1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2026)
    x = torch.from_numpy(rng.random((2, 4, 23, 31)))
    rois = torch.from_numpy(_boxes(rng, 40, 23, 31))
    return x, rois


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 2])
def test_forward_equals_torchvision(data, dtype, aligned, sampling_ratio):
    x, rois = (t.to(getattr(torch, dtype)) for t in data)
    got = torch.ops.maskprep.roi_align(x, rois, 0.5, 3, 4, sampling_ratio, aligned)
    want = torch.ops.torchvision.roi_align(x, rois, 0.5, 3, 4, sampling_ratio, aligned)
    assert got.dtype == x.dtype and torch.equal(got, want)
    assert torch.equal(T.roi_align(x, rois, (3, 4), 0.5, sampling_ratio, aligned), want)


def test_list_boxes_and_module_match_torchvision(data):
    x, rois = (t.float() for t in data)
    per_image = [rois[rois[:, 0] == i, 1:] for i in range(2)]
    want = torchvision.ops.roi_align(x, per_image, 5, 0.5, 2, True)
    assert torch.equal(T.roi_align(x, per_image, 5, 0.5, 2, True), want)
    module = T.RoIAlign(5, 0.5, 2, aligned=True)
    assert torch.equal(module(x, per_image), want)
    assert (
        repr(module) == "RoIAlign(output_size=5, spatial_scale=0.5, sampling_ratio=2, aligned=True)"
    )


def test_backward_equals_torchvision(data):
    x, rois = (t.float() for t in data)
    ours = x.clone().requires_grad_()
    theirs = x.clone().requires_grad_()
    grad = torch.from_numpy(np.random.default_rng(3).random((40, 4, 3, 3), np.float32))
    T.roi_align(ours, rois, 3, 0.5, 2, True).backward(grad)
    torchvision.ops.roi_align(theirs, rois, 3, 0.5, 2, True).backward(grad)
    assert torch.equal(ours.grad, theirs.grad)


def test_gradcheck_float64(data):
    x, rois = data
    x = x[:, :2, :9, :11].clone().requires_grad_()
    rois = rois[:6].clone()
    rois[:, 1:] = rois[:, 1:].clamp(0, 18)
    assert torch.autograd.gradcheck(lambda f: T.roi_align(f, rois, 2, 0.5, 2, True), (x,))


@pytest.mark.parametrize("dtype, atol", [("float16", 1e-2), ("bfloat16", None)])
def test_half_types_compute_in_float32(data, dtype, atol):
    half = getattr(torch, dtype)
    x, rois = (t.to(half) for t in data)
    got = T.roi_align(x, rois, 3, 0.5, 2, True)
    assert got.dtype == half
    rounded = torchvision.ops.roi_align(x.float(), rois.float(), 3, 0.5, 2, True).to(half)
    assert torch.equal(got, rounded)
    if half == torch.float16:  # torchvision's CPU kernel has no bfloat16
        native = torchvision.ops.roi_align(x, rois, 3, 0.5, 2, True)
        assert (got.float() - native.float()).abs().max() <= atol
    # and the gradient comes back in the half type
    leaf = x.clone().requires_grad_()
    T.roi_align(leaf, rois, 3, 0.5, 2, True).sum().backward()
    assert leaf.grad.dtype == half
    full = x.float().requires_grad_()
    torchvision.ops.roi_align(full, rois.float(), 3, 0.5, 2, True).sum().backward()
    assert torch.equal(leaf.grad, full.grad.to(half))


# opcheck's autograd check itself reads .grad of the non-leaf copies it makes (torch warns).
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_opcheck(data):
    x, rois = (t.float() for t in data)
    args = (x.clone().requires_grad_(), rois, 0.5, 3, 3, 2, True)
    torch.library.opcheck(torch.ops.maskprep.roi_align.default, args)
    grad = torch.ones(40, 4, 3, 3)
    torch.library.opcheck(
        torch.ops.maskprep.roi_align_backward.default,
        (grad, rois, 0.5, 3, 3, 2, 4, 23, 31, 2, True),
    )


def test_torch_jit_script(data):
    x, rois = (t.float() for t in data)
    want = torchvision.ops.roi_align(x, rois, 3, 0.5, 2, True)
    assert torch.equal(_script(T.roi_align)(x, rois, [3, 3], 0.5, 2, True), want)
    assert torch.equal(_script(T.RoIAlign(3, 0.5, 2, True))(x, rois), want)


def test_torch_fx_trace(data):
    x, rois = (t.float() for t in data)
    graph = torch.fx.symbolic_trace(T.RoIAlign(3, 0.5, 2, True))
    assert any(node.target is T.roi_align for node in graph.graph.nodes)  # a leaf, as torchvision's
    assert torch.equal(graph(x, rois), torchvision.ops.roi_align(x, rois, 3, 0.5, 2, True))


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_torch_compile_fullgraph_with_autograd(data, backend):
    torch._dynamo.reset()
    x, rois = (t.float() for t in data)

    def f(features, boxes):
        return T.roi_align(features * 2.0, boxes, 3, 0.5, 2, True).sum()

    compiled = torch.compile(f, fullgraph=True, backend=backend)
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    got = compiled(ours, rois)
    want = torchvision.ops.roi_align(theirs * 2.0, rois, 3, 0.5, 2, True).sum()
    assert torch.equal(got, want)
    got.backward()
    want.backward()
    assert torch.equal(ours.grad, theirs.grad)


def test_multi_scale_pooler_matches_torchvision():
    rng = np.random.default_rng(5)
    names = ["0", "1", "2", "3"]
    x = OrderedDict(
        (k, torch.from_numpy(rng.random((2, 3, 64 >> i, 80 >> i), np.float32)))
        for i, k in enumerate(names)
    )
    boxes = [torch.from_numpy(_boxes(rng, 30, 256, 320, 1.0)[:, 1:].astype(np.float32)).abs()]
    boxes.append(boxes[0][:12] * 0.7)
    shapes = [(256, 320), (250, 300)]
    theirs = torchvision.ops.MultiScaleRoIAlign(names, 7, 2)
    ours = T.MultiScaleRoIAlign(names, 7, 2)
    want = theirs(x, boxes, shapes)
    assert torch.equal(ours(x, boxes, shapes), want)
    assert torch.equal(_script(T.MultiScaleRoIAlign(names, 7, 2))(x, boxes, shapes), want)


@pytest.mark.filterwarnings("ignore:RCNN always returns a \\(Losses, Detections\\) tuple")
def test_patched_mask_rcnn_still_scripts_and_matches():
    torch.manual_seed(0)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=3, min_size=160, max_size=200
    ).eval()
    images = [torch.rand(3, 150, 190)]
    with torch.no_grad():
        want = model(images)
    assert T.patch_poolers(model) == 2
    assert type(model.roi_heads.box_roi_pool) is T.MultiScaleRoIAlign
    assert type(model.roi_heads.mask_roi_pool) is T.MultiScaleRoIAlign
    scripted = _script(model)
    with torch.no_grad():
        got_eager = model(images)
        _, got_scripted = scripted(images)
    assert len(want[0]["boxes"]) > 0
    for got in (got_eager, got_scripted):
        for key in ("boxes", "labels", "scores", "masks"):
            assert torch.equal(got[0][key], want[0][key]), key
    assert T.patch_poolers(model) == 0  # already swapped


# ---- bad input ----------------------------------------------------------------------------------


def test_integer_features_are_refused():
    with pytest.raises(TypeError, match=r"^input must be a float16, bfloat16, float32 or float64"):
        T.roi_align(torch.zeros(1, 1, 4, 4, dtype=torch.int32), torch.zeros(1, 5), 2)


def test_bad_boxes_shape_is_refused_as_torchvision_does():
    """torchvision's roi_align asserts the boxes' shape (AssertionError); so does its mirror."""
    x = torch.zeros(1, 1, 4, 4)
    for boxes, message in (
        (torch.zeros(3, 4), r"^boxes must be a \(K, 5\) tensor"),
        ([torch.zeros(3, 3)], r"^boxes must be a list of \(L, 4\) tensors"),
    ):
        with pytest.raises(AssertionError, match=message):
            T.roi_align(x, boxes, 2)
        with pytest.raises(AssertionError):
            torchvision.ops.roi_align(x, boxes, 2)
    with pytest.raises(ValueError, match=r"^boxes must be a \(K, 5\) array"):
        torch.ops.maskprep.roi_align(x, torch.zeros(3, 4), 1.0, 2, 2, -1, False)


def test_batch_index_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"batch ind"):
        T.roi_align(torch.zeros(1, 1, 4, 4), torch.tensor([[3.0, 0, 0, 2, 2]]), 2)


def test_patch_poolers_needs_a_module():
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module, got dict"):
        T.patch_poolers({})


@pytest.mark.needs_cuda
def test_cuda_tensors_use_torchvisions_kernel(data):
    x, rois = (t.float().cuda() for t in data)
    got = T.roi_align(x, rois, 3, 0.5, 2, True)
    assert got.is_cuda
    assert torch.equal(got, torchvision.ops.roi_align(x, rois, 3, 0.5, 2, True))
