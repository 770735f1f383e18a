"""Imports written as shards (issue 14 item 5): maskprep.formats.write_shards and
``maskprep import --shard-size N [--out-format F]``.

Every layout is read back with maskprep.shards.read_shard (what the sharded jobs read) and
merged: the dataset equals the input (or the single-file import) with its ids, as far as the
layout holds it (coco: everything; sa1b/jsonl: images and annotations; parquet: annotations
with their image's id and size). The output folder goes through the sharded convert and
validate and through export.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import shared_file
from maskprep import cli, coco, shards
from maskprep.formats import SHARD_FORMATS, sharded, write_shards


def _dataset(n_images=5):
    """A small COCO dict with RLE segmentations (every layout, parquet too, can hold it);
    image 3 has no annotation, image 2 has two."""
    data = {
        "info": {"description": "synthetic"},
        "licenses": [{"id": 1, "name": "CC BY"}],
        "images": [
            {"id": 10 + k, "height": 12, "width": 16, "file_name": f"im{k}.jpg"}
            for k in range(n_images)
        ],
        "annotations": [],
        "categories": [{"id": 1, "name": "cat"}, {"id": 4, "name": "dog"}],
    }
    ann_id = 100
    for k, im in enumerate(data["images"]):
        for j in range({2: 2, 3: 0}.get(k, 1)):
            x = 1 + 2 * j + k
            data["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": im["id"],
                    "category_id": 1 if j == 0 else 4,
                    "segmentation": [[x, 1, x + 5, 1, x + 5, 7, x, 7]],
                    "iscrowd": 0,
                }
            )
            ann_id += 1
    coco.convert(data, to="rle", recompute=True)
    return data


def _read_back(paths):
    """The shards read back (read_shard) without read_shard's private keys."""
    return [{k: v for k, v in shards.read_shard(p).items() if not k.startswith("_")} for p in paths]


def _merged(parts):
    return {
        "images": [im for p in parts for im in p["images"]],
        "annotations": [a for p in parts for a in p["annotations"]],
    }


# -- the library function: one round trip per layout --------------------------------------------


def test_coco_round_trip(tmp_path):
    data = _dataset()
    before = copy.deepcopy(data)
    paths = write_shards(data, tmp_path / "out", images_per_shard=2)
    assert data == before  # not modified
    assert [p.name for p in paths] == ["part-00000.json", "part-00001.json", "part-00002.json"]
    parts = _read_back(paths)
    assert [[im["id"] for im in p["images"]] for p in parts] == [[10, 11], [12, 13], [14]]
    assert [[a["id"] for a in p["annotations"]] for p in parts] == [[100, 101], [102, 103], [104]]
    for p in parts:  # the other top-level keys go into every shard, in the input's order
        assert list(p) == ["info", "licenses", "images", "annotations", "categories"]
        assert (p["info"], p["licenses"], p["categories"]) == (
            data["info"],
            data["licenses"],
            data["categories"],
        )
    assert _merged(parts) == {"images": data["images"], "annotations": data["annotations"]}


def test_annotations_keep_their_input_order_within_a_shard(tmp_path):
    data = _dataset()
    data["annotations"].reverse()
    parts = _read_back(write_shards(data, tmp_path, images_per_shard=3))
    assert [[a["id"] for a in p["annotations"]] for p in parts] == [[103, 102, 101, 100], [104]]


def test_jsonl_round_trip(tmp_path):
    data = _dataset()
    paths = write_shards(data, tmp_path, images_per_shard=2, out_format="jsonl")
    assert [p.name for p in paths] == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    lines = paths[1].read_text().splitlines()  # one SA-1B-style record per image
    assert [json.loads(x)["image"]["id"] for x in lines] == [12, 13]
    assert json.loads(lines[1])["annotations"] == []
    parts = _read_back(paths)
    assert all(set(p) == {"images", "annotations"} for p in parts)  # no categories in SA-1B
    assert _merged(parts) == {"images": data["images"], "annotations": data["annotations"]}


