"""The thread budget API: process-wide, per-call resolution, context manager, build_info."""

from __future__ import annotations

import os
import threading

import pytest

import maskprep


def test_build_info_fields():
    info = maskprep.build_info()
    assert info["version"] == maskprep.__version__
    assert isinstance(info["openmp"], bool)
    assert info["simd"] in {"avx2", "sse2", "neon", "scalar"}
    assert info["cores"] >= 1
    assert info["compiler"]
    # CI builds a serial variant too and says which one it expects.
    expect = os.environ.get("MASKPREP_EXPECT_OPENMP")
    if expect is not None:
        assert info["openmp"] is (expect == "1")


def test_resolve_num_threads():
    cores = maskprep.build_info()["cores"]
    assert maskprep.resolve_num_threads(None) == maskprep.get_num_threads()
    assert maskprep.resolve_num_threads(-1) == cores
    assert maskprep.resolve_num_threads(3) == 3


@pytest.mark.parametrize("bad", [0, -2, -100])
def test_resolve_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="num_threads must be"):
        maskprep.resolve_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", True])
def test_resolve_num_threads_rejects_bad_types(bad):
    with pytest.raises(TypeError, match="num_threads must be None or an int"):
        maskprep.resolve_num_threads(bad)


def test_set_num_threads_rejects_zero():
    with pytest.raises(ValueError, match="num_threads"):
        maskprep.set_num_threads(0)


def test_threads_context_manager_restores():
    before = maskprep.get_num_threads()
    with maskprep.threads(1) as n:
        assert n == 1
        assert maskprep.get_num_threads() == 1
    assert maskprep.get_num_threads() == before


def test_threads_context_manager_restores_on_error():
    before = maskprep.get_num_threads()
    with pytest.raises(RuntimeError), maskprep.threads(1):
        raise RuntimeError("boom")
    assert maskprep.get_num_threads() == before


def test_budget_is_process_wide():
    """A budget set in one Python thread is what another thread's kernels get."""
    before = maskprep.get_num_threads()
    seen = []
    try:
        maskprep.set_num_threads(3)
        t = threading.Thread(target=lambda: seen.append(maskprep.resolve_num_threads(None)))
        t.start()
        t.join()
    finally:
        maskprep.set_num_threads(before)
    assert seen == [3]
