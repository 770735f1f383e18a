"""``maskprep export --format yolo`` straight from the file's text (issue 14's benchmark path).

:func:`maskprep.formats.yolo.write_yolo_file` reads regular instances files with the C++
column reader (``_core.coco_columns``) and exports them without building Python objects; any
other file goes to :func:`write_yolo`. The contract tested here: for every input, the files,
the report and the errors are exactly those of ``write_yolo(coco.load(path))``. Each planted
case says whether the fast reading must take it (``regular``) or hand it over (``None``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from maskprep import _core, cli, coco, contours, rle
from maskprep.formats import yolo

REAL = [
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
]


def _tree(folder: Path) -> dict:
    """Every file under ``folder`` by relative path; data.yaml's absolute path taken out."""
    out = {}
    for d, _, names in os.walk(folder):
        for name in names:
            path = Path(d) / name
            body = path.read_bytes()
            if name == yolo.YAML_NAME:
                body = body.replace(json.dumps(str(folder.resolve())).encode(), b"<out>")
            out[str(path.relative_to(folder))] = body
    return out


def _outcome(fn):
    """(files, report fields) of an export, or the exception's type and message."""
    try:
        report = fn()
    except (ValueError, OSError) as exc:
        return type(exc).__name__, str(exc)
    fields = (report.files, report.objects, report.notes, report.extra, report.skipped)
    return fields


def _same_as_write_yolo(tmp_path: Path, src: Path, **options):
    """write_yolo_file(src) and write_yolo(coco.load(src)): same outcome and same files."""
    opts = options or None
    fast_out, slow_out = tmp_path / "fast", tmp_path / "slow"
    fast = _outcome(lambda: yolo.write_yolo_file(src, fast_out, options=opts))
    slow = _outcome(lambda: yolo.write_yolo(coco.load(src), slow_out, options=opts))
    assert fast == slow
    if fast_out.exists() or slow_out.exists():
        assert _tree(fast_out) == _tree(slow_out)
    return fast


def _tiny():
    return {
        "images": [
            {"id": 1, "height": 20, "width": 30, "file_name": "im1.jpg"},
            {"id": 2, "height": 20, "width": 30, "file_name": "im2.jpg"},
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 5,
                "segmentation": [[3, 3, 12, 3, 12, 9, 3, 9]],
                "iscrowd": 0,
            },
            {
                "id": 11,
                "image_id": 2,
                "category_id": 2,
                "segmentation": [[1.5, 1.25, 8, 1, 8, 7], [20, 10, 28, 10, 28, 18]],
            },
        ],
        "categories": [{"id": 5, "name": "cat"}, {"id": 2, "name": "dog"}],
    }


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "in.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))
    return path


# -- real data: the fast reading is taken and gives write_yolo's bytes ---------------------------


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("options", [{}, {"crowd": "skip"}, {"split": "val2017"}])
def test_real_files_fast_and_identical(tmp_path, name, options):
    src = shared_file("annotations", name)
    taken = yolo.write_regular(src, tmp_path / "probe", options=options or None)
    assert taken is not None, "the real annotation files are regular"
    fields = _same_as_write_yolo(tmp_path, src, **options)
    assert fields[1] > 0


def test_real_overlapping_parts_are_traced_the_same(tmp_path):
    """The real files hold objects whose parts overlap: both readings trace the same ones."""
    src = shared_file("annotations", "cocomini_instances_train2017.json")
    report = yolo.write_regular(src, tmp_path / "fast")
    slow = yolo.write_yolo(coco.load(src), tmp_path / "slow")
    assert report is not None
    assert report.extra.get("overlap_traced", 0) == slow.extra.get("overlap_traced", 0)
    assert report.notes == slow.notes


# -- planted inputs: taken (regular) or handed over (None), always write_yolo's outcome ----------


def _case(change):
    data = _tiny()
    change(data)
    return data


def _set(path, value):
    def change(data):
        *keys, last = path
        target = data
        for k in keys:
            target = target[k]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return change


_DELETE = object()
ANN = ("annotations", 0)
SEG = (*ANN, "segmentation")
IMG = ("images", 0)
RLE_EMPTY = {"size": [20, 30], "counts": [600]}
RLE_BOX = {"size": [20, 30], "counts": [45, 5, 15, 5, 530]}
RLE_BOX_COMPRESSED = {
    "size": [20, 30],
    "counts": rle.from_segmentations([RLE_BOX], [(20, 30)])[0]["counts"].decode(),
}

