"""Array plumbing shared by the public modules: torch tensors in and out without a hard
dependency on torch (it is imported only when a tensor is actually passed).

The error contract (DESIGN.md): Python only coerces (tensors and lists to numpy arrays, here);
the bindings own the dtype, rank and shape checks (TypeError for a dtype, ValueError for a rank,
shape or emptiness, naming the argument); the kernels own the value checks."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def loaded_torch() -> Any:
    """The torch module when this process has imported it, else None (never imports it)."""
    return sys.modules.get("torch")


def is_tensor(x: Any) -> bool:
    """True for a torch.Tensor, without importing torch when it was never imported."""
    torch = loaded_torch()
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


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def pair(value: Any, name: str, what: str) -> tuple:
    """``(a, b)`` from one value (used for both) or a sequence of two, else ValueError saying
    ``name must be {what}``. Only the count: the callers check the values' types."""
    seq = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(seq) != 2:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return seq


def int_pair(
    value: Any, name: str, *, minimum: int = 1, what: str = "an int or a pair of ints"
) -> tuple[int, int]:
    """``(a, b)`` ints from an int or a pair of ints, each >= ``minimum``: TypeError for
    non-ints (bools included), ValueError otherwise, naming ``name``."""
    a, b = pair(value, name, what)
    if not (_is_int(a) and _is_int(b)):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if min(a, b) < minimum:
        condition = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {condition}, got {value!r}")
    return int(a), int(b)


def size(value: Any, name: str) -> int:
    """A height or width: an int >= 0 (not bool), TypeError / ValueError naming it."""
    if not _is_int(value):
        raise TypeError(f"{name} must be a non-negative int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}")
    return int(value)


def image_size(value: Any, name: str = "image_size") -> tuple[int, int]:
    """``(height, width)``, the one spelling of an image size in the Python API: a tuple, list
    or 1-D array of two ints >= 0 (integral floats such as 4.0 count as ints); else ValueError
    naming ``name``."""
    ok = isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1)
    items = list(value) if ok else []
    ok = ok and len(items) == 2
    ints = []
    for v in items if ok else []:
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        ok = ok and _is_int(v) and v >= 0
        ints.append(v)
    if not ok:
        raise ValueError(f"{name} must be (height, width), two ints >= 0, got {value!r}")
    return int(ints[0]), int(ints[1])
