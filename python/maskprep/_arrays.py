"""Array plumbing shared by the public modules: torch tensors in and out without a hard
dependency on torch (it is imported only when a tensor is actually passed).

The error contract (DESIGN.md): Python only coerces (tensors and lists to numpy arrays, here);
the bindings own the dtype, rank and shape checks (TypeError for a dtype, ValueError for a rank,
shape or emptiness, naming the argument); the kernels own the value checks."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_tensor(x: Any) -> bool:
    """True for a torch.Tensor, without importing torch when it was never imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x: Any, name: str = "array") -> np.ndarray:
    """A numpy view of x: CPU tensors are shared zero-copy, GPU tensors are copied to the host,
    anything else goes through ``np.asarray``. A tensor dtype numpy has no equivalent for
    (bfloat16, ...) is a TypeError naming the argument."""
    if is_tensor(x):
        try:
            return x.detach().cpu().numpy()
        except TypeError:
            raise TypeError(f"{name} has dtype {x.dtype}, which has no numpy equivalent") from None
    return np.asarray(x)


def integer(value: Any, name: str) -> int:
    """value as an int (ints and numpy integers, not bool), else TypeError naming it. Only the
    type: the kernels check the range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def like_input(result: np.ndarray, original: Any) -> Any:
    """Return result as a tensor on original's device when original was a tensor."""
    if is_tensor(original):
        import torch

        return torch.from_numpy(result).to(original.device)
    return result
