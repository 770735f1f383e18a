"""COCO results files (issue 14 item 1): convert equals pycocotools' loadRes + annToRLE on results
built from the real GT with jitter and on seeded random data; every planted problem is reported
by result index; validate, convert and show through the command, with their exit codes."""

from __future__ import annotations

import copy
import io
import json
import math
import re
from contextlib import redirect_stdout

import numpy as np
import pytest

from conftest import IMAGES, load_json, shared_file
from helpers.rle_data import blob_masks, random_polygons
from maskprep import cli, rle
from maskprep.formats import (
    NotResultsFile,
    ResultProblem,
    convert_results,
    convert_results_file,
    is_results_file,
    load_results,
    results_to_instances,
    validate_results,
)

M = pytest.importorskip("pycocotools.mask")


# ---- building results --------------------------------------------------------------------------


def _uncompressed(r):
    """pycocotools' compressed RLE as the uncompressed {size, counts: [runs]} COCO stores."""
    return {"size": list(r["size"]), "counts": rle.from_string(r["counts"]).tolist()}


def _compressed(r):
    c = r["counts"]
    return {"size": list(r["size"]), "counts": c.decode() if isinstance(c, bytes) else c}


def jittered_results(gt, rng):
    """One detection per GT annotation, as a model writes them: its polygons moved by ~1.5 px
    (kept as polygons, or rasterized to compressed or uncompressed RLE), crowd RLEs as they are,
    every 7th a box-only detection; jittered boxes and random scores on all (so that loadRes
    accepts polygons), like the COCOeval test's fake results."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    out = []
    for k, a in enumerate(gt["annotations"]):
        h, w = sizes[a["image_id"]]
        bbox = (np.asarray(a["bbox"]) + rng.normal(0, 2, 4)).clip(0, None).round(2).tolist()
        res = {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": bbox}
        res["score"] = round(float(rng.uniform(0.05, 1)), 3)
        seg = a["segmentation"]
        if k % 7 == 3:
            out.append(res)  # box-only
            continue
        if isinstance(seg, list):
            seg = [(np.asarray(p) + rng.normal(0, 1.5, len(p))).round(2).tolist() for p in seg]
            kind = k % 3
            if kind == 1:
                seg = _compressed(M.merge(M.frPyObjects(seg, h, w)))
            elif kind == 2:
                seg = _uncompressed(M.merge(M.frPyObjects(seg, h, w)))
        res["segmentation"] = seg
        out.append(res)
    return out


def loadres_annotorle(gt, results):
    """The anchor: pycocotools' COCO.loadRes, then annToRLE for every result (counts as str)."""
    from pycocotools.coco import COCO

    with redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        dt = coco_gt.loadRes(copy.deepcopy(results))
    return [_compressed(dt.annToRLE(dt.anns[k + 1])) for k in range(len(results))]


def _gt_file(tmp_path, gt):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    return path


# ---- parity ------------------------------------------------------------------------------------


def test_convert_equals_loadres_annotorle_on_real_gt_with_jitter(tmp_path):
    gt = load_json("annotations", "cocomini_instances_val2017.json")
    results = jittered_results(gt, np.random.default_rng(7))
    kinds = {type(r.get("segmentation")).__name__ for r in results}
    assert kinds == {"list", "dict", "NoneType"}  # polygons, RLEs and box-only results
    expected = loadres_annotorle(gt, results)
    src, dst = tmp_path / "res.json", tmp_path / "out.json"
    src.write_text(json.dumps(results))
    gt_path = shared_file("annotations", "cocomini_instances_val2017.json")
    assert validate_results(results, gt_path) == []
    report = convert_results_file(src, dst, gt_path)
    assert report.converted == len(results)
    out = json.loads(dst.read_text())
    assert [r["segmentation"] for r in out] == expected  # byte-identical counts strings
    for a, b in zip(results, out):  # every other field as it was, in order
        assert list(b) == list(a) + (["segmentation"] if "segmentation" not in a else [])
        assert {k: v for k, v in b.items() if k != "segmentation"} == {
            k: v for k, v in a.items() if k != "segmentation"
        }


