"""LabelMe JSON to COCO (issue 14 item 4): maskprep.formats.labelme and ``maskprep import
--format labelme``. labelme2coco's rules: one object per (label, group_id), rectangles as 4
corners, circles as max(int(pi / arccos(1 - 1/r)), 12) points, area and bbox from the mask."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import shared_file
from maskprep import cli, coco, rle
from maskprep.formats import labelme


def _shape(label, points, shape_type="polygon", group_id=None):
    return {"label": label, "points": points, "shape_type": shape_type, "group_id": group_id}


def _file(folder: Path, name: str, shapes, h=20, w=30, **extra) -> Path:
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": f"{name}.jpg",
           "imageData": None, "imageHeight": h, "imageWidth": w, **extra}  # fmt: skip
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


SQUARE = [[2, 2], [10, 2], [10, 8], [2, 8]]


def test_round_trip_real(tmp_path):
    """COCO polygons written as LabelMe shapes (a group_id per multi-part object) and read back:
    every object, category and mask exactly (IoU 1.0 on all 624 objects of mini-val2017)."""
    data = json.loads(shared_file("annotations", "cocomini_instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    by_image = {}
    for a in data["annotations"]:
        if isinstance(a["segmentation"], list):
            by_image.setdefault(a["image_id"], []).append(a)
    kept = []
    for im in data["images"]:
        shapes = []
        for a in by_image.get(im["id"], []):
            kept.append(a)
            for p in a["segmentation"]:
                pts = np.array(p).reshape(-1, 2).tolist()
                shapes.append(_shape(names[a["category_id"]], pts, group_id=a["id"]))
        stem = Path(im["file_name"]).stem
        _file(tmp_path, stem, shapes, im["height"], im["width"])
    back, report = labelme.read_labelme(tmp_path)
    assert not report.skipped and report.files == len(data["images"])
    assert len(back["annotations"]) == len(kept) == 619  # the 5 crowd RLEs are not LabelMe's
    assert sorted(c["name"] for c in back["categories"]) == sorted(
        {names[a["category_id"]] for a in kept}
    )
    back_names = {c["id"]: c["name"] for c in back["categories"]}
    files = {im["id"]: im["file_name"] for im in back["images"]}
    sizes = coco.image_sizes(data)
    order = {Path(im["file_name"]).name: im["id"] for im in data["images"]}
    ious = []
    got = iter(back["annotations"])
    for im in sorted(data["images"], key=lambda im: Path(im["file_name"]).stem):
        for a in by_image.get(im["id"], []):
            b = next(got)
            assert order[files[b["image_id"]]] == a["image_id"]
            assert back_names[b["category_id"]] == names[a["category_id"]]
            ra, rb = rle.from_segmentations([a["segmentation"], b["segmentation"]], sizes[im["id"]])
            ious.append(float(rle.iou([rb], [ra], [0])[0, 0]))
            assert b["area"] == float(rle.area(ra))
    assert min(ious) == 1.0


def test_rectangle_circle_and_groups(tmp_path):
    shapes = [
        _shape("cat", [[10, 8], [2, 2]], "rectangle"),  # corners in any order
        _shape("dog", [[15, 10], [15, 15]], "circle"),  # r = 5
        _shape("cat", SQUARE, None, group_id=3),  # null shape_type: a polygon
        _shape("cat", [[20, 2], [28, 2], [28, 8]], group_id=3),  # same object
        _shape("dog", SQUARE, group_id=3),  # another label: another object
    ]
    _file(tmp_path, "a", shapes)
    data, report = labelme.read_labelme(tmp_path / "a.json")
    assert not report.skipped
    anns = data["annotations"]
    assert [c["name"] for c in data["categories"]] == ["cat", "dog"]
    assert [a["category_id"] for a in anns] == [1, 2, 1, 2]
    assert anns[0]["segmentation"] == [[2.0, 2.0, 10.0, 2.0, 10.0, 8.0, 2.0, 8.0]]
    assert anns[0]["area"] == 48.0 and anns[0]["bbox"] == [2.0, 2.0, 8.0, 6.0]
    circle = anns[1]["segmentation"][0]
    n = max(int(math.pi / math.acos(1 - 1 / 5)), 12)
    assert len(circle) == 2 * n and circle[:2] == [15.0, 15.0]  # first point at (cx, cy + r)
    assert np.allclose(np.hypot(np.array(circle[0::2]) - 15, np.array(circle[1::2]) - 10), 5)
    assert len(anns[2]["segmentation"]) == 2  # the group's two polygons
    assert data["images"] == [{"id": 1, "file_name": "a.jpg", "height": 20, "width": 30}]


def test_to_rle(tmp_path):
    _file(tmp_path, "a", [_shape("cat", SQUARE)])
    data, _ = labelme.read_labelme(tmp_path, to="rle")
    seg = data["annotations"][0]["segmentation"]
    expected = rle.from_segmentations([[np.ravel(SQUARE).tolist()]], (20, 30), counts="str")[0]
    assert seg == {"size": [20, 30], "counts": expected["counts"]}


def test_seeded_random_polygons(tmp_path, rng):
    """Random polygons in random images: the masks are pycocotools' for the same points."""
    expected = []
    for k in range(8):
        h, w = int(rng.integers(10, 80)), int(rng.integers(10, 80))
        shapes = []
        for _ in range(int(rng.integers(1, 4))):
            pts = np.column_stack([rng.uniform(0, w, 6), rng.uniform(0, h, 6)]).round(2)
            shapes.append(_shape(f"c{int(rng.integers(0, 3))}", pts.tolist()))
            expected.append((pts.ravel().tolist(), (h, w)))
        _file(tmp_path, f"f{k}", shapes, h, w)
    data, report = labelme.read_labelme(tmp_path)
    assert not report.skipped and len(data["annotations"]) == len(expected)
    for a, (pts, hw) in zip(data["annotations"], expected):
        r = rle.from_segmentations([[pts]], hw)[0]
        assert a["area"] == float(rle.area(r)) and a["bbox"] == rle.to_bbox([r])[0].tolist()


