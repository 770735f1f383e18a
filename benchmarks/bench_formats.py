"""Format conversions (issue 14) against what users run today, file I/O included.

Group ``formats-export-yolo-50k``: ``maskprep export --format yolo`` against ultralytics'
``convert_coco(use_segments=True)`` (installed without its
dependencies by scripts/setup.sh) and a pycocotools + numpy script doing the same job (contiguous class indices, parts
joined by ultralytics' rule, crowd RLEs decoded with pycocotools and traced with
cv2.findContours, ``%g`` lines, one file per image). The real annotations of ../shared/data
(2202 of them, three files) are repeated, with fresh ids and file names, to about 50k objects.
Every output is checked to hold one line per exported object.

Group ``formats-export-yolo-50k`` also holds the floor: ``write-floor-1`` and
``write-floor-pool`` only create and write the label files that ``--crowd skip`` writes (the
same names and bytes, read back from one export), in a fresh folder, on one thread and on a
pool of two: what no implementation on this disk can go below.

(The PNG instance-mask import benchmark goes in a group of its own, ``formats-import-png-*``.)

Run: `.venv/bin/python -m pytest benchmarks/bench_formats.py --benchmark-enable`. With
benchmarks disabled (CI) one copy of the annotations is exported once, as a correctness test,
and ultralytics is not run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
import pytest

from conftest import load_json
from maskprep import cli

TARGET = 50_000
FILES = (
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
)


def build_dataset(copies):
    """The three files, ``copies`` times, with fresh image/annotation ids and file names."""
    images, anns, cats = [], [], {}
    parts = [load_json("annotations", name) for name in FILES]
    for k in range(copies):
        for data in parts:
            remap = {}
            for im in data["images"]:
                remap[im["id"]] = len(images) + 1
                images.append({**im, "id": len(images) + 1, "file_name": f"{k}_{im['file_name']}"})
            for a in data["annotations"]:
                anns.append({**a, "id": len(anns) + 1, "image_id": remap[a["image_id"]]})
            cats.update({cat["id"]: cat for cat in data["categories"]})
    return {"images": images, "annotations": anns, "categories": list(cats.values())}


def _disabled(request):
    opt = request.config.getoption
    return opt("benchmark_disable") and not opt("benchmark_enable")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, request):
    one = build_dataset(1)
    copies = 1 if _disabled(request) else -(-TARGET // len(one["annotations"]))
    data = build_dataset(copies)
    folder = tmp_path_factory.mktemp("formats")
    path = folder / "instances_bench.json"
    path.write_bytes(orjson.dumps(data))
    return path, data


# -- the pycocotools + numpy script ----------------------------------------------------------


def _min_index(a, b):
    d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return np.unravel_index(np.argmin(d, axis=None), d.shape)


def _merge(segments):
    """ultralytics' merge_multi_segment, as users copy it from JSON2YOLO."""
    segs = [np.array(s, dtype=np.float64).reshape(-1, 2) for s in segments]
    idx = [[] for _ in segs]
    for i in range(1, len(segs)):
        a, b = _min_index(segs[i - 1], segs[i])
        idx[i - 1].append(a)
        idx[i].append(b)
    out = []
    for i, ix in enumerate(idx):
        if len(ix) == 2 and ix[0] > ix[1]:
            ix = [len(segs[i]) - 1 - x for x in ix]
            segs[i] = segs[i][::-1, :]
        segs[i] = np.roll(segs[i], -ix[0], axis=0)
        segs[i] = np.concatenate([segs[i], segs[i][:1]])
        out.append(segs[i] if i in (0, len(idx) - 1) else segs[i][: ix[1] - ix[0] + 1])
    for i in range(len(idx) - 2, 0, -1):
        out.append(segs[i][abs(idx[i][1] - idx[i][0]) :])
    return np.concatenate(out)


def pycocotools_script(src, out):
    import cv2
    from pycocotools import mask as mask_utils

    data = json.loads(Path(src).read_text())
    cats = sorted(c["id"] for c in data["categories"])
    index = {c: k for k, c in enumerate(cats)}
    images = {im["id"]: im for im in data["images"]}
    lines = defaultdict(list)
    for a in data["annotations"]:
        im = images[a["image_id"]]
        h, w = im["height"], im["width"]
        seg = a["segmentation"]
        if isinstance(seg, dict):
            rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else seg
            m = mask_utils.decode(rle)
            contours = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
            seg = [c.ravel().tolist() for c in contours if len(c) >= 3]
        pts = _merge(seg) if len(seg) > 1 else np.array(seg[0], dtype=np.float64).reshape(-1, 2)
        xy = (pts / np.array([w, h])).ravel().tolist()
        lines[a["image_id"]].append(
            ("%g " * (len(xy) + 1)).rstrip() % (index[a["category_id"]], *xy)
        )
    labels = Path(out) / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    for iid, im in images.items():
        (labels / Path(im["file_name"]).with_suffix(".txt")).write_text(
            "".join(x + "\n" for x in lines.get(iid, []))
        )
    names = "".join(f"  {k}: {c}\n" for k, c in enumerate(cats))
    (Path(out) / "data.yaml").write_text(
        f"path: {out}\ntrain: images\nval: images\nnames:\n{names}"
    )


