"""RoI Align on numpy arrays and torch tensors: torchvision's CPU kernel bit for bit in average
mode, plus a max mode, NHWC maps, several threads and a deterministic backward (a
``torch.autograd.Function``). CUDA tensors go to ``torchvision.ops.roi_align``."""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from .. import _core
from .._arrays import int_pair, to_numpy
from .._arrays import is_tensor as _is_tensor
from ._rois import _features_dtype, _forward, _half, _rois

__all__ = ["roi_align"]

_LAYOUTS = ("NCHW", "NHWC")


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
            out = _forward(
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
                num_threads=ctx.num_threads,
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
        out = torch.from_numpy(_forward(array, rois.numpy(), *args))
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

    Parameters
    ----------
    features : array or tensor
        float32 or float64, (N, C, H, W) or, with ``layout="NHWC"``, (N, H, W, C). A
        channels-last CPU tensor of shape (N, C, H, W) is pooled in place. float16 arrays and
        float16 / bfloat16 tensors are pooled in float32 and the result (and gradient) rounded
        once to their dtype.
    boxes : array, tensor or list of them
        (K, 5) rows ``(batch_index, x1, y1, x2, y2)``, or a list of N per-image (L, 4)
        ``(x1, y1, x2, y2)`` arrays, in input-image coordinates; cast to the features' dtype.
        Coordinates must be finite and batch indices in [0, N).
    output_size : int or (int, int)
        ``PH`` or ``(PH, PW)``, positive.
    spatial_scale : float
        Feature-map pixels per input pixel (e.g. 1/4 for a stride-4 map).
    sampling_ratio : int
        Sample points per bin side; <= 0 uses ceil(roi size / output size).
    aligned : bool
        Shift boxes by -0.5 pixel (pixel centres at .5; detectron2's ROIAlignV2). Boxes with
        x2 < x1 are widened to one pixel when False (torchvision); when True they keep a negative
        size, so a positive sampling_ratio samples the mirrored bins and an adaptive one gives
        zeros (torchvision raises there).
    mode : {"avg", "max"}
        ``"avg"`` (torchvision) or ``"max"``: the largest bilinear sample of each bin, as ONNX
        RoiAlign specifies; its gradient goes to the first largest sample.
    layout : {"NCHW", "NHWC"}
        The order of the features' axes and of the result's.
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    array or tensor
        The features' kind and dtype: (K, C, PH, PW), or (K, PH, PW, C) for NHWC (channels-last
        for a channels-last tensor). CUDA tensors are pooled by torchvision on their device.

    Raises
    ------
    TypeError
        Features that are not float32/float64, boxes that are not real numbers, an
        ``output_size`` that is not ints.
    ValueError
        Bad shapes, non-finite boxes, batch indices out of range, a non-positive
        ``output_size``, an unknown ``mode`` or ``layout``.

    Examples
    --------
    >>> import numpy as np
    >>> features = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> roi_align(features, np.array([[0, 0, 0, 2, 2]], np.float32), 2, sampling_ratio=1)
    array([[[[2.5, 3.5],
             [6.5, 7.5]]]], dtype=float32)
    """
    output_size = int_pair(output_size, "output_size")
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
        pooled = roi_align(
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
        return pooled.astype(features.dtype)
    rois = _rois(boxes, _features_dtype(features))
    return _forward(
        features,
        rois,
        output_size,
        spatial_scale,
        sampling_ratio,
        aligned,
        mode,
        layout,
        num_threads,
    )
