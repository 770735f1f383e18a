"""The ``"grow"`` box-to-mask method (see :mod:`maskprep.boxes`): per box, on the image crop,
Otsu or a flood fill -> the component that covers the box centre -> closing -> hole filling,
falling back to the filled box. Every step is a C++ kernel that releases the GIL; boxes run on
a thread pool, one kernel thread each."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Optional, Tuple

import numpy as np

from . import _core, components, imgproc, morphology, rle
from ._arrays import to_numpy
from ._threads import resolve_num_threads

SEEDS = ("otsu", "flood")


@functools.lru_cache(maxsize=64)
def _disc(k: int) -> np.ndarray:
    kernel = morphology.structuring_element("ellipse", k)
    kernel.setflags(write=False)
    return kernel


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """One process-wide pool (a pool per call costs more than growing a few boxes)."""
    return ThreadPoolExecutor(_core.available_cores(), thread_name_prefix="maskprep-grow")


def _gray(image: Any, size: Tuple[int, int]) -> np.ndarray:
    if image is None:
        raise ValueError("method 'grow' needs image, the (H, W) or (H, W, 3) uint8 picture")
    a = to_numpy(image, "image")
    # Checked here: a grey image is cropped in Python, never seen by a binding as a whole.
    expected = "an (H, W) or (H, W, 3) uint8 array"
    if a.dtype != np.uint8:
        raise TypeError(f"image must be {expected}, got {a.dtype} with shape {a.shape}")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"image must be {expected}, got {a.dtype} with shape {a.shape}")
    if a.shape[:2] != tuple(size):
        raise ValueError(
            f"image is {a.shape[0]} x {a.shape[1]} but image_size is {size[0]} x {size[1]}"
        )
    return imgproc.rgb_to_gray(a, num_threads=1) if a.ndim == 3 else np.ascontiguousarray(a)


def _object(crop: np.ndarray, seed: str, tolerance: Optional[float]) -> np.ndarray:
    ch, cw = crop.shape
    centre = (ch // 2, cw // 2)
    if seed == "flood":
        lo, hi = int(crop.min()), int(crop.max())
        tol = (hi - lo) / 4.0 if tolerance is None else tolerance
        return imgproc.flood(crop, centre, tolerance=tol, connectivity=4)
    _, fg = imgproc.otsu_threshold(crop, num_threads=1)
    # The object is the side of the threshold that the crop's border mostly is not.
    border = np.concatenate([fg[0], fg[-1], fg[1:-1, 0], fg[1:-1, -1]])
    return ~fg if border.mean() > 0.5 else fg


def _pick(obj: np.ndarray) -> Optional[np.ndarray]:
    """The component under the crop centre, else the largest one meeting the central half."""
    labels = components.label(obj, connectivity=8, num_threads=1)
    ch, cw = obj.shape
    at_centre = labels[ch // 2, cw // 2]
    if at_centre == 0:
        core = labels[ch // 4 : ch - ch // 4, cw // 4 : cw - cw // 4]
        counts = np.bincount(core.ravel())
        counts[0] = 0
        if counts.max() == 0:
            return None
        at_centre = int(np.argmax(counts))
    return labels == at_centre


def _ellipse_iou(mask: np.ndarray, box: np.ndarray, y0: int, x0: int) -> float:
    """IoU of a crop mask with the ellipse inscribed in the box (pixel-centre rule), from the
    ellipse's row spans (integer compares only)."""
    x, y, bw, bh = box
    ch, cw = mask.shape
    dy = (np.arange(ch) + y0 + 0.5 - (y + bh / 2)) / (bh / 2)
    half = (bw / 2) * np.sqrt(np.clip(1 - dy * dy, 0, None))  # half-width of each row's span
    centre = x + bw / 2 - x0 - 0.5  # crop column of the ellipse centre
    lo = np.clip(np.ceil(centre - half), 0, cw).astype(np.intp)
    hi = np.clip(np.floor(centre + half) + 1, 0, cw).astype(np.intp)
    hi = np.where(np.abs(dy) <= 1, np.maximum(hi, lo), lo)
    cols = np.arange(cw)
    ellipse = (cols >= lo[:, None]) & (cols < hi[:, None])
    inter = np.count_nonzero(mask & ellipse)
    union = np.count_nonzero(mask) + int((hi - lo).sum()) - inter
    return inter / union if union else 0.0