HANDED_OVER = {
    "string image id": _set((*IMG, "id"), "a"),
    "float image id": _set((*IMG, "id"), 1.0),
    "repeated image id": _set(("images", 1, "id"), 1),
    "no file_name": _set((*IMG, "file_name"), _DELETE),
    "file_name outside": _set((*IMG, "file_name"), "../up.jpg"),
    "label name clash": _set(("images", 1, "file_name"), "im1.png"),
    "no height": _set((*IMG, "height"), _DELETE),
    "string width": _set((*IMG, "width"), "30"),
    "string annotation id": _set((*ANN, "id"), "a-10"),
    "no annotation id": _set((*ANN, "id"), _DELETE),
    "unknown image": _set((*ANN, "image_id"), 42),
    "no image_id": _set((*ANN, "image_id"), _DELETE),
    "unknown category": _set((*ANN, "category_id"), 99),
    "bool category": _set((*ANN, "category_id"), True),
    "no segmentation": _set(SEG, _DELETE),
    "empty segmentation": _set(SEG, []),
    "null segmentation": _set(SEG, None),
    "odd polygon": _set(SEG, [[1, 2, 3, 4, 5, 6, 7]]),
    "short polygon": _set(SEG, [[1, 2, 3, 4]]),
    "string in polygon": _set(SEG, [[1, 2, "x", 4, 5, 6]]),
    "bool in polygon": _set(SEG, [[1, 2, True, 4, 5, 6]]),
    "polygon not a list": _set(SEG, [5]),
    "iscrowd 2": _set((*ANN, "iscrowd"), 2),
    "RLE size mismatch": _set(SEG, {"size": [5, 5], "counts": [25]}),
    "RLE bad counts": _set(SEG, {"size": [20, 30], "counts": [5, 5]}),
    "RLE empty mask": _set(SEG, RLE_EMPTY),
    "RLE without size": _set(SEG, {"counts": [600]}),
    "multi-part beyond 2e8": _set(("annotations", 1, "segmentation", 1, 0), 3e8),
    "no categories": _set(("categories",), _DELETE),
    "string category id": _set(("categories", 0, "id"), "5"),
    "repeated category id": _set(("categories", 1, "id"), 5),
    "categories not a list": _set(("categories",), {"id": 5}),
    "no images": _set(("images",), _DELETE),
    "annotations not a list": _set(("annotations",), {}),
    "annotation not an object": _set(("annotations", 0), 7),
}

TAKEN = {
    "as it is": lambda data: None,
    "file_name in a folder": _set((*IMG, "file_name"), "sub/dir/im1.jpg"),
    "file_name without suffix": _set((*IMG, "file_name"), "im1"),
    "float sizes": _set((*IMG, "height"), 20.0),
    "iscrowd true": _set((*ANN, "iscrowd"), True),
    "iscrowd null": _set((*ANN, "iscrowd"), None),
    "no iscrowd": _set((*ANN, "iscrowd"), _DELETE),
    "points outside: clamped": _set(SEG, [[-5, -5, 40, 0, 40, 30]]),
    "overlapping parts: traced": _set(SEG, [[2, 2, 12, 2, 12, 12], [6, 6, 18, 6, 18, 16]]),
    "touching parts": _set(SEG, [[2, 2, 10, 2, 10, 10], [10, 2, 18, 2, 18, 10]]),
    "uncompressed RLE": _set(SEG, RLE_BOX),
    "compressed RLE": _set(SEG, RLE_BOX_COMPRESSED),
    "RLE crowd": lambda data: data["annotations"][0].update(segmentation=RLE_BOX, iscrowd=1),
    "big ids": _set((*ANN, "id"), 2**62),
    "negative category id": lambda data: (
        data["categories"][0].update(id=-5),
        data["annotations"][0].update(category_id=-5),
    ),
    "no annotations on an image": lambda data: data["annotations"].pop(),
    "unicode file_name": _set((*IMG, "file_name"), "çà/ïm1.jpg"),
}


@pytest.mark.parametrize("case", sorted(HANDED_OVER))
@pytest.mark.parametrize("crowd", ["polygon", "skip"])
def test_handed_over_to_write_yolo(tmp_path, case, crowd):
    src = _write(tmp_path, _case(HANDED_OVER[case]))
    assert yolo.write_regular(src, tmp_path / "probe", options={"crowd": crowd}) is None
    assert not (tmp_path / "probe").exists()  # nothing written when handed over
    _same_as_write_yolo(tmp_path, src, crowd=crowd)


