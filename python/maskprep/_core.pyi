# Type stub for the compiled module maskprep._core (checked by mypy.stubtest in the tests).
# Each concern keeps its own section, in the order of cpp/bindings/module.cpp.
import contextvars
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

# ---- core ---------------------------------------------------------------------------------------
def build_info() -> dict[str, Any]: ...
def get_thread_budget() -> int: ...
def current_thread_budget() -> int: ...

thread_scope: contextvars.ContextVar[int]

def set_thread_budget(n: int) -> None: ...
def available_cores() -> int: ...
def resolve_threads(num_threads: int | None) -> int: ...

# ---- errors naming one object of a batch (cpp/bindings/rle_objects.hpp) -------------------------
class IndexedValueError(ValueError):
    """str(e) is the batch's name, "[index]" and message: "segmentations[3] polygon 1 ..."."""

    index: int
    message: str

class IndexedTypeError(TypeError):
    index: int
    message: str

# ---- rle ----------------------------------------------------------------------------------------
def rle_encode(
    masks: npt.NDArray[Any], layout: str, compressed: bool, *, num_threads: int | None = None
) -> list[dict[str, Any]]: ...
def rle_decode(
    rles: list[dict[str, Any]], layout: str, *, num_threads: int | None = None
) -> npt.NDArray[np.uint8]: ...
def rle_area(
    rles: list[dict[str, Any]], *, num_threads: int | None = None
) -> npt.NDArray[np.uint64]: ...
def rle_to_bbox(
    rles: list[dict[str, Any]], *, num_threads: int | None = None
) -> npt.NDArray[np.float64]: ...
def rle_iou(
    dt: list[dict[str, Any]],
    gt: list[dict[str, Any]],
    iscrowd: Any,
    *,
    num_threads: int | None = None,
) -> npt.NDArray[np.float64]: ...
def bbox_iou(
    dt: npt.ArrayLike, gt: npt.ArrayLike, iscrowd: Any, *, num_threads: int | None = None
) -> npt.NDArray[np.float64]: ...
def rle_merge(rles: list[dict[str, Any]], intersect: bool) -> dict[str, Any]: ...
def rle_merge_groups(
    groups: Any, intersect: bool, *, num_threads: int | None = None
) -> list[dict[str, Any]]: ...
def rle_counts_to_string(counts: npt.ArrayLike) -> bytes: ...
def rle_string_to_counts(s: bytes | str) -> npt.NDArray[np.uint64]: ...

# ---- polygon ------------------------------------------------------------------------------------
def rle_from_bbox(
    boxes: npt.ArrayLike, h: int, w: int, compressed: bool, *, num_threads: int | None = None
) -> list[dict[str, Any]]: ...
def rle_from_polygons(
    polygons: Any,
    h: int,
    w: int,
    compressed: bool,
    min_points: int = 3,
    *,
    num_threads: int | None = None,
) -> list[dict[str, Any]]: ...
def rle_from_segmentations(
    segmentations: Any,
    heights: npt.ArrayLike,
    widths: npt.ArrayLike,
    str_counts: bool,
    *,
    num_threads: int | None = None,
) -> list[dict[str, Any]]: ...

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
    *,
    num_threads: int | None = None,
    out: npt.NDArray[np.floating[Any]] | None = None,
    rows: npt.ArrayLike | None = None,
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
    *,
    num_threads: int | None = None,
) -> npt.NDArray[np.floating[Any]]: ...

# ---- paste --------------------------------------------------------------------------------------
def paste_masks(
    masks: npt.NDArray[np.floating[Any]],
    boxes: npt.NDArray[np.floating[Any]],
    height: int,
    width: int,
    threshold: float,
    fma: bool,
    output: str,
    compressed: bool,
    *,
    num_threads: int | None = None,
) -> Any: ...

# ---- pool ---------------------------------------------------------------------------------------

def max_pool2d(
    input: npt.NDArray[np.floating[Any]],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    *,
    num_threads: int | None = None,
) -> npt.NDArray[np.floating[Any]]: ...

