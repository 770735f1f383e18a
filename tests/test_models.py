"""maskprep.models.MaskRCNN against torchvision's own Mask R-CNN with the same state_dict.

Random (seeded) weights, small images and a score threshold of 0 so that there are detections
to compare. Boxes, labels and scores must be identical (same modules, and our RoI Align is bit
identical to torchvision's); masks must equal torchvision's pasted masks >= 0.5 pixel for pixel
(the paste follows the arithmetic of the ATen kernels torch runs here, see paste_masks).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import torch_or_skip
from maskprep import rle

pytestmark = pytest.mark.needs_torch

H, W = 256, 320
SMALL = dict(
    min_size=256,
    max_size=320,
    box_score_thresh=0.0,
    rpn_pre_nms_top_n_test=300,
    rpn_post_nms_top_n_test=150,
    detections_per_img=30,
)


@pytest.fixture(scope="module")
def torch():
    return torch_or_skip()


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)


def build(arch="v1", **kw):
    from maskprep.models import MaskRCNN

    return MaskRCNN(arch, seed=0, device="cpu", **SMALL, **kw)


@pytest.fixture(scope="module")
def model(torch):
    return build()


def torchvision_model(torch, arch, state_dict):
    import torchvision

    d = torchvision.models.detection
    builder = d.maskrcnn_resnet50_fpn if arch == "v1" else d.maskrcnn_resnet50_fpn_v2
    kw = {k: v for k, v in SMALL.items() if k != "detections_per_img"}
    tv = builder(weights=None, weights_backbone=None, box_detections_per_img=30, **kw)
    tv.load_state_dict(state_dict)
    return tv.eval()


def assert_same_as_torchvision(torch, ours, tv, images):
    tensors = [torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images]
    with torch.inference_mode():
        refs = tv(tensors)
    assert len(ours) == len(refs)
    for o, r in zip(ours, refs):
        assert len(r["boxes"]) > 0, "the test needs detections"
        np.testing.assert_array_equal(o["boxes"], r["boxes"].numpy())
        np.testing.assert_array_equal(o["labels"], r["labels"].numpy())
        np.testing.assert_array_equal(o["scores"], r["scores"].numpy())
        dense = rle.decode(o["masks"], layout="nhw").astype(bool)
        np.testing.assert_array_equal(dense, (r["masks"][:, 0] >= 0.5).numpy())


def test_predict_equals_torchvision_v1(torch, model, image):
    other = np.ascontiguousarray(image[::-1, :200])
    ours = model.predict([image, other], batch_size=2)
    assert_same_as_torchvision(
        torch, ours, torchvision_model(torch, "v1", model.model.state_dict()), [image, other]
    )
    assert ours[1]["masks"][0]["size"] == [H, 200]


def test_predict_equals_torchvision_v2(torch, image):
    m = build("v2")
    # v2's FPN and heads have batch norms after convolutions too: they run in place as well
    assert type(m.model.roi_heads.mask_head[0][1]).__name__ == "InPlaceBatchNorm2d"
    assert type(m.model.backbone.fpn.layer_blocks[0][1]).__name__ == "InPlaceBatchNorm2d"
    small = np.ascontiguousarray(image[:128, :160])
    ours = m.predict([small])
    assert_same_as_torchvision(
        torch, ours, torchvision_model(torch, "v2", m.model.state_dict()), [small]
    )


def test_predict_tensor_input_and_threshold(torch, model, image):
    t = torch.from_numpy(image).permute(2, 0, 1).contiguous()
    a = model.predict(image)[0]
    b = model.predict([t])[0]  # uint8 (3, H, W) tensor
    np.testing.assert_array_equal(a["boxes"], b["boxes"])
    assert a["masks"] == b["masks"]
    top = float(a["scores"].max())
    none = model.predict([image], score_threshold=top)[0]  # strict '>' as torchvision
    assert len(none["boxes"]) == 0 and none["masks"] == []
    assert model.model.roi_heads.score_thresh == 0.0  # the override is per call


def test_seed_is_reproducible_and_leaves_the_global_rng(torch):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a, b = build(), build()
    assert torch.rand(1) == expected
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k


def test_refine_boxes(torch, model, image):
    boxes = np.array([[10, 20, 120, 90], [-30, 150, 60, 300], [200.5, 40.2, 318.9, 250.7]])
    masks = model.refine_boxes(image, boxes)
    assert len(masks) == 3
    dense = rle.decode(masks, layout="nhw").astype(bool)
    scale = 30 / 28
    for d, (x1, y1, x2, y2) in zip(dense, boxes):
        assert d.any()
        ys, xs = np.nonzero(d)
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2 * scale, (y2 - y1) / 2 * scale
        assert xs.min() >= int(cx - hw) - 1 and xs.max() <= int(cx + hw) + 1
        assert ys.min() >= int(cy - hh) - 1 and ys.max() <= int(cy + hh) + 1
    by_label = model.refine_boxes(image, boxes, labels=[1, 2, 3])
    assert len(by_label) == 3 and by_label != masks
    assert model.refine_boxes(image, np.zeros((0, 4))) == []


def test_read_only_images_are_accepted(model, image):
    # PIL-backed arrays are read-only; torch would warn (an error under filterwarnings=error).
    frozen = image.copy()
    frozen.setflags(write=False)
    boxes = np.array([[10, 20, 120, 90]])
    assert model.refine_boxes(frozen, boxes) == model.refine_boxes(image, boxes)


def test_refine_boxes_errors(model, image):
    with pytest.raises(ValueError, match=r"boxes must be a real \(K, 4\) array"):
        model.refine_boxes(image, np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"boxes must be finite"):
        model.refine_boxes(image, np.array([[0, 0, np.nan, 5]]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 91\)"):
        model.refine_boxes(image, np.array([[0, 0, 5, 5]]), labels=[91])


def test_loads_a_state_dict_file(torch, model, image, tmp_path):
    from maskprep.models import MaskRCNN

    path = tmp_path / "mrcnn.pth"
    torch.save(model.model.state_dict(), path)
    loaded = MaskRCNN("v1", str(path), device="cpu", **SMALL)
    a, b = model.predict([image])[0], loaded.predict([image])[0]
    np.testing.assert_array_equal(a["scores"], b["scores"])
    assert a["masks"] == b["masks"]
    torch.save({"model": model.model.state_dict()}, tmp_path / "wrapped.pt")
    MaskRCNN("v1", tmp_path / "wrapped.pt", device="cpu", **SMALL)


def test_registry_weights_errors(torch, monkeypatch):
    from maskprep.models import MaskRCNN

    with pytest.raises(ValueError, match=r"unknown weights 'COCO_V9'.*COCO_V1"):
        MaskRCNN("v1", "COCO_V9", device="cpu")
    with pytest.raises(ValueError, match=r"registry weights 'COCO_V1' have 91 classes"):
        MaskRCNN("v1", "COCO_V1", device="cpu", num_classes=5)

    def offline(*args, **kwargs):
        raise OSError("no network")

    import torchvision.models._api as weights_api

    # Where Weights.get_state_dict looks it up: no network is touched by this test.
    monkeypatch.setattr(weights_api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match=r"could not fetch .*COCO_V1.*OSError: no network.*path"):
        MaskRCNN("v1", "COCO_V1", device="cpu")


def test_lean_backbone_is_bit_identical(torch, model, image):
    # The default model runs its ResNet body's batch norms in place and its stem pooling on
    # maskprep's kernel; the features must equal torchvision's plain modules bit for bit.
    body = model.model.backbone.body
    assert type(body.maxpool).__module__ == "maskprep.models.layers"
    assert type(body.layer1[0].bn3).__name__ == "InPlaceBatchNorm2d"
    assert type(body.layer2[0].downsample[1]).__name__ == "InPlaceBatchNorm2d"
    tv = torchvision_model(torch, "v1", model.model.state_dict())  # same keys: loads strictly
    assert list(model.model.state_dict()) == list(tv.state_dict())
    x = torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255
    with torch.inference_mode():
        ours, ref = model.model.backbone(x.clone()), tv.backbone(x.clone())
    for name in ref:
        assert torch.equal(ours[name].view(torch.int32), ref[name].view(torch.int32)), name
    plain = build(maskprep_backbone=False)
    assert type(plain.model.backbone.body.maxpool) is torch.nn.MaxPool2d
    assert plain.predict([image])[0]["masks"] == model.predict([image])[0]["masks"]


def test_lean_backbone_leaves_other_devices_and_autograd_to_torch(torch, model):
    # Off the CPU (here the meta device, standing in for CUDA) and when a gradient is needed,
    # every swapped layer must run torch's own forward: no numpy, no in-place write.
    import copy

    body = copy.deepcopy(model.model.backbone.body).to("meta")
    out = body(torch.empty(1, 3, 64, 96, device="meta"))
    assert out["3"].shape == (1, 2048, 2, 3) and out["3"].device.type == "meta"
    bn = copy.deepcopy(model.model.backbone.body.bn1)
    x = torch.randn(1, 64, 8, 8, requires_grad=True)
    before = x.detach().clone()
    bn(x).sum().backward()
    assert torch.equal(x.detach(), before) and x.grad is not None


def frozen_torchvision_model(torch, state_dict):
    """torchvision's Mask R-CNN as maskrcnn_resnet50_fpn builds it for pretrained weights."""
    import torchvision
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.misc import FrozenBatchNorm2d

    backbone = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    kw = {k: v for k, v in SMALL.items() if k != "detections_per_img"}
    tv = torchvision.models.detection.MaskRCNN(
        _resnet_fpn_extractor(backbone, 3), num_classes=91, box_detections_per_img=30, **kw
    )
    tv.load_state_dict(state_dict)
    return tv.eval()


