"""Region ops for detection heads, on numpy arrays and torch tensors.

RoI Align (:func:`roi_align`, :func:`multi_scale_roi_align`) reproduces torchvision's CPU kernel
bit for bit in average mode, adds a max mode and NHWC feature maps, runs on several threads and
has a deterministic backward. Tensors in give tensors out: a contiguous CPU tensor is read in
place, gradients flow through a ``torch.autograd.Function``, and CUDA tensors are handed to
``torchvision.ops.roi_align`` on the GPU. torch is imported only when a tensor is passed.

:func:`paste_masks` (from :mod:`maskprep.paste`) pastes Mask R-CNN's mask probabilities into the
image exactly as torchvision does, thresholded, as bool masks or COCO RLE.

:func:`max_pool2d` is torch's ``max_pool2d`` (the pooling after ResNet's stem) bit for bit,
without the argmax indices torch's CPU kernel always computes: about 10x faster on one thread.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

import numpy as np

from . import _core
from ._arrays import is_tensor as _is_tensor
from ._arrays import to_numpy
from .paste import paste_masks

__all__ = ["roi_align", "multi_scale_roi_align", "paste_masks", "max_pool2d"]

_LAYOUTS = ("NCHW", "NHWC")


def _pair(value: Any, name: str = "output_size", minimum: int = 1) -> tuple[int, int]:
    """(a, b) from an int or a pair of ints, each >= minimum; TypeError for non-ints, else
    ValueError, naming ``name``."""
    size = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(size) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(size) < minimum:
        condition = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {condition}, got {value!r}")
    return int(size[0]), int(size[1])


def _real_or_raise(a: np.ndarray, name: str, expected: str) -> None:
    """Boxes are cast to the features' dtype here, before the binding sees them, so their
    dtype is checked here (the cast must not drop imaginary parts or turn bools into 0/1)."""
    if a.dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must be {expected} of real numbers, got {a.dtype} with shape {a.shape}"
        )


def _rois(boxes: Any, dtype: np.dtype) -> np.ndarray:
    """(K, 5) rows (batch index, x1, y1, x2, y2) in ``dtype`` from (K, 5) boxes or a list of
    per-image (L, 4) boxes (torchvision's two forms)."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            b = to_numpy(b, f"boxes[{i}]")
            _real_or_raise(b, f"boxes[{i}]", "an (L, 4) array")
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(
                    f"boxes[{i}] must be an (L, 4) array of real numbers, got {b.dtype} with "
                    f"shape {b.shape}"
                )
            ids = np.full((len(b), 1), i, dtype=dtype)
            parts.append(np.concatenate([ids, b.astype(dtype, copy=False)], axis=1))
        return np.concatenate(parts) if parts else np.zeros((0, 5), dtype)
    rois = to_numpy(boxes, "boxes")
    _real_or_raise(rois, "boxes", "a (K, 5) array or a list of (L, 4) arrays")
    # The binding checks the (K, 5) shape.
    return np.ascontiguousarray(rois, dtype=dtype)


# Half-precision features are pooled in float32 and the result rounded back to their dtype, as
# torchvision's CPU kernel accepts them (the kernels take float32 and float64).
_HALF = ("float16", "bfloat16")
_FEATURES = "an (N, C, H, W) float16, bfloat16, float32 or float64 array"


def _half(features: Any) -> bool:
    """Whether ``features`` is a half-precision array or tensor (raises for other dtypes the
    kernels cannot take, naming every dtype accepted)."""
    name = str(features.dtype).replace("torch.", "")
    if name in _HALF:
        return True
    if name not in ("float32", "float64"):
        raise TypeError(
            f"features must be {_FEATURES}, got {name} with shape {tuple(features.shape)}"
        )
    return False


def _features_dtype(features: Any) -> np.dtype:
    """The dtype boxes are cast to: the features' when float32 or float64, else float64 (the
    binding then rejects the features' dtype with a TypeError)."""
    name = str(features.dtype).replace("torch.", "")
    return np.dtype(name if name in ("float32", "float64") else "float64")


# ---- torch ------------------------------------------------------------------------------------


def _autograd_function():
    """The torch.autograd.Function over the kernels, created on first use (torch is lazy)."""
    global _RoIAlignFunction
    if _RoIAlignFunction is not None:
        return _RoIAlignFunction
    import torch
    from torch.autograd.function import once_differentiable

    class RoIAlignFunction(torch.autograd.Function):
        """Forward and backward of :func:`roi_align` on contiguous CPU tensors in the kernel's
        layout (the caller permutes channels-last tensors). Boxes get no gradient."""

        @staticmethod
        def forward(
            ctx,
            features,
            rois,
            output_size,
            spatial_scale,
            sampling_ratio,
            aligned,
            mode,
            layout,
            num_threads,
        ):
            out = _core.roi_align_forward(
                features.detach().numpy(),
                rois.detach().numpy(),
                output_size,
                spatial_scale,
                sampling_ratio,
                aligned,
                mode,
                layout,
                num_threads,
            )
            ctx.save_for_backward(rois, features if mode == "max" else None)
            ctx.args = (
                tuple(features.shape),
                output_size,
                spatial_scale,
                sampling_ratio,
                aligned,
                mode,
                layout,
            )
            ctx.num_threads = num_threads
            return torch.from_numpy(out)

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            rois, features = ctx.saved_tensors
            grad_features = _core.roi_align_backward(
                grad.contiguous().numpy(),
                rois.numpy(),
                *ctx.args,
                None if features is None else features.detach().numpy(),
                ctx.num_threads,
            )
            return (torch.from_numpy(grad_features),) + (None,) * 8

    _RoIAlignFunction = RoIAlignFunction
    return RoIAlignFunction


_RoIAlignFunction: Any = None


def _roi_align_torch(
    features, boxes, output_size, spatial_scale, sampling_ratio, aligned, mode, layout, num_threads
):
    import torch

    if features.is_cuda:
        return _roi_align_cuda(
            features, boxes, output_size, spatial_scale, sampling_ratio, aligned, mode, layout
        )
    if _half(features):  # autograd flows through both casts
        out = _roi_align_torch(
            features.float(),
            boxes,
            output_size,
            spatial_scale,
            sampling_ratio,
            aligned,
            mode,
            layout,
            num_threads,
        )
        return out.to(features.dtype)
    np_dtype = _features_dtype(features)
    # A channels-last (N, C, H, W) tensor is an NHWC array in memory: pool it in place and
    # hand back a channels-last result, as torch's own ops do.
    channels_last = (
        layout == "NCHW"
        and features.dim() == 4
        and not features.is_contiguous()
        and features.is_contiguous(memory_format=torch.channels_last)
    )
    if channels_last:
        features, layout = features.permute(0, 2, 3, 1), "NHWC"
    features = features.contiguous()
    rois = torch.from_numpy(_rois(boxes, np_dtype))
    args = (
        output_size,
        float(spatial_scale),
        int(sampling_ratio),
        bool(aligned),
        mode,
        layout,
        num_threads,
    )
    if features.requires_grad and torch.is_grad_enabled():
        out = _autograd_function().apply(features, rois, *args)
    else:
        array = to_numpy(features, "features")
        out = torch.from_numpy(_core.roi_align_forward(array, rois.numpy(), *args))
    return out.permute(0, 3, 1, 2) if channels_last else out


def _roi_align_cuda(
    features, boxes, output_size, spatial_scale, sampling_ratio, aligned, mode, layout
):
    import torch
    import torchvision

    if mode != "avg":
        raise ValueError(
            f"mode must be 'avg' for CUDA tensors (torchvision has no max), got {mode!r}"
        )
    if not isinstance(boxes, (list, tuple)):
        boxes = torch.as_tensor(boxes, device=features.device)
    if layout == "NHWC":
        features = features.permute(0, 3, 1, 2)
    out = torchvision.ops.roi_align(
        features, boxes, output_size, spatial_scale, sampling_ratio, aligned
    )
    return out.permute(0, 2, 3, 1) if layout == "NHWC" else out


# ---- public API -------------------------------------------------------------------------------


def roi_align(
    features: Any,
    boxes: Any,
    output_size: Union[int, Sequence[int]],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
    *,
    mode: str = "avg",
    layout: str = "NCHW",
    num_threads: Union[int, None] = None,
) -> Any:
    """RoI Align: pool each box of ``boxes`` from ``features`` into an output_size grid.

    Same arguments and, in average mode, the same bits as ``torchvision.ops.roi_align``.

    Args:
        features: float32 or float64 array or tensor, (N, C, H, W) or, with ``layout="NHWC"``,
            (N, H, W, C). A channels-last CPU tensor of shape (N, C, H, W) is pooled in place.
            float16 arrays and float16 / bfloat16 tensors are pooled in float32 and the result
            rounded to their dtype (gradients too): exactly the float32 result, rounded once.
        boxes: (K, 5) rows ``(batch_index, x1, y1, x2, y2)``, or a list of N per-image (L, 4)
            ``(x1, y1, x2, y2)`` arrays, in input-image coordinates; cast to the features' dtype.
            Coordinates must be finite and batch indices in [0, N).
        output_size: ``PH`` or ``(PH, PW)``, positive.
        spatial_scale: feature-map pixels per input pixel (e.g. 1/4 for a stride-4 map).
        sampling_ratio: sample points per bin side; <= 0 uses ceil(roi size / output size).
        aligned: shift boxes by -0.5 pixel (pixel centres at .5; detectron2's ROIAlignV2).
            Boxes with x2 < x1 are widened to one pixel when False (torchvision); when True they
            keep a negative size, so a positive sampling_ratio samples the mirrored bins and an
            adaptive one gives zeros (torchvision raises there).
        mode: ``"avg"`` (torchvision) or ``"max"``: the largest bilinear sample of each bin, as
            ONNX RoiAlign specifies; its gradient goes to the first largest sample.
        layout: ``"NCHW"`` or ``"NHWC"``: the order of the features' axes and of the result's.
        num_threads: None = the process budget, -1 = all cores, n >= 1 = n.

    Returns:
        The features' kind and dtype: (K, C, PH, PW), or (K, PH, PW, C) for NHWC (channels-last
        for a channels-last tensor). CUDA tensors are pooled by torchvision on their device.
    """
    output_size = _pair(output_size)
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if _is_tensor(features):
        return _roi_align_torch(
            features,
            boxes,
            output_size,
            spatial_scale,
            sampling_ratio,
            aligned,
            mode,
            layout,
            num_threads,
        )
    features = to_numpy(features, "features")
    if _half(features):
        out = roi_align(
            features.astype(np.float32),
            boxes,
            output_size,
            spatial_scale,
            sampling_ratio,
            aligned,
            mode=mode,
            layout=layout,
            num_threads=num_threads,
        )
        return out.astype(features.dtype)
    rois = _rois(boxes, _features_dtype(features))
    return _core.roi_align_forward(
        features,
        rois,
        output_size,
        float(spatial_scale),
        int(sampling_ratio),
        bool(aligned),
        mode,
        layout,
        num_threads,
    )


def _fpn_scales(
    level_sizes: Sequence[tuple[int, int]], image_shapes: Sequence[Sequence[int]]
) -> list[float]:
    """torchvision's ``_infer_scale`` per level: 2 ** round(log2(feature h / max image h)),
    the log2 taken in float32 as torchvision does."""
    if not image_shapes:
        raise ValueError("image_shapes must not be empty")
    max_h = max(int(s[0]) for s in image_shapes)
    scales = []
    for h, _ in level_sizes:
        approx = np.float32(float(h) / float(max_h))
        scales.append(2 ** float(np.round(np.log2(approx))))
    return scales


def _fpn_levels(
    boxes: Sequence[Any],
    k_min: int,
    k_max: int,
    canonical_scale: int,
    canonical_level: int,
    eps: float,
) -> np.ndarray:
    """torchvision's LevelMapper: floor(level0 + log2(sqrt(area) / scale0) + eps), clamped. torch
    evaluates it when installed (its float32 sqrt and log2 are not numpy's to the last bit)."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        b = torch.cat([torch.as_tensor(to_numpy(x)) for x in boxes])
        s = torch.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        lvl = torch.floor(
            canonical_level + torch.log2(s / canonical_scale) + torch.tensor(eps, dtype=s.dtype)
        )
        return (torch.clamp(lvl, min=k_min, max=k_max).to(torch.int64) - k_min).numpy()
    b = np.concatenate([to_numpy(x) for x in boxes])
    s = np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
    lvl = np.floor(canonical_level + np.log2(s / s.dtype.type(canonical_scale)) + s.dtype.type(eps))
    return np.clip(lvl, k_min, k_max).astype(np.int64) - k_min


def multi_scale_roi_align(
    features: Union[Sequence[Any], Mapping[str, Any]],
    boxes: Sequence[Any],
    image_shapes: Sequence[Sequence[int]],
    output_size: Union[int, Sequence[int]],
    sampling_ratio: int,
    *,
    canonical_scale: int = 224,
    canonical_level: int = 4,
    eps: float = 1e-6,
    aligned: bool = False,
    mode: str = "avg",
    num_threads: Union[int, None] = None,
) -> Any:
    """FPN RoI Align: each box is pooled from the level its size selects, exactly as
    ``torchvision.ops.MultiScaleRoIAlign`` does.

    Args:
        features: the pyramid, finest level first: a sequence of (N, C, H_l, W_l) arrays or
            tensors, or a mapping whose values are taken in order (torchvision uses ``x.items()``
            order, filtered by ``featmap_names``: pass ``{k: x[k] for k in x if k in names}``).
        boxes: a list of N per-image (L, 4) ``(x1, y1, x2, y2)`` boxes in image coordinates.
        image_shapes: the N input sizes ``(height, width)``; each level's scale is
            2 ** round(log2(H_l / max height)).
        output_size, sampling_ratio, aligned, mode, num_threads: as in :func:`roi_align`.
        canonical_scale, canonical_level, eps: the FPN level rule
            ``floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps)``, clamped to the
            pyramid's levels.

    Returns:
        (K, C, PH, PW) in the features' kind and dtype, K = total boxes, in input order.
    """
    levels_in = list(features.values()) if isinstance(features, Mapping) else list(features)
    if not levels_in:
        raise ValueError("features must hold at least one feature map")
    if not isinstance(boxes, (list, tuple)):
        raise ValueError("boxes must be a list of per-image (L, 4) boxes")
    output_size = _pair(output_size)
    shapes = [tuple(f.shape) for f in levels_in]
    if any(len(s) != 4 for s in shapes):
        raise ValueError(f"features must be (N, C, H, W) maps, got shapes {shapes}")
    if _half(levels_in[0]):
        widened = [f.float() if _is_tensor(f) else np.asarray(f, np.float32) for f in levels_in]
        out = multi_scale_roi_align(
            widened,
            boxes,
            image_shapes,
            output_size,
            sampling_ratio,
            canonical_scale=canonical_scale,
            canonical_level=canonical_level,
            eps=eps,
            aligned=aligned,
            mode=mode,
            num_threads=num_threads,
        )
        return out.to(levels_in[0].dtype) if _is_tensor(out) else out.astype(levels_in[0].dtype)
    scales = _fpn_scales([s[2:] for s in shapes], image_shapes)

    def pool(feature, level_boxes, scale):
        return roi_align(
            feature,
            level_boxes,
            output_size,
            scale,
            sampling_ratio,
            aligned,
            mode=mode,
            num_threads=num_threads,
        )

    if len(levels_in) == 1:
        return pool(levels_in[0], boxes, scales[0])
    first = levels_in[0]
    if _is_tensor(first):
        import torch

        rois = torch.from_numpy(_rois(boxes, _features_dtype(first)))
        rois = rois.to(first.device)
        # empty, not zeros: every box belongs to exactly one level, so every row is written
        # (zero-filling 100 MB of output cost a fifth of the whole call)
        result = torch.empty(
            (len(rois), shapes[0][1]) + output_size, dtype=first.dtype, device=first.device
        )
    else:
        dtype = _features_dtype(np.asarray(first))
        rois = _rois(boxes, dtype)
        result = np.empty((len(rois), shapes[0][1]) + output_size, dtype=dtype)
    k_min = int(-np.log2(np.float32(scales[0])))
    k_max = int(-np.log2(np.float32(scales[-1])))
    levels = _fpn_levels(boxes, k_min, k_max, canonical_scale, canonical_level, eps)
    # Plain CPU maps without autograd: each level's kernel writes its boxes' rows of the result
    # in place (scattering the per-level outputs afterwards copied the whole result once more).
    if _is_tensor(first):
        in_place = all(
            _is_tensor(f)
            and f.device.type == "cpu"
            and f.dtype == first.dtype
            and f.is_contiguous()
            and not (f.requires_grad and torch.is_grad_enabled())
            for f in levels_in
        )
    else:
        in_place = all(not _is_tensor(f) and np.asarray(f).dtype == dtype for f in levels_in)
    for level, (feature, scale) in enumerate(zip(levels_in, scales)):
        idx = np.nonzero(levels == level)[0]
        if in_place:
            array = feature.detach().numpy() if _is_tensor(feature) else np.asarray(feature)
            level_rois = rois[idx].numpy() if _is_tensor(rois) else rois[idx]
            out = result.numpy() if _is_tensor(result) else result
            _core.roi_align_forward(
                array,
                level_rois,
                output_size,
                float(scale),
                int(sampling_ratio),
                bool(aligned),
                mode,
                "NCHW",
                num_threads,
                out=out,
                rows=idx,
            )
            continue
        if _is_tensor(first):
            idx = torch.as_tensor(idx, device=first.device)
        result[idx] = pool(feature, rois[idx], scale)
    return result


def max_pool2d(
    input: Any,
    kernel_size: Union[int, Sequence[int]],
    stride: Union[int, Sequence[int], None] = None,
    padding: Union[int, Sequence[int]] = 0,
    *,
    num_threads: Union[int, None] = None,
) -> Any:
    """Max pooling with the same arguments and the same bits as
    ``torch.nn.functional.max_pool2d`` (dilation 1, ``ceil_mode=False``).

    Every output element is the largest input value of its window (padding is never a
    candidate); a NaN in the window gives NaN, and the values are torch's bit for bit, signed
    zeros and NaN payloads included.

    Args:
        input: float32 or float64 array or tensor, (C, H, W) or (N, C, H, W).
        kernel_size: ``k`` or ``(kh, kw)``, >= 1.
        stride: ``s`` or ``(sh, sw)``, >= 1; None (torch's default) is ``kernel_size``.
        padding: ``p`` or ``(ph, pw)``, at most half the kernel (torch's limit).
        num_threads: None = the process budget, -1 = all cores, n >= 1 = n.

    Returns:
        The input's kind and dtype, (..., OH, OW) with OH = (H + 2 ph - kh) // sh + 1.
        CPU tensors are read in place (a channels-last one is copied to NCHW first); GPU
        tensors, and tensors that need a gradient, go to torch's own ``max_pool2d``.
    """
    kernel = _pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else _pair(stride, "stride")
    pads = _pair(padding, "padding", 0)
    if _is_tensor(input):
        import torch

        if input.device.type != "cpu" or (input.requires_grad and torch.is_grad_enabled()):
            return torch.nn.functional.max_pool2d(input, kernel, strides, pads)
        array = to_numpy(input.detach().contiguous(), "input")
        return torch.from_numpy(_core.max_pool2d(array, kernel, strides, pads, num_threads))
    return _core.max_pool2d(to_numpy(input, "input"), kernel, strides, pads, num_threads)