# ---- imgproc ------------------------------------------------------------------------------------
def rgb_to_gray(
    image: npt.NDArray[np.uint8], *, num_threads: int | None = None
) -> npt.NDArray[np.uint8]: ...
def rgb_to_hsv(
    image: npt.NDArray[np.uint8], *, num_threads: int | None = None
) -> npt.NDArray[np.uint8]: ...
def gaussian_blur(
    image: npt.NDArray[Any],
    ksize: tuple[int, int],
    sigma: tuple[float, float],
    *,
    num_threads: int | None = None,
) -> npt.NDArray[Any]: ...
def equalize_hist(
    image: npt.NDArray[np.uint8], *, num_threads: int | None = None
) -> npt.NDArray[np.uint8]: ...
def otsu_threshold(
    image: npt.NDArray[np.uint8], convention: str, *, num_threads: int | None = None
) -> tuple[int, npt.NDArray[np.bool_]]: ...
def flood(
    image: npt.NDArray[np.uint8],
    seed_points: npt.NDArray[np.int64],
    tolerance: float,
    connectivity: int,
) -> npt.NDArray[np.bool_]: ...

# ---- morphology ---------------------------------------------------------------------------------
def structuring_element(shape: str, kh: int, kw: int) -> npt.NDArray[np.uint8]: ...
def morphology(
    mask: npt.NDArray[Any],
    kernel: npt.NDArray[Any],
    op: str,
    iterations: int,
    *,
    num_threads: int | None = None,
) -> npt.NDArray[np.bool_]: ...

# ---- components ---------------------------------------------------------------------------------
def label(
    mask: npt.ArrayLike, connectivity: int, stats: bool, *, num_threads: int | None = None
) -> tuple[Any, ...]: ...
def fill_holes(mask: npt.ArrayLike, *, num_threads: int | None = None) -> npt.NDArray[np.bool_]: ...
def remove_small_objects(
    mask: npt.ArrayLike, max_size: int, connectivity: int, *, num_threads: int | None = None
) -> npt.NDArray[np.bool_]: ...
def remove_small_holes(
    mask: npt.ArrayLike, max_size: int, connectivity: int, *, num_threads: int | None = None
) -> npt.NDArray[np.bool_]: ...

# ---- contours -----------------------------------------------------------------------------------
def mask_to_polygons(
    mask: npt.ArrayLike, tolerance: float, holes: bool, min_area: int
) -> list[list[float]]: ...
def masks_to_polygons(
    masks: npt.ArrayLike,
    tolerance: float,
    holes: bool,
    min_area: int,
    *,
    num_threads: int | None = None,
) -> list[list[list[float]]]: ...
def masks_to_polygon_arrays(
    masks: npt.ArrayLike,
    tolerance: float,
    holes: bool,
    min_area: int,
    *,
    num_threads: int | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

# ---- coco (whole files) -------------------------------------------------------------------------
class JsonSyntaxError(ValueError): ...
class JsonNotObjectError(ValueError): ...

def json_check(data: bytes) -> None: ...
def coco_convert_to_rle(
    data: bytes,
    recompute: bool,
    keep_going: bool,
    progress: Callable[[int, int], object] | None,
    *,
    num_threads: int | None = None,
) -> tuple[npt.NDArray[np.uint8], dict[str, int], list[tuple[Any, str]]]: ...
def coco_columns(data: bytes) -> dict[str, Any] | str: ...

# ---- targets ------------------------------------------------------------------------------------
def targets_dense_from_polygons(
    segmentations: Any,
    height: int,
    width: int,
    out: npt.NDArray[Any],
    *,
    num_threads: int | None = None,
) -> list[int]: ...
def targets_polygons_within_boxes(
    segmentations: Any, boxes: npt.NDArray[Any], mask_size: int, *, num_threads: int | None = None
) -> tuple[npt.NDArray[np.bool_], list[int]]: ...

# ---- yolo ---------------------------------------------------------------------------------------
def yolo_label_lines(
    xy: npt.NDArray[np.float64],
    part_points: npt.NDArray[np.int64],
    object_parts: npt.NDArray[np.int64],
    classes: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.float64],
    part_start: npt.NDArray[np.int64] | None = None,
    point_start: npt.NDArray[np.int64] | None = None,
    *,
    num_threads: int | None = None,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.bool_]]: ...
def yolo_overlapping_parts(
    xy: npt.NDArray[np.float64],
    part_points: npt.NDArray[np.int64],
    object_parts: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    part_start: npt.NDArray[np.int64] | None = None,
    point_start: npt.NDArray[np.int64] | None = None,
    *,
    num_threads: int | None = None,
) -> npt.NDArray[np.uint8]: ...

# ---- label images -------------------------------------------------------------------------------
def png_unfilter(data: bytes, h: int, w: int, bit_depth: int) -> npt.NDArray[Any]: ...
def rle_encode_labels(
    label: npt.NDArray[Any], ignore: list[int]
) -> tuple[npt.NDArray[Any], list[str]]: ...
