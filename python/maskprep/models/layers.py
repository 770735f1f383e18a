"""The layer swaps of :class:`maskprep.models.MaskRCNN`: bit-identical stand-ins for
torchvision's RoI poolers (maskprep's RoI Align) and for the ResNet body's batch norms and stem max
pooling (in place / maskprep's kernel), used for CPU inference. torch is imported lazily."""

from __future__ import annotations

from typing import Any, Optional


def _pooler_class():
    """A torch module that stands in for torchvision's MultiScaleRoIAlign: maskprep's kernel on
    CPU float tensors (bit identical, multi-threaded), the original module otherwise."""
    import torch

    from .. import ops

    class MaskprepMultiScaleRoIAlign(torch.nn.Module):
        def __init__(self, original, num_threads):
            super().__init__()
            self.original = original
            self.num_threads = num_threads

        def forward(self, x, boxes, image_shapes):
            o = self.original
            first = next(iter(x.values()))
            if first.is_cuda or first.dtype not in (torch.float32, torch.float64):
                return o(x, boxes, image_shapes)
            # torchvision takes the levels in x's order, filtered by featmap_names.
            levels = {k: v for k, v in x.items() if k in o.featmap_names}
            return ops.multi_scale_roi_align(
                levels,
                list(boxes),
                [tuple(int(v) for v in s) for s in image_shapes],
                o.output_size,
                o.sampling_ratio,
                canonical_scale=o.canonical_scale,
                canonical_level=o.canonical_level,
                num_threads=self.num_threads,
            )

    return MaskprepMultiScaleRoIAlign


_BACKBONE_CLASSES: Any = None


def _backbone_classes():
    """Drop-in subclasses of torch's BatchNorm2d, torchvision's FrozenBatchNorm2d and MaxPool2d
    (same parameters, same state_dict keys) whose CPU inference forward gives the same bits
    with less memory traffic. Created on first use (torch is imported lazily)."""
    global _BACKBONE_CLASSES
    if _BACKBONE_CLASSES is not None:
        return _BACKBONE_CLASSES
    import torch
    from torchvision.ops.misc import FrozenBatchNorm2d

    from .. import ops

    def in_place_ok(x, module) -> bool:
        # Only plain CPU inference: the input is overwritten, so it must not be needed for a
        # gradient, and torch's out= kernel is asked for contiguous NCHW float tensors only.
        return (
            not module.training
            and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64)
            and x.dim() == 4
            and x.is_contiguous()
            and not (x.requires_grad and torch.is_grad_enabled())
        )

    class InPlaceBatchNorm2d(torch.nn.BatchNorm2d):
        """BatchNorm2d whose eval forward overwrites its input (a convolution's output, used
        nowhere else). torch's own kernel runs through its out= form, so the values are
        F.batch_norm's bit for bit; what goes is allocating (and page-faulting) a new output
        of up to 62 MB per call, which cost more than the normalisation itself."""

        def forward(self, x):
            if not in_place_ok(x, self) or self.running_mean is None:
                return super().forward(x)
            torch.ops.aten.native_batch_norm.out(
                x,
                self.weight,
                self.bias,
                self.running_mean,
                self.running_var,
                False,
                0.0,
                self.eps,
                out=x,
                # per call, not shared: two models may run in two threads
                save_mean=x.new_empty(0),
                save_invstd=x.new_empty(0),
            )
            return x

    class InPlaceFrozenBatchNorm2d(FrozenBatchNorm2d):
        """FrozenBatchNorm2d computing ``x * scale + bias`` as torchvision does (the same two
        rounded operations), in place."""

        def forward(self, x):
            if not in_place_ok(x, self):
                return super().forward(x)
            scale = (
                self.weight.reshape(1, -1, 1, 1)
                * (self.running_var.reshape(1, -1, 1, 1) + self.eps).rsqrt()
            )
            bias = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
            return x.mul_(scale).add_(bias)

    class MaxPool2d(torch.nn.MaxPool2d):
        """MaxPool2d on maskprep's kernel (:func:`maskprep.ops.max_pool2d`, torch's bits
        without its argmax indices) for CPU inference; torch's own otherwise."""

        num_threads: Optional[int] = None

        def forward(self, x):
            if (
                self.dilation not in (1, (1, 1))
                or self.ceil_mode
                or self.return_indices
                or x.device.type != "cpu"
                or x.dtype not in (torch.float32, torch.float64)
                or (x.requires_grad and torch.is_grad_enabled())
            ):
                return super().forward(x)
            return ops.max_pool2d(
                x, self.kernel_size, self.stride, self.padding, num_threads=self.num_threads
            )

    _BACKBONE_CLASSES = (InPlaceBatchNorm2d, InPlaceFrozenBatchNorm2d, MaxPool2d)
    return _BACKBONE_CLASSES


def _converted(module, cls):
    """A ``cls`` copy of a norm layer (same sizes, buffers and parameters)."""
    import torch

    if issubclass(cls, torch.nn.BatchNorm2d):
        new = cls(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
    else:  # FrozenBatchNorm2d
        new = cls(module.weight.shape[0], module.eps)
    new.load_state_dict(module.state_dict())
    return new.train(module.training)


def _freeze_batch_norms(body) -> None:
    """torchvision's pretrained Mask R-CNN (v1) uses FrozenBatchNorm2d in the ResNet body: the
    same buffers, computed as x * scale + bias. Replace the body's BatchNorm2d layers by it."""
    import torch
    from torchvision.ops.misc import FrozenBatchNorm2d

    for parent in list(body.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.BatchNorm2d:
                setattr(parent, name, _converted(child, FrozenBatchNorm2d))


def _lean_layers(model, num_threads: Optional[int]) -> None:
    """Swap the ResNet body's stem max pooling, and every batch norm that directly follows a
    convolution (the stem's, the three of every residual block, and each one after a Conv2d in
    a Sequential: downsamples, and v2's FPN and head layers), for the bit-identical classes of
    :func:`_backbone_classes`."""
    import torch
    from torchvision.models.resnet import BasicBlock, Bottleneck
    from torchvision.ops.misc import FrozenBatchNorm2d

    in_place_bn, in_place_frozen, max_pool = _backbone_classes()

    def lean(norm):
        if type(norm) is torch.nn.BatchNorm2d:
            return _converted(norm, in_place_bn)
        if type(norm) is FrozenBatchNorm2d:
            return _converted(norm, in_place_frozen)
        return norm

    body = model.backbone.body
    children = dict(body.named_children())
    if "bn1" in children:
        body.bn1 = lean(body.bn1)
    pool = children.get("maxpool")
    if type(pool) is torch.nn.MaxPool2d:
        new = max_pool(pool.kernel_size, pool.stride, pool.padding, pool.dilation)
        new.num_threads = num_threads
        body.maxpool = new
    for module in model.modules():
        if isinstance(module, (Bottleneck, BasicBlock)):
            for name in ("bn1", "bn2", "bn3"):
                if hasattr(module, name):
                    setattr(module, name, lean(getattr(module, name)))
        elif isinstance(module, torch.nn.Sequential):
            for i in range(1, len(module)):
                if isinstance(module[i - 1], torch.nn.Conv2d):
                    module[i] = lean(module[i])
