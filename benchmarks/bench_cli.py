"""`maskprep convert` against the pycocotools script users run today, JSON I/O included.

The real annotations of ../shared/data (2202 of them, three files) are repeated, with fresh
image and annotation ids, to about 50k annotations. The pycocotools side loads the file with
``COCO()``, runs ``COCO.annToRLE`` on every annotation and writes the JSON with ``json.dump``;
maskprep runs its command line. Both outputs are checked equal.

Run: `.venv/bin/python -m pytest benchmarks/bench_cli.py --benchmark-enable`. With benchmarks
disabled (CI) one copy of the annotations is converted once, as a correctness test.
"""

from __future__ import annotations

import contextlib
import io
import json

import orjson
import pytest

from conftest import load_json
from maskprep import cli

COCO = pytest.importorskip("pycocotools.coco").COCO
TARGET = 50_000
FILES = (
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
)


def build_dataset(copies):
    images, anns, cats = [], [], {}
    parts = [load_json("annotations", name) for name in FILES]
    for _ in range(copies):
        for data in parts:
            remap = {}
            for im in data["images"]:
                remap[im["id"]] = len(images) + 1
                images.append({**im, "id": len(images) + 1})
            for a in data["annotations"]:
                anns.append({**a, "id": len(anns) + 1, "image_id": remap[a["image_id"]]})
            cats.update({cat["id"]: cat for cat in data["categories"]})
    return {"images": images, "annotations": anns, "categories": list(cats.values())}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, request):
    opt = request.config.getoption
    disabled = opt("benchmark_disable") and not opt("benchmark_enable")
    one = build_dataset(1)
    copies = 1 if disabled else -(-TARGET // len(one["annotations"]))
    data = build_dataset(copies)
    path = tmp_path_factory.mktemp("convert") / "instances.json"
    path.write_bytes(orjson.dumps(data))
    return path, len(data["annotations"])


def pycocotools_script(src, dst):
    with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints timing lines
        coco = COCO(str(src))
    for ann in coco.dataset["annotations"]:
        r = coco.annToRLE(ann)
        ann["segmentation"] = {"size": r["size"], "counts": r["counts"].decode("ascii")}
    with open(dst, "w") as f:
        json.dump(coco.dataset, f)


@pytest.mark.parametrize("impl", ["pycocotools", "maskprep-1t", "maskprep-all"])
def test_convert_50k(benchmark, impl, dataset, tmp_path):
    src, n = dataset
    dst = tmp_path / "out.json"
    benchmark.group = "cli-convert-50k"
    benchmark.extra_info.update(impl=impl, annotations=n)
    if impl == "pycocotools":
        benchmark.pedantic(pycocotools_script, args=(src, dst), rounds=3, iterations=1)
    else:
        threads = "1" if impl == "maskprep-1t" else "-1"
        argv = ["convert", str(src), "-o", str(dst), "--quiet", "--num-threads", threads]
        rc = benchmark.pedantic(cli.main, args=(argv,), rounds=3, iterations=1)
        assert rc == 0
    out = orjson.loads(dst.read_bytes())["annotations"]
    assert len(out) == n
    if impl != "pycocotools":
        ref = tmp_path / "ref.json"
        pycocotools_script(src, ref)
        assert out == orjson.loads(ref.read_bytes())["annotations"]
