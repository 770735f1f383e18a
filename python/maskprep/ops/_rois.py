"""What every RoI Align entry point shares: boxes to the kernel's (K, 5) rois, the dtype they
are cast to, and the one call into ``_core.roi_align_forward``."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _core
from .._arrays import to_numpy


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


def _forward(
    features: np.ndarray,
    rois: np.ndarray,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
    mode: str,
    layout: str,
    num_threads: Optional[int],
    *,
    out: Optional[np.ndarray] = None,
    rows: Optional[np.ndarray] = None,
) -> np.ndarray:
    """``_core.roi_align_forward`` on numpy arrays, the scalar arguments coerced once here.
    With ``out``, the pooled boxes are written to ``out[rows]`` in place (and ``out`` is
    returned)."""
    where = {} if out is None else {"out": out, "rows": rows}
    return _core.roi_align_forward(
        features,
        rois,
        output_size,
        float(spatial_scale),
        int(sampling_ratio),
        bool(aligned),
        mode,
        layout,
        num_threads=num_threads,
        **where,
    )