def test_size_from_image_header(tmp_path):
    _file(tmp_path, "a", [_shape("cat", SQUARE)], h=None, w=None)
    Image.new("RGB", (33, 22)).save(tmp_path / "a.jpg")
    data, report = labelme.read_labelme(tmp_path)
    assert not report.skipped
    assert (data["images"][0]["height"], data["images"][0]["width"]) == (22, 33)


def test_subfolders_and_glob(tmp_path):
    (tmp_path / "sub").mkdir()
    _file(tmp_path / "sub", "b", [_shape("cat", SQUARE)])
    _file(tmp_path, "a", [_shape("cat", SQUARE)])
    data, _ = labelme.read_labelme(tmp_path)
    assert [im["file_name"] for im in data["images"]] == ["a.jpg", "sub/b.jpg"]
    data, _ = labelme.read_labelme(str(tmp_path / "s*" / "*.json"))
    assert [im["file_name"] for im in data["images"]] == ["sub/b.jpg"]


def test_labels_option(tmp_path):
    _file(tmp_path, "a", [_shape("dog", SQUARE), _shape("cow", SQUARE)])
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\ndog\ncat\n")
    data, report = labelme.read_labelme(
        tmp_path / "a.json", options={"labels": tmp_path / "labels.txt"}
    )
    assert data["categories"] == [
        {"id": 1, "name": "dog", "supercategory": ""},
        {"id": 2, "name": "cat", "supercategory": ""},
    ]
    assert [str(s).split(": ", 1)[1] for s in report.skipped] == [
        "object shape 1: label 'cow' is not in the labels given"
    ]


# -- one test per error path --------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, match",
    [
        (_shape("cat", [[1, 1]], "point"), r"shape 0: a point shape has no area"),
        (_shape("cat", [[1, 1], [5, 5]], "line"), r"shape 0: a line shape has no area"),
        (_shape("cat", [[1, 1], [5, 5], [2, 7]], "linestrip"), r"a linestrip shape has no area"),
        (_shape("cat", [[1, 1]], "points"), r"a points shape has no area"),
        (_shape("cat", [[1, 1], [5, 5]], "mask"), r"unknown shape_type 'mask'"),
        (_shape("cat", [[1, 1], [5, 5]], "ellipse"), r"unknown shape_type 'ellipse'"),
        (_shape("cat", [[1, 1], [5, 5]]), r"a polygon needs at least 3 points, got 2"),
        (_shape("cat", [[1, 1], [5, 5], [6, 6]], "rectangle"), r"a rectangle needs exactly 2"),
        (_shape("cat", [[1, 1], [1, 5]], "rectangle"), r"the rectangle has no area"),
        (_shape("cat", [[3, 3], [3, 3]], "circle"), r"the circle has radius 0"),
        (_shape("cat", [[1, "x"], [5, 5], [6, 1]]), r"points must be a list of \[x, y\] pairs"),
        (_shape("cat", [[1, 2, 3], [5, 5], [6, 1]]), r"points must be a list of \[x, y\]"),
        (_shape("", SQUARE), r"shape 0: label must be a non-empty string"),
        (_shape("__ignore__", SQUARE), r"label '__ignore__' is labelme2coco's ignore label"),
        ("not a shape", r"label must be a non-empty string"),
    ],
)
def test_bad_shape(tmp_path, shape, match):
    path = _file(tmp_path, "a", [shape, _shape("cat", SQUARE)])
    data, report = labelme.read_labelme(tmp_path)
    assert len(report.skipped) == 1
    assert str(report.skipped[0]).startswith(f"{path}: object shape 0: ")
    assert len(data["annotations"]) == 1  # the good shape is kept
    assert re.search(match, str(report.skipped[0])), str(report.skipped[0])


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", r"not valid JSON"),
        ("[1, 2]", r"not a LabelMe file: no shapes list"),
        ('{"imagePath": "a.jpg"}', r"not a LabelMe file: no shapes list"),
        ('{"shapes": [], "imageHeight": 2, "imageWidth": 2}', r"imagePath must be the image's"),
        ('{"shapes": [], "imagePath": 3}', r"imagePath must be the image's file name"),
        ('{"shapes": [], "imagePath": "gone.jpg"}', r"no imageHeight/imageWidth, and the size of"),
        ('{"shapes": [], "imagePath": "a.jpg", "imageHeight": -4, "imageWidth": 5}', r"the size"),
    ],
)
def test_bad_file(tmp_path, text, match):
    (tmp_path / "bad.json").write_text(text)
    _file(tmp_path, "good", [_shape("cat", SQUARE)])
    data, report = labelme.read_labelme(tmp_path)
    assert len(report.skipped) == 1 and report.skipped[0].obj is None
    assert report.skipped[0].file == str(tmp_path / "bad.json")
    assert re.search(match, report.skipped[0].reason), report.skipped[0].reason
    assert [im["file_name"] for im in data["images"]] == ["good.jpg"]