def test_sa1b_round_trip(tmp_path):
    data = _dataset()
    paths = write_shards(data, tmp_path, images_per_shard=1, out_format="sa1b")
    assert [p.name for p in paths] == [f"part-0000{k}.json" for k in range(5)]
    raw = json.loads(paths[2].read_text())
    assert set(raw) == {"image", "annotations"} and raw["image"]["id"] == 12
    assert [a["id"] for a in raw["annotations"]] == [102, 103]
    assert [shards.read_shard(p)["_format"] for p in paths] == ["sa1b"] * 5
    assert _merged(_read_back(paths)) == {
        "images": data["images"],
        "annotations": data["annotations"],
    }


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    data = _dataset()
    paths = write_shards(data, tmp_path, images_per_shard=2, out_format="parquet")
    assert [p.name for p in paths] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    merged = _merged(_read_back(paths))
    assert merged["annotations"] == data["annotations"]  # ids, RLEs, area, bbox, every key
    # A row per annotation: the images keep their id and size; image 13 has no row.
    sizes = [{k: im[k] for k in ("id", "height", "width")} for im in data["images"]]
    assert merged["images"] == [s for s in sizes if s["id"] != 13]


def test_real_dataset_round_trip(tmp_path):
    src = shared_file("annotations", "cocomini_instances_val2017.json")
    data = json.loads(src.read_text())
    paths = write_shards(data, tmp_path, images_per_shard=10)
    assert len(paths) == -(-len(data["images"]) // 10)
    parts = _read_back(paths)
    assert all(p["categories"] == data["categories"] for p in parts)
    merged = _merged(parts)
    assert merged["images"] == data["images"]
    # By shard, then in input order within each (a stable sort on the shard's index).
    shard_of = {im["id"]: k // 10 for k, im in enumerate(data["images"])}
    expected = sorted(data["annotations"], key=lambda a: shard_of[a["image_id"]])
    assert merged["annotations"] == expected


def test_names_widen_past_five_digits(tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr(sharded.shards, "write_shard", lambda d, p, f: written.append(p.name))
    data = {"images": [{"id": k, "height": 1, "width": 1} for k in range(100_001)]}
    write_shards(data, tmp_path, images_per_shard=1)
    assert written[0] == "part-000000.json" and written[-1] == "part-100000.json"
    assert written == sorted(written)


def test_rerun_removes_stale_parts_only(tmp_path):
    data = _dataset()
    write_shards(data, tmp_path, images_per_shard=1)  # part-00000 .. part-00004.json
    keep = ["notes.json", "part-1.txt", "mypart-00003.json", "part-00009.jsonl", "part-00x.json"]
    for name in keep:
        (tmp_path / name).write_text("{}")
    (tmp_path / "part-00007.json").mkdir()  # a folder of that name: not a stale file
    paths = write_shards(data, tmp_path, images_per_shard=2)
    assert [p.name for p in paths] == ["part-00000.json", "part-00001.json", "part-00002.json"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(keep + [p.name for p in paths] + ["part-00007.json"])
    assert [im["id"] for im in _read_back(paths[2:])[0]["images"]] == [14]  # the new content


def test_rerun_in_another_layout_keeps_the_first(tmp_path):
    data = _dataset()
    coco_paths = write_shards(data, tmp_path, images_per_shard=2)
    jsonl_paths = write_shards(data, tmp_path, images_per_shard=5, out_format="jsonl")
    assert all(p.is_file() for p in coco_paths + jsonl_paths)  # other suffix: not stale


def test_no_images_writes_no_shard(tmp_path):
    write_shards(_dataset(), tmp_path, images_per_shard=2)
    assert write_shards({"images": [], "annotations": []}, tmp_path, images_per_shard=2) == []
    assert list(tmp_path.iterdir()) == []  # the older parts were stale


def test_shard_formats_are_the_shard_layouts():
    assert SHARD_FORMATS == shards.FORMATS == ("coco", "sa1b", "jsonl", "parquet")


# -- the library function: one test per error path (nothing written) ---------------------------


def test_data_not_a_dict(tmp_path):
    with pytest.raises(TypeError, match="data must be a COCO instances dict, got list"):
        write_shards([], tmp_path / "o", images_per_shard=1)
    assert not (tmp_path / "o").exists()


def test_outdir_not_a_path(tmp_path):
    with pytest.raises(TypeError, match="outdir must be a path, got int"):
        write_shards(_dataset(), 3, images_per_shard=1)


def test_images_per_shard_bool(tmp_path):
    with pytest.raises(TypeError, match="images_per_shard must be a positive integer, got bool"):
        write_shards(_dataset(), tmp_path / "o", images_per_shard=True)
    assert not (tmp_path / "o").exists()


def test_images_per_shard_float(tmp_path):
    with pytest.raises(TypeError, match="images_per_shard must be a positive integer, got float"):
        write_shards(_dataset(), tmp_path / "o", images_per_shard=2.0)


def test_images_per_shard_not_positive(tmp_path):
    with pytest.raises(ValueError, match="images_per_shard must be a positive integer, got -1"):
        write_shards(_dataset(), tmp_path / "o", images_per_shard=-1)
    assert not (tmp_path / "o").exists()


def test_unknown_out_format(tmp_path):
    match = "out_format must be one of coco, sa1b, jsonl, parquet, got 'yolo'"
    with pytest.raises(ValueError, match=match):
        write_shards(_dataset(), tmp_path / "o", images_per_shard=1, out_format="yolo")


def test_sa1b_needs_one_image_per_shard(tmp_path):
    with pytest.raises(ValueError, match="'sa1b' holds one image per file: images_per_shard must"):
        write_shards(_dataset(), tmp_path / "o", images_per_shard=2, out_format="sa1b")
    assert not (tmp_path / "o").exists()


def test_outdir_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="outdir .*f is a file, expected a folder"):
        write_shards(_dataset(), tmp_path / "f", images_per_shard=1)
    assert (tmp_path / "f").read_text() == "x"


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # find_spec then finds none
    with pytest.raises(ImportError, match=r"needs pyarrow: pip install pyarrow \(or maskprep\[ray"):
        write_shards(_dataset(), tmp_path / "o", images_per_shard=1, out_format="parquet")
    assert not (tmp_path / "o").exists()


def test_parquet_needs_rles(tmp_path):
    pytest.importorskip("pyarrow")
    data = _dataset()
    data["annotations"][-1]["segmentation"] = [[0, 0, 4, 0, 4, 4]]
    with pytest.raises(ValueError, match="'parquet' needs compressed RLE .*annotation 104 has"):
        write_shards(data, tmp_path / "o", images_per_shard=1, out_format="parquet")
    assert not (tmp_path / "o").exists()  # checked before the first shard


def test_data_not_an_instances_dict(tmp_path):
    with pytest.raises(ValueError, match="data is not a COCO instances dict: images must be a"):
        write_shards({"images": {}}, tmp_path / "o", images_per_shard=1)


def test_repeated_image_id(tmp_path):
    data = _dataset()
    data["images"][3]["id"] = 10
    with pytest.raises(ValueError, match="data: two images have the id 10"):
        write_shards(data, tmp_path / "o", images_per_shard=1)
    assert not (tmp_path / "o").exists()


def test_annotation_of_no_image(tmp_path):
    data = _dataset()
    data["annotations"][1]["image_id"] = 99
    with pytest.raises(ValueError, match="annotation 101 has image_id 99, which is no image's id"):
        write_shards(data, tmp_path / "o", images_per_shard=1)
    assert not (tmp_path / "o").exists()


# -- the command ----------------------------------------------------------------------------------


def _yolo(root: Path, n=3, bad_line=False):
    """A YOLO dataset of n 20 x 30 images, one triangle each (and a line of an unknown class
    in the last with bad_line)."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for k in range(n):
        Image.new("RGB", (30, 20)).save(root / "images" / f"im{k}.jpg")
        lines = [f"{k % 2} 0.1 0.1 0.5 0.1 0.5 0.{5 + k}"]
        if bad_line and k == n - 1:
            lines.append("7 0.1 0.1 0.5 0.1 0.5 0.5")
        (root / "labels" / f"im{k}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text("names:\n  0: cat\n  1: dog\n")
    return root


def _pngs(root: Path, n=5):
    """n 16-bit instance-id PNGs, two objects each."""
    root.mkdir(parents=True)
    for k in range(n):
        label = np.zeros((6, 8), np.uint16)
        label[0:3, 0 : 1 + k % 3] = 1
        label[3:6, 4:8] = 2
        Image.fromarray(label).save(root / f"f{k}.png")
    return root


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_yolo_shards_equal_the_single_file(tmp_path, capsys):
    pytest.importorskip("yaml")  # maskprep[formats]: the data YAML
    src = _yolo(tmp_path / "ds")
    assert _run(capsys, "import", src, "--format", "yolo", "-o", tmp_path / "one.json")[0] == 0
    code, out, _ = _run(
        capsys, "import", src, "--format", "yolo", "-o", tmp_path / "out", "--shard-size", 2
    )
    assert code == 0
    assert "imported 3 object(s) from 3 file(s) (yolo, polygon) -> 2 coco shard(s) in" in out
    one = json.loads((tmp_path / "one.json").read_text())
    paths = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in paths] == ["part-00000.json", "part-00001.json"]
    parts = _read_back(paths)
    assert _merged(parts) == {"images": one["images"], "annotations": one["annotations"]}
    assert all(p["categories"] == one["categories"] for p in parts)


@pytest.mark.parametrize("out_format", ["coco", "jsonl", "sa1b", "parquet"])
def test_cli_png_shards_equal_the_single_file(tmp_path, capsys, out_format):
    if out_format == "parquet":
        pytest.importorskip("pyarrow")
    src = _pngs(tmp_path / "pngs")
    argv = ["import", src, "--format", "instance-png"]
    assert _run(capsys, *argv, "-o", tmp_path / "one.json")[0] == 0
    size = 1 if out_format == "sa1b" else 2
    shard_argv = ["--shard-size", size, "--out-format", out_format]
    code, out, _ = _run(capsys, *argv, "-o", tmp_path / "out", *shard_argv)
    assert code == 0
    n = 5 if out_format == "sa1b" else 3
    assert f"imported 10 object(s) from 5 file(s) (instance-png, rle) -> {n} {out_format}" in out
    one = json.loads((tmp_path / "one.json").read_text())
    merged = _merged(_read_back(sorted((tmp_path / "out").iterdir())))
    assert merged["annotations"] == one["annotations"]
    if out_format == "parquet":
        keys = ("id", "height", "width")
        assert merged["images"] == [{k: im[k] for k in keys} for im in one["images"]]
    else:
        assert merged["images"] == one["images"]


def test_cli_parquet_imports_as_rle(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("yaml")
    src = _yolo(tmp_path / "ds")
    argv = ["import", src, "--format", "yolo", "-o", tmp_path / "out", "--shard-size", 3]
    code, out, _ = _run(capsys, *argv, "--out-format", "parquet")
    assert code == 0 and "(yolo, rle) -> 1 parquet shard(s)" in out
    anns = shards.read_shard(tmp_path / "out" / "part-00000.parquet")["annotations"]
    assert [isinstance(a["segmentation"]["counts"], str) for a in anns] == [True] * 3


def test_cli_outdir_feeds_the_sharded_jobs(tmp_path, capsys):
    src = _pngs(tmp_path / "pngs")
    out = tmp_path / "out"
    argv = ["import", src, "--format", "instance-png", "-o", out, "--shard-size", 2]
    assert _run(capsys, *argv, "--to", "polygon")[0] == 0
    code, _, err = _run(capsys, "convert", out, "-o", tmp_path / "rle")
    assert code == 0 and "convert: 3 shard(s), 5 image(s), 10 annotation(s), 10 converted" in err
    converted = _merged(_read_back(sorted((tmp_path / "rle").glob("part-*.json"))))
    assert [a["id"] for a in converted["annotations"]] == list(range(1, 11))
    assert all(isinstance(a["segmentation"]["counts"], str) for a in converted["annotations"])
    code, _, err = _run(capsys, "validate", out, "-o", tmp_path / "report")
    assert code == 0 and "validate: 3 shard(s), 5 image(s), 10 annotation(s)" in err
    report = json.loads((tmp_path / "report" / shards.REPORT_NAME).read_text())
    assert report["invalid"] == {} and len(report["shards"]) == 3
    code, stdout, _ = _run(capsys, "export", out, "--format", "yolo", "-o", tmp_path / "yolo")
    assert code == 0 and "exported 10 object(s) in 5 file(s) as yolo" in stdout
    labels = sorted(p.name for p in (tmp_path / "yolo" / "labels").iterdir())
    assert labels == [f"f{k}.txt" for k in range(5)]


def test_cli_invalid_objects_write_nothing_without_skip_invalid(tmp_path, capsys):
    pytest.importorskip("yaml")
    src = _yolo(tmp_path / "ds", bad_line=True)
    argv = ["import", src, "--format", "yolo", "-o", tmp_path / "out", "--shard-size", 2]
    code, _, err = _run(capsys, *argv)
    assert code == 1 and "1 object(s) or file(s) cannot be imported" in err
    assert not (tmp_path / "out").exists()
    code, out, err = _run(capsys, *argv, "--skip-invalid")
    assert code == 0 and "-> 2 coco shard(s)" in out and "skipped 1 (listed above)" in out
    assert "labels/im2.txt: object line 2: class index 7" in err
    assert sum(len(p["annotations"]) for p in _read_back(sorted((tmp_path / "out").iterdir()))) == 3


def test_cli_rerun_with_fewer_shards(tmp_path, capsys):
    src = _pngs(tmp_path / "pngs")
    argv = ["import", src, "--format", "instance-png", "-o", tmp_path / "out", "--shard-size"]
    assert _run(capsys, *argv, 1)[0] == 0
    assert _run(capsys, *argv, 4)[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "part-00000.json",
        "part-00001.json",
    ]


# -- the command: one test per usage error ---------------------------------------------------------


def _usage_error(tmp_path, capsys, *extra, code=2, output=None):
    src = _pngs(tmp_path / "pngs")
    output = tmp_path / "out" if output is None else output
    got, _, err = _run(capsys, "import", src, "--format", "instance-png", "-o", output, *extra)
    assert got == code
    assert not (tmp_path / "out").exists()
    return err


def test_cli_out_format_needs_shard_size(tmp_path, capsys):
    err = _usage_error(tmp_path, capsys, "--out-format", "jsonl")
    assert "maskprep: error: --out-format needs --shard-size" in err


def test_cli_shard_size_not_positive(tmp_path, capsys):
    err = _usage_error(tmp_path, capsys, "--shard-size", 0)
    assert "--shard-size must be a positive integer, got 0" in err


def test_cli_shard_size_not_an_integer(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse's error: one line, exit 2
        _usage_error(tmp_path, capsys, "--shard-size", "two")
    assert exc.value.code == 2
    assert "argument --shard-size: invalid int value: 'two'" in capsys.readouterr().err


def test_cli_sa1b_needs_shard_size_one(tmp_path, capsys):
    err = _usage_error(tmp_path, capsys, "--shard-size", 2, "--out-format", "sa1b")
    assert "--out-format sa1b holds one image per file: it needs --shard-size 1" in err


def test_cli_parquet_with_polygons(tmp_path, capsys):
    argv = ["--shard-size", 2, "--out-format", "parquet", "--to", "polygon"]
    err = _usage_error(tmp_path, capsys, *argv)
    assert "--out-format parquet holds compressed RLEs: it needs --to rle" in err


def test_cli_parquet_without_pyarrow(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    err = _usage_error(tmp_path, capsys, "--shard-size", 2, "--out-format", "parquet")
    assert "out_format 'parquet' needs pyarrow: pip install pyarrow" in err


def test_cli_shards_to_stdout(tmp_path, capsys):
    err = _usage_error(tmp_path, capsys, "--shard-size", 2, output="-")
    assert "-o - (standard output) cannot hold shards; --shard-size needs a folder" in err


def test_cli_shards_into_a_file(tmp_path, capsys):
    (tmp_path / "f.json").write_text("{}")
    err = _usage_error(tmp_path, capsys, "--shard-size", 2, code=3, output=tmp_path / "f.json")
    assert "f.json is a file; -o with --shard-size needs a folder" in err
    assert (tmp_path / "f.json").read_text() == "{}"
