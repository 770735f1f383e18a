"""Shared by tests/ and benchmarks/: the real COCO data in ../shared/data (skip cleanly when
absent), seeded RNGs, and the markers for tests that need torch or a CUDA GPU. The data builders
in tests/helpers (``from helpers.rle_data import ...``) are importable from benchmarks too,
through pytest's ``pythonpath`` setting in pyproject.toml."""

from __future__ import annotations

import json
import os
from pathlib import Path

# OpenBLAS (numpy's, scipy's) keeps its worker threads spinning after any BLAS call; on this
# 2-core machine they steal the second core from the kernels being timed. Nothing here needs
# threaded BLAS. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest

REPO = Path(__file__).resolve().parent
# ../shared/data beside the checkout; MASKPREP_SHARED_DATA overrides.
SHARED_DATA = Path(os.environ.get("MASKPREP_SHARED_DATA", REPO.parent / "shared" / "data"))
ANNOTATIONS = SHARED_DATA / "annotations"
IMAGES = SHARED_DATA / "images" / "coco_val2017"


def shared_file(*parts: str) -> Path:
    """Path to a file under ../shared/data, or skip the test when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not available: {path}")
    return path


def load_json(*parts: str):
    with open(shared_file(*parts), "rb") as f:
        return json.load(f)


def torch_or_skip():
    """Import torch and torchvision or skip (they are the optional [torch] extra)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    return torch


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="needs a CUDA GPU")
    if not cuda_available():
        for item in items:
            if "needs_cuda" in item.keywords:
                item.add_marker(skip_cuda)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test (the anchors' single-threaded timings), then restored."""
    torch = torch_or_skip()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def coco_val2014():
    """coco_instances_val2014_100img.json (839 anns: polygons, multi-part, 9 crowd RLEs)."""
    return load_json("annotations", "coco_instances_val2014_100img.json")


@pytest.fixture(scope="session")
def coco_fake_results():
    """coco_val2014_fakesegm100_results.json (734 compressed-RLE detections)."""
    return load_json("annotations", "coco_val2014_fakesegm100_results.json")


@pytest.fixture(scope="session")
def cocomini_val():
    return load_json("annotations", "cocomini_instances_val2017.json")


@pytest.fixture(scope="session")
def cocomini_train():
    return load_json("annotations", "cocomini_instances_train2017.json")