def test_unreadable_file(tmp_path, monkeypatch):
    path = _file(tmp_path, "a", [_shape("cat", SQUARE)])

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    data, report = labelme.read_labelme(path)
    assert [str(s) for s in report.skipped] == [f"{path}: cannot read it: Permission denied"]
    assert not data["images"]


def test_bad_arguments(tmp_path):
    with pytest.raises(coco.UnreadableInput, match=r"is not a LabelMe JSON file, a folder"):
        labelme.read_labelme(tmp_path / "missing")
    with pytest.raises(coco.UnreadableInput, match=r"holds no LabelMe .json file"):
        labelme.read_labelme(tmp_path)
    _file(tmp_path, "a", [_shape("cat", SQUARE)])
    with pytest.raises(ValueError, match=r"to must be 'rle' or 'polygon', got 'png'"):
        labelme.read_labelme(tmp_path, to="png")
    with pytest.raises(ValueError, match=r"options: unknown \['colour'\]"):
        labelme.read_labelme(tmp_path, options={"colour": 1})
    with pytest.raises(TypeError, match=r"options: labels must be a list of names or a path"):
        labelme.read_labelme(tmp_path, options={"labels": 3})
    with pytest.raises(ValueError, match=r"options: labels must not repeat a name"):
        labelme.read_labelme(tmp_path, options={"labels": ["a", "a"]})


def test_circle_polygon_small_radius():
    """r < 1/2, where labelme2coco's formula has no arccos: 12 points."""
    assert len(labelme.circle_polygon(5, 5, 5.2, 5)) == 24


# -- the command ------------------------------------------------------------------------------


def test_cli_import_labelme(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    _file(tmp_path / "in", "a", [_shape("cat", SQUARE), _shape("cat", [[1, 1]], "point")])
    out = tmp_path / "out.json"
    argv = ["import", str(tmp_path / "in"), "--format", "labelme", "-o", str(out)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "a.json: object shape 1: a point shape has no area" in err and not out.exists()
    assert cli.main([*argv, "--skip-invalid", "--to", "rle"]) == 0
    captured = capsys.readouterr()
    assert "imported 1 object(s) from 1 file(s) (labelme, rle)" in captured.out
    assert "skipped: " in captured.err
    assert json.loads(out.read_text())["annotations"][0]["segmentation"]["size"] == [20, 30]


def test_cli_import_labelme_missing(tmp_path, capsys):
    argv = ["import", str(tmp_path / "none"), "--format", "labelme", "-o", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert "is not a LabelMe JSON file, a folder or a glob" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, match",
    [
        ((3.0, 3.0, 3.0, 3.0), r"a circle needs two different points, got \(3.0, 3.0\) twice"),
        ((float("nan"), 0.0, 1.0, 1.0), r"circle points must be finite"),
        ((0.0, 0.0, float("inf"), 1.0), r"circle points must be finite"),
    ],
)
def test_circle_polygon_bad_points(args, match):
    with pytest.raises(ValueError, match=match):
        labelme.circle_polygon(*args)