def test_convert_keeps_the_real_fake_results_as_they_are():
    """The 734 compressed-RLE detections of the COCOeval test: annToRLE returns them as given."""
    gt = load_json("annotations", "coco_instances_val2014_100img.json")
    results = load_json("annotations", "coco_val2014_fakesegm100_results.json")
    assert validate_results(results, gt) == []
    out, report = convert_results(results, gt)
    assert report.converted == len(results) == 734
    assert [r["segmentation"] for r in out] == loadres_annotorle(gt, results)
    assert out == results


def test_convert_equals_loadres_annotorle_on_random_data():
    rng = np.random.default_rng(2026)
    sizes = [(37, 53), (64, 48), (1, 90), (120, 17)]
    gt = {
        "images": [{"id": 10 + i, "height": h, "width": w} for i, (h, w) in enumerate(sizes)],
        "categories": [{"id": c, "name": f"c{c}"} for c in (1, 5, 9)],
        "annotations": [],
    }
    results = []
    for i, (h, w) in enumerate(sizes):
        polys = random_polygons(rng, 30, h, w)
        masks = blob_masks(rng, 10, h, w)
        segs = [polys[j : j + 1 + j % 3] for j in range(0, 30, 3)]  # multi-part too
        segs += [_compressed(r) for r in M.encode(np.asfortranarray(masks[:, :, :5]))]
        segs += [_uncompressed(r) for r in M.encode(np.asfortranarray(masks[:, :, 5:]))]
        for seg in segs:
            results.append(
                {
                    "image_id": 10 + i,
                    "category_id": int(rng.choice([1, 5, 9])),
                    "segmentation": seg,
                    "score": float(rng.random()),
                    "bbox": rng.uniform(-3, 20, 4).clip(0, None).tolist(),
                }
            )
        results.append(
            {"image_id": 10 + i, "category_id": 1, "score": 0.5, "bbox": [1.5, 2.25, 7.1, 3.9]}
        )
    assert validate_results(results, gt) == []
    out, _ = convert_results(results, gt, num_threads=2)
    assert [r["segmentation"] for r in out] == loadres_annotorle(gt, results)
    serial, _ = convert_results(results, gt, num_threads=1)
    assert serial == out


def test_convert_recompute_sets_area_and_bbox_as_pycocotools():
    gt = load_json("annotations", "cocomini_instances_val2017.json")
    results = jittered_results(gt, np.random.default_rng(3))[:150]
    out, _ = convert_results(results, gt, recompute=True)
    rles = [r["segmentation"] for r in out]
    assert [r["area"] for r in out] == M.area(rles).astype(float).tolist()
    assert [r["bbox"] for r in out] == M.toBbox(rles).tolist()
    assert "area" not in results[0]  # the input is not changed


def test_convert_to_polygon_rasterizes_back_to_the_same_masks():
    gt = load_json("annotations", "cocomini_instances_val2017.json")
    results = jittered_results(gt, np.random.default_rng(5))[:120]
    rles, _ = convert_results(results, gt)
    polys, report = convert_results(results, gt, to="polygon")
    assert report.kept == []  # results are never crowds: every one is traced
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    for r, p in zip(rles, polys):
        assert isinstance(p["segmentation"], list)
        h, w = sizes[p["image_id"]]
        back = M.merge(M.frPyObjects(p["segmentation"], h, w)) if p["segmentation"] else None
        want = M.decode(r["segmentation"])
        got = M.decode(back) if back is not None else np.zeros_like(want)
        assert np.array_equal(got, want)


def test_results_to_instances_is_loadres_with_annotorle_segmentations():
    gt = load_json("annotations", "cocomini_instances_val2017.json")
    results = jittered_results(gt, np.random.default_rng(11))[:200]
    data, left_out = results_to_instances(results, gt)
    assert left_out == {}
    assert data["images"] == gt["images"] and data["categories"] == gt["categories"]
    anns = data["annotations"]
    assert [a["id"] for a in anns] == list(range(len(results)))
    assert [a["segmentation"] for a in anns] == loadres_annotorle(gt, results)
    rles = [a["segmentation"] for a in anns]
    assert [a["area"] for a in anns] == M.area(rles).astype(float).tolist()
    assert [a["bbox"] for a in anns] == [r["bbox"] for r in results]  # given boxes kept
    assert all(a["iscrowd"] == 0 for a in anns)


