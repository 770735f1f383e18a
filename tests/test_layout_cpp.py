"""The C++ side of issue 11: the layering rules checked on the tree, the index-carrying errors,
and the batch kernels' threading (same results at 1 and 2 threads, the GIL released).

Layout rules checked here:
- every C++ file under cpp/ and fuzz/ is clang-formatted with the repo's .clang-format;
- no `parallel_for` under cpp/bindings: batch loops belong to the kernels;
- cpp/include/maskprep holds only public contracts: every header there is included by some
  binding or fuzz target (a header only cpp/src includes is a private helper and belongs under
  cpp/src);
- the _core stub matches the compiled module, missing stubs included.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from maskprep import _core, coco, rle

REPO = Path(__file__).resolve().parents[1]
CPP_FILES = sorted(
    p
    for folder in ("cpp", "fuzz")
    for p in (REPO / folder).rglob("*")
    if p.suffix in (".cpp", ".hpp", ".h", ".cc")
)
# scripts/wheel_check.sh runs the suite from a folder holding only tests/: the tree checks skip.
needs_tree = pytest.mark.skipif(
    not (REPO / "cpp" / "bindings").is_dir(), reason="the C++ source tree is not here"
)


# ---- the tree ---------------------------------------------------------------------------------


def _clang_format():
    found = shutil.which("clang-format") or str(Path(sys.executable).with_name("clang-format"))
    return found if Path(found).exists() else None


@needs_tree
def test_cpp_files_are_clang_formatted():
    exe = _clang_format()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("clang-format is not installed (pip install clang-format)")
        pytest.skip("clang-format is not installed")
    assert CPP_FILES
    result = subprocess.run(
        [exe, "--dry-run", "-Werror", *map(str, CPP_FILES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-4000:]


@needs_tree
def test_no_parallel_loops_in_the_bindings():
    offenders = [
        f"{p.relative_to(REPO)}:{n}"
        for p in sorted((REPO / "cpp" / "bindings").glob("*"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "parallel_for" in line
    ]
    assert offenders == []


def _includes(paths):
    pattern = re.compile(r'#include "maskprep/([a-z_]+\.hpp)"')
    return {m for p in paths for m in pattern.findall(p.read_text())}


@needs_tree
def test_public_headers_are_contracts_not_private_helpers():
    public = {p.name for p in (REPO / "cpp" / "include" / "maskprep").glob("*.hpp")}
    used_outside_src = _includes(
        list((REPO / "cpp" / "bindings").glob("*")) + list((REPO / "fuzz").glob("*.cpp"))
    )
    # A public header may be reached through another public one (rle.hpp through polygon.hpp).
    used_outside_src |= _includes(
        (REPO / "cpp" / "include" / "maskprep" / h) for h in sorted(used_outside_src)
    )
    assert sorted(public - used_outside_src) == []


@needs_tree
def test_the_empty_binding_file_is_gone():
    assert not (REPO / "cpp" / "bindings" / "bind_boxes.cpp").exists()


def test_core_stub_matches_without_ignoring_missing_stubs():
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "maskprep._core"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Every _core function taking num_threads takes it keyword-only, defaulting to None, except
# resolve_threads, whose one argument it is.
POSITIONAL_NUM_THREADS = {"resolve_threads"}


def test_num_threads_is_keyword_only_with_a_default():
    checked = []
    for name in sorted(dir(_core)):
        doc = getattr(getattr(_core, name), "__doc__", None) or ""
        signature = doc.split("\n", 1)[0]
        if not signature.startswith(name + "(") or "num_threads" not in signature:
            continue
        checked.append(name)
        if name in POSITIONAL_NUM_THREADS:
            continue
        assert re.search(r"\*, num_threads: object = None", signature), signature
    assert {"rle_area", "paste_masks", "label", "coco_convert_to_rle", "roi_align_forward"} <= set(
        checked
    )


def test_num_threads_cannot_be_passed_positionally():
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.rle_area([], None)


# ---- errors carry the object's index -----------------------------------------------------------

TRI = [[0, 0, 5, 0, 5, 5]]


def test_segmentation_error_carries_its_index():
    segs = [TRI, TRI, [[0, 0, 5, 0, 5]], TRI]
    with pytest.raises(_core.IndexedValueError, match=r"^segmentations\[2\] polygon 0 must") as e:
        rle.from_segmentations(segs, (10, 10))
    assert isinstance(e.value, ValueError)
    assert e.value.index == 2
    assert e.value.message.startswith(" polygon 0 must have an even number of coordinates")
    assert str(e.value) == "segmentations[2]" + e.value.message


def test_rle_dict_in_a_mixed_batch_is_named_by_its_own_index():
    # Before: the RLE dicts were numbered among themselves, so this one was "segmentations[0]".
    bad = {"size": [10, 10], "counts": [50, 40]}
    with pytest.raises(
        _core.IndexedValueError, match=r"^segmentations\[2\]: counts sum to 90"
    ) as e:
        rle.from_segmentations([TRI, TRI, bad], (10, 10))
    assert e.value.index == 2 and e.value.message.startswith(": counts sum to 90")
    with pytest.raises(
        _core.IndexedValueError, match=r"^segmentations\[1\] has size \[2, 3\]"
    ) as e:
        rle.from_segmentations([TRI, {"size": [2, 3], "counts": [6]}], (10, 10))
    assert e.value.index == 1


def test_type_errors_carry_the_index_too():
    with pytest.raises(_core.IndexedTypeError, match=r"^segmentations\[1\]\[0\]\[2\] must be") as e:
        rle.from_segmentations([TRI, [[0, 0, "x", 0, 5, 5]]], (10, 10))
    assert isinstance(e.value, TypeError) and e.value.index == 1
    assert e.value.message.startswith("[0][2] must be a number")


def test_rle_batches_carry_the_index():
    good = rle.encode(np.ones((4, 4), np.uint8))
    bad = {"size": [4, 4], "counts": b"P1{"}
    with pytest.raises(_core.IndexedValueError, match=r"^rles\[1\]: compressed RLE string") as e:
        rle.area([good, bad, good])
    assert e.value.index == 1
    with pytest.raises(_core.IndexedValueError, match=r"^groups\[1\]\[2\]: compressed") as e:
        rle.merge_groups([[good], [good, good, bad]])
    assert e.value.index == 2 and e.value.message.startswith(": compressed RLE string")
    with pytest.raises(_core.IndexedValueError, match=r"^polygons\[1\] must have at least") as e:
        rle.from_polygons([TRI[0], [0, 0, 1, 1]], (10, 10))
    assert e.value.index == 1
    with pytest.raises(_core.IndexedValueError, match=r"^boxes\[1\] has a non-finite") as e:
        rle.from_bbox(np.array([[0, 0, 2, 2], [0, np.nan, 1, 1]]), (10, 10))
    assert e.value.index == 1


@pytest.mark.parametrize(
    "segs, cls, index, message",
    [
        # the polygon rule of segmentation.hpp, reached through targets.hpp
        ([TRI, [[0, 0, 5, 0]], TRI], _core.IndexedValueError, 1, " polygon 0 must have at least 3"),
        ([TRI, TRI, "x"], _core.IndexedTypeError, 2, " must be a polygon list"),
        ([TRI, [[0, 0, None, 0, 5, 5]]], _core.IndexedTypeError, 1, "[0][2] must be a number"),
        # an RLE dict among polygons: the Python layer's decode keeps the object's own index
        ([TRI, TRI, {"size": [9, 9], "counts": [81]}], _core.IndexedValueError, 2, " is an RLE"),
        ([TRI, {"size": [10, 10], "counts": [50, 40]}], _core.IndexedValueError, 1, ": counts"),
    ],
)
def test_training_targets_carry_the_index(segs, cls, index, message):
    with pytest.raises(cls) as e:
        rle.dense_from_segmentations(segs, (10, 10))
    assert e.value.index == index
    assert e.value.message.startswith(message)
    assert str(e.value) == f"segmentations[{index}]" + e.value.message


def test_within_boxes_errors_carry_the_index():
    boxes = np.array([[0, 0, 5, 5], [0, 0, 5, 5]], np.float32)
    with pytest.raises(_core.IndexedValueError, match=r"^segmentations\[1\] polygon 0") as e:
        rle.rasterize_within_boxes([TRI, [[0, 0, 1, 1]]], boxes, 28)
    assert e.value.index == 1
    far = np.array([[0, 0, 5, 5], [0, 0, 1e-9, 1e-9]], np.float64)
    with pytest.raises(_core.IndexedValueError, match="beyond the rasterizer's range") as e:
        rle.rasterize_within_boxes([TRI, [[0, 0, 1e7, 0, 1e7, 1e7]]], far, 28)
    assert e.value.index == 1


def test_coco_convert_reports_the_bad_annotation_from_the_index():
    data = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [
            {"id": 10 + k, "image_id": 1, "segmentation": seg}
            for k, seg in enumerate(
                [TRI, TRI, [[0, 0, 5, 0, 5]], {"size": [10, 10], "counts": [50, 40]}, TRI]
            )
        ],
    }
    segs = [a["segmentation"] for a in data["annotations"]]
    with pytest.raises(_core.IndexedValueError) as e:
        rle.from_segmentations(segs, (10, 10), counts="str")
    assert e.value.index == 2  # the first bad one, whatever the thread count
    report = coco.convert(data, skip_invalid=True)
    assert report.errors == {
        12: "segmentation polygon 0 must have an even number of coordinates "
        "[x0, y0, x1, y1, ...], got 5",
        13: "segmentation: counts sum to 90, expected h*w = 100 for size [10, 10]",
    }
    assert report.converted == 3


# ---- batch kernels: num_threads honoured, GIL released ---------------------------------------


def _random_rles(n, h=64, w=48, seed=0):
    rng = np.random.default_rng(seed)
    masks = rng.random((n, h, w)) < rng.random((n, 1, 1))  # sparse to dense, many runs
    return rle.encode(masks, layout="nhw")


def _random_polygons(n, seed=1):
    rng = np.random.default_rng(seed)
    return [list(rng.uniform(-5, 70, size=2 * int(rng.integers(3, 12)))) for _ in range(n)]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def _boxes(n, seed=2):
    return np.abs(np.random.default_rng(seed).normal(20, 10, (n, 4)))


BATCH_CALLS = {
    "area": lambda r, p, nt: rle.area(r, num_threads=nt),
    "to_bbox": lambda r, p, nt: rle.to_bbox(r, num_threads=nt),
    "merge_groups": lambda r, p, nt: rle.merge_groups(
        [r[i : i + 5] for i in range(0, len(r), 5)], num_threads=nt
    ),
    "merge_groups_intersect": lambda r, p, nt: rle.merge_groups(
        [r[i : i + 3] for i in range(0, len(r), 3)], intersect=True, num_threads=nt
    ),
    "to_strings": lambda r, p, nt: rle.encode(
        rle.decode(r[:200], layout="nhw"), layout="nhw", num_threads=nt
    ),
    "from_polygons": lambda r, p, nt: _core.rle_from_polygons(p, 64, 48, True, num_threads=nt),
    "from_bbox": lambda r, p, nt: _core.rle_from_bbox(_boxes(3000), 64, 48, True, num_threads=nt),
    "from_segmentations": lambda r, p, nt: rle.from_segmentations(
        [[q] for q in p] + r[:300], (64, 48), num_threads=nt
    ),
}


@pytest.mark.parametrize("name", sorted(BATCH_CALLS))
def test_batch_kernels_give_the_same_result_at_1_and_2_threads(name):
    # Big enough that every kernel's work threshold lets it use both threads.
    rles, polys = _random_rles(600), _random_polygons(4000)
    one, two = BATCH_CALLS[name](rles, polys, 1), BATCH_CALLS[name](rles, polys, 2)
    assert _same(one, two), name


def test_batch_errors_do_not_depend_on_the_thread_count():
    rles = _random_rles(400)
    bad = [dict(r) for r in rles]
    for k in (150, 390):
        bad[k] = {"size": [64, 48], "counts": [1, 2, 3]}
    for nt in (1, 2):
        with pytest.raises(_core.IndexedValueError) as e:
            rle.area(bad, num_threads=nt)
        assert e.value.index == 150


def _runs_while(call):
    """How far a spinning Python thread gets, relative to running alone, while call() runs: near
    0 when call() holds the GIL throughout, a good share when it releases it."""
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        c0, t0 = count[0], time.perf_counter()
        time.sleep(0.05)
        rate = (count[0] - c0) / (time.perf_counter() - t0)
        c0, t0 = count[0], time.perf_counter()
        call()
        ran, elapsed = count[0] - c0, time.perf_counter() - t0
    finally:
        stop.set()
        t.join()
    return ran / (rate * elapsed), elapsed


@pytest.mark.parametrize(
    "name",
    ["from_polygons", "area", "to_bbox", "merge_groups", "from_segmentations"],
)
def test_batch_kernels_release_the_gil(name):
    big = rle.encode(np.random.default_rng(3).random((40, 600, 600)) < 0.5, layout="nhw")
    # Enough triangles for ~20 ms of rasterizing: a call of a few ms can end before a starved
    # spinner thread is scheduled at all.
    tri = [[0, 0, 3000, 10, 1500, 3000]] * 240
    calls = {
        "from_polygons": lambda: _core.rle_from_polygons(tri, 3000, 3000, True, num_threads=1),
        "area": lambda: rle.area(big * 3, num_threads=1),
        "to_bbox": lambda: rle.to_bbox(big * 3, num_threads=1),
        "merge_groups": lambda: rle.merge_groups([big] * 3, num_threads=1),
        "from_segmentations": lambda: rle.from_segmentations(
            [tri] * 2, (3000, 3000), num_threads=1
        ),
    }
    # A busy machine may starve the spinner once: the best of three tries counts.
    share = max(_runs_while(calls[name])[0] for _ in range(3))
    assert share > 0.1, f"{name}: another thread ran {share:.0%} of the time during the call"


def test_gil_check_detects_a_call_that_holds_it():
    # sum() over a range is one C call that never releases the GIL.
    share, _ = _runs_while(lambda: sum(range(20_000_000)))
    assert share < 0.1
