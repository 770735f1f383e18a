"""``maskprep boxes`` over shards (issue 12): job="boxes" on the local engine in every layout,
its options checked before any shard is read, unreadable images as data; outputs equal to the
single-file path's and, for --method box, to pycocotools' frBbox. (The Ray engine's bytes are
checked in test_shards_ray.py.)"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import IMAGES, load_json, shared_file
from helpers.shard_data import write_layout
from maskprep import cli, coco, shards

pm = pytest.importorskip("pycocotools.mask")
DATA = "annotations/cocomini_instances_val2017.json"


def _without_masks(data):
    data = copy.deepcopy(data)
    for a in data["annotations"]:
        del a["segmentation"]
    return data


def _masks(outdir: Path):
    """id -> segmentation read back from every output shard."""
    got = {}
    for src, _ in shards.find_shards(outdir):
        for a in shards.read_shard(src)["annotations"]:
            got[a["id"]] = a["segmentation"]
    return got


def _single_file(data, method, **kw):
    """The single-file path (maskprep boxes FILE): id -> segmentation."""
    data = copy.deepcopy(data)
    images = kw.pop("images", None)
    overwrite = kw.pop("overwrite", False)
    coco.add_box_masks(
        data, coco.masks_for_method(method, **kw), images_dir=images, overwrite=overwrite
    )
    return {a["id"]: a["segmentation"] for a in data["annotations"]}


def _counts(seg):
    c = seg["counts"]
    return c.decode() if isinstance(c, bytes) else c


@pytest.mark.parametrize("layout", ["coco", "sa1b", "jsonl"])
def test_box_method_matches_the_single_file_path_and_pycocotools(tmp_path, layout):
    data = _without_masks(load_json(DATA))
    src = write_layout(data, tmp_path / "in", layout)
    report = shards.run(src, tmp_path / "out", job="boxes", boxes={"method": "box"})
    n = len(data["annotations"])
    assert report["job"] == "boxes" and report["failed"] == []
    assert report["totals"]["converted"] == n  # every annotation got a mask
    got = _masks(tmp_path / "out")
    want = _single_file(data, "box")
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    assert set(got) == set(want) and len(got) == n
    for a in data["annotations"]:
        assert _counts(got[a["id"]]) == _counts(want[a["id"]]), a["id"]
        h, w = sizes[a["image_id"]]
        ref = pm.frPyObjects(np.array([a["bbox"]], np.float64), h, w)[0]
        assert _counts(got[a["id"]]) == ref["counts"].decode(), a["id"]


def test_parquet_with_overwrite(tmp_path):
    pytest.importorskip("pyarrow")
    data = load_json(DATA)
    src = write_layout(data, tmp_path / "in", "parquet")
    boxes = {"method": "ellipse", "overwrite": True}
    report = shards.run(src, tmp_path / "out", job="boxes", boxes=boxes)
    assert report["totals"]["converted"] == len(data["annotations"])
    got = _masks(tmp_path / "out")
    # parquet's bbox column holds the annotation's bbox as floats, as the single file does
    want = _single_file(data, "ellipse", overwrite=True)
    assert {k: _counts(v) for k, v in got.items()} == {k: _counts(v) for k, v in want.items()}


def test_grow_reads_each_shards_images(tmp_path):
    shared_file("images", "coco_val2017", "000000000139.jpg")
    data = _without_masks(load_json(DATA))
    keep = {im["id"] for im in data["images"][:6]}  # grow decodes each photo: a few suffice
    data["images"] = [im for im in data["images"] if im["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    src = write_layout(data, tmp_path / "in", "sa1b")
    opts = {"method": "grow", "images": IMAGES, "seed": "otsu"}
    report = shards.run(src, tmp_path / "out", job="boxes", boxes=opts)
    assert report["failed"] == [] and report["totals"]["converted"] == len(data["annotations"])
    want = _single_file(data, "grow", images=IMAGES, seed="otsu")
    got = _masks(tmp_path / "out")
    assert {k: _counts(v) for k, v in got.items()} == {k: _counts(v) for k, v in want.items()}


def test_missing_image_is_data_listed_by_annotation(tmp_path):
    data = _without_masks(load_json(DATA))
    keep = data["images"][0]["id"]
    data["images"] = data["images"][:1]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] == keep]
    src = write_layout(data, tmp_path / "in", "sa1b")
    empty = tmp_path / "no-images"
    empty.mkdir()
    opts = {"method": "grow", "images": empty}
    with pytest.raises(shards.ShardError, match="failed: .* invalid annotation"):
        shards.run(src, tmp_path / "out", job="boxes", boxes=opts)
    assert not list((tmp_path / "out").rglob("sa_*.json"))  # nothing written for it
    report = shards.run(src, tmp_path / "out2", job="boxes", boxes=opts, skip_invalid=True)
    (listed,) = report["invalid"].values()
    assert sorted(listed) == sorted(str(a["id"]) for a in data["annotations"])
    assert all("image" in msg for msg in listed.values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"boxes": {"method": "paint"}}, r"boxes\['method'\] must be one of box, ellipse"),
        ({"boxes": {"colour": 1}}, r"boxes has unknown option\(s\) colour; expected method"),
        ({"boxes": {"method": "grow"}}, r"boxes method 'grow' needs boxes\['images'\]"),
        ({"boxes": {"method": "grow", "images": "/nonexistent"}}, "is not a folder"),
        ({"boxes": {"method": "maskrcnn", "images": "."}}, r"needs boxes\['weights'\]"),
    ],
)
def test_bad_box_options_fail_before_any_shard(tmp_path, kwargs, message):
    src = write_layout(_without_masks(load_json(DATA)), tmp_path / "in", "coco")
    with pytest.raises(ValueError, match=message):
        shards.run(src, tmp_path / "out", job="boxes", **kwargs)
    assert not (tmp_path / "out" / shards.REPORT_NAME).exists()


def test_box_options_belong_to_the_boxes_job(tmp_path):
    with pytest.raises(ValueError, match="boxes options are for job='boxes', not job='convert'"):
        shards.run(tmp_path, tmp_path / "out", boxes={"method": "box"})


def test_resume_skips_done_boxes_shards(tmp_path):
    src = write_layout(_without_masks(load_json(DATA)), tmp_path / "in", "coco")
    first = shards.run(src, tmp_path / "out", job="boxes")
    again = shards.run(src, tmp_path / "out", job="boxes")
    assert {s["status"] for s in again["shards"]} == {"resumed"}
    assert [s["converted"] for s in again["shards"]] == [s["converted"] for s in first["shards"]]


# ---- the command line ----------------------------------------------------------------------


def test_cli_boxes_folder(tmp_path, capsys):
    data = _without_masks(load_json(DATA))
    src = write_layout(data, tmp_path / "in", "sa1b")
    rc = cli.main(["boxes", str(src), "-o", str(tmp_path / "out"), "--method", "ellipse"])
    assert rc == 0
    assert f"{len(data['annotations'])} mask(s) added" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / shards.REPORT_NAME).read_text())
    assert report["job"] == "boxes" and report["failed"] == []
    want = _single_file(data, "ellipse")
    got = _masks(tmp_path / "out")
    assert {k: _counts(v) for k, v in got.items()} == {k: _counts(v) for k, v in want.items()}


def test_cli_boxes_bad_method_and_misplaced_options(tmp_path, capsys):
    src = write_layout(_without_masks(load_json(DATA)), tmp_path / "in", "coco")
    rc = cli.main(["boxes", str(src), "-o", str(tmp_path / "o"), "--method", "grow", "--quiet"])
    assert rc == 2
    assert "--method grow needs --images DIR" in capsys.readouterr().err
    rc = cli.main(["boxes", str(src), "-o", str(tmp_path / "o"), "--method", "paint", "--quiet"])
    assert rc == 2
    assert "boxes['method'] must be one of box, ellipse, grow, maskrcnn" in capsys.readouterr().err
    rc = cli.main(["convert", str(src), "-o", str(tmp_path / "o"), "--method", "box", "--quiet"])
    assert rc == 2
    assert "--method are options of boxes, not of convert" in capsys.readouterr().err
