"""Kernels run with the GIL released (issue 10): another Python thread may change their inputs
meanwhile, and many threads may call them at once.

- A writer thread rewriting the control data (boxes, batch indices) and the large data (masks,
  features) of a running kernel never makes it crash: each call returns or raises ValueError.
- Eight threads calling the kernels on shared read-only inputs get the serial results, bitwise
  (per-thread scratch buffers are never shared).
"""

import threading
import time

import numpy as np
import pytest

from maskprep import components, contours, imgproc, morphology, ops, rle

RACE_SECONDS = 0.4


def _race(call, write, callers=2):
    """Runs call() repeatedly in `callers` threads for RACE_SECONDS while another thread runs
    write() in a loop; returns how many calls completed (a crash would end the process). A call
    may raise ValueError (the writer's bad value was there when the call checked it); any other
    exception fails the test."""
    stop = threading.Event()
    done, errors = [], []

    def writer():
        while not stop.is_set():
            write()

    def caller():
        n = 0
        deadline = time.monotonic() + RACE_SECONDS
        try:
            while time.monotonic() < deadline or n < 3:
                try:
                    call()
                except ValueError:
                    pass
                n += 1
        except Exception as e:  # reported below: a thread's exception would otherwise vanish
            errors.append(repr(e))
        done.append(n)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    w = threading.Thread(target=writer)
    w.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    w.join()
    assert errors == []
    return min(done)


def _rng():
    return np.random.default_rng(1234)


def test_roi_align_with_boxes_and_features_rewritten():
    rng = _rng()
    features = rng.random((2, 8, 32, 32), dtype=np.float32)
    boxes = np.zeros((3000, 5), np.float32)
    boxes[:, 0] = rng.integers(0, 2, len(boxes))
    boxes[:, 1:3] = rng.random((len(boxes), 2)) * 16
    boxes[:, 3:5] = boxes[:, 1:3] + 1 + rng.random((len(boxes), 2)) * 16
    good = boxes.copy()
    # Bad batch indices, and coordinates that are non-finite or far too large for an adaptive
    # grid (both refused when seen by the checks).
    bad_index = [1e9, -7.0, np.nan, 2.5e9]
    bad_coordinate = [np.nan, np.inf, -3e38]

    def write():
        # A box turns bad and good again: a kernel that re-read it after checking it would see
        # the bad batch index or coordinate (it used to index with it).
        i = int(rng.integers(len(boxes)))
        j = 0 if rng.random() < 0.5 else int(rng.integers(1, 5))  # mostly the batch index
        bad = bad_index if j == 0 else bad_coordinate
        boxes[i, j] = bad[int(rng.integers(len(bad)))]
        features[int(rng.integers(2))] *= -1
        boxes[i, j] = good[i, j]

    nhwc = np.ascontiguousarray(features.transpose(0, 2, 3, 1))
    assert _race(lambda: ops.roi_align(features, boxes, (7, 7), 0.5, 2), write) >= 3
    assert _race(lambda: ops.roi_align(nhwc, boxes, (7, 7), 0.5, 2, layout="NHWC"), write) >= 3
    assert _race(lambda: ops.roi_align(features, boxes, (7, 7), 0.5, -1, mode="max"), write) >= 3


def test_paste_with_boxes_and_masks_rewritten():
    rng = _rng()
    masks = rng.random((400, 28, 28), dtype=np.float32)
    boxes = rng.random((400, 4), dtype=np.float32) * 200
    boxes[:, 2:] += boxes[:, :2] + 5
    good = boxes.copy()

    def write():
        i = int(rng.integers(len(boxes)))
        boxes[i] = (np.nan, -1e30, 1e30, np.inf)[int(rng.integers(4))]
        masks[int(rng.integers(len(masks)))] = rng.random()
        boxes[i] = good[i]

    assert _race(lambda: ops.paste_masks(masks, boxes, (300, 400), output="rle"), write) >= 3
    assert _race(lambda: ops.paste_masks(masks, boxes, (300, 400)), write) >= 3


def test_label_dilate_encode_with_mask_rewritten():
    rng = _rng()
    mask = (rng.random((512, 512)) > 0.5).astype(np.uint8)
    kernel = np.ones((5, 5), np.uint8)

    def write():
        y = int(rng.integers(0, 512))
        mask[y] ^= 1
        kernel[int(rng.integers(5)), int(rng.integers(5))] ^= 1
        kernel[2, 2] = 1

    assert _race(lambda: components.label(mask), write) >= 3
    assert _race(lambda: morphology.dilate(mask, kernel=kernel), write) >= 3
    assert _race(lambda: morphology.close(mask, kernel=kernel, iterations=2), write) >= 3
    assert _race(lambda: rle.encode(mask), write) >= 3
    assert _race(lambda: rle.encode(np.asfortranarray(mask)), write) >= 3


