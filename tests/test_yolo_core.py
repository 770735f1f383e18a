"""The C++ YOLO label writer's binding (_core.yolo_label_lines): its text and each error path."""

import numpy as np
import pytest

from maskprep import _core


def _args(**changes):
    args = {
        "xy": np.array([[0.0, 0.0], [5.0, 0.0], [5.0, 10.0]]),
        "part_points": np.array([3], dtype=np.int64),
        "object_parts": np.array([1], dtype=np.int64),
        "classes": np.array([7], dtype=np.int64),
        "sizes": np.array([[10.0, 10.0]]),
    }
    args.update(changes)
    return args


def test_text_offsets_inside():
    text, offsets, inside = _core.yolo_label_lines(**_args(), num_threads=1)
    line = b"7 0.000000 0.000000 0.500000 0.000000 0.500000 1.000000\n"
    assert text.tobytes() == line
    assert offsets.tolist() == [0, len(line)]
    assert inside.tolist() == [True]


def test_clamped_point_is_not_inside():
    text, _, inside = _core.yolo_label_lines(**_args(sizes=np.array([[4.0, 10.0]])))
    assert text.tobytes() == b"7 0.000000 0.000000 1.000000 0.000000 1.000000 1.000000\n"
    assert inside.tolist() == [False]


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"xy": np.zeros((3, 2), np.float32)}, TypeError, r"xy must be an \(N, 2\) float64"),
        ({"xy": np.zeros(6)}, ValueError, r"xy must be an \(N, 2\) float64 array, got .*\(6,\)"),
        ({"part_points": np.array([2], np.int64)}, ValueError, "part_points must add up to the 3"),
        ({"part_points": np.array([0, 3], np.int64)}, ValueError, "part_points must be >= 1"),
        ({"part_points": np.array([1.0])}, TypeError, "part_points must be a 1-d int64 array"),
        ({"object_parts": np.array([0], np.int64)}, ValueError, "object_parts must be >= 1"),
        (
            {"object_parts": np.array([2], np.int64)},
            ValueError,
            "object_parts must add up to the 1 parts of part_points, got more",
        ),
        (
            {"part_points": np.array([1, 2], np.int64)},
            ValueError,
            "object_parts must add up to the 2 parts of part_points, got 1",
        ),
        ({"classes": np.array([-1], np.int64)}, ValueError, "classes must be >= 0, got -1"),
        ({"classes": np.array([0, 1], np.int64)}, ValueError, r"classes must be a \(1,\) int64"),
        ({"sizes": np.ones((2, 2))}, ValueError, r"sizes must be a \(1, 2\) float64 array"),
    ],
)
def test_bad_input(changes, error, match):
    with pytest.raises(error, match=match):
        _core.yolo_label_lines(**_args(**changes))
