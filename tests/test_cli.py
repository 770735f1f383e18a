"""The maskprep command: convert and demo, end to end on real COCO files."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from conftest import shared_file
from helpers.rle_data import ann_to_rle
from maskprep import cli, coco

M = pytest.importorskip("pycocotools.mask")


def reference_rle(data):
    """What a pycocotools script writes: COCO.annToRLE per annotation, counts as str."""
    imgs = {im["id"]: im for im in data["images"]}
    out = []
    for a in data["annotations"]:
        im = imgs[a["image_id"]]
        r = ann_to_rle(a["segmentation"], im["height"], im["width"])
        c = r["counts"]
        out.append({"size": r["size"], "counts": c.decode() if isinstance(c, bytes) else c})
    return out


def test_convert_matches_pycocotools_and_keeps_everything_else(tmp_path):
    src = shared_file("annotations", "coco_instances_val2014_100img.json")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "out.json"
    assert cli.main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # input untouched
    original = json.loads(src.read_text())
    converted = json.loads(out.read_text())
    assert [a["segmentation"] for a in converted["annotations"]] == reference_rle(original)
    for a, b in zip(original["annotations"], converted["annotations"]):
        assert {k: v for k, v in a.items() if k != "segmentation"} == {
            k: v for k, v in b.items() if k != "segmentation"
        }
    assert converted["images"] == original["images"]


def test_convert_recompute_area_and_bbox(tmp_path):
    src = shared_file("annotations", "cocomini_instances_val2017.json")
    out = tmp_path / "out.json"
    assert cli.main(["convert", str(src), "-o", str(out), "--recompute", "--quiet"]) == 0
    anns = json.loads(out.read_text())["annotations"]
    rles = [
        {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"]} for a in anns
    ]
    areas = np.concatenate([M.area(rles[i : i + 200]) for i in range(0, len(rles), 200)])
    assert [a["area"] for a in anns] == areas.astype(float).tolist()
    assert [a["bbox"] for a in anns] == M.toBbox(rles).tolist()


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def _tiny():
    return {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [
            {"id": 7, "image_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]},
            {"id": 8, "image_id": 1, "segmentation": [[0, 0, 5, 0, 5]]},
            {"id": 9, "image_id": 1, "segmentation": [[1, 1, 2, 2]]},
        ],
    }


def test_invalid_annotations_fail_by_id_and_write_nothing(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _tiny())
    out = tmp_path / "out.json"
    assert cli.main(["convert", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 annotation(s) cannot be converted" in err
    assert "id 8: segmentation polygon 0 must have an even number" in err
    assert "id 9: segmentation polygon 0 must have at least 3 point(s)" in err
    assert not out.exists()


def test_skip_invalid_lists_the_skipped_ids(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _tiny())
    out = tmp_path / "out.json"
    assert cli.main(["convert", str(src), "-o", str(out), "--skip-invalid"]) == 0
    assert "ids: [8, 9]" in capsys.readouterr().err
    anns = json.loads(out.read_text())["annotations"]
    assert isinstance(anns[0]["segmentation"], dict)
    assert anns[1]["segmentation"] == [[0, 0, 5, 0, 5]]  # untouched, not dropped


class _Interrupting:
    """A file that takes half of what it is given, then raises KeyboardInterrupt (Ctrl-C in
    the middle of writing)."""

    def __init__(self, f):
        self.f = f

    def write(self, b):
        b = bytes(b)
        self.f.write(b[: len(b) // 2])
        raise KeyboardInterrupt

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("where", ["mid-write", "before-rename"])
def test_interrupted_write_leaves_no_output(tmp_path, monkeypatch, where):
    src = _write(tmp_path / "in.json", _tiny())
    out = tmp_path / "out.json"
    if where == "mid-write":
        fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: _Interrupting(fdopen(*a, **k)))
    else:

        def boom(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "replace", boom)
    assert cli.main(["convert", str(src), "-o", str(out), "--skip-invalid"]) == 130
    assert list(tmp_path.iterdir()) == [src]


def test_bad_arguments_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["convert"])
    assert exc.value.code == 2
    assert (
        cli.main(["convert", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.json")]) == 2
    )
    assert "No such file" in capsys.readouterr().err
    src = _write(tmp_path / "in.json", _tiny())
    assert cli.main(["convert", str(src), "-o", str(src)]) == 2
    assert (
        cli.main(["convert", str(src), "-o", str(tmp_path / "o.json"), "--num-threads", "0"]) == 2
    )


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    for command, example in cli.EXAMPLES.items():
        assert example in top
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--help"])
        assert exc.value.code == 0
        assert f"example:\n  {example}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["convert", "--help"])
    assert "example:" in capsys.readouterr().out


def test_demo_runs_on_the_bundled_sample(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    assert "4 images, 44 masks" in printed
    data = json.loads((tmp_path / "demo" / "instances_rle.json").read_text())
    original = json.loads((cli.sample_dir() / "instances.json").read_text())
    assert [a["segmentation"] for a in data["annotations"]] == reference_rle(original)


def _planted():
    img = {"id": 1, "height": 10, "width": 12, "file_name": "x.png"}
    good = [[1, 1, 6, 1, 6, 6, 1, 6]]
    anns = [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "segmentation": good,
            "area": 25.0,
            "bbox": [1, 1, 5, 5],
        },
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "segmentation": good,
            "area": 25.0,
            "bbox": [1, 1, 5, 5],
        },
        {"id": 3, "image_id": 99, "category_id": 1, "segmentation": good},
        {"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 6, 1, 6]]},
        {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 6, 1]]},
        {
            "id": 6,
            "image_id": 1,
            "category_id": 1,
            "segmentation": {"size": [5, 5], "counts": [25]},
        },
        {
            "id": 7,
            "image_id": 1,
            "category_id": 1,
            "segmentation": {"size": [10, 12], "counts": [100]},
        },
        {"id": 8, "image_id": 1, "category_id": 1, "segmentation": good, "area": 90.0},
        {"id": 9, "image_id": 1, "category_id": 1, "segmentation": good, "bbox": [0, 0, 10, 10]},
        {"id": 10, "image_id": 1, "category_id": 1, "segmentation": [[-3, 1, 6, 1, 6, 6]]},
        {"id": 11, "image_id": 1, "category_id": 42, "segmentation": good},
    ]
    return {"images": [img], "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}


def test_validate_finds_every_planted_problem_by_id(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _planted())
    assert cli.main(["validate", str(src)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    expected = [
        "error: annotation 1: duplicate annotation id",
        "error: annotation 3: image_id 99 is not in images",
        "error: annotation 4: segmentation polygon 0 must have an even number",
        "error: annotation 5: segmentation polygon 0 must have at least 3 point(s)",
        "error: annotation 6: segmentation has size [5, 5] but its image is 10 x 12",
        "error: annotation 7: segmentation: counts sum to 100, expected h*w = 120",
        "warning: annotation 8: area 90.0 but the mask has 25 pixels",
        "warning: annotation 9: bbox [0, 0, 10, 10] but the polygons' extent is [1.0, 1.0, 5.0, 5.0]",
        "warning: annotation 10: polygon 0 has points outside the 12x10 image",
        "error: annotation 11: category_id 42 is not in categories",
    ]
    for line in expected:
        assert line in text, line
    assert "7 error(s), 3 warning(s)" in text


def test_validate_clean_real_file_exits_0(capsys):
    src = shared_file("annotations", "cocomini_instances_val2017.json")
    assert cli.main(["validate", str(src), "--quiet"]) == 0
    assert "error" not in capsys.readouterr().err


def test_show_writes_overlays_that_change_pixels_where_masks_are(tmp_path):
    from PIL import Image

    from maskprep import rle

    images = tmp_path / "images"
    images.mkdir()
    pixels = np.full((10, 12, 3), 40, np.uint8)
    Image.fromarray(pixels).save(images / "x.png")
    data = _planted()
    data["annotations"] = [data["annotations"][0]]
    del data["annotations"][0]["bbox"]
    src = _write(tmp_path / "in.json", data)
    assert (
        cli.main(
            ["show", str(src), "--images", str(images), "--out", str(tmp_path / "o"), "--quiet"]
        )
        == 0
    )
    shown = np.asarray(Image.open(tmp_path / "o" / "1.png").convert("RGB"))
    mask = rle.decode(
        rle.from_polygons(data["annotations"][0]["segmentation"], (10, 12))[0]
    ).astype(bool)
    changed = (shown != pixels).any(axis=2)
    assert changed[mask].all()
    assert not changed[~mask].any()


def test_show_draws_box_only_annotations(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    pixels = np.full((40, 50, 3), 40, np.uint8)
    Image.fromarray(pixels).save(images / "x.png")
    data = {
        "images": [{"id": 1, "height": 40, "width": 50, "file_name": "x.png"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 40, 30]}],
        "categories": [{"id": 1, "name": "thing"}],
    }
    src = _write(tmp_path / "in.json", data)
    out = tmp_path / "o"
    assert cli.main(["show", str(src), "--images", str(images), "--out", str(out), "--quiet"]) == 0
    changed = (np.asarray(Image.open(out / "1.png").convert("RGB")) != pixels).any(axis=2)
    assert changed[5, 5:46].all() and changed[35, 5:46].all()  # the outline
    assert not changed[:4].any() and not changed[37:].any()  # nothing away from the box
    assert not changed[22:33, 8:43].any()  # no mask fill inside (the label is at the top)


def test_show_unknown_image_id_exits_2(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _planted())
    assert (
        cli.main(
            [
                "show",
                str(src),
                "--images",
                str(tmp_path),
                "--out",
                str(tmp_path / "o"),
                "--ids",
                "5",
            ]
        )
        == 2
    )
    assert "image ids not in" in capsys.readouterr().err


def test_bench_report_from_json(tmp_path):
    def entry(group, impl, median):
        return {
            "group": group,
            "name": f"t[{impl}]",
            "params": {"impl": impl},
            "stats": {"median": median},
        }

    data = {
        "benchmarks": [
            entry("g", "pycocotools", 1.0),
            entry("g", "maskprep-1t", 0.1),
            entry("g", "maskprep-all", 0.05),
        ]
    }
    (tmp_path / "b.json").write_text(json.dumps(data))
    out = tmp_path / "report"
    assert (
        cli.main(["bench", "--from-json", str(tmp_path / "b.json"), "--out", str(out), "--quiet"])
        == 0
    )
    md = (out / "report.md").read_text()
    assert "| g | maskprep-1t | 100.00 ms | 10.0x vs pycocotools |" in md
    assert "| g | maskprep-all | 50.00 ms | 20.0x vs pycocotools |" in md
    assert (out / "report.png").stat().st_size > 1000


@pytest.mark.slow
def test_bench_runs_the_suite(tmp_path):
    # A group on synthetic data (runs without ../shared/data): skimage against maskprep.
    pytest.importorskip("matplotlib")
    pytest.importorskip("skimage")
    out = tmp_path / "report"
    assert cli.main(["bench", "-k", "remove_small_objects", "--out", str(out), "--quiet"]) == 0
    report = (out / "report.md").read_text()
    assert "remove-small-objects" in report and "skimage" in report
    assert (out / "report.png").stat().st_size > 0


def test_bench_with_nothing_run_says_so(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["bench", "-k", "no_such_benchmark", "--out", str(out), "--quiet"]) == 1
    assert "no benchmark ran" in capsys.readouterr().err


def _box_only(data, every=2):
    """The file with every `every`-th annotation reduced to its bbox (no segmentation)."""
    for k, a in enumerate(data["annotations"]):
        if k % every == 0:
            del a["segmentation"]
    return data


@pytest.mark.parametrize("method", ["box", "ellipse"])
def test_boxes_adds_masks_to_box_only_annotations(tmp_path, method):
    from maskprep import boxes

    _mask = pytest.importorskip("pycocotools._mask")
    src = shared_file("annotations", "cocomini_instances_val2017.json")
    data = _box_only(json.loads(src.read_text()))
    inp = _write(tmp_path / "in.json", data)
    before = inp.read_bytes()
    out = tmp_path / "out.json"
    assert cli.main(["boxes", str(inp), "-o", str(out), "--method", method, "--quiet"]) == 0
    assert inp.read_bytes() == before
    result = json.loads(out.read_text())
    imgs = {im["id"]: im for im in data["images"]}
    assert [a["id"] for a in result["annotations"]] == [a["id"] for a in data["annotations"]]
    for k, (a, b) in enumerate(zip(data["annotations"], result["annotations"])):
        if k % 2:
            assert a == b  # had a segmentation: untouched
            continue
        im = imgs[a["image_id"]]
        box = np.array([a["bbox"]], np.float64)
        if method == "box":
            ref = _mask.frBbox(box, im["height"], im["width"])[0]
        else:
            ref = M.frPyObjects(boxes.ellipse_polygons(box), im["height"], im["width"])[0]
        assert b["segmentation"] == {"size": ref["size"], "counts": ref["counts"].decode()}
        assert b["area"] == float(M.area(ref))
        assert b["bbox"] == a["bbox"] and b["category_id"] == a["category_id"]


def _boxes_tiny():
    return {
        "images": [{"id": 1, "height": 10, "width": 12, "file_name": "missing.jpg"}],
        "annotations": [
            {"id": 1, "image_id": 1, "bbox": [1, 1, 4, 4]},
            {"id": 2, "image_id": 1, "bbox": [1, 1, -4, 4]},
            {"id": 3, "image_id": 5, "bbox": [1, 1, 4, 4]},
            {"id": 4, "image_id": 1, "bbox": [1, 1, "x", 4]},
            {"id": 5, "image_id": 1, "bbox": [0, 0, 2, 2], "segmentation": [[0, 0, 2, 0, 2, 2]]},
        ],
    }


def test_boxes_bad_boxes_fail_by_id_and_write_nothing(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _boxes_tiny())
    out = tmp_path / "out.json"
    assert cli.main(["boxes", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "3 annotation(s) cannot be given a mask" in err
    assert "id 2: bbox must be finite with non-negative width and height" in err
    assert "id 3: image_id 5 is not in images" in err
    assert "id 4: bbox must hold 4 numbers" in err
    assert not out.exists()


def test_boxes_skip_invalid_lists_ids_and_keeps_them(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _boxes_tiny())
    out = tmp_path / "out.json"
    assert cli.main(["boxes", str(src), "-o", str(out), "--skip-invalid"]) == 0
    assert "ids: [2, 3, 4]" in capsys.readouterr().err
    anns = json.loads(out.read_text())["annotations"]
    assert anns[0]["segmentation"]["size"] == [10, 12] and anns[0]["area"] == 16.0
    assert [a for a in anns[1:4]] == _boxes_tiny()["annotations"][1:4]
    assert anns[4] == _boxes_tiny()["annotations"][4]  # had a mask: kept


def test_boxes_unreadable_image_is_an_error_by_id(tmp_path, capsys):
    data = _boxes_tiny()
    data["annotations"] = data["annotations"][:1]
    src = _write(tmp_path / "in.json", data)
    out = tmp_path / "out.json"
    code = cli.main(
        ["boxes", str(src), "-o", str(out), "--method", "grow", "--images", str(tmp_path)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "image 1: no file missing.jpg in" in err and "(annotation(s) 1)" in err
    assert not out.exists()


def test_boxes_bad_arguments_exit_2(tmp_path, capsys):
    src = _write(tmp_path / "in.json", _boxes_tiny())
    out = str(tmp_path / "out.json")
    assert cli.main(["boxes", str(src), "-o", out, "--method", "grow"]) == 2
    assert "--method grow needs --images" in capsys.readouterr().err
    assert cli.main(["boxes", str(src), "-o", out, "--method", "maskrcnn", "--images", "."]) == 2
    assert "--method maskrcnn needs --weights" in capsys.readouterr().err
    assert cli.main(["boxes", str(src), "-o", out, "--method", "grow", "--images", out]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["boxes", str(src), "-o", str(src)]) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["boxes", str(src), "-o", out, "--method", "magic"])
    assert exc.value.code == 2


def test_unreadable_json_exits_2(tmp_path, capsys):
    src = tmp_path / "in.json"
    src.write_text("{not json")
    assert cli.main(["validate", str(src)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_bench_without_matplotlib_says_which_extra(tmp_path, monkeypatch, capsys):
    import sys

    data = {
        "benchmarks": [{"group": "g", "name": "t", "params": {"impl": "a"}, "stats": {"median": 1}}]
    }
    (tmp_path / "b.json").write_text(json.dumps(data))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert (
        cli.main(
            [
                "bench",
                "--from-json",
                str(tmp_path / "b.json"),
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 1
    )
    assert "pip install 'maskprep[bench]'" in capsys.readouterr().err
    assert (tmp_path / "r" / "report.md").exists()


@pytest.mark.parametrize(
    "name", ["coco_instances_val2014_100img.json", "cocomini_instances_val2017.json"]
)
def test_convert_to_polygon_rasterizes_back_exactly(tmp_path, name, capsys):
    # Traced outlines under pycocotools' own rule give back the original masks bit for bit;
    # crowd annotations stay RLE (COCO's convention), reported as kept.
    src = shared_file("annotations", name)
    out = tmp_path / "poly.json"
    assert cli.main(["convert", str(src), "-o", str(out), "--to", "polygon"]) == 0
    original = json.loads(src.read_text())
    result = json.loads(out.read_text())
    crowd = [a["id"] for a in original["annotations"] if a.get("iscrowd")]
    if crowd:
        assert f"kept {len(crowd)} crowd annotation(s) as RLE" in capsys.readouterr().out
    imgs = {im["id"]: im for im in original["images"]}
    for a, b in zip(original["annotations"], result["annotations"]):
        im = imgs[a["image_id"]]
        h, w = im["height"], im["width"]
        ref = ann_to_rle(a["segmentation"], h, w)
        if a.get("iscrowd"):
            c = ref["counts"]
            assert b["segmentation"] == {
                "size": [h, w],
                "counts": c.decode() if isinstance(c, bytes) else c,
            }
            continue
        assert isinstance(b["segmentation"], list)
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in b["segmentation"])
        back = M.merge(M.frPyObjects(b["segmentation"], h, w))
        np.testing.assert_array_equal(M.decode(back), M.decode(ref))
        assert {k: v for k, v in a.items() if k != "segmentation"} == {
            k: v for k, v in b.items() if k != "segmentation"
        }


def test_convert_to_polygon_with_tolerance_simplifies(tmp_path):
    src = shared_file("annotations", "cocomini_instances_val2017.json")
    exact, simple = tmp_path / "exact.json", tmp_path / "simple.json"
    assert cli.main(["convert", str(src), "-o", str(exact), "--to", "polygon", "--quiet"]) == 0
    args = [
        "convert",
        str(src),
        "-o",
        str(simple),
        "--to",
        "polygon",
        "--tolerance",
        "1.5",
        "--quiet",
    ]
    assert cli.main(args) == 0

    def count(p):
        anns = json.loads(p.read_text())["annotations"]
        return sum(
            len(x) for a in anns if isinstance(a["segmentation"], list) for x in a["segmentation"]
        )

    assert count(simple) < 0.7 * count(exact)
    assert (
        cli.main(["convert", str(src), "-o", str(simple), "--to", "polygon", "--tolerance", "-1"])
        == 2
    )


def test_convert_to_polygon_reports_empty_masks(tmp_path, capsys):
    data = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [
            {"id": 4, "image_id": 1, "segmentation": {"size": [10, 10], "counts": [100]}},
            {"id": 5, "image_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]]},
        ],
    }
    src = _write(tmp_path / "in.json", data)
    out = tmp_path / "out.json"
    assert cli.main(["convert", str(src), "-o", str(out), "--to", "polygon"]) == 0
    assert (
        "1 annotation(s) have an empty mask (segmentation []), ids: [4]" in capsys.readouterr().err
    )
    anns = json.loads(out.read_text())["annotations"]
    assert anns[0]["segmentation"] == []
    back = M.decode(M.merge(M.frPyObjects(anns[1]["segmentation"], 10, 10)))
    expected = M.decode(M.merge(M.frPyObjects(data["annotations"][1]["segmentation"], 10, 10)))
    np.testing.assert_array_equal(back, expected)


def test_boxes_grow_on_real_photos(tmp_path):
    # cocomini val2017 with every segmentation removed: each box gets a mask from its photo.
    # On these cluttered scenes grow must at least match the plain box on mean IoU with the
    # true masks (the fallbacks keep it from doing worse); every mask stays inside its box.
    src = shared_file("annotations", "cocomini_instances_val2017.json")
    images = shared_file("images", "coco_val2017")
    original = json.loads(src.read_text())
    stripped = _box_only(json.loads(src.read_text()), every=1)
    inp = _write(tmp_path / "in.json", stripped)
    out_grow, out_box = tmp_path / "grow.json", tmp_path / "box.json"
    args = ["boxes", str(inp), "--images", str(images), "--quiet"]
    assert cli.main([*args, "-o", str(out_grow), "--method", "grow"]) == 0
    assert cli.main([*args, "-o", str(out_box), "--method", "box"]) == 0
    imgs = {im["id"]: im for im in original["images"]}
    scores = {"grow": [], "box": []}
    for name, path in (("grow", out_grow), ("box", out_box)):
        for a, b in zip(original["annotations"], json.loads(path.read_text())["annotations"]):
            if a.get("iscrowd"):
                continue
            im = imgs[a["image_id"]]
            truth = M.decode(ann_to_rle(a["segmentation"], im["height"], im["width"])).astype(bool)
            got = M.decode(b["segmentation"]).astype(bool)
            box = M.decode(M.frPyObjects(np.array([a["bbox"]]), im["height"], im["width"]))[:, :, 0]
            assert not (got & ~box.astype(bool)).any()
            assert b["area"] == float(got.sum())
            scores[name].append((got & truth).sum() / max(1, (got | truth).sum()))
    assert np.mean(scores["grow"]) >= np.mean(scores["box"])


@pytest.mark.needs_torch
def test_boxes_maskrcnn_with_a_weights_file(tmp_path):
    # Seeded random weights saved as a state_dict file (no weights can be downloaded here):
    # the command must load them and give every box-only annotation a mask from the model's
    # mask head, equal to MaskRCNN.refine_boxes on the same image and boxes.
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    from maskprep import models

    model = models.MaskRCNN("v1", seed=0, device="cpu")
    weights = tmp_path / "mrcnn.pth"
    torch.save(model.model.state_dict(), weights)
    sample = cli.sample_dir()
    data = json.loads((sample / "instances.json").read_text())
    first = data["images"][0]
    data["images"] = [first]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] == first["id"]][:4]
    for a in data["annotations"][:3]:
        del a["segmentation"]
    src = _write(tmp_path / "in.json", data)
    out = tmp_path / "out.json"
    args = ["boxes", str(src), "-o", str(out), "--method", "maskrcnn", "--weights", str(weights)]
    assert cli.main([*args, "--images", str(sample / "images"), "--device", "cpu", "--quiet"]) == 0
    anns = json.loads(out.read_text())["annotations"]
    assert anns[3] == data["annotations"][3]  # had a mask: untouched
    image = coco.load_rgb(sample / "images" / first["file_name"])
    b = np.array([a["bbox"] for a in data["annotations"][:3]], float)
    expected = model.refine_boxes(image, np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1))
    for a, e in zip(anns[:3], expected):
        assert a["segmentation"] == {"size": e["size"], "counts": e["counts"].decode()}
        assert a["area"] == float(M.area(e))
    missing = ["boxes", str(src), "-o", str(out), "--method", "maskrcnn", "--images", str(sample)]
    assert cli.main([*missing, "--weights", str(tmp_path / "nope.pth")]) == 2


def test_bench_report_finds_the_impl_of_each_case():
    from maskprep import benchreport

    def case(median, params=None, extra=None):
        return {
            "group": "g",
            "name": "t",
            "params": params,
            "extra_info": extra or {},
            "stats": {"median": median},
        }

    data = {
        "benchmarks": [
            case(2.0, {"size": 7, "impl": "torchvision"}),
            case(0.5, {"size": 7, "impl": "maskprep-nchw-1"}),
            case(0.25, None, {"impl": "maskprep-per-call"}),
            case(4.0, None, {"impl": "torchvision-cuda"}),
        ]
    }
    rows = {r.impl: r.ratios for r in benchreport.rows(data)}
    assert rows == {
        "maskprep-nchw-1": {"torchvision": 4.0, "torchvision-cuda": 8.0},
        "maskprep-per-call": {"torchvision": 8.0, "torchvision-cuda": 16.0},
    }
