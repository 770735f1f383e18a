"""The Ray engine and the Ray Data adapters (maskprep.ray) on a real local cluster; they skip
without ray (the ray extra, which .ci/run installs, so that they run in CI)."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from conftest import load_json
from helpers.shard_data import write_layout
from maskprep import shards

if os.environ.get("MASKPREP_REQUIRE_RAY") == "1":  # CI: these tests must run, not skip
    import ray
else:
    ray = pytest.importorskip("ray")
pm = pytest.importorskip("pycocotools.mask")
DATA = "annotations/cocomini_instances_val2017.json"
HERE = Path(__file__).parent
# Ray Data warns about its own deprecated settings when it builds its context.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray cluster for the session (2 CPUs, no dashboard)."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}},
    )
    yield ray
    ray.shutdown()


def _outputs(root: Path):
    """The output files (the report and the per-process completion journals left out)."""
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and p.name != shards.REPORT_NAME and shards.DONE_DIR not in p.parts
    )


def _same_tree(a: Path, b: Path) -> None:
    files_a, files_b = _outputs(a), _outputs(b)
    assert files_a == files_b
    # the same completion records, whichever processes wrote them
    for job in shards.JOBS:
        assert shards.completed(a, job) == shards.completed(b, job)
    assert files_a
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files_a], shallow=False)
    assert mismatch == [] and errors == []


@pytest.mark.parametrize("layout", ["coco", "sa1b", "jsonl", "parquet"])
def test_engines_write_identical_bytes(local_ray, tmp_path, layout):
    if layout == "parquet":
        pytest.importorskip("pyarrow")
    src = write_layout(load_json(DATA), tmp_path / "in", layout)
    local = shards.run(src, tmp_path / "local", recompute=True)
    remote = shards.run(src, tmp_path / "ray", recompute=True, engine="ray")
    _same_tree(tmp_path / "local", tmp_path / "ray")
    assert local["shards"] == remote["shards"]


def test_boxes_job_on_ray_writes_identical_bytes(local_ray, tmp_path):
    data = load_json(DATA)
    for a in data["annotations"]:
        del a["segmentation"]
    src = write_layout(data, tmp_path / "in", "sa1b")
    opts = {"method": "ellipse"}
    local = shards.run(src, tmp_path / "local", job="boxes", boxes=opts)
    remote = shards.run(src, tmp_path / "ray", job="boxes", boxes=opts, engine="ray")
    _same_tree(tmp_path / "local", tmp_path / "ray")
    assert local["shards"] == remote["shards"]
    assert remote["totals"]["converted"] == len(data["annotations"])


def test_invalid_annotations_are_data_not_retried(local_ray, tmp_path):
    data = load_json(DATA)
    data["annotations"][0]["segmentation"] = [[1.0, 2.0, 3.0]]
    src = write_layout(data, tmp_path / "in", "coco")
    with pytest.raises(shards.ShardError, match="failed: 1 invalid annotation"):
        shards.run(src, tmp_path / "out", engine="ray")
    report = shards.run(src, tmp_path / "out2", engine="ray", skip_invalid=True)
    assert [list(v) for v in report["invalid"].values()] == [[str(data["annotations"][0]["id"])]]


def test_cli_engine_ray(local_ray, tmp_path):
    from maskprep import cli

    src = write_layout(load_json(DATA), tmp_path / "in", "sa1b")
    assert (
        cli.main(["convert", str(src), "-o", str(tmp_path / "r"), "--engine", "ray", "--quiet"])
        == 0
    )
    assert cli.main(["convert", str(src), "-o", str(tmp_path / "l"), "--quiet"]) == 0
    _same_tree(tmp_path / "l", tmp_path / "r")


def test_map_batches_convert_and_validate(local_ray, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import ray.data

    from maskprep.ray import convert_batch

    data = load_json(DATA)
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    rows, want = [], []
    for a in data["annotations"][:200]:
        h, w = sizes[a["image_id"]]
        r = pm.frPyObjects(a["segmentation"], h, w)
        r = pm.merge(r) if isinstance(r, list) else r
        rows.append(
            {
                "image_id": a["image_id"],
                "id": a["id"],
                "height": h,
                "width": w,
                "counts": r["counts"].decode(),
                "area": 0.0,
                "bbox": [0.0] * 4,
            }
        )
        want.append((a["id"], r["counts"].decode(), float(pm.area(r)), pm.toBbox(r).tolist()))
    rows[5]["counts"] = "not-rle"
    ds = ray.data.from_arrow(pa.Table.from_pylist(rows))
    out = ds.map_batches(
        convert_batch, batch_format="pyarrow", batch_size=64, fn_kwargs={"recompute": True}
    ).take_all()
    got = {r["id"]: r for r in out}
    for i, (aid, counts, area, bbox) in enumerate(want):
        if i == 5:
            assert got[aid]["error"]
            continue
        assert got[aid]["error"] is None
        assert (got[aid]["counts"], got[aid]["area"]) == (counts, area)
        assert got[aid]["bbox"] == pytest.approx(bbox)
    # records (dict of columns) in, records out; validate
    batch = {k: [r[k] for r in rows[:10]] for k in rows[0]}
    checked = convert_batch(batch, job="validate", num_threads=1)
    assert isinstance(checked, dict)
    assert [e is not None for e in checked["error"]] == [i == 5 for i in range(10)]


def test_convert_batch_errors():
    from maskprep.ray import convert_batch

    with pytest.raises(ValueError, match="job must be 'convert' or 'validate', got 'x'"):
        convert_batch({}, job="x")
    with pytest.raises(TypeError, match="batch must be a pyarrow.Table or a dict of columns"):
        convert_batch([1])


def test_task_num_threads_from_ray(local_ray):
    from maskprep.ray import task_num_threads

    @ray.remote(num_cpus=2)
    def threads() -> int:
        return task_num_threads()

    assert ray.get(threads.remote()) == 2


@pytest.mark.needs_torch
def test_maskrcnn_predictor_map_batches(local_ray):
    from conftest import torch_or_skip

    torch_or_skip()
    import numpy as np
    import ray.data

    from maskprep.models import MaskRCNN
    from maskprep.ray import MaskRCNNPredictor

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (2, 64, 80, 3), dtype=np.uint8)
    kw = dict(seed=0, device="cpu", min_size=64, max_size=96)
    ds = ray.data.from_items([{"image": im, "name": f"im{k}"} for k, im in enumerate(images)])
    out = ds.map_batches(
        MaskRCNNPredictor, fn_constructor_kwargs=kw, batch_size=2, concurrency=1, num_cpus=1
    ).take_all()
    # The actor has one CPU, so Ray runs its torch on one thread (OMP_NUM_THREADS=1). torch's
    # convolutions sum in another order on more threads, which can move a random-weight mask's
    # pixel across 0.5: the reference runs on one thread too.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        want = MaskRCNN(**kw).predict(list(images))
    finally:
        torch.set_num_threads(before)
    out.sort(key=lambda r: r["name"])
    for row, det in zip(out, want):
        assert list(row["counts"]) == [m["counts"] for m in det["masks"]]
        assert (row["height"], row["width"]) == (64, 80)
    # refine mode, called directly (the same object an actor holds)
    pred = MaskRCNNPredictor(mode="refine", **kw)
    res = pred({"image": images, "boxes": [[[2, 3, 40, 50]], []]})
    assert len(res["counts"][0]) == 1 and res["counts"][1] == []
    want_r = MaskRCNN(**kw).refine_boxes(images[0], np.array([[2, 3, 40, 50]], np.float32))
    assert res["counts"][0][0] == want_r[0]["counts"]
    with pytest.raises(ValueError, match="mode must be 'predict' or 'refine'"):
        MaskRCNNPredictor(mode="x", **kw)
    with pytest.raises(ValueError, match="batch must be a dict of columns with 'image'"):
        pred({"x": 1})
    with pytest.raises(ValueError, match="mode 'refine' needs the column 'boxes'"):
        pred({"image": images})


@pytest.mark.slow
def test_killed_worker_node_gives_identical_output(tmp_path):
    """Two-node cluster, a worker node killed mid-job: the output equals an undisturbed run's,
    nothing lost or duplicated."""
    src = write_layout(load_json(DATA), tmp_path / "in", "coco", n=24)
    undisturbed = shards.run(src, tmp_path / "local")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    proc = subprocess.run(
        [sys.executable, str(HERE / "_ray_kill_node.py"), str(src), str(tmp_path / "ray")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    marked = [ln for ln in proc.stdout.splitlines() if ln.startswith("MASKPREP_REPORT ")]
    assert len(marked) == 1, proc.stdout[-3000:]
    report = orjson.loads(marked[0].split(" ", 1)[1])
    assert 0 < report["done_at_kill"] < 24, "the kill must land mid-job"
    _same_tree(tmp_path / "local", tmp_path / "ray")
    assert [s["shard"] for s in report["shards"]] == [s["shard"] for s in undisturbed["shards"]]
    assert not [p for p in (tmp_path / "ray").rglob("*.tmp*")]