def test_frozen_batch_norm_matches_torchvision(torch, image):
    m = build(frozen_batch_norm=True)
    assert type(m.model.backbone.body.layer1[0].bn1).__name__ == "InPlaceFrozenBatchNorm2d"
    ours = m.predict([image])
    assert_same_as_torchvision(
        torch, ours, frozen_torchvision_model(torch, m.model.state_dict()), [image]
    )


def test_registry_weights_build_torchvision_pretrained_model(torch, model, image, monkeypatch):
    # COCO_V1 means FrozenBatchNorm2d with eps 0 in the body (torchvision's overwrite_eps):
    # the same model as maskrcnn_resnet50_fpn(weights=COCO_V1), fed the same (here: random,
    # served from memory instead of the network) state_dict.
    import torchvision
    import torchvision.models._api as weights_api

    from maskprep.models import MaskRCNN

    state_dict = {k: v for k, v in model.model.state_dict().items() if "num_batches" not in k}
    monkeypatch.setattr(weights_api, "load_state_dict_from_url", lambda *a, **k: state_dict)
    ours = MaskRCNN("v1", "COCO_V1", device="cpu", **SMALL)
    body = ours.model.backbone.body
    assert body.layer3[2].bn2.eps == 0.0 and type(body.bn1).__name__ == "InPlaceFrozenBatchNorm2d"
    kw = {k: v for k, v in SMALL.items() if k != "detections_per_img"}
    tv = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights="COCO_V1", box_detections_per_img=30, **kw
    )
    assert_same_as_torchvision(torch, ours.predict([image]), tv.eval(), [image])


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((H, W, 3), np.float32), r"images\[0\] must be uint8, got dtype float32"),
        (np.zeros((H, W), np.uint8), r"images\[0\] must have shape \(H, W, 3\), got \(256, 320\)"),
        (np.zeros((H, W, 4), np.uint8), r"must have shape \(H, W, 3\), got \(256, 320, 4\)"),
        (np.zeros((0, W, 3), np.uint8), r"images\[0\] is empty"),
    ],
)
def test_bad_images(model, bad, match):
    with pytest.raises(ValueError, match=match):
        model.predict([bad])


