"""Sharded convert (issue 12): 300k masks in SA-1B-style per-image JSON shards.

A script, not a pytest benchmark (it holds no tests; pytest imports it and collects nothing):

    .venv/bin/python benchmarks/bench_shards.py [--files 3000] [--masks-per-file 100]

The shards are generated from the real annotations of ../shared/data
(cocomini_instances_val2017.json): file k holds image k mod 79 (its size) and 100 of that image's
masks as compressed RLE (pycocotools' strings; cycled when the image has fewer), without
image_id on the annotations, as in SA-1B. The job is ``maskprep convert DIR -o OUT --recompute``
(canonical RLE, area and bbox per mask, the file written back). Timed:

- local: :func:`maskprep.shards.run` at 1 and 2 threads,
- pycocotools: the script users run today (json.load, ``frPyObjects`` + ``area`` + ``toBbox``
  per annotation, json.dump) on one core,
- ray: ``engine="ray"`` on a local cluster of 1 and 2 CPUs, ``ray.init`` excluded.

Outputs are checked: the Ray engines' files byte-identical to the local path's, and every mask's
counts, area and bbox equal to pycocotools'.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "annotations" / "cocomini_instances_val2017.json"
if not DATA.exists():
    DATA = Path("/work/shared/data/annotations/cocomini_instances_val2017.json")


def generate(root: Path, files: int, per_file: int) -> int:
    from pycocotools import mask as pm

    data = json.loads(DATA.read_text())
    by_image = {im["id"]: [] for im in data["images"]}
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    for a in data["annotations"]:
        h, w = sizes[a["image_id"]]
        r = pm.frPyObjects(a["segmentation"], h, w)
        r = pm.merge(r) if isinstance(r, list) else r
        by_image[a["image_id"]].append({"size": [h, w], "counts": r["counts"].decode()})
    images = [im for im in data["images"] if by_image[im["id"]]]
    root.mkdir(parents=True)
    total = 0
    for k in range(files):
        im = images[k % len(images)]
        rles = by_image[im["id"]]
        anns = [
            {
                "id": k * per_file + j,
                "segmentation": rles[j % len(rles)],
                "bbox": [0, 0, 0, 0],
                "area": 0,
                "predicted_iou": 0.9,
                "stability_score": 0.95,
            }
            for j in range(per_file)
        ]
        rec = {
            "image": {
                "image_id": k,
                "file_name": f"sa_{k}.jpg",
                "height": im["height"],
                "width": im["width"],
            },
            "annotations": anns,
        }
        sub = root / f"{k // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"sa_{k}.json").write_bytes(orjson.dumps(rec))
        total += per_file
    return total


def pycocotools_job(src: Path, out: Path) -> None:
    from pycocotools import mask as pm

    for path in sorted(src.rglob("*.json")):
        with open(path) as f:
            rec = json.load(f)
        h, w = rec["image"]["height"], rec["image"]["width"]
        for a in rec["annotations"]:
            seg = a["segmentation"]
            r = pm.frPyObjects(seg, h, w) if isinstance(seg, list) else seg
            r = pm.merge(r) if isinstance(r, list) else r
            if isinstance(r["counts"], str):
                r = {"size": r["size"], "counts": r["counts"].encode()}
            a["area"] = float(pm.area(r))
            a["bbox"] = pm.toBbox(r).tolist()
            a["segmentation"] = {"size": r["size"], "counts": r["counts"].decode()}
        dst = out / path.relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(dst, "w") as f:
            json.dump(rec, f)


def same_tree(a: Path, b: Path) -> bool:
    names = sorted(
        str(p.relative_to(a)) for p in a.rglob("*.json") if p.name != "maskprep-report.json"
    )
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def same_as_pycocotools(ours: Path, theirs: Path, sample: int = 200) -> bool:
    for path in sorted(theirs.rglob("*.json"))[:sample]:
        a = orjson.loads((ours / path.relative_to(theirs)).read_bytes())["annotations"]
        b = orjson.loads(path.read_bytes())["annotations"]
        for x, y in zip(a, b):
            if (x["segmentation"]["counts"], x["area"]) != (y["segmentation"]["counts"], y["area"]):
                return False
            if any(abs(p - q) > 1e-9 for p, q in zip(x["bbox"], y["bbox"])):
                return False
    return True


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--masks-per-file", type=int, default=100)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "python"))
    from maskprep import shards

    tmp = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        src = tmp / "in"
        masks = generate(src, args.files, args.masks_per_file)
        size = sum(p.stat().st_size for p in src.rglob("*.json"))
        print(
            f"{args.files} files, {masks} masks, {size / 1e6:.0f} MB; load "
            f"{os.getloadavg()[0]:.1f} (2 cores shared)",
            flush=True,
        )
        res = {}
        for threads in (1, 2):
            out = tmp / f"local{threads}"
            res[f"local {threads} thread(s)"] = timed(
                lambda out=out, threads=threads: shards.run(
                    src, out, recompute=True, num_threads=threads, resume=False
                )
            )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        res["pycocotools 1 core"] = timed(lambda: pycocotools_job(src, tmp / "pycoco"))
        ok_ref = same_as_pycocotools(tmp / "local2", tmp / "pycoco")
        ok_ray = True
        if not args.skip_ray:
            import ray

            for cpus in (1, 2):
                t = time.perf_counter()
                ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
                start = time.perf_counter() - t
                out = tmp / f"ray{cpus}"
                res[f"ray {cpus} worker(s)"] = timed(
                    lambda out=out: shards.run(src, out, recompute=True, engine="ray", resume=False)
                )
                ray.shutdown()
                ok_ray &= same_tree(tmp / "local2", out)
                print(f"  (ray.init with {cpus} CPU(s): {start:.1f} s, excluded)")
        print(f"max RSS of the driver after the local runs: {rss:.0f} MB")
        print("| run | s | images/s | masks/s |\n|---|---:|---:|---:|")
        for name, s in res.items():
            print(f"| {name} | {s:.2f} | {args.files / s:,.0f} | {masks / s:,.0f} |")
        local = res["local 2 thread(s)"]
        print(
            f"pycocotools / local (2 threads): {res['pycocotools 1 core'] / local:.1f}x; "
            f"pycocotools / local (1 thread): "
            f"{res['pycocotools 1 core'] / res['local 1 thread(s)']:.1f}x"
        )
        if not args.skip_ray:
            print(
                f"ray 2 / local 2: {res['ray 2 worker(s)'] / local:.2f}x; ray 1 -> 2 workers: "
                f"{res['ray 1 worker(s)'] / res['ray 2 worker(s)']:.2f}x"
            )
        per_core = masks / res["local 1 thread(s)"]
        print(
            f"per-core throughput {per_core:,.0f} masks/s; SA-1B (1.1e9 masks) on N nodes of "
            f"C cores: {1.1e9 / per_core / 3600:.1f} core-hours, i.e. "
            f"{1.1e9 / per_core / 3600 / 64:.2f} h on one 64-core node, "
            f"{1.1e9 / per_core / 60 / 64 / 16:.1f} min on 16 such nodes (linear scaling)"
        )
        print(f"checks: equal to pycocotools {ok_ref}; ray byte-identical {ok_ray}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
