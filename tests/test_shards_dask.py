"""The Dask recipe of README.md ("Sharded datasets"): dask.bag over maskprep.shards' functions.
The shard function is tested without Dask; the bag itself only when dask is installed."""

from __future__ import annotations

from functools import partial

import pytest

from conftest import load_json
from helpers.shard_data import write_layout
from maskprep import shards

DATA = "annotations/cocomini_instances_val2017.json"


def convert_one(item, outdir):
    """The recipe's shard function: one (path, relative path) item -> its summary."""
    src, rel = item
    return shards.process_shard(src, rel, outdir, job="convert", recompute=True, num_threads=1)


def test_recipe_shard_function_without_dask(tmp_path):
    src = write_layout(load_json(DATA), tmp_path / "in", "sa1b")
    items = shards.find_shards(src)
    summaries = list(map(partial(convert_one, outdir=tmp_path / "a"), items))
    reference = shards.run(src, tmp_path / "b", recompute=True)
    assert sorted(summaries, key=lambda s: s["shard"]) == reference["shards"]
    for _, rel in items:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_recipe_with_dask_bag(tmp_path):
    db = pytest.importorskip("dask.bag")
    src = write_layout(load_json(DATA), tmp_path / "in", "jsonl")
    items = shards.find_shards(src)
    bag = db.from_sequence(items, npartitions=4).map(convert_one, outdir=tmp_path / "d")
    summaries = bag.compute(scheduler="processes", num_workers=2)
    reference = shards.run(src, tmp_path / "l", recompute=True)
    assert sorted(summaries, key=lambda s: s["shard"]) == reference["shards"]
