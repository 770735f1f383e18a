"""Seeded random masks, polygons and RLEs shared by the RLE tests and benchmarks."""

from __future__ import annotations

import numpy as np


def blob_masks(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """(h, w, n) uint8 masks of random filled ellipses (object-like: few long runs)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w, n), dtype=np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.5, max(h / 2, 1)), rng.uniform(0.5, max(w / 2, 1))
        out[:, :, i] = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return out


def noise_masks(rng: np.random.Generator, n: int, h: int, w: int, p: float = 0.5) -> np.ndarray:
    return (rng.random((h, w, n)) < p).astype(np.uint8)


def star_polygon(rng: np.random.Generator, h: int, w: int, k: int, spread: float = 1.3) -> list:
    """A random star-shaped (often self-intersecting when shuffled) polygon, partly outside."""
    cx, cy = rng.uniform(-0.1 * w, 1.1 * w), rng.uniform(-0.1 * h, 1.1 * h)
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    r = rng.uniform(0.05, 0.5, k) * min(h, w) * spread
    pts = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1)
    if rng.random() < 0.3:
        rng.shuffle(pts)  # self-intersecting
    mode = rng.integers(4)
    if mode == 0:
        pts = np.round(pts)  # integer vertices
    elif mode == 1:
        pts = np.round(pts) + 0.5  # half-pixel vertices
    elif mode == 2:
        pts = np.round(pts * 5) / 5  # on the 1/5 grid: rounding ties
    return pts.ravel().tolist()


def random_polygons(rng: np.random.Generator, n: int, h: int, w: int) -> list:
    """n polygons: stars of 3..40 points, tiny ones, 4-point boxes and thin slivers."""
    polys = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            polys.append(
                [x, y, x + rng.uniform(0, 2), y, x + rng.uniform(0, 2), y + rng.uniform(0, 2)]
            )
        elif kind == 1:
            x0, y0 = rng.uniform(-5, w), rng.uniform(-5, h)
            x1, y1 = x0 + rng.uniform(0, w / 2), y0 + rng.uniform(0, h / 2)
            polys.append([x0, y0, x1, y0, x1, y1, x0, y1])
        elif kind == 2:
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            polys.append(
                [x, y, x + rng.uniform(-w, w), y + rng.uniform(-0.5, 0.5), x + 0.3, y + 0.2]
            )
        else:
            polys.append(star_polygon(rng, h, w, int(rng.integers(3, 41))))
    return polys


def ann_to_rle(seg, h: int, w: int) -> dict:
    """The anchor for one COCO segmentation: pycocotools' COCO.annToRLE."""
    import pycocotools.mask as M

    if isinstance(seg, list):
        return M.merge(M.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return M.frPyObjects(seg, h, w)
    return seg