def _grow_one(
    gray: np.ndarray,
    box: np.ndarray,
    crop_box: np.ndarray,
    seed: str,
    tolerance: Optional[float],
    min_fill: float,
    min_ellipse_iou: float,
) -> Optional[Tuple[Tuple[int, int, int, int], np.ndarray]]:
    x0, y0, cw, ch = (int(v) for v in crop_box)
    y1, x1 = y0 + ch, x0 + cw
    if y1 - y0 < 3 or x1 - x0 < 3:
        return None  # nothing to segment: the box itself
    crop = gray[y0:y1, x0:x1]
    if crop.min() == crop.max():
        return None
    picked = _pick(_object(crop, seed, tolerance))
    if picked is None:
        return None
    k = max(3, int(round(0.05 * min(crop.shape))) | 1)  # closes gaps ~5% of the box
    mask = components.fill_holes(morphology.close(picked, _disc(k), num_threads=1), num_threads=1)
    if mask.sum() < min_fill * mask.size or _ellipse_iou(mask, box, y0, x0) < min_ellipse_iou:
        return None
    return (y0, y1, x0, x1), mask


def grow(
    boxes_xywh: np.ndarray,
    size: Tuple[int, int],
    image: Any,
    *,
    seed: str = "otsu",
    tolerance: Optional[float] = None,
    min_fill: float = 0.1,
    min_ellipse_iou: float = 0.5,
    compressed: bool = True,
    num_threads: Optional[int] = None,
) -> List[dict]:
    """One RLE per box (see :func:`maskprep.boxes.boxes_to_masks`)."""
    if seed not in SEEDS:
        raise ValueError(f"seed must be 'otsu' or 'flood', got {seed!r}")
    if tolerance is not None and not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be None or a finite number >= 0, got {tolerance!r}")
    if not 0.0 <= min_fill <= 1.0:
        raise ValueError(f"min_fill must be in [0, 1], got {min_fill!r}")
    if not 0.0 <= min_ellipse_iou <= 1.0:
        raise ValueError(f"min_ellipse_iou must be in [0, 1], got {min_ellipse_iou!r}")
    gray = _gray(image, size)
    h, w = size
    if len(boxes_xywh) == 0:
        return []
    workers = min(resolve_num_threads(num_threads), len(boxes_xywh))
    fallback = rle.from_bbox(boxes_xywh, (h, w), compressed=compressed)
    # The crop is exactly the pixels of the filled box (pycocotools' rule), so a grown mask
    # never leaves it.
    crops = rle.to_bbox(fallback)

    def work(k: int) -> Optional[Tuple[Tuple[int, int, int, int], np.ndarray]]:
        return _grow_one(gray, boxes_xywh[k], crops[k], seed, tolerance, min_fill, min_ellipse_iou)

    n = len(boxes_xywh)
    if workers > 1:  # `workers` interleaved shares of the boxes, one task each
        shares = [range(t, n, workers) for t in range(workers)]
        done = _pool().map(lambda share: [(k, work(k)) for k in share], shares)
        grown: List[Any] = [None] * n
        for part in done:
            for k, g in part:
                grown[k] = g
    else:
        grown = [work(k) for k in range(n)]
    out = []
    full = np.zeros((h, w), np.uint8, order="F")
    for k, g in enumerate(grown):
        if g is None:
            out.append(fallback[k])
            continue
        (y0, y1, x0, x1), mask = g
        full[y0:y1, x0:x1] = mask
        out.append(rle.encode(full[:, :, None], compressed=compressed, num_threads=1)[0])
        full[y0:y1, x0:x1] = 0
    return out