@pytest.mark.parametrize("case", sorted(TAKEN))
@pytest.mark.parametrize("crowd", ["polygon", "skip"])
def test_taken_and_identical(tmp_path, case, crowd):
    src = _write(tmp_path, _case(TAKEN[case]))
    assert yolo.write_regular(src, tmp_path / "probe", options={"crowd": crowd}) is not None
    fields = _same_as_write_yolo(tmp_path, src, crowd=crowd)
    assert isinstance(fields, tuple) and fields[0] == 2  # two label files


@pytest.mark.parametrize(
    "text, regular",
    [
        ('{"images": [], "annotations": []}', True),  # data.yaml and empty folders
        ('{"images": [], "annotations": [], "categories": [{"id": 3, "name": "x"}]}', True),
        ("[]", False),  # a results file: write_yolo_file raises coco.load's error
        ('{"images": [], "annotations": [}', False),  # not JSON
        ('{"images": [], "annotations": [], "x": NaN}', False),
        ('{"images": [], "annotations": []} 7', False),
        (
            '{"images": [{"id": 1, "file_name": "a\\u00e9.jpg", "height": 2, "width": 2}], '
            '"annotations": []}',
            False,
        ),  # an escaped file name: the general reading decodes it
        # a repeated key: the last one counts, but the fast reading stops at the first one's
        # annotation without a segmentation
        ('{"annotations": [{"id": 1}], "images": [], "annotations": []}', False),
        ('{"annotations": 5, "images": [], "annotations": []}', False),
        (
            '{"images": [], "annotations": [{"id": 1, "segmentation": [[1, 2, 3, 4, 5, 6]], '
            '"segmentation": "x"}]}',
            False,
        ),  # a repeated key: the last one counts
        (
            '{"images": [], "annotations": [], "categories": [{"id": 99999999999999999999}]}',
            False,
        ),  # beyond 64 bits
    ],
)
def test_text_level_cases(tmp_path, text, regular):
    src = _write(tmp_path, text)
    taken = yolo.write_regular(src, tmp_path / "probe")
    assert (taken is not None) == regular
    _same_as_write_yolo(tmp_path, src)


def test_options_are_checked_by_write_yolo(tmp_path):
    src = _write(tmp_path, _tiny())
    assert yolo.write_regular(src, tmp_path / "probe", options={"crowd": "x"}) is None
    with pytest.raises(ValueError, match="options: crowd must be 'polygon' or 'skip'"):
        yolo.write_yolo_file(src, tmp_path / "out", options={"crowd": "x"})


def test_missing_file(tmp_path):
    assert yolo.write_regular(tmp_path / "none.json", tmp_path / "probe") is None
    with pytest.raises(OSError):
        yolo.write_yolo_file(tmp_path / "none.json", tmp_path / "out")


def test_unwritable_output(tmp_path):
    src = _write(tmp_path, _tiny())
    (tmp_path / "file").write_text("")
    with pytest.raises(coco.OutputError, match="cannot create the folder"):
        yolo.write_regular(src, tmp_path / "file" / "ds")


def test_command_uses_it_and_writes_the_same(tmp_path, capsys):
    src = shared_file("annotations", "coco_instances_val2014_100img.json")
    argv = ["export", str(src), "--format", "yolo", "-o", str(tmp_path / "cli"), "--quiet"]
    assert cli.main(argv) == 0
    yolo.write_yolo(coco.load(src), tmp_path / "lib")
    assert _tree(tmp_path / "cli") == _tree(tmp_path / "lib")


def test_command_errors_unchanged_for_irregular_files(tmp_path, capsys):
    data = _tiny()
    data["annotations"][0]["category_id"] = 99
    src = _write(tmp_path, data)
    argv = ["export", str(src), "--format", "yolo", "-o", str(tmp_path / "out")]
    assert cli.main(argv) == cli.EXIT_INVALID
    assert "category_id 99 is not in categories" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- the column reader --------------------------------------------------------------------------


def test_columns_of_a_small_file():
    data = _tiny()
    data["annotations"][0]["segmentation"] = RLE_BOX
    data["annotations"][0]["iscrowd"] = 1
    raw = json.dumps(data).encode()
    cols = _core.coco_columns(raw)
    assert cols["image_id"].tolist() == [1, 2]
    assert cols["height"].tolist() == [20, 20] and cols["width"].tolist() == [30, 30]
    assert cols["file_name"] == ["im1.jpg", "im2.jpg"]
    assert cols["ann_id"].tolist() == [10, 11]
    assert cols["image"].tolist() == [0, 1]
    assert cols["category_id"].tolist() == [5, 2]
    assert cols["iscrowd"].tolist() == [True, False]
    assert cols["parts"].tolist() == [0, 2]
    assert cols["part_points"].tolist() == [3, 3]
    assert cols["xy"].tolist() == [[1.5, 1.25], [8, 1], [8, 7], [20, 10], [28, 10], [28, 18]]
    b, e = int(cols["rle_begin"][0]), int(cols["rle_end"][0])
    assert json.loads(raw[b:e]) == RLE_BOX
    assert cols["rle_begin"][1] == -1
    b, e = cols["categories"]
    assert json.loads(raw[b:e]) == data["categories"]


