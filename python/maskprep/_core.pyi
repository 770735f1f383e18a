# Type stub for the compiled module maskprep._core (checked by mypy.stubtest in the tests).
# Each concern keeps its own section, in the order of cpp/bindings/module.cpp.
from typing import Any

import numpy as np
import numpy.typing as npt

# ---- core ---------------------------------------------------------------------------------------
def build_info() -> dict[str, Any]: ...
def get_thread_budget() -> int: ...
def set_thread_budget(n: int) -> None: ...
def available_cores() -> int: ...
def resolve_threads(num_threads: int | None) -> int: ...

# ---- rle ----------------------------------------------------------------------------------------

# ---- roi_align ----------------------------------------------------------------------------------
def roi_align_forward(
    features: npt.NDArray[np.floating[Any]],
    rois: npt.NDArray[np.floating[Any]],
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
    mode: str,
    layout: str,
    num_threads: int | None,
) -> npt.NDArray[np.floating[Any]]: ...
def roi_align_backward(
    grad_output: npt.NDArray[np.floating[Any]],
    rois: npt.NDArray[np.floating[Any]],
    features_shape: tuple[int, ...],
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
    mode: str,
    layout: str,
    features: npt.NDArray[np.floating[Any]] | None,
    num_threads: int | None,
) -> npt.NDArray[np.floating[Any]]: ...
