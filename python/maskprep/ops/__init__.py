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

One module per concern: :mod:`maskprep.ops.align` (RoI Align and its autograd function),
:mod:`maskprep.ops.multiscale` (the FPN level rule), :mod:`maskprep.ops.pooling` (max pooling);
``maskprep.ops._rois`` holds what the RoI Align entry points share, including the one call
into the compiled kernel.
"""

from __future__ import annotations

from ..paste import paste_masks
from .align import roi_align
from .multiscale import multi_scale_roi_align
from .pooling import max_pool2d

__all__ = ["roi_align", "multi_scale_roi_align", "paste_masks", "max_pool2d"]