def test_results_to_instances_threshold_and_computed_bbox():
    gt = {"images": [{"id": 1, "height": 10, "width": 12}], "categories": [{"id": 1}]}
    seg = {"size": [10, 12], "counts": "e0191O1O1j1"}
    results = [
        {"image_id": 1, "category_id": 1, "score": 0.3, "segmentation": seg},
        {"image_id": 1, "category_id": 1, "score": 0.7, "segmentation": seg},
    ]
    data, left_out = results_to_instances(results, gt, score_threshold=0.5)
    assert left_out == {}
    assert [a["id"] for a in data["annotations"]] == [1]
    assert data["annotations"][0]["bbox"] == M.toBbox(seg).tolist()


# ---- planted problems, one per error path ------------------------------------------------------

GT = {
    "images": [{"id": 1, "height": 10, "width": 12, "file_name": "x.png"}],
    "categories": [{"id": 1, "name": "thing"}],
    "annotations": [],
}
GOOD_RLE = {"size": [10, 12], "counts": "e0191O1O1j1"}


def _good(**changes):
    r = {"image_id": 1, "category_id": 1, "segmentation": GOOD_RLE, "score": 0.9}
    r.update(changes)
    return {k: v for k, v in r.items() if v is not _DROP}


_DROP = object()

PLANTED = [
    ("unknown image id", _good(image_id=7), r"image_id 7 is not in the ground truth's images"),
    ("unknown category", _good(category_id=4), r"category_id 4 is not in the ground truth's"),
    ("no image id", _good(image_id=_DROP), r"has no image_id"),
    ("no category id", _good(category_id=_DROP), r"has no category_id"),
    ("unhashable image id", _good(image_id=[1]), r"image_id \[1\] is not in"),
    (
        "size mismatch",
        _good(segmentation={"size": [12, 10], "counts": "e0191O1O1j1"}),
        r"segmentation has size \[12, 10\] but its image is 10 x 12",
    ),
    ("missing score", _good(score=_DROP), r"has no score"),
    ("NaN score", _good(score=float("nan")), r"score must be finite, got nan"),
    ("infinite score", _good(score=float("inf")), r"score must be finite, got inf"),
    ("string score", _good(score="0.9"), r"score must be a number, got '0.9'"),
    ("bool score", _good(score=True), r"score must be a number, got True"),
    (
        "broken RLE",
        _good(segmentation={"size": [10, 12], "counts": "e0z"}),
        r"compressed RLE string has byte 122 at offset 2",
    ),
    (
        "RLE of the wrong length",
        _good(segmentation={"size": [10, 12], "counts": [5, 10]}),
        r"counts sum to 15, expected h\*w = 120",
    ),
    ("RLE without counts", _good(segmentation={"size": [10, 12]}), r"keys 'size' and 'counts'"),
    ("odd polygon", _good(segmentation=[[1, 1, 6, 1, 6]]), r"polygon 0"),
    ("short polygon", _good(segmentation=[[1, 1, 6, 1]]), r"at least 3 point"),
    ("NaN polygon", _good(segmentation=[[1, 1, 6, float("nan"), 6, 6]]), r"polygon 0"),
    ("empty segmentation", _good(segmentation=[]), r"segmentation is an empty list"),
    ("number segmentation", _good(segmentation=5), r"must be a polygon list or an RLE dict"),
    ("no segmentation, no bbox", _good(segmentation=_DROP), r"neither a segmentation nor a bbox"),
    ("bad bbox", _good(bbox=[1, 2, 3]), r"bbox must be \[x, y, width, height\]"),
    ("negative bbox", _good(bbox=[1, 2, -3, 4]), r"non-negative width and height"),
    ("not an object", 17, r"must be an object .*got int"),
]


@pytest.mark.parametrize("case, bad, message", PLANTED, ids=[p[0] for p in PLANTED])
def test_each_planted_problem_is_reported_by_result_index(case, bad, message):
    results = [_good(), _good(score=0.2), bad, _good()]
    problems = validate_results(results, GT)
    errors = [p for p in problems if p.level == "error"]
    assert len(errors) == 1, problems
    assert isinstance(errors[0], ResultProblem) and errors[0].index == 2
    assert str(errors[0]).startswith("error: result 2: ")
    assert re.search(message, errors[0].message), errors[0].message
    with pytest.raises(ValueError, match=r"1 problem\(s\) in the results, nothing converted: "):
        convert_results(results, GT)
    data, left_out = results_to_instances(results, GT)
    assert list(left_out) == [2]
    assert [a["id"] for a in data["annotations"]] == [0, 1, 3]