def test_bad_tensor_image_and_arguments(torch, model, image):
    with pytest.raises(ValueError, match=r"images\[0\] must be a \(3, H, W\) tensor"):
        model.predict([torch.zeros(H, W, 3)])
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0"):
        model.predict([image], batch_size=0)
    from maskprep.models import MaskRCNN

    with pytest.raises(ValueError, match=r"arch must be 'v1' or 'v2', got 'v3'"):
        MaskRCNN("v3")
    with pytest.raises(ValueError, match=r"device must be 'auto', 'cpu' or 'cuda\[:N\]'"):
        MaskRCNN(device="tpu")


def test_missing_torch_gives_install_hint(monkeypatch):
    from maskprep import models

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'maskprep\[torch\]'"):
        models.MaskRCNN()


def test_device_auto_is_cpu_without_cuda(torch):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert build().device.type == "cpu"


@pytest.mark.needs_cuda
def test_cuda_predict_matches_cpu_boxes(torch, model, image):
    from maskprep.models import MaskRCNN

    gpu = MaskRCNN("v1", seed=0, device="cuda", **SMALL)
    assert gpu.device.type == "cuda"
    a, b = model.predict([image])[0], gpu.predict([image])[0]
    assert len(b["masks"]) == len(b["boxes"])
    top_a, top_b = np.sort(a["scores"])[-5:], np.sort(b["scores"])[-5:]
    np.testing.assert_allclose(top_a, top_b, rtol=1e-3, atol=1e-4)


@pytest.mark.needs_cuda
def test_cuda_fp16(image):
    from maskprep.models import MaskRCNN

    gpu = MaskRCNN("v1", seed=0, device="cuda", fp16=True, **SMALL)
    out = gpu.predict([image])[0]
    assert out["boxes"].dtype == np.float32 and len(out["masks"]) == len(out["boxes"])
