"""FPN RoI Align (torchvision's ``MultiScaleRoIAlign``): each box pooled from the level its size
selects."""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

import numpy as np

from .._arrays import int_pair, to_numpy
from .._arrays import is_tensor as _is_tensor
from ._rois import _features_dtype, _forward, _half, _rois
from .align import roi_align

__all__ = ["multi_scale_roi_align"]


def _fpn_scales(
    level_sizes: Sequence[tuple[int, int]], image_shapes: Sequence[Sequence[int]]
) -> list[float]:
    """torchvision's ``_infer_scale`` per level: 2 ** round(log2(feature h / max image h)),
    the log2 taken in float32 as torchvision does."""
    if not image_shapes:
        raise ValueError("image_shapes must not be empty")
    max_h = max(int(s[0]) for s in image_shapes)
    scales = []
    for h, _ in level_sizes:
        approx = np.float32(float(h) / float(max_h))
        scales.append(2 ** float(np.round(np.log2(approx))))
    return scales


def _fpn_levels(
    boxes: Sequence[Any],
    k_min: int,
    k_max: int,
    canonical_scale: int,
    canonical_level: int,
    eps: float,
) -> np.ndarray:
    """torchvision's LevelMapper: floor(level0 + log2(sqrt(area) / scale0) + eps), clamped. torch
    evaluates it when installed (its float32 sqrt and log2 are not numpy's to the last bit)."""
    torch: Any
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        b = torch.cat([torch.as_tensor(to_numpy(x)) for x in boxes])
        s = torch.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        lvl = torch.floor(
            canonical_level + torch.log2(s / canonical_scale) + torch.tensor(eps, dtype=s.dtype)
        )
        return (torch.clamp(lvl, min=k_min, max=k_max).to(torch.int64) - k_min).numpy()
    b = np.concatenate([to_numpy(x) for x in boxes])
    s = np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
    lvl = np.floor(canonical_level + np.log2(s / s.dtype.type(canonical_scale)) + s.dtype.type(eps))
    return np.clip(lvl, k_min, k_max).astype(np.int64) - k_min