def test_every_problem_of_a_result_is_listed():
    bad = _good(image_id=3, category_id=8, score=float("nan"), bbox="x")
    messages = [p.message for p in validate_results([bad], GT)]
    assert len(messages) == 4
    assert any("image_id 3" in m for m in messages) and any("category_id 8" in m for m in messages)


def test_convert_lists_every_bad_result_and_changes_nothing():
    results = [_good(image_id=7), _good(), _good(score=None)]
    before = copy.deepcopy(results)
    with pytest.raises(ValueError, match=r"2 problem\(s\).*result 0: image_id 7.*result 2: score"):
        convert_results(results, GT)
    assert results == before


def test_not_a_list_is_refused(tmp_path):
    with pytest.raises(TypeError, match="results must be a list, got dict"):
        validate_results({"images": []}, GT)
    with pytest.raises(TypeError, match="results must be a list, got dict"):
        convert_results({"images": []}, GT)
    with pytest.raises(TypeError, match="results must be a list, got tuple"):
        results_to_instances((), GT)
    with pytest.raises(TypeError, match="results must be a list or a path, got int"):
        load_results(3)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(GT))
    with pytest.raises(NotResultsFile, match=r"a COCO results file is a JSON list .*an object"):
        load_results(path)
    assert not is_results_file(path)


def test_unknown_to_and_bad_threshold_are_refused():
    with pytest.raises(ValueError, match="to must be 'rle' or 'polygon', got 'mask'"):
        convert_results([_good()], GT, to="mask")
    with pytest.raises(ValueError, match="score_threshold must be a finite number, got nan"):
        results_to_instances([_good()], GT, score_threshold=float("nan"))


def test_an_unusable_ground_truth_is_named():
    gt = {"images": [{"id": 1, "height": -1, "width": 12}]}
    with pytest.raises(ValueError, match=r"ground truth a dict: not a usable COCO instances file"):
        validate_results([_good()], gt)


def test_nan_score_written_by_json_dump_is_read_and_reported(tmp_path):
    path = tmp_path / "res.json"
    path.write_text(json.dumps([_good(), _good(score=float("nan"))]))  # json writes NaN
    results = load_results(path)
    assert math.isnan(results[1]["score"])
    [problem] = validate_results(results, GT)
    assert str(problem) == "error: result 1: score must be finite, got nan"


def test_loadres_warnings():
    box = [1, 1, 5, 5]
    first_box = [_good(bbox=box), _good()]
    [w] = validate_results(first_box, GT)
    assert w.level == "warning" and w.index is None
    assert "pycocotools' loadRes needs one on every result; results 1 have none" in w.message
    polygons = [_good(), _good(segmentation=[[1, 1, 6, 1, 6, 6]])]
    [w] = validate_results(polygons, GT)
    assert "reads only compressed RLE segmentations; results 1 are not" in w.message
    assert str(w).startswith("warning: results: ")
    [w] = validate_results([], GT)
    assert "the results list is empty" in w.message
    assert (
        validate_results([_good(bbox=box), _good(bbox=box, segmentation=[[1, 1, 6, 1, 6, 6]])], GT)
        == []
    )


# ---- the command -------------------------------------------------------------------------------


def _files(tmp_path, results, gt=GT):
    src = tmp_path / "res.json"
    src.write_text(json.dumps(results))
    return src, _gt_file(tmp_path, gt)


