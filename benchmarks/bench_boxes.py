"""Box to mask for every box of a COCO file (cocomini val2017: 79 photos, 624 boxes): maskprep
(1 thread and all threads) against the recipe a user writes today with pycocotools and OpenCV,
one group per method; every case checks its RLEs against the recipe's (or, for grow, against
maskprep's own serial result and the box).

Run: `.venv/bin/python -m pytest benchmarks/bench_boxes.py --benchmark-enable`."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import IMAGES, load_json
from maskprep import boxes, coco

M = pytest.importorskip("pycocotools.mask")
cv2 = pytest.importorskip("cv2")
THREADS = {"maskprep-1t": 1, "maskprep-all": -1}


@pytest.fixture(scope="module")
def dataset():
    """[(image RGB or None, (h, w), boxes xywh (N, 4))] per image of cocomini val2017."""
    data = load_json("annotations", "cocomini_instances_val2017.json")
    by_image: dict = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a["bbox"])
    out = []
    for im in data["images"]:
        if im["id"] not in by_image:
            continue
        path = IMAGES / im["file_name"]
        pixels = coco.load_rgb(path) if path.exists() else None
        out.append((pixels, (im["height"], im["width"]), np.array(by_image[im["id"]], float)))
    return out


def run(benchmark, group, impl, fn):
    benchmark.group = group
    benchmark.extra_info["impl"] = impl
    return benchmark(fn)


@pytest.mark.parametrize("impl", ["pycocotools", *THREADS])
def test_box(benchmark, impl, dataset):
    def ours():
        return [boxes.boxes_to_masks(b, s, num_threads=THREADS[impl]) for _, s, b in dataset]

    def anchor():
        return [M.frPyObjects(b, *s) for _, s, b in dataset]

    out = run(benchmark, "boxes-box", impl, anchor if impl == "pycocotools" else ours)
    assert out == anchor()


def cv2_ellipse(b, size):
    """An OpenCV user's inscribed ellipse: cv2.ellipse on a zero mask (1/16-pixel fixed point),
    then pycocotools.encode."""
    masks = np.zeros((size[0], size[1], len(b)), np.uint8, order="F")
    for k, (x, y, w, h) in enumerate(b):
        m = np.zeros(size, np.uint8)
        centre = (int(round((x + w / 2 - 0.5) * 16)), int(round((y + h / 2 - 0.5) * 16)))
        axes = (int(round(w / 2 * 16)), int(round(h / 2 * 16)))
        cv2.ellipse(m, centre, axes, 0, 0, 360, 1, -1, cv2.LINE_8, 4)
        masks[:, :, k] = m
    return M.encode(masks)


@pytest.mark.parametrize("impl", ["opencv", *THREADS])
def test_ellipse(benchmark, impl, dataset):
    def ours():
        return [
            boxes.boxes_to_masks(b, s, method="ellipse", num_threads=THREADS[impl])
            for _, s, b in dataset
        ]

    out = run(
        benchmark,
        "boxes-ellipse",
        impl,
        (lambda: [cv2_ellipse(b, s) for _, s, b in dataset]) if impl == "opencv" else ours,
    )
    # Two rasterizations of one ellipse: the same masks up to boundary pixels.
    ref = [cv2_ellipse(b, s) for _, s, b in dataset]
    ious = np.concatenate([np.diag(M.iou(o, r, [0] * len(r))) for o, r in zip(out, ref) if r])
    assert np.median(ious) > 0.95


def cv2_grow(image, size, b):
    """The OpenCV recipe for the same steps: per box, grey -> Otsu (polarity from the border)
    -> components -> the one at the centre -> 5% elliptic closing -> fill holes by flood fill
    from the border -> paste -> pycocotools.encode."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    box_rles = M.frPyObjects(b, *size)
    crops = M.toBbox(box_rles).astype(int)
    out = []
    for (x0, y0, cw, ch), box_rle in zip(crops, box_rles):
        if cw < 3 or ch < 3:
            out.append(box_rle)
            continue
        crop = gray[y0 : y0 + ch, x0 : x0 + cw]
        _, fg = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        border = np.concatenate([fg[0], fg[-1], fg[:, 0], fg[:, -1]])
        if border.mean() > 0.5:
            fg = 1 - fg
        n, labels = cv2.connectedComponents(fg, connectivity=8)
        pick = labels[ch // 2, cw // 2]
        if n <= 1 or pick == 0:
            out.append(box_rle)
            continue
        obj = (labels == pick).astype(np.uint8)
        k = max(3, int(round(0.05 * min(ch, cw))) | 1)
        obj = cv2.morphologyEx(
            obj, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        )
        flood = np.pad(obj, 1)
        cv2.floodFill(flood, None, (0, 0), 2)
        obj = (flood[1:-1, 1:-1] != 2).astype(np.uint8)
        full = np.zeros(size, np.uint8, order="F")
        full[y0 : y0 + ch, x0 : x0 + cw] = obj
        out.append(M.encode(full[:, :, None])[0])
    return out


@pytest.mark.parametrize("impl", ["opencv", *THREADS])
def test_grow(benchmark, impl, dataset):
    if any(p is None for p, _, _ in dataset):
        pytest.skip(f"the cocomini val2017 photos are not in {IMAGES}")

    def ours(nt):
        return [
            boxes.boxes_to_masks(b, s, method="grow", image=p, num_threads=nt)
            for p, s, b in dataset
        ]

    if impl == "opencv":
        out = run(benchmark, "boxes-grow", impl, lambda: [cv2_grow(p, s, b) for p, s, b in dataset])
        assert sum(len(o) for o in out) == sum(len(b) for _, _, b in dataset)
    else:
        out = run(benchmark, "boxes-grow", impl, lambda: ours(THREADS[impl]))
        assert out == ours(1)