@pytest.mark.parametrize(
    "text, why",
    [
        (b"[1]", "the top level is not an object"),
        (b'{"images": [', "not valid JSON"),
        (b'{"images": []}', "no images or no annotations"),
        (b'{"images": [{"id": "x"}], "annotations": []}', 'an image id is not an integer: "x"'),
    ],
)
def test_columns_say_why_not(text, why):
    got = _core.coco_columns(text)
    assert isinstance(got, str) and why in got


def test_columns_need_bytes():
    with pytest.raises(TypeError):
        _core.coco_columns("{}")  # type: ignore[arg-type]


# -- the overlap kernel against rasterizing every part ------------------------------------------


def _overlap_by_rasterizing(parts, h, w):
    union = rle.from_segmentations([parts], [(h, w)])
    alone = rle.from_segmentations([[p] for p in parts], [(h, w)] * len(parts))
    return int(rle.area(union)[0]) < int(rle.area(alone).sum())


def test_overlap_kernel_matches_rasterizing(rng):
    """Seeded random objects of 2-4 triangles and boxes, many of them a pixel or two apart
    (the kernel's box test must not call those disjoint when their pixels meet)."""
    objects, sizes = [], []
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(8, 40, size=2))
        parts = []
        x = float(rng.uniform(-5, w))
        for _ in range(int(rng.integers(2, 5))):
            y = float(rng.uniform(-5, h))
            dx, dy = (float(v) for v in rng.uniform(0.5, 8, size=2))
            if rng.random() < 0.5:
                parts.append([x, y, x + dx, y, x + dx, y + dy, x, y + dy])
            else:
                parts.append([x, y, x + dx, y + dy / 2, x, y + dy])
            x += dx + float(rng.choice([-2.0, -0.5, 0.0, 0.3, 0.5, 1.0, 1.5, 2.5, 4.0]))
        objects.append(parts)
        sizes.append((h, w))
    xy = np.array([v for parts in objects for p in parts for v in p]).reshape(-1, 2)
    part_points = np.array([len(p) // 2 for parts in objects for p in parts], dtype=np.int64)
    object_parts = np.array([len(parts) for parts in objects], dtype=np.int64)
    flags = _core.yolo_overlapping_parts(
        xy, part_points, object_parts, np.array(sizes, dtype=np.int64), num_threads=2
    )
    want = [_overlap_by_rasterizing(parts, h, w) for parts, (h, w) in zip(objects, sizes)]
    assert flags.tolist() == [int(v) for v in want]
    assert 0 < sum(want) < len(want)  # both kinds are present


def test_overlap_kernel_flags_what_cannot_be_rasterized():
    xy = np.array([[0, 0], [4, 0], [4, 4], [3e8, 0], [5, 0], [5, 5]], dtype=np.float64)
    one = np.array([3, 3], dtype=np.int64)
    flags = _core.yolo_overlapping_parts(
        xy, one, np.array([2], dtype=np.int64), np.array([[10, 10]], dtype=np.int64)
    )
    assert flags.tolist() == [2]
    single = _core.yolo_overlapping_parts(
        xy[:3], one[:1], np.array([1], dtype=np.int64), np.array([[10, 10]], dtype=np.int64)
    )
    assert single.tolist() == [0]  # one part: nothing to overlap


# -- the kernels' starts: the label text where the points are ------------------------------------


def _two_objects():
    xy = np.array([[0, 0], [5, 0], [5, 10], [1, 1], [2, 1], [2, 2]], dtype=np.float64)
    part_points = np.array([3, 3], dtype=np.int64)
    return xy, part_points


def test_label_lines_with_starts_equal_the_gathered_layout():
    xy, part_points = _two_objects()
    sizes = np.array([[10.0, 10.0], [10.0, 10.0]])
    args = dict(object_parts=np.array([1, 1], dtype=np.int64), sizes=sizes)
    classes = np.array([4, 3], dtype=np.int64)
    swapped, _, _ = _core.yolo_label_lines(
        xy,
        part_points,
        classes=classes,
        part_start=np.array([1, 0], dtype=np.int64),
        point_start=np.array([3, 0], dtype=np.int64),
        **args,
    )
    gathered, _, _ = _core.yolo_label_lines(
        np.concatenate([xy[3:], xy[:3]]), part_points[::-1].copy(), classes=classes, **args
    )
    assert swapped.tobytes() == gathered.tobytes()
    assert swapped.tobytes().startswith(b"4 0.100000 0.100000")


@pytest.mark.parametrize("kernel", ["yolo_label_lines", "yolo_overlapping_parts"])
@pytest.mark.parametrize(
    "starts, error, match",
    [
        ({"part_start": np.array([0], np.int64)}, ValueError, "must be given together"),
        ({"point_start": np.array([0], np.int64)}, ValueError, "must be given together"),
        (
            {"part_start": [0], "point_start": np.array([0], np.int64)},
            TypeError,
            r"part_start must be a \(1,\) int64 array, got list",
        ),
        (
            {"part_start": np.array([0.0]), "point_start": np.array([0], np.int64)},
            TypeError,
            r"part_start must be a \(1,\) int64 array",
        ),
        (
            {"part_start": np.array([0, 0], np.int64), "point_start": np.array([0], np.int64)},
            ValueError,
            r"part_start must be a \(1,\) int64 array",
        ),
        (
            {"part_start": np.array([2], np.int64), "point_start": np.array([0], np.int64)},
            ValueError,
            r"part_start\[0\] = 2 and object_parts\[0\] = 1 must lie within the 2 parts",
        ),
        (
            {"part_start": np.array([-1], np.int64), "point_start": np.array([0], np.int64)},
            ValueError,
            r"part_start\[0\] = -1",
        ),
        (
            {"part_start": np.array([1], np.int64), "point_start": np.array([4], np.int64)},
            ValueError,
            r"point_start\[0\] = 4 and its object's 3 points must lie within the 6 points",
        ),
        (
            {"part_start": np.array([0], np.int64), "point_start": np.array([-1], np.int64)},
            ValueError,
            r"point_start\[0\] = -1",
        ),
    ],
)
def test_bad_starts(kernel, starts, error, match):
    xy, part_points = _two_objects()
    one = np.array([1], dtype=np.int64)
    if kernel == "yolo_label_lines":
        call = lambda: _core.yolo_label_lines(  # noqa: E731
            xy, part_points, one, np.array([0], np.int64), np.array([[10.0, 10.0]]), **starts
        )
    else:
        call = lambda: _core.yolo_overlapping_parts(  # noqa: E731
            xy, part_points, one, np.array([[10, 10]], np.int64), **starts
        )
    with pytest.raises(error, match=match):
        call()


def test_overlap_kernel_bad_sizes():
    xy, part_points = _two_objects()
    with pytest.raises(ValueError, match=r"sizes must be a \(1, 2\) int64 array"):
        _core.yolo_overlapping_parts(
            xy[:3], part_points[:1], np.array([1], np.int64), np.ones((1, 3), np.int64)
        )
    with pytest.raises(TypeError, match=r"sizes must be a \(1, 2\) int64 array"):
        _core.yolo_overlapping_parts(
            xy[:3], part_points[:1], np.array([1], np.int64), np.ones((1, 2))
        )


# -- polygon arrays ------------------------------------------------------------------------------


def test_polygon_arrays_equal_the_lists(rng):
    masks = rng.random((6, 23, 31)) < 0.45
    masks[2] = False  # an empty mask: no polygon
    for holes in (True, False):
        lists = contours.masks_to_polygons(masks, holes=holes)
        xy, part_points, object_parts = contours.masks_to_polygon_arrays(
            masks, holes=holes, num_threads=2
        )
        assert object_parts.tolist() == [len(p) for p in lists]
        assert part_points.tolist() == [len(q) // 2 for p in lists for q in p]
        assert xy.ravel().tolist() == [v for p in lists for q in p for v in q]
        assert xy.dtype == np.float64 and xy.shape[1] == 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"masks": np.zeros((2, 3, 3), np.float32)}, TypeError, "masks must be an"),
        ({"masks": np.zeros((3, 3), bool)}, ValueError, r"masks must be an \(N, H, W\)"),
        ({"tolerance": -1.0}, ValueError, "tolerance"),
        ({"min_area": -1}, ValueError, "min_area"),
    ],
)
def test_polygon_arrays_bad_input(kwargs, error, match):
    args = {"masks": np.zeros((2, 3, 3), bool), **kwargs}
    masks = args.pop("masks")
    with pytest.raises(error, match=match):
        contours.masks_to_polygon_arrays(masks, **args)