def test_cli_validate_exit_codes(tmp_path, capsys):
    src, gt = _files(tmp_path, [_good(), _good()])
    assert cli.main(["validate", str(src), "--gt", str(gt)]) == 0
    assert "2 results, 0 error(s), 0 warning(s)" in capsys.readouterr().out
    src, gt = _files(tmp_path, [_good(), _good(category_id=3), _good(score=float("nan"))])
    assert cli.main(["validate", str(src), "--gt", str(gt)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: result 1: category_id 3 is not in the ground truth's categories",
        "error: result 2: score must be finite, got nan",
    ]
    src, gt = _files(tmp_path, [_good(bbox=[1, 1, 5, 5]), _good()])  # a warning only
    assert cli.main(["validate", str(src), "--gt", str(gt), "--quiet"]) == 0
    assert cli.main(["validate", str(src), "--gt", str(gt), "--warnings-as-errors"]) == 1


@pytest.mark.parametrize("command", ["validate", "convert", "show"])
def test_cli_results_file_without_gt_exits_2(tmp_path, capsys, command):
    src, _ = _files(tmp_path, [_good()])
    extra = {
        "validate": [],
        "convert": ["-o", str(tmp_path / "out.json")],
        "show": ["--images", str(tmp_path), "--out", str(tmp_path / "o")],
    }[command]
    assert cli.main([command, str(src), *extra]) == 2
    err = capsys.readouterr().err
    assert "is a COCO results file (a JSON list); a results file needs --gt GT.json" in err
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "o").exists()


def test_cli_boxes_on_a_results_file_exits_2(tmp_path, capsys):
    src, _ = _files(tmp_path, [_good()])
    assert cli.main(["boxes", str(src), "-o", str(tmp_path / "out.json")]) == 2
    assert "is a COCO results file (a JSON list); boxes adds masks to" in capsys.readouterr().err


def test_cli_gt_with_an_instances_file_or_not_json_exits_2(tmp_path, capsys):
    gt = _gt_file(tmp_path, GT)
    assert cli.main(["validate", str(gt), "--gt", str(gt)]) == 2
    assert "a COCO results file is a JSON list of results, got an object" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    assert cli.main(["validate", str(bad), "--gt", str(gt)]) == 2
    assert "maskprep: error: " in capsys.readouterr().err
    assert cli.main(["validate", str(tmp_path / "none.json"), "--gt", str(gt)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_cli_convert_writes_loadres_rles_atomically(tmp_path, capsys):
    results = [
        _good(segmentation=[[1, 1, 6, 1, 6, 6]], bbox=[1, 1, 5, 5]),  # loadRes: polygons need one
        _good(segmentation=_DROP, bbox=[0, 0, 3, 3]),  # box-only
    ]
    src, gt = _files(tmp_path, results)
    out = tmp_path / "out.json"
    assert cli.main(["convert", str(src), "--gt", str(gt), "-o", str(out)]) == 0
    assert "converted 2 results" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert [r["segmentation"] for r in written] == loadres_annotorle(GT, results)
    # invalid results: exit 1, nothing written, the old output left as it was
    before = out.read_bytes()
    src.write_text(json.dumps([_good(image_id=9)]))
    assert cli.main(["convert", str(src), "--gt", str(gt), "-o", str(out)]) == 1
    assert "result 0: image_id 9 is not in the ground truth's images" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt.json", "out.json", "res.json"]


def test_cli_convert_to_polygon_and_recompute(tmp_path):
    src, gt = _files(tmp_path, [_good()])
    out = tmp_path / "out.json"
    argv = ["convert", str(src), "--gt", str(gt), "-o", str(out), "--to", "polygon"]
    assert cli.main([*argv, "--recompute", "--quiet"]) == 0
    [r] = json.loads(out.read_text())
    assert isinstance(r["segmentation"], list) and r["area"] == float(M.area(GOOD_RLE))
    back = M.merge(M.frPyObjects(r["segmentation"], 10, 12))
    assert np.array_equal(M.decode(back), M.decode(GOOD_RLE))


def test_cli_convert_refusals(tmp_path, capsys):
    src, gt = _files(tmp_path, [_good()])
    out = str(tmp_path / "out.json")
    assert cli.main(["convert", str(src), "--gt", str(gt), "-o", out, "--skip-invalid"]) == 2
    assert "--skip-invalid is for instances files" in capsys.readouterr().err
    assert cli.main(["convert", str(src), "--gt", str(gt), "-o", str(tmp_path / "no" / "x")]) == 3
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["convert", str(src), "--gt", str(gt), "-o", str(src)]) == 2
    assert "must not be the input" in capsys.readouterr().err


def _photo(tmp_path, value=40):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    pixels = np.full((40, 120, 3), value, np.uint8)
    Image.fromarray(pixels).save(images / "x.png")
    return images, pixels


GT_PHOTO = {
    "images": [
        {"id": 1, "height": 40, "width": 120, "file_name": "x.png"},
        {"id": 2, "height": 40, "width": 120, "file_name": "x.png"},
    ],
    "categories": [{"id": 1, "name": "thing"}],
    "annotations": [],
}


def _show(tmp_path, results, *extra):
    from PIL import Image

    images, pixels = _photo(tmp_path)
    src, gt = _files(tmp_path, results, GT_PHOTO)
    out = tmp_path / "o"
    argv = ["show", str(src), "--gt", str(gt), "--images", str(images), "--out", str(out)]
    rc = cli.main([*argv, *extra])
    pngs = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in out.glob("*.png")}
    return rc, pixels, pngs


