"""Paste Mask R-CNN's small mask probabilities into the image, as bool masks or COCO RLE.

:func:`paste_masks` is ``torchvision.models.detection.roi_heads.paste_masks_in_image`` followed
by ``>= threshold``, bit for bit, but it computes only the visible part of each box, runs
instances on several threads without the GIL, and can emit COCO RLE directly, without ever
allocating an (N, H, W) array.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from . import _core
from ._arrays import image_size as image_size_of
from ._arrays import is_tensor, like_input, loaded_torch, to_numpy

__all__ = ["paste_masks"]

_OUTPUTS = ("dense", "rle")
_ARITHMETIC = ("auto", "portable", "fma")
# ATen CPU capabilities whose upsample kernels were built with FMA contraction (x86-64).
_FMA_CAPABILITIES = ("AVX2", "AVX512")


def _use_fma(arithmetic: str) -> bool:
    """ "auto": follow the torch already loaded in this process (it is not imported here)."""
    if arithmetic != "auto":
        return arithmetic == "fma"
    torch = loaded_torch()
    if torch is None:
        return False
    try:
        return torch.backends.cpu.get_cpu_capability() in _FMA_CAPABILITIES
    except AttributeError:  # torch < 2.1 has no get_cpu_capability
        return False


def _boxes(x: Any) -> np.ndarray:
    """boxes as an array; integer boxes are cast to float32 (torchvision's dtype). The binding
    checks the dtype and shape."""
    a = to_numpy(x, "boxes")
    return a.astype(np.float32) if a.dtype.kind in "iu" else a


def _sigmoid(x: Any) -> Any:
    if is_tensor(x):
        return x.detach().cpu().sigmoid()
    a = to_numpy(x, "masks")
    if a.dtype not in (np.float32, np.float64):
        return a  # left to the binding, which rejects the dtype
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0: sigmoid is then 0
        return 1 / (1 + np.exp(-a))


def paste_masks(
    masks: Any,
    boxes: Any,
    image_size: Sequence[int],
    *,
    threshold: float = 0.5,
    logits: bool = False,
    arithmetic: str = "auto",
    output: str = "dense",
    compressed: bool = True,
    num_threads: Union[int, None] = None,
) -> Any:
    """Paste N square mask probabilities into an image of ``image_size`` at ``boxes``.

    The rule is torchvision's Mask R-CNN post-processing (``paste_masks_in_image`` with
    padding=1): each M x M mask is padded to (M+2) x (M+2), its box is expanded by (M+2)/M about
    its centre and truncated to integers, the padded mask is resized bilinearly
    (align_corners=False) to the integer box, clipped to the image and thresholded with
    ``>= threshold``. The result equals ``paste_masks_in_image(masks[:, None], boxes, (H, W))[:,
    0] >= threshold`` bit for bit. ATen has two arithmetics for the resize: its portable kernels
    (``ATEN_CPU_CAPABILITY=default``) and its AVX2/AVX-512 ones, whose compiler fused
    multiply-adds, so that values can differ in the last bit and a pixel whose probability is
    within about 1e-7 of the threshold can flip. ``arithmetic`` picks which one to reproduce.
    Boxes partly or entirely outside the image are fine (outside parts are empty).

    Parameters
    ----------
    masks : array or tensor
        (N, M, M) float32 or float64 probabilities (numpy array or tensor, CUDA ones are copied
        to the host; ``(N, 1, M, M)`` is accepted too). The interpolation runs in this dtype.
    boxes : array or tensor
        (N, 4) ``(x1, y1, x2, y2)`` in image pixels, float32 (torchvision's dtype) or float64;
        integer boxes are cast to float32. Must be finite.
    image_size : (int, int)
        ``(height, width)``.
    threshold : float
        Foreground where the pasted probability >= threshold, in (0, 1].
    logits : bool
        The masks are logits: they go through a sigmoid first (``torch.sigmoid`` for tensors, as
        torchvision's ``maskrcnn_inference``; ``1 / (1 + exp(-x))`` in numpy for arrays, which may
        differ from torch's vectorised sigmoid in the last bit).
    arithmetic : {"auto", "portable", "fma"}
        ``"portable"`` (ATen's default-ISA kernels), ``"fma"`` (its AVX2 and AVX-512 kernels,
        what torch runs on x86-64 unless told otherwise), or ``"auto"``: ``"fma"`` when torch is
        already imported and reports an AVX2/AVX-512 CPU capability, else ``"portable"``. The
        choice matters only for values on the threshold.
    output : {"dense", "rle"}
        ``"dense"`` for an (N, H, W) bool array (a bool tensor on the masks' device for tensor
        masks), or ``"rle"`` for a list of N COCO RLE dicts ``{"size": [H, W], "counts": ...}``
        built while pasting, with no N x H x W buffer.
    compressed : bool
        For ``"rle"``: counts as pycocotools' compressed bytes (True) or a list of ints (False).
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    array or tensor or list of dict
        The (N, H, W) bool masks, or N RLE dicts (``output="rle"``).

    Raises
    ------
    TypeError
        ``masks`` neither float32 nor float64; ``boxes`` neither real nor integer numbers;
        ``num_threads`` not None or an int.
    ValueError
        ``masks`` not (N, M, M) (or (N, 1, M, M)) square masks; ``boxes`` not (N, 4) with one
        box per mask, or not finite; ``image_size`` not two ints >= 0; ``threshold`` not a
        number in (0, 1]; ``arithmetic`` or ``output`` not one of the values above;
        ``num_threads`` 0 or below -1.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import paste
    >>> masks = np.ones((1, 2, 2), np.float32)
    >>> boxes = np.array([[0, 0, 4, 4]], np.float32)
    >>> paste.paste_masks(masks, boxes, (6, 6))[0].astype(int)
    array([[0, 1, 1, 1, 0, 0],
           [1, 1, 1, 1, 1, 0],
           [1, 1, 1, 1, 1, 0],
           [1, 1, 1, 1, 1, 0],
           [0, 1, 1, 1, 0, 0],
           [0, 0, 0, 0, 0, 0]])
    >>> paste.paste_masks(masks, boxes, (6, 6), output="rle", compressed=False)
    [{'size': [6, 6], 'counts': [1, 3, 2, 5, 1, 5, 1, 5, 2, 3, 8]}]
    """
    if arithmetic not in _ARITHMETIC:
        raise ValueError(f"arithmetic must be 'auto', 'portable' or 'fma', got {arithmetic!r}")
    if output not in _OUTPUTS:
        raise ValueError(f"output must be 'dense' or 'rle', got {output!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    height, width = image_size_of(image_size)
    if logits:
        masks = _sigmoid(masks)
    m = to_numpy(masks, "masks")
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    b = _boxes(boxes)
    result = _core.paste_masks(
        m,
        b,
        height,
        width,
        float(threshold),
        _use_fma(arithmetic),
        output,
        bool(compressed),
        num_threads=num_threads,
    )
    return like_input(result, masks) if output == "dense" else result
