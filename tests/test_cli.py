"""The maskprep command: convert and demo, end to end on real COCO files."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from conftest import shared_file
from maskprep import cli, coco

M = pytest.importorskip("pycocotools.mask")


def reference_rle(data):
    """What a pycocotools script writes: COCO.annToRLE per annotation, counts as str."""
    imgs = {im["id"]: im for im in data["images"]}
    out = []
    for a in data["annotations"]:
        h, w = imgs[a["image_id"]]["height"], imgs[a["image_id"]]["width"]
        seg = a["segmentation"]
        if isinstance(seg, list):
            r = M.merge(M.frPyObjects(seg, h, w))
        elif isinstance(seg["counts"], list):
            r = M.frPyObjects(seg, h, w)
        else:
            r = seg
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


def test_interrupted_write_leaves_no_output(tmp_path, monkeypatch):
    src = _write(
        tmp_path / "in.json",
        {"images": _tiny()["images"], "annotations": _tiny()["annotations"][:1]},
    )
    out = tmp_path / "out.json"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(coco.orjson, "dumps", boom)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["convert", str(src), "-o", str(out)])
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
    assert "maskprep convert instances.json" in capsys.readouterr().out
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