def test_encode_interleaved_with_masks_rewritten():
    rng = _rng()
    masks = (rng.random((256, 256, 8)) > 0.7).astype(np.uint8)  # H x W x N, C order

    def write():
        masks[int(rng.integers(256))] = rng.integers(0, 2, (256, 8))

    assert _race(lambda: rle.encode(masks), write) >= 3


# ---- eight threads, shared read-only inputs, serial results -------------------------------------


def _tasks():
    rng = _rng()
    mask = (rng.random((300, 400)) > 0.6).astype(np.uint8)
    masks_nhw = (rng.random((6, 120, 160)) > 0.5).astype(np.uint8)
    rles = rle.encode(masks_nhw, layout="nhw")
    polygons = [list(rng.random(2 * k) * 100) for k in (3, 5, 12, 40)]
    features = rng.random((2, 16, 40, 40), dtype=np.float32)
    boxes = np.concatenate(
        [rng.integers(0, 2, (64, 1)), rng.random((64, 2)) * 20, 20 + rng.random((64, 2)) * 20],
        axis=1,
    ).astype(np.float32)
    pm = rng.random((32, 28, 28), dtype=np.float32)
    pb = (rng.random((32, 4)) * 100).astype(np.float32)
    pb[:, 2:] += pb[:, :2] + 3
    counts = [int(v) for v in rng.integers(0, 2**40, 200)] + [2**63, 2**64 - 1, 0]
    image = rng.integers(0, 256, (120, 240, 3), dtype=np.uint8)
    return {
        "encode": lambda nt: rle.encode(masks_nhw, layout="nhw", num_threads=nt),
        "decode": lambda nt: rle.decode(rles, layout="nhw", num_threads=nt),
        "iou": lambda nt: rle.iou(rles, rles[:3], num_threads=nt),
        "merge": lambda nt: rle.merge(rles),
        "polygons": lambda nt: rle.from_polygons(polygons, (100, 120)),
        "segmentations": lambda nt: rle.from_segmentations(
            [polygons, polygons[:2]], (100, 120), num_threads=nt
        ),
        "string": lambda nt: rle.from_string(rle.to_string(counts)),
        "roi_align": lambda nt: ops.roi_align(features, boxes, (7, 7), 0.5, 2, num_threads=nt),
        "roi_align_max": lambda nt: ops.roi_align(
            features, boxes, (5, 5), 0.5, -1, mode="max", num_threads=nt
        ),
        "paste": lambda nt: ops.paste_masks(pm, pb, (150, 160), num_threads=nt),
        "paste_rle": lambda nt: ops.paste_masks(pm, pb, (150, 160), output="rle", num_threads=nt),
        "label": lambda nt: components.label(mask, num_threads=nt),
        "dilate": lambda nt: morphology.dilate(mask, size=(5, 9), num_threads=nt),
        "open": lambda nt: morphology.open(mask, shape="ellipse", size=7, num_threads=nt),
        "fill_holes": lambda nt: components.fill_holes(mask, num_threads=nt),
        "remove_small": lambda nt: components.remove_small_objects(
            mask, max_size=4, num_threads=nt
        ),
        "polygons_of_masks": lambda nt: contours.masks_to_polygons(
            masks_nhw[:3], tolerance=0.5, num_threads=nt
        ),
        "blur": lambda nt: imgproc.gaussian_blur(mask * 200, sigma=2.0, num_threads=nt),
        "hsv": lambda nt: imgproc.rgb_to_hsv(image, num_threads=nt),
        "flood": lambda nt: imgproc.flood(image[..., 0], [(5, 5), (100, 200)], tolerance=30),
        "max_pool": lambda nt: ops.max_pool2d(features, 3, 2, 1, num_threads=nt),
    }


def _same(a, b):
    """Bitwise equality of kernel results (arrays, RLE dicts, lists of them)."""
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("inner_threads", [1, 2])
def test_eight_threads_get_the_serial_results(inner_threads):
    tasks = _tasks()
    expected = {name: f(1) for name, f in tasks.items()}
    mismatches, errors = [], []
    start = threading.Barrier(8)

    def worker(k):
        try:
            start.wait()
            names = list(tasks)
            for rep in range(4):
                for name in names[k % len(names) :] + names[: k % len(names)]:
                    if not _same(tasks[name](inner_threads), expected[name]):
                        mismatches.append((k, rep, name))
        except Exception as e:  # reported below: a thread's exception would otherwise vanish
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert mismatches == []


def test_same_detects_a_difference():
    # The comparison the stress test relies on is bitwise, down to the sign of zero.
    a = np.zeros(3, np.float32)
    b = a.copy()
    b[1] = -0.0
    assert not _same(a, b)
    assert not _same([{"counts": b"1"}], [{"counts": b"2"}])
    assert _same([{"counts": b"1", "size": [1, 2]}], [{"counts": b"1", "size": [1, 2]}])
