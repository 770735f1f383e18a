"""Array plumbing shared by the public modules: torch tensors in and out without a hard
dependency on torch (it is imported only when a tensor is actually passed)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_tensor(x: Any) -> bool:
    """True for a torch.Tensor, without importing torch when it was never imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view of x: CPU tensors are shared zero-copy, GPU tensors are copied to the host."""
    if is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def like_input(result: np.ndarray, original: Any) -> Any:
    """Return result as a tensor on original's device when original was a tensor."""
    if is_tensor(original):
        import torch

        return torch.from_numpy(result).to(original.device)
    return result
