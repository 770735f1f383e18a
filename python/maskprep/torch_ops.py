"""RoI Align as a registered torch operator: ``torch.ops.maskprep.roi_align``.

Importing this module (it imports torch; :mod:`maskprep` itself never does) registers two
operators with ``torch.library``, with the schemas of torchvision's ``roi_align`` and
``_roi_align_backward``:

- ``torch.ops.maskprep.roi_align(input, rois, spatial_scale, pooled_height, pooled_width,
  sampling_ratio, aligned)``: maskprep's kernel on CPU tensors (the bits of torchvision's CPU
  kernel), torchvision's own operator on any other device;
- ``torch.ops.maskprep.roi_align_backward(...)``: its gradient, wired to the first through
  ``torch.library.register_autograd``.

Both have fake (meta) implementations, so they work under ``torch.jit.script``,
``torch.compile`` (``fullgraph=True``) and ``torch.fx`` tracing, and pass
``torch.library.opcheck``. float16 and bfloat16 features are accepted as torchvision's CPU kernel
accepts them: the kernel computes in float32 and the result is rounded to the input dtype (the
documented tolerance against torchvision is in tests/test_torch_ops.py: torchvision accumulates
in the half type itself, so results differ by a few half-precision ulps).

The scriptable front ends mirror torchvision's: :func:`roi_align` (boxes as a (K, 5) tensor or a
list of (L, 4) tensors), :class:`RoIAlign` and :class:`MultiScaleRoIAlign`; and
:func:`patch_poolers` swaps the operator into every ``torchvision.ops.MultiScaleRoIAlign`` of a
model (Mask R-CNN's box and mask poolers), which can still be scripted afterwards.

The operator takes the process thread budget (:func:`maskprep.threads`); the quantized
``torchvision::roi_align`` cases are out of scope.
"""

from typing import List, Optional, Union

import torch
import torchvision
from torch import Tensor
from torch.jit.annotations import BroadcastingList2
from torch.nn.modules.utils import _pair

from . import _core

__all__ = ["roi_align", "RoIAlign", "MultiScaleRoIAlign", "patch_poolers"]

# Half types are computed in float32 (the kernels take float32 and float64).
_WIDENED = (torch.float16, torch.bfloat16)
_KERNEL = (torch.float32, torch.float64)


def _kernel_dtype(dtype: torch.dtype, name: str) -> torch.dtype:
    if dtype in _KERNEL:
        return dtype
    if dtype in _WIDENED:
        return torch.float32
    raise TypeError(f"{name} must be a float16, bfloat16, float32 or float64 tensor, got {dtype}")


@torch.library.custom_op("maskprep::roi_align", mutates_args=())
def _roi_align_op(
    input: Tensor,
    rois: Tensor,
    spatial_scale: float,
    pooled_height: int,
    pooled_width: int,
    sampling_ratio: int,
    aligned: bool,
) -> Tensor:
    if input.device.type != "cpu":
        return torch.ops.torchvision.roi_align(
            input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned
        )
    dtype = _kernel_dtype(input.dtype, "input")
    features = input.detach().to(dtype).contiguous()
    boxes = rois.detach().to(dtype).contiguous()
    out = _core.roi_align_forward(
        features.numpy(),
        boxes.numpy(),
        (pooled_height, pooled_width),
        float(spatial_scale),
        int(sampling_ratio),
        bool(aligned),
        "avg",
        "NCHW",
    )
    return torch.from_numpy(out).to(input.dtype)


@_roi_align_op.register_fake
def _roi_align_fake(
    input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned
):
    return input.new_empty((rois.shape[0], input.shape[1], pooled_height, pooled_width))


@torch.library.custom_op("maskprep::roi_align_backward", mutates_args=())
def _roi_align_backward_op(
    grad: Tensor,
    rois: Tensor,
    spatial_scale: float,
    pooled_height: int,
    pooled_width: int,
    batch_size: int,
    channels: int,
    height: int,
    width: int,
    sampling_ratio: int,
    aligned: bool,
) -> Tensor:
    if grad.device.type != "cpu":
        return torch.ops.torchvision._roi_align_backward(
            grad,
            rois,
            spatial_scale,
            pooled_height,
            pooled_width,
            batch_size,
            channels,
            height,
            width,
            sampling_ratio,
            aligned,
        )
    dtype = _kernel_dtype(grad.dtype, "grad")
    out = _core.roi_align_backward(
        grad.detach().to(dtype).contiguous().numpy(),
        rois.detach().to(dtype).contiguous().numpy(),
        (batch_size, channels, height, width),
        (pooled_height, pooled_width),
        float(spatial_scale),
        int(sampling_ratio),
        bool(aligned),
        "avg",
        "NCHW",
        None,  # features: avg mode needs none
    )
    return torch.from_numpy(out).to(grad.dtype)


@_roi_align_backward_op.register_fake
def _roi_align_backward_fake(
    grad, rois, spatial_scale, ph, pw, batch_size, channels, height, width, sampling_ratio, aligned
):
    return grad.new_empty((batch_size, channels, height, width))


