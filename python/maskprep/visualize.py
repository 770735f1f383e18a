"""Overlays of masks, boxes and labels on images (people look at masks; they do not read RLE)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import rle

# Distinct, colour-blind-friendly colours (Okabe-Ito + extras), cycled by instance.
PALETTE = np.array(
    [
        [230, 159, 0],
        [86, 180, 233],
        [0, 158, 115],
        [240, 228, 66],
        [0, 114, 178],
        [213, 94, 0],
        [204, 121, 167],
        [255, 255, 255],
        [120, 200, 80],
        [160, 80, 220],
    ],
    dtype=np.float32,
)


def overlay(
    image: np.ndarray,
    rles: Sequence[Optional[dict]],
    *,
    boxes: Optional[Sequence[Sequence[float]]] = None,
    labels: Optional[Sequence[Any]] = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend each mask over ``image`` (H, W, 3) uint8 in its own colour, outline its ``[x, y,
    w, h]`` box and write its label. Instance i has colour i; ``rles[i]`` may be None (a
    box-only annotation: box and label only). Returns a new (H, W, 3) uint8 array."""
    from PIL import Image, ImageDraw

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    out = img.astype(np.float32)
    h, w = img.shape[:2]
    which = [i for i, r in enumerate(rles) if r is not None]
    if which:
        masks = rle.decode([rles[i] for i in which], layout="nhw")
        if masks.shape[1:] != (h, w):
            raise ValueError(f"masks are {masks.shape[1:]} but the image is {(h, w)}")
        for i, m in zip(which, masks):
            sel = m.astype(bool)
            out[sel] = (1 - alpha) * out[sel] + alpha * PALETTE[i % len(PALETTE)]
    pil = Image.fromarray(out.round().astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for i, box in enumerate(boxes or []):
        x, y, bw, bh = (float(v) for v in box)
        color = tuple(int(c) for c in PALETTE[i % len(PALETTE)])
        draw.rectangle([x, y, x + bw, y + bh], outline=color, width=2)
        if labels is not None:
            draw.text((x + 3, y + 2), str(labels[i]), fill=color)
    return np.asarray(pil)