def multi_scale_roi_align(
    features: Union[Sequence[Any], Mapping[str, Any]],
    boxes: Sequence[Any],
    image_shapes: Sequence[Sequence[int]],
    output_size: Union[int, Sequence[int]],
    sampling_ratio: int,
    *,
    canonical_scale: int = 224,
    canonical_level: int = 4,
    eps: float = 1e-6,
    aligned: bool = False,
    mode: str = "avg",
    num_threads: Union[int, None] = None,
) -> Any:
    """FPN RoI Align: each box is pooled from the level its size selects, exactly as
    ``torchvision.ops.MultiScaleRoIAlign`` does.

    Parameters
    ----------
    features : sequence or mapping of arrays or tensors
        The pyramid, finest level first: (N, C, H_l, W_l) maps, or a mapping whose values are
        taken in order (torchvision uses ``x.items()`` order, filtered by ``featmap_names``: pass
        ``{k: x[k] for k in x if k in names}``).
    boxes : list
        N per-image (L, 4) ``(x1, y1, x2, y2)`` boxes in image coordinates.
    image_shapes : sequence of (int, int)
        The N input sizes ``(height, width)`` (torchvision's name); each level's scale is
        2 ** round(log2(H_l / max height)).
    output_size, sampling_ratio, aligned, mode, num_threads
        As in :func:`~maskprep.ops.roi_align`.
    canonical_scale, canonical_level, eps
        The FPN level rule ``floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps)``,
        clamped to the pyramid's levels.

    Returns
    -------
    array or tensor
        (K, C, PH, PW) in the features' kind and dtype, K = total boxes, in input order.

    Raises
    ------
    ValueError
        No feature maps, maps that are not 4-D, boxes that are not a list, empty
        ``image_shapes``, and everything :func:`~maskprep.ops.roi_align` refuses.
    TypeError
        As :func:`~maskprep.ops.roi_align`.

    Examples
    --------
    >>> import numpy as np
    >>> level = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> multi_scale_roi_align([level], [np.array([[0, 0, 2, 2]], np.float32)], [(4, 4)], 1, 1)
    array([[[[5.]]]], dtype=float32)
    """
    levels_in = list(features.values()) if isinstance(features, Mapping) else list(features)
    if not levels_in:
        raise ValueError("features must hold at least one feature map")
    if not isinstance(boxes, (list, tuple)):
        raise ValueError("boxes must be a list of per-image (L, 4) boxes")
    output_size = int_pair(output_size, "output_size")
    shapes = [tuple(f.shape) for f in levels_in]
    if any(len(s) != 4 for s in shapes):
        raise ValueError(f"features must be (N, C, H, W) maps, got shapes {shapes}")
    if _half(levels_in[0]):
        widened = [f.float() if _is_tensor(f) else np.asarray(f, np.float32) for f in levels_in]
        out = multi_scale_roi_align(
            widened,
            boxes,
            image_shapes,
            output_size,
            sampling_ratio,
            canonical_scale=canonical_scale,
            canonical_level=canonical_level,
            eps=eps,
            aligned=aligned,
            mode=mode,
            num_threads=num_threads,
        )
        return out.to(levels_in[0].dtype) if _is_tensor(out) else out.astype(levels_in[0].dtype)
    scales = _fpn_scales([s[2:] for s in shapes], image_shapes)

    def pool(feature, level_boxes, scale):
        return roi_align(
            feature,
            level_boxes,
            output_size,
            scale,
            sampling_ratio,
            aligned,
            mode=mode,
            num_threads=num_threads,
        )

    if len(levels_in) == 1:
        return pool(levels_in[0], boxes, scales[0])
    first = levels_in[0]
    rois: Any  # a tensor for tensor maps, else an array; so is result
    result: Any
    if _is_tensor(first):
        import torch

        rois = torch.from_numpy(_rois(boxes, _features_dtype(first)))
        rois = rois.to(first.device)
        # empty, not zeros: every box with a level is written (zero-filling 100 MB of output
        # cost a fifth of the whole call); boxes without one are zeroed below
        result = torch.empty(
            (len(rois), shapes[0][1]) + output_size, dtype=first.dtype, device=first.device
        )
    else:
        dtype = _features_dtype(np.asarray(first))
        rois = _rois(boxes, dtype)
        result = np.empty((len(rois), shapes[0][1]) + output_size, dtype=dtype)
    k_min = int(-np.log2(np.float32(scales[0])))
    k_max = int(-np.log2(np.float32(scales[-1])))
    levels = _fpn_levels(boxes, k_min, k_max, canonical_scale, canonical_level, eps)
    # A box of negative area has a NaN level, which matches no level: torchvision leaves its row
    # zero (its result starts as zeros), so do the same for the rows no level writes.
    orphans = np.nonzero((levels < 0) | (levels >= len(levels_in)))[0]
    if len(orphans):
        result[torch.as_tensor(orphans) if _is_tensor(result) else orphans] = 0
    # Plain CPU maps without autograd: each level's kernel writes its boxes' rows of the result
    # in place (scattering the per-level outputs afterwards copied the whole result once more).
    if _is_tensor(first):
        in_place = all(
            _is_tensor(f)
            and f.device.type == "cpu"
            and f.dtype == first.dtype
            and f.is_contiguous()
            and not (f.requires_grad and torch.is_grad_enabled())
            for f in levels_in
        )
    else:
        in_place = all(not _is_tensor(f) and np.asarray(f).dtype == dtype for f in levels_in)
    for level, (feature, scale) in enumerate(zip(levels_in, scales)):
        idx = np.nonzero(levels == level)[0]
        if in_place:
            array = feature.detach().numpy() if _is_tensor(feature) else np.asarray(feature)
            level_rois = rois[idx].numpy() if _is_tensor(rois) else rois[idx]
            out = result.numpy() if _is_tensor(result) else result
            _forward(
                array,
                level_rois,
                output_size,
                scale,
                sampling_ratio,
                aligned,
                mode,
                "NCHW",
                num_threads,
                out=out,
                rows=idx,
            )
            continue
        rows: Any = torch.as_tensor(idx, device=first.device) if _is_tensor(first) else idx
        result[rows] = pool(feature, rois[rows], scale)
    return result
