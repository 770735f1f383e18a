"""``maskprep export --format yolo`` writes the same bytes as before its speed work (issue 14).

The digests below are of every label file (relative path and bytes; not data.yaml, which holds
the absolute output path) written by the exporter as it was on 2026-12-03 before the parallel
writer and the batched line builder: the real annotations of ../shared/data and a seeded set of
edge cases (points outside the image, values that round to 1, multi-part objects, overlapping
parts, crowd RLEs, nested folders, background images). Any change to an output byte fails here.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from conftest import load_json
from maskprep import cli, rle
from maskprep.formats import yolo

REAL = (
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
)
DIGESTS = {
    "polygon": "bbfb6777f261676272d77cfd438b182737f7deba1cdc6c03d4ad1a500762d9d3",
    "skip": "3f36c3e9db3079c399b9873b3dfb7bc9871304151842404b2890b17d5215028e",
}
EDGE_DIGEST = "8eca0b8263b6feb91732211c47387e3deefe3f2d1f0142a947e359baecd715c8"


def digest(root) -> str:
    """sha256 over every file but data.yaml: its path relative to ``root``, then its bytes."""
    h = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name == "data.yaml":
                continue
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read() + b"\0")
    return h.hexdigest()


def real_dataset():
    """The three real files as one (benchmarks/bench_formats.py's build_dataset(1))."""
    images, anns, cats = [], [], {}
    for data in [load_json("annotations", name) for name in REAL]:
        remap = {}
        for im in data["images"]:
            remap[im["id"]] = len(images) + 1
            images.append({**im, "id": len(images) + 1, "file_name": f"0_{im['file_name']}"})
        for a in data["annotations"]:
            anns.append({**a, "id": len(anns) + 1, "image_id": remap[a["image_id"]]})
        cats.update({c["id"]: c for c in data["categories"]})
    return {"images": images, "annotations": anns, "categories": list(cats.values())}


def edge_dataset():
    """Seeded edge cases: see the module docstring."""
    rng = np.random.default_rng(20261203)
    images, anns = [], []
    for i in range(1, 41):
        h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
        name = f"d{i % 3}/sub/{i}.jpg" if i % 2 else f"{i}.png"
        images.append({"id": i, "height": h, "width": w, "file_name": name})
        for k in range(int(rng.integers(0, 6))):
            aid = 1000 * i + k
            kind = rng.integers(0, 4)
            if kind == 0 and h * w > 4:  # a crowd RLE of random blobs
                m = np.asfortranarray(rng.random((h, w)) > 0.6, dtype=np.uint8)
                seg = rle.encode(m)
                seg = {"size": seg["size"], "counts": seg["counts"].decode()}
                anns.append(
                    {"id": aid, "image_id": i, "category_id": 4, "segmentation": seg,
                     "iscrowd": 1}
                )  # fmt: skip
                continue
            parts = []
            for _ in range(int(rng.integers(1, 5))):
                n = int(rng.integers(3, 12))
                xy = rng.uniform(-0.2, 1.2, (n, 2)) * [w, h]  # some points outside
                if kind == 1:  # values just below the edges: rounding to 0 / 1
                    xy = np.where(rng.random((n, 2)) < 0.5, np.array([w, h]) * (1 - 4e-7), 4e-7)
                if kind == 2:
                    xy = np.round(xy, 2)
                if kind == 3:  # disjoint quads in strips of their own: joined, not traced
                    x0, x1 = np.sort(rng.uniform(len(parts) / 4, (len(parts) + 1) / 4, 2)) * w
                    y0, y1 = np.sort(rng.uniform(0, 1.1, 2)) * h
                    xy = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
                parts.append(xy.ravel().tolist())
            cid = int(rng.choice([2, 9, 31]))
            anns.append(
                {"id": aid, "image_id": i, "category_id": cid, "segmentation": parts,
                 "iscrowd": 0}
            )  # fmt: skip
    cats = [{"id": c, "name": f"c{c}"} for c in (2, 4, 9, 31)]
    return {"images": images, "annotations": anns, "categories": cats}


@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("crowd", ["polygon", "skip"])
def test_real_labels_are_unchanged(tmp_path, crowd, num_threads):
    data = real_dataset()
    yolo.write_yolo(data, tmp_path / "ds", num_threads=num_threads, options={"crowd": crowd})
    assert digest(tmp_path / "ds") == DIGESTS[crowd]


@pytest.mark.parametrize("num_threads", [1, 2])
def test_edge_labels_are_unchanged(tmp_path, num_threads):
    report = yolo.write_yolo(edge_dataset(), tmp_path / "ds", num_threads=num_threads)
    assert report.files == 40
    assert digest(tmp_path / "ds") == EDGE_DIGEST


def test_cli_labels_are_unchanged(tmp_path):
    """The command (JSON read, --num-threads 2) writes the same files as the library."""
    import orjson

    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(real_dataset()))
    argv = ["export", str(src), "--format", "yolo", "-o", str(tmp_path / "ds"), "--quiet"]
    assert cli.main([*argv, "--num-threads", "2"]) == 0
    assert digest(tmp_path / "ds") == DIGESTS["polygon"]
