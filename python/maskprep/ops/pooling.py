"""torch's ``max_pool2d`` (the pooling after ResNet's stem) bit for bit, without the argmax
indices torch's CPU kernel always computes."""

from __future__ import annotations

from typing import Any, Sequence, Union

from .. import _core
from .._arrays import int_pair, to_numpy
from .._arrays import is_tensor as _is_tensor

__all__ = ["max_pool2d"]


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

    Parameters
    ----------
    input : array or tensor
        float32 or float64, (C, H, W) or (N, C, H, W).
    kernel_size : int or (int, int)
        ``k`` or ``(kh, kw)``, >= 1.
    stride : int or (int, int), optional
        ``s`` or ``(sh, sw)``, >= 1; None (torch's default) is ``kernel_size``.
    padding : int or (int, int)
        ``p`` or ``(ph, pw)``, at most half the kernel (torch's limit).
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    array or tensor
        The input's kind and dtype, (..., OH, OW) with OH = (H + 2 ph - kh) // sh + 1. CPU
        tensors are read in place (a channels-last one is copied to NCHW first); GPU tensors,
        and tensors that need a gradient, go to torch's own ``max_pool2d``.

    Raises
    ------
    TypeError
        A dtype other than float32/float64, or sizes that are not ints.
    ValueError
        A bad rank, sizes below their minimum, padding over half the kernel.

    Examples
    --------
    >>> import numpy as np
    >>> max_pool2d(np.arange(16, dtype=np.float32).reshape(1, 4, 4), 2)
    array([[[ 5.,  7.],
            [13., 15.]]], dtype=float32)
    """
    kernel = int_pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else int_pair(stride, "stride")
    pads = int_pair(padding, "padding", minimum=0)
    if _is_tensor(input):
        import torch

        if input.device.type != "cpu" or (input.requires_grad and torch.is_grad_enabled()):
            return torch.nn.functional.max_pool2d(input, kernel, strides, pads)
        array = to_numpy(input.detach().contiguous(), "input")
        return torch.from_numpy(
            _core.max_pool2d(array, kernel, strides, pads, num_threads=num_threads)
        )
    return _core.max_pool2d(
        to_numpy(input, "input"), kernel, strides, pads, num_threads=num_threads
    )