# -- ultralytics ------------------------------------------------------------------------------


@contextlib.contextmanager
def _ultralytics():
    """ultralytics' converter; its import changes numpy's print options, PIL.Image.open and
    cv2's thread count for the whole process: put them back for the other benchmarks."""
    import cv2
    from PIL import Image

    saved = np.get_printoptions(), Image.open, cv2.getNumThreads()
    try:
        converter = pytest.importorskip("ultralytics.data.converter")
        yield converter
    finally:
        np.set_printoptions(**saved[0])
        Image.open = saved[1]
        cv2.setNumThreads(saved[2])


def ultralytics_convert(converter, src, out):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        converter.convert_coco(str(Path(src).parent), str(out), use_segments=True, cls91to80=False)


def _count_lines(folder):
    return sum(len(p.read_text().splitlines()) for p in Path(folder).rglob("*.txt"))


def _write_floor(files, out, threads):
    """Create and write ``files`` (relative name -> bytes) under ``out``: nothing else."""
    os.makedirs(out)

    def write(items):
        for name, body in items:
            with open(os.path.join(out, name), "wb") as f:
                f.write(body)

    items = list(files.items())
    if threads == 1:
        write(items)
        return
    from concurrent.futures import ThreadPoolExecutor

    step = -(-len(items) // threads)
    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(write, items[k : k + step]) for k in range(0, len(items), step)]:
            done.result()


@pytest.mark.parametrize("threads", [1, 2], ids=["1", "pool"])
def test_export_yolo_write_floor(benchmark, threads, dataset, tmp_path):
    src, data = dataset
    ref = tmp_path / "ref"
    argv = ["export", str(src), "--format", "yolo", "-o", str(ref), "--quiet", "--crowd", "skip"]
    assert cli.main(argv) == 0
    files = {p.name: p.read_bytes() for p in (ref / "labels").iterdir()}
    assert len(files) == len(data["images"])  # one folder: file_name has no subfolders here
    benchmark.group = "formats-export-yolo-50k"
    benchmark.extra_info.update(impl=f"write-floor-{threads}", files=len(files))
    rounds = iter(range(1000))
    benchmark.pedantic(
        lambda out: _write_floor(files, out, threads),
        setup=lambda: ((str(tmp_path / f"out{next(rounds)}"),), {}),
        rounds=3,
    )
    assert sorted(os.listdir(tmp_path / "out0")) == sorted(files)


@pytest.mark.parametrize("impl", ["ultralytics", "maskprep-crowd-skip", "pycocotools", "maskprep"])
def test_export_yolo_50k(benchmark, impl, dataset, tmp_path, request):
    """ultralytics leaves crowds out: compare it with ``--crowd skip`` (the same objects). The
    pycocotools script traces crowds: compare it with the default (``--crowd polygon``)."""
    src, data = dataset
    n = len(data["annotations"])
    crowds = sum(bool(a.get("iscrowd")) for a in data["annotations"])
    benchmark.group = "formats-export-yolo-50k"
    benchmark.extra_info.update(impl=impl, objects=n)
    rounds = iter(range(1000))

    def fresh():  # every round writes into an empty folder
        return (tmp_path / f"out{next(rounds)}",), {}

    if impl == "ultralytics":
        if _disabled(request):
            pytest.skip("ultralytics runs only with --benchmark-enable")
        with _ultralytics() as converter:
            benchmark.pedantic(
                lambda out: ultralytics_convert(converter, src, out), setup=fresh, rounds=3
            )
        assert _count_lines(tmp_path / "out0") == n - crowds  # it leaves crowds out
        return
    if impl == "pycocotools":
        pytest.importorskip("pycocotools")
        pytest.importorskip("cv2")
        benchmark.pedantic(lambda out: pycocotools_script(src, out), setup=fresh, rounds=3)
        assert _count_lines(tmp_path / "out0") == n
        return
    crowd = "skip" if impl == "maskprep-crowd-skip" else "polygon"

    def run(out):
        argv = ["export", str(src), "--format", "yolo", "-o", str(out), "--quiet"]
        assert cli.main([*argv, "--crowd", crowd]) == 0

    benchmark.pedantic(run, setup=fresh, rounds=3)
    assert _count_lines(tmp_path / "out0") == (n - crowds if crowd == "skip" else n)
