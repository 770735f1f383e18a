"""Importing instance-id PNGs: `maskprep.formats.png.read_instance_png` against the
pycocotools + numpy script users write for it.

The real annotations of ../shared/data (2,202 objects on 259 images, three files) are
exported once with `write_instance_png` (16-bit PNGs) and the PNGs linked under fresh names
until there are about 50k objects (23 copies, 5,957 PNGs); the sidecars are left out, so both
sides do the same job: decode each PNG with Pillow, one object per nonzero id, its compressed
RLE, area and bbox. The script does it the usual way: `np.unique`, then per id
`np.asfortranarray(label == id)`, `mask.encode`, `mask.area`, `mask.toBbox`. Both outputs are
checked equal.

Run: `.venv/bin/python -m pytest benchmarks/bench_formats_png.py --benchmark-enable`. With
benchmarks disabled (CI) one copy is imported once, as a correctness test.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from conftest import load_json
from maskprep.formats import png

mask_util = pytest.importorskip("pycocotools.mask")
TARGET = 50_000
FILES = (
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
)


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory, request):
    opt = request.config.getoption
    disabled = opt("benchmark_disable") and not opt("benchmark_enable")
    base = tmp_path_factory.mktemp("export")
    pngs, objects = [], 0
    for k, name in enumerate(FILES):
        data = load_json("annotations", name)
        png.write_instance_png(data, base / str(k))
        pngs += sorted((base / str(k)).glob("*.png"))
        objects += len(data["annotations"])
    copies = 1 if disabled else -(-TARGET // objects)
    folder = tmp_path_factory.mktemp("pngs")
    for c in range(copies):
        for i, p in enumerate(pngs):
            os.link(p, folder / f"{c:03d}_{i:04d}.png")  # same bytes, no extra disk
    return folder, objects * copies


def pycocotools_script(folder, pattern="*.png"):
    """The job as users script it today: one full-image comparison per id."""
    out = []
    for path in sorted(folder.glob(pattern)):
        label = np.array(Image.open(path))
        for v in np.unique(label):
            if v == 0:
                continue
            r = mask_util.encode(np.asfortranarray(label == v).astype(np.uint8))
            out.append(
                (
                    r["counts"].decode("ascii"),
                    float(mask_util.area(r)),
                    mask_util.toBbox(r).tolist(),
                )
            )
    return out


def maskprep_import(folder, threads):
    data, report = png.read_instance_png(folder, num_threads=threads)
    assert report.skipped == []
    return data


@pytest.mark.parametrize("impl", ["pycocotools", "maskprep-1t", "maskprep-all"])
def test_import_instance_png_50k(benchmark, impl, png_folder):
    folder, n = png_folder
    benchmark.group = "import-instance-png-50k"
    benchmark.extra_info.update(impl=impl, objects=n)
    if impl == "pycocotools":
        out = benchmark.pedantic(pycocotools_script, args=(folder,), rounds=3, iterations=1)
    else:
        threads = 1 if impl == "maskprep-1t" else -1
        data = benchmark.pedantic(maskprep_import, args=(folder, threads), rounds=3, iterations=1)
        out = [(a["segmentation"]["counts"], a["area"], a["bbox"]) for a in data["annotations"]]
    assert len(out) == n
    # Both list objects by file, then by id; the first copy's PNGs sort first.
    first = pycocotools_script(folder, "000_*.png")
    assert out[: len(first)] == first