def _setup_context(ctx, inputs, output):
    input, rois, spatial_scale, ph, pw, sampling_ratio, aligned = inputs
    ctx.save_for_backward(rois)
    ctx.args = (spatial_scale, ph, pw, *input.shape, sampling_ratio, aligned)


def _backward(ctx, grad):
    (rois,) = ctx.saved_tensors
    spatial_scale, ph, pw, n, c, h, w, sampling_ratio, aligned = ctx.args
    grad_input = torch.ops.maskprep.roi_align_backward(
        grad, rois, spatial_scale, ph, pw, n, c, h, w, sampling_ratio, aligned
    )
    # Boxes get no gradient (as in torchvision), nor do the scalars.
    return grad_input, None, None, None, None, None, None


torch.library.register_autograd("maskprep::roi_align", _backward, setup_context=_setup_context)


def _rois_from_list(boxes: List[Tensor]) -> Tensor:
    """(K, 5) rows (batch index, x1, y1, x2, y2) from per-image (L, 4) boxes."""
    concat = torch.cat(boxes, dim=0)
    ids = torch.cat(
        [torch.full_like(b[:, :1], i, layout=torch.strided) for i, b in enumerate(boxes)], dim=0
    )
    return torch.cat([ids, concat], dim=1)


@torch.fx.wrap  # a leaf for fx tracing (as torchvision's): boxes may be a list
def roi_align(
    input: Tensor,
    boxes: Union[Tensor, List[Tensor]],
    output_size: BroadcastingList2[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Tensor:
    """``torchvision.ops.roi_align`` on maskprep's operator; scriptable and compilable.

    Parameters
    ----------
    input : Tensor
        (N, C, H, W) features, float16, bfloat16, float32 or float64.
    boxes : Tensor or list of Tensor
        (K, 5) rows ``(batch_index, x1, y1, x2, y2)`` or a list of N per-image (L, 4) boxes.
    output_size : int or (int, int)
        ``PH`` or ``(PH, PW)``.
    spatial_scale, sampling_ratio, aligned
        As in torchvision.

    Returns
    -------
    Tensor
        (K, C, PH, PW) in the input's dtype and device.

    Raises
    ------
    AssertionError
        For boxes that are not (K, 5) or a list of (L, 4), as torchvision raises.
    TypeError
        For features of another dtype.
    ValueError
        For non-finite coordinates or batch indices outside [0, N).

    Examples
    --------
    >>> import torch
    >>> from maskprep.torch_ops import roi_align
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> roi_align(x, torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]]), 2, aligned=True)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    size = _pair(output_size)
    # torchvision's check_roi_boxes_shape, with its AssertionError (this mirrors its API)
    if isinstance(boxes, torch.Tensor):
        torch._assert(
            boxes.dim() == 2 and boxes.size(1) == 5,
            "boxes must be a (K, 5) tensor of (batch_index, x1, y1, x2, y2)",
        )
        rois = boxes
    else:
        for b in boxes:
            torch._assert(b.dim() == 2 and b.size(1) == 4, "boxes must be a list of (L, 4) tensors")
        rois = _rois_from_list(boxes)
    return torch.ops.maskprep.roi_align(
        input, rois, spatial_scale, size[0], size[1], sampling_ratio, aligned
    )


class RoIAlign(torch.nn.Module):
    """``torchvision.ops.RoIAlign`` on maskprep's operator (see :func:`roi_align`).

    Examples
    --------
    >>> import torch
    >>> from maskprep.torch_ops import RoIAlign
    >>> pool = RoIAlign(2, spatial_scale=1.0, sampling_ratio=2, aligned=False)
    >>> pool(torch.ones(1, 3, 8, 8), torch.tensor([[0.0, 1.0, 1.0, 5.0, 5.0]])).shape
    torch.Size([1, 3, 2, 2])
    """

    def __init__(
        self,
        output_size: BroadcastingList2[int],
        spatial_scale: float,
        sampling_ratio: int,
        aligned: bool = False,
    ):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input: Tensor, rois: Union[Tensor, List[Tensor]]) -> Tensor:
        """Pool ``rois`` from ``input`` with the module's settings (:func:`roi_align`).

        Parameters
        ----------
        input : Tensor
            (N, C, H, W) features, float16, bfloat16, float32 or float64.
        rois : Tensor or list of Tensor
            (K, 5) rows ``(batch_index, x1, y1, x2, y2)`` or a list of N per-image (L, 4) boxes.

        Returns
        -------
        Tensor
            (K, C, PH, PW) in the input's dtype and device.

        Raises
        ------
        AssertionError
            For boxes that are not (K, 5) or a list of (L, 4), as torchvision raises.
        TypeError
            For features of another dtype.
        ValueError
            For non-finite coordinates or batch indices outside [0, N).

        Examples
        --------
        >>> import torch
        >>> from maskprep.torch_ops import RoIAlign
        >>> pool = RoIAlign(2, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> pool.forward(x, [torch.tensor([[0.0, 0.0, 4.0, 4.0]])])
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
        """
        return roi_align(
            input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale="
            f"{self.spatial_scale}, sampling_ratio={self.sampling_ratio}, aligned={self.aligned})"
        )


def _multiscale_roi_align(
    x_filtered: List[Tensor],
    boxes: List[Tensor],
    output_size: List[int],
    sampling_ratio: int,
    scales: Optional[List[float]],
    mapper: Optional[torchvision.ops.poolers.LevelMapper],
) -> Tensor:
    """torchvision's ``_multiscale_roi_align`` with maskprep's operator (same level rule, same
    row order); written out because torchvision's calls its own ``roi_align`` by name."""
    if scales is None or mapper is None:
        raise ValueError("scales and mapper should not be None")
    rois = _rois_from_list(boxes)
    if len(x_filtered) == 1:
        return roi_align(x_filtered[0], rois, output_size, scales[0], sampling_ratio)
    levels = mapper(boxes)
    first = x_filtered[0]
    result = torch.zeros(
        (rois.shape[0], first.shape[1], output_size[0], output_size[1]),
        dtype=first.dtype,
        device=first.device,
    )
    for level, (feature, scale) in enumerate(zip(x_filtered, scales)):
        idx = torch.where(levels == level)[0]
        pooled = roi_align(feature, rois[idx], output_size, scale, sampling_ratio)
        result.index_put_((idx,), pooled.to(result.dtype))
    return result


class MultiScaleRoIAlign(torchvision.ops.MultiScaleRoIAlign):
    """``torchvision.ops.MultiScaleRoIAlign`` pooling with maskprep's operator: the same
    arguments, level rule and results (bit for bit on CPU); scriptable.

    Examples
    --------
    >>> from collections import OrderedDict
    >>> import torch
    >>> from maskprep.torch_ops import MultiScaleRoIAlign
    >>> pool = MultiScaleRoIAlign(["p2", "p3"], output_size=7, sampling_ratio=2)
    >>> x = OrderedDict(p2=torch.rand(1, 4, 64, 64), p3=torch.rand(1, 4, 32, 32))
    >>> pool(x, [torch.tensor([[0.0, 0.0, 100.0, 100.0]])], [(256, 256)]).shape
    torch.Size([1, 4, 7, 7])
    """

    def forward(
        self,
        x: dict[str, Tensor],
        boxes: List[Tensor],
        image_shapes: List[tuple[int, int]],
    ) -> Tensor:
        """Pool every box from the feature level torchvision's rule assigns it.

        Parameters
        ----------
        x : dict of str to Tensor
            The feature maps by name ((N, C, H, W) each); those of ``featmap_names`` are used.
        boxes : list of Tensor
            Per image, (L, 4) boxes ``(x1, y1, x2, y2)`` in image coordinates.
        image_shapes : list of (int, int)
            Per image, its ``(height, width)`` (the scales are inferred from them on the first
            call).

        Returns
        -------
        Tensor
            (K, C, PH, PW), the boxes of all images in order.

        Raises
        ------
        AssertionError
            For boxes that are not (L, 4) tensors, as torchvision raises.
        TypeError
            For features of a dtype other than float16, bfloat16, float32 or float64.
        ValueError
            For non-finite coordinates.

        Examples
        --------
        >>> import torch
        >>> from collections import OrderedDict
        >>> from maskprep.torch_ops import MultiScaleRoIAlign
        >>> pool = MultiScaleRoIAlign(["p2", "p3"], output_size=2, sampling_ratio=2)
        >>> x = OrderedDict(p2=torch.ones(1, 1, 64, 64), p3=torch.full((1, 1, 32, 32), 2.0))
        >>> boxes = [torch.tensor([[0.0, 0.0, 16.0, 16.0], [0.0, 0.0, 200.0, 200.0]])]
        >>> pool(x, boxes, [(256, 256)]).flatten(1).tolist()  # small box: p2, large box: p3
        [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]
        """
        x_filtered = torchvision.ops.poolers._filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:  # type: ignore[has-type]
            self.scales, self.map_levels = torchvision.ops.poolers._setup_scales(
                x_filtered, image_shapes, self.canonical_scale, self.canonical_level
            )
        return _multiscale_roi_align(
            x_filtered, boxes, self.output_size, self.sampling_ratio, self.scales, self.map_levels
        )


def patch_poolers(model: torch.nn.Module) -> int:
    """Swap maskprep's :class:`MultiScaleRoIAlign` for every torchvision
    ``MultiScaleRoIAlign`` inside ``model``, in place (their settings kept). The model can still
    be scripted with ``torch.jit.script``.

    Parameters
    ----------
    model : torch.nn.Module
        The model, e.g. a torchvision Mask R-CNN (box and mask poolers).

    Returns
    -------
    int
        How many poolers were swapped.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.

    Examples
    --------
    >>> import torch
    >>> import torchvision
    >>> from maskprep.torch_ops import patch_poolers
    >>> model = torchvision.models.detection.maskrcnn_resnet50_fpn(
    ...     weights=None, weights_backbone=None)
    >>> patch_poolers(model)
    2
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    swapped = 0
    for module in model.modules():
        if type(module) is torchvision.ops.MultiScaleRoIAlign:
            module.__class__ = MultiScaleRoIAlign  # no state of its own: a class swap suffices
            swapped += 1
    return swapped