def test_cli_show_draws_detections_above_the_threshold_with_scores(tmp_path, capsys):
    seg = rle.encode(np.pad(np.ones((10, 20), np.uint8), ((20, 10), (5, 95))))
    seg = {"size": [40, 120], "counts": seg["counts"].decode()}
    det = {"image_id": 1, "category_id": 1, "segmentation": seg, "bbox": [5, 20, 20, 10]}
    rc, pixels, pngs = _show(
        tmp_path, [{**det, "score": 0.9}, {**det, "image_id": 2, "score": 0.2}]
    )
    assert rc == 0
    assert list(pngs) == ["1.png"]  # image 2's only detection scores below 0.5
    changed = (pngs["1.png"] != pixels).any(axis=2)
    assert changed[20:30, 5:25].all()  # the mask
    # nothing above or left of it, nor below the label (which may overflow a small box)
    assert not changed[:20].any() and not changed[:, :5].any() and not changed[36:].any()
    # the label carries the score: another score draws other pixels, in the label only
    (tmp_path / "b").mkdir()
    rc, _, other = _show(tmp_path / "b", [{**det, "score": 0.4}], "--score-threshold", "0.3")
    assert rc == 0
    diff = (other["1.png"] != pngs["1.png"]).any(axis=2)
    assert diff.any() and not diff[:20].any() and not diff[36:].any()


def test_cli_show_lists_results_it_cannot_draw_and_refuses_bad_thresholds(tmp_path, capsys):
    seg = {"size": [40, 120], "counts": [2400, 2400]}
    good = {"image_id": 1, "category_id": 1, "segmentation": seg, "score": 0.9}
    bad = {"image_id": 1, "category_id": 1, "segmentation": {"size": [4, 5], "counts": [20]}}
    rc, _, pngs = _show(tmp_path, [good, {**bad, "score": 0.8}, {**good, "score": float("nan")}])
    assert rc == 0 and list(pngs) == ["1.png"]
    err = capsys.readouterr().err
    assert "2 result(s) not drawn (see maskprep validate): result 1: segmentation has size" in err
    assert "result 2: score must be finite, got nan" in err
    src, gt = _files(tmp_path, [good], GT_PHOTO)
    base = ["show", str(src), "--gt", str(gt), "--images", str(tmp_path / "images")]
    assert cli.main([*base, "--out", str(tmp_path / "o"), "--score-threshold", "nan"]) == 2
    assert "--score-threshold must be a finite number" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "o"), "--ids", "5"]) == 2
    assert "image ids not in" in capsys.readouterr().err
    plain = ["show", str(gt), "--images", str(tmp_path), "--out", str(tmp_path / "p")]
    assert cli.main([*plain, "--score-threshold", "0.1"]) == 2
    assert "--score-threshold is for a results file" in capsys.readouterr().err


def test_cli_show_on_real_photos(tmp_path):
    from PIL import Image

    gt_path = shared_file("annotations", "cocomini_instances_val2017.json")
    if not IMAGES.is_dir():
        pytest.skip(f"real images not available: {IMAGES}")
    gt = load_json("annotations", "cocomini_instances_val2017.json")
    results = jittered_results(gt, np.random.default_rng(1))
    src = tmp_path / "res.json"
    src.write_text(json.dumps(results))
    out = tmp_path / "o"
    argv = ["show", str(src), "--gt", str(gt_path), "--images", str(IMAGES), "--out", str(out)]
    assert cli.main([*argv, "--limit", "2", "--score-threshold", "0.3", "--quiet"]) == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2
    sizes = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    for p in pngs:
        with Image.open(p) as im:
            assert im.size == sizes[int(p.stem)]
