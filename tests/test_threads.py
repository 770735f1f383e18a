"""The thread budget API: process-wide, per-call resolution, context manager, build_info."""

from __future__ import annotations

import os
import threading

import numpy as np
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


def _run_threads(n, target):
    """Run target(i) on n Python threads started together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    errors = []

    def run(i):
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    if errors:
        raise errors[0]


def test_threads_block_is_scoped_to_its_thread():
    """Inside a block this thread sees n; a thread outside the block sees the process budget."""
    before = maskprep.get_num_threads()
    entered, done = threading.Event(), threading.Event()
    seen = []

    def outside():
        entered.wait(timeout=30)
        seen.append(maskprep.resolve_num_threads(None))
        done.set()

    t = threading.Thread(target=outside)
    t.start()
    with maskprep.threads(before + 5):
        entered.set()
        done.wait(timeout=30)
        assert maskprep.get_num_threads() == before + 5
    t.join()
    assert seen == [before]
    assert maskprep.get_num_threads() == before


def test_overlapping_blocks_in_8_threads_never_clobber():
    """The reported bug: overlapping blocks restored a stale value (4 -> 1 for the process)."""
    before = maskprep.get_num_threads()
    try:
        maskprep.set_num_threads(4)
        step = threading.Barrier(8)

        def body(i):
            k = i + 1
            for _ in range(50):
                with maskprep.threads(k):
                    step.wait(timeout=30)  # every thread is inside its block now
                    assert maskprep.get_num_threads() == k
                    assert maskprep.resolve_num_threads(None) == k
                    with maskprep.threads(10 + k):  # nesting restores the outer block
                        assert maskprep.get_num_threads() == 10 + k
                    assert maskprep.get_num_threads() == k
                    step.wait(timeout=30)  # ... and leaves in any order
                assert maskprep.get_num_threads() == 4

        _run_threads(8, body)
        assert maskprep.get_num_threads() == 4
    finally:
        maskprep.set_num_threads(before)


def test_kernels_honour_the_threads_block():
    """A kernel called with num_threads=None inside a block runs with the block's count: a
    block of 1 still gives the same bits as the serial call, and the count reaches the kernel
    (resolve_threads is what every binding calls for None)."""
    masks = np.zeros((64, 48, 4), np.uint8, order="F")
    masks[5:30, 7:40, :] = 1
    serial = maskprep.rle.encode(masks, num_threads=1)

    def body(i):
        with maskprep.threads(i % 2 + 1):
            for _ in range(20):
                assert maskprep.rle.encode(masks) == serial

    _run_threads(8, body)


def test_set_num_threads_stays_process_wide_inside_blocks():
    before = maskprep.get_num_threads()
    try:
        with maskprep.threads(2):
            maskprep.set_num_threads(3)
            assert maskprep.get_num_threads() == 2  # the block wins in its own thread
            seen = []
            t = threading.Thread(target=lambda: seen.append(maskprep.get_num_threads()))
            t.start()
            t.join()
            assert seen == [3]
        assert maskprep.get_num_threads() == 3
    finally:
        maskprep.set_num_threads(before)


def test_threads_block_rejects_bad_counts_without_entering():
    before = maskprep.get_num_threads()
    with pytest.raises(ValueError, match="num_threads must be"):
        with maskprep.threads(0):
            pass
    assert maskprep.get_num_threads() == before


def test_threads_block_is_scoped_to_its_asyncio_task():
    import asyncio

    async def task(k, seen):
        with maskprep.threads(k):
            await asyncio.sleep(0.01)  # the other task runs its block meanwhile
            seen.append((k, maskprep.get_num_threads()))

    async def main():
        seen = []
        await asyncio.gather(task(1, seen), task(2, seen), task(3, seen))
        return seen

    assert sorted(asyncio.run(main())) == [(1, 1), (2, 2), (3, 3)]


@pytest.mark.parametrize(
    "env, expect",
    [
        ({}, "cores"),
        ({"OMP_NUM_THREADS": "1"}, 1),  # Dask's nanny
        ({"OMP_NUM_THREADS": "3,2"}, 3),  # one value per nesting level: the outer one
        ({"OMP_NUM_THREADS": "abc"}, "cores"),
        ({"OMP_NUM_THREADS": "0"}, "cores"),
        ({"MASKPREP_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}, 2),  # ours first
        ({"MASKPREP_NUM_THREADS": "x", "OMP_NUM_THREADS": "5"}, 5),
    ],
)
def test_default_budget_from_the_environment(env, expect):
    """With MASKPREP_NUM_THREADS unset the budget honours OMP_NUM_THREADS (Ray sets it to the
    worker's CPUs): read once, at import, so each case runs in a fresh interpreter."""
    import subprocess
    import sys

    clean = {
        k: v for k, v in os.environ.items() if k not in ("MASKPREP_NUM_THREADS", "OMP_NUM_THREADS")
    }
    code = "import maskprep; print(maskprep.get_num_threads(), maskprep.build_info()['cores'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    budget, cores = int(out[0]), int(out[1])
    assert budget == (cores if expect == "cores" else expect)
