"""Real and seeded masks shared by the components/contours tests and benchmarks."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from conftest import IMAGES
from helpers.rle_data import blob_masks
from maskprep import rle


def image_masks(dataset: dict, limit: int | None = None) -> list[np.ndarray]:
    """One (H, W) uint8 mask per image: the union of its annotations (many components, holes
    where objects overlap or surround background)."""
    imgs = {im["id"]: im for im in dataset["images"]}
    segs = defaultdict(list)
    for a in dataset["annotations"]:
        segs[a["image_id"]].append(a["segmentation"])
    out = []
    for image_id, ss in list(segs.items())[:limit]:
        h, w = imgs[image_id]["height"], imgs[image_id]["width"]
        masks = rle.decode(rle.from_segmentations(ss, (h, w)), layout="nhw")
        out.append(np.ascontiguousarray(masks.max(axis=0)))
    return out


def annotation_masks(dataset: dict) -> list[np.ndarray]:
    """One (H, W) uint8 mask per annotation (pycocotools' rasterization)."""
    imgs = {im["id"]: im for im in dataset["images"]}
    anns = dataset["annotations"]
    segs = [a["segmentation"] for a in anns]
    hs = [imgs[a["image_id"]]["height"] for a in anns]
    ws = [imgs[a["image_id"]]["width"] for a in anns]
    return [
        np.ascontiguousarray(rle.decode(r)) for r in rle.from_segmentations(segs, list(zip(hs, ws)))
    ]


def photo_masks(limit: int = 12) -> list[np.ndarray]:
    """Real photos (COCO val2017) thresholded with Otsu: ragged, noisy, many holes."""
    import cv2

    out = []
    for path in sorted(IMAGES.glob("*.jpg"))[:limit]:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        _, m = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        out.append(m)
    return out


def random_masks(rng: np.random.Generator, h: int, w: int) -> dict[str, np.ndarray]:
    """Noise at several densities and unions of blobs, uint8 (H, W)."""
    out = {f"noise{p}": (rng.random((h, w)) < p).astype(np.uint8) for p in (0.05, 0.3, 0.5, 0.7)}
    blobs = blob_masks(rng, 12, h, w).max(axis=2)
    out["blobs"] = np.ascontiguousarray(blobs)
    out["blobs_xor"] = np.ascontiguousarray(np.bitwise_xor.reduce(blob_masks(rng, 6, h, w), axis=2))
    return out
