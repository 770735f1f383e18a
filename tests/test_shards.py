"""Sharded jobs on the local engine (maskprep.shards): every layout, resume, atomic writes,
invalid annotations as data, the command line; outputs compared with pycocotools."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from conftest import load_json
from helpers.shard_data import write_layout
from maskprep import cli, shards

pm = pytest.importorskip("pycocotools.mask")
LAYOUTS = ["coco", "sa1b", "jsonl", "parquet"]
DATA = "annotations/cocomini_instances_val2017.json"


def _need(layout: str) -> None:
    if layout == "parquet":
        pytest.importorskip("pyarrow")


def _expected(data):
    """pycocotools' compressed RLE (counts str), area and bbox for every annotation id."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    out = {}
    for a in data["annotations"]:
        h, w = sizes[a["image_id"]]
        r = pm.frPyObjects(a["segmentation"], h, w)
        r = pm.merge(r) if isinstance(r, list) else r
        out[a["id"]] = (r["counts"].decode(), float(pm.area(r)), pm.toBbox(r).tolist())
    return out


def _converted(outdir: Path):
    """id -> (counts, area, bbox) read back from every output shard."""
    got = {}
    for src, _ in shards.find_shards(outdir):
        data = shards.read_shard(src)
        for a in data["annotations"]:
            got[a["id"]] = (a["segmentation"]["counts"], a["area"], a["bbox"])
    return got


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convert_matches_pycocotools(tmp_path, layout):
    _need(layout)
    data = load_json(DATA)
    src = write_layout(data, tmp_path / "in", layout)
    report = shards.run(src, tmp_path / "out", recompute=True)
    want = _expected(data)
    got = _converted(tmp_path / "out")
    assert set(got) == set(want)
    for k, (counts, area, bbox) in want.items():
        assert got[k][0] == counts, k
        assert got[k][1] == area, k
        assert got[k][2] == pytest.approx(bbox), k
    assert report["totals"]["annotations"] == len(data["annotations"])
    assert report["failed"] == [] and report["invalid"] == {}
    # relative paths are kept, and the layout too
    ins = sorted(str(r) for _, r in shards.find_shards(src))
    outs = sorted(str(r) for _, r in shards.find_shards(tmp_path / "out"))
    assert ins == outs


def test_layouts_round_trip_keys(tmp_path):
    """A per-image shard keeps its keys: no image_id added to its annotations."""
    data = load_json(DATA)
    src = write_layout(data, tmp_path / "in", "sa1b")
    shards.run(src, tmp_path / "out")
    one = next((tmp_path / "out").rglob("sa_*.json"))
    rec = orjson.loads(one.read_bytes())
    assert set(rec) == {"image", "annotations"}
    assert all("image_id" not in a for a in rec["annotations"])
    assert "id" not in rec["image"]


def test_parquet_carries_other_columns(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    src = write_layout(load_json(DATA), tmp_path / "in", "parquet")
    shards.run(src, tmp_path / "out")
    for path, rel in shards.find_shards(src):
        a, b = pq.read_table(path), pq.read_table(tmp_path / "out" / rel)
        assert a.schema.names == b.schema.names
        assert a.column("note").to_pylist() == b.column("note").to_pylist()


def test_out_format_jsonl_and_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    data = load_json(DATA)
    src = write_layout(data, tmp_path / "in", "sa1b")
    shards.run(src, tmp_path / "j", out_format="jsonl")
    shards.run(src, tmp_path / "p", out_format="parquet")
    assert next((tmp_path / "j").rglob("*.jsonl"))
    assert _converted(tmp_path / "p").keys() == _expected(data).keys()
    with pytest.raises(ValueError, match="fmt 'jsonl' needs a per-image shard"):
        shards.run(write_layout(data, tmp_path / "c", "coco"), tmp_path / "x", out_format="jsonl")


def test_resume_skips_done_shards(tmp_path):
    src = write_layout(load_json(DATA), tmp_path / "in", "coco")
    first = shards.run(src, tmp_path / "out")
    victim = tmp_path / "out" / first["shards"][0]["shard"]
    victim.unlink()  # a crash before this shard was written
    outs = [p for p in (tmp_path / "out").rglob("shard*.json") if shards.DONE_DIR not in p.parts]
    mtimes = {p: p.stat().st_mtime_ns for p in outs}
    second = shards.run(src, tmp_path / "out")
    status = {s["shard"]: s["status"] for s in second["shards"]}
    assert status.pop(first["shards"][0]["shard"]) == "done"
    assert set(status.values()) == {"resumed"}
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert victim.is_file()
    assert second["totals"] == first["totals"]


def test_completion_journal(tmp_path):
    """One append-only journal per process (not a file per shard); a line cut short by a crash
    is ignored and its shard redone; process_shard alone resumes from the same records."""
    src = write_layout(load_json(DATA), tmp_path / "in", "coco")
    first = shards.run(src, tmp_path / "out")
    journals = list((tmp_path / "out" / shards.DONE_DIR).iterdir())
    assert len(journals) == 1 and journals[0].suffix == ".jsonl"
    records = shards.completed(tmp_path / "out")
    assert sorted(records) == sorted(s["shard"] for s in first["shards"])
    assert all(r["status"] == "done" for r in records.values())
    lines = [ln for ln in journals[0].read_bytes().splitlines(keepends=True) if ln.strip()]
    journals[0].write_bytes(b"".join(lines[:-1]) + lines[-1][:20])  # a crash mid-line
    cut = orjson.loads(lines[-1])["shard"]
    second = shards.run(src, tmp_path / "out")
    status = {s["shard"]: s["status"] for s in second["shards"]}
    assert status.pop(cut) == "done" and set(status.values()) == {"resumed"}
    (item,) = [(p, r) for p, r in shards.find_shards(src) if str(r) == cut]
    alone = shards.process_shard(*item, tmp_path / "out")
    assert alone["status"] == "resumed" and alone["shard"] == cut


def test_no_temporary_files_left(tmp_path):
    src = write_layout(load_json(DATA), tmp_path / "in", "jsonl")
    shards.run(src, tmp_path / "out")
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]


def _bad_shards(tmp_path):
    data = load_json(DATA)
    data["annotations"][3]["segmentation"] = [[1.0, 2.0, 3.0]]  # odd length
    bad_id = data["annotations"][3]["id"]
    return write_layout(data, tmp_path / "in", "coco"), bad_id


def test_invalid_annotation_fails_the_shard_and_names_it(tmp_path):
    src, bad_id = _bad_shards(tmp_path)
    with pytest.raises(shards.ShardError, match=r"shard d\d/shard\d\.json failed: 1 invalid"):
        shards.run(src, tmp_path / "out")
    report = json.loads((tmp_path / "out" / shards.REPORT_NAME).read_text())
    (where,) = report["invalid"]
    assert list(report["invalid"][where]) == [str(bad_id)]
    assert not (tmp_path / "out" / where).exists()  # a failed shard writes nothing


def test_skip_invalid_goes_on(tmp_path):
    src, bad_id = _bad_shards(tmp_path)
    report = shards.run(src, tmp_path / "out", skip_invalid=True)
    assert report["failed"] == []
    assert [list(v) for v in report["invalid"].values()] == [[str(bad_id)]]
    assert len(report["shards"]) == 7


def test_validate_job(tmp_path):
    src, bad_id = _bad_shards(tmp_path)
    report = shards.run(src, tmp_path / "out", job="validate", skip_invalid=True)
    assert [list(v) for v in report["invalid"].values()] == [[str(bad_id)]]
    assert report["totals"]["converted"] == 0


def test_unreadable_shard_is_reported(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_text("{not json")
    report = shards.run(tmp_path / "in", tmp_path / "out", skip_invalid=True)
    assert report["failed"] == ["a.json"]
    assert "is not valid JSON" in report["shards"][0]["error"]


@pytest.mark.parametrize(
    "text, status, error",
    [
        (b"{}", "done", None),  # as `maskprep convert` takes it: nothing to convert
        (b'{"images": [], "annotations": []}', "done", None),  # an empty dataset is fine
        (b"[1, 2]", "failed", "the top level must be an object"),
        (b'{"images": 3, "annotations": []}', "failed", '"images" must be an array'),
        (b'{"image": {"width": 2}, "annotations": []}', "failed", "needs non-negative integer"),
    ],
)
def test_json_text_path_edge_cases(tmp_path, text, status, error):
    """convert --to rle of .json shards runs on the text (C++), as `maskprep convert` does."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_bytes(text)
    report = shards.run(tmp_path / "in", tmp_path / "out", skip_invalid=True)
    (summary,) = report["shards"]
    assert summary["status"] == status
    if error is None:
        assert summary["error"] is None and (tmp_path / "out" / "a.json").is_file()
    else:
        assert error in summary["error"]
        assert not (tmp_path / "out" / "a.json").exists()


def test_a_dict_without_annotations_is_written_back(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_bytes(b'{"info": {"v": 1}}')
    report = shards.run(tmp_path / "in", tmp_path / "out", to="polygon")
    assert report["failed"] == []
    assert orjson.loads((tmp_path / "out" / "a.json").read_bytes()) == {"info": {"v": 1}}


def test_json_text_path_keeps_the_input_bytes(tmp_path):
    """Outside the converted values, an SA-1B shard's output is its input, byte for byte
    (key order, spacing and numbers as written); its counts are pycocotools'."""
    data = load_json(DATA)
    src = write_layout(data, tmp_path / "in", "sa1b")
    one = sorted(src.rglob("*.json"))[0]
    rec = orjson.loads(one.read_bytes())
    one.write_text(json.dumps(rec, indent=1))  # spacing the text path must keep
    shards.run(src, tmp_path / "out")
    out = (tmp_path / "out" / one.relative_to(src)).read_text()
    got = json.loads(out)
    assert got["image"] == rec["image"]
    assert [a["id"] for a in got["annotations"]] == [a["id"] for a in rec["annotations"]]
    assert out.startswith('{\n "image": {\n')
    want = _expected(data)
    for a in got["annotations"]:
        assert a["segmentation"]["counts"] == want[a["id"]][0]


def test_find_shards_glob_and_list(tmp_path):
    src = write_layout(load_json(DATA), tmp_path / "in", "coco")
    by_glob = shards.find_shards(str(src / "d0" / "*.json"))
    assert [str(r) for _, r in by_glob] == sorted(p.name for p in (src / "d0").glob("*.json"))
    files = [p for p, _ in by_glob]
    assert [p for p, _ in shards.find_shards(files)] == files


# ---- errors -----------------------------------------------------------------------------


def test_find_shards_errors(tmp_path):
    with pytest.raises(ValueError, match="inputs: .* is not a file, a folder or a glob"):
        shards.find_shards(tmp_path / "missing")
    with pytest.raises(ValueError, match="inputs must name at least one shard"):
        shards.find_shards([])
    with pytest.raises(TypeError, match="inputs must be a path or a list of paths, got int"):
        shards.find_shards(3)
    with pytest.raises(TypeError, match="inputs must be paths, got int"):
        shards.find_shards([3])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .json, .jsonl or .parquet shard"):
        shards.find_shards(tmp_path / "empty")
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="would both be written to x.json"):
        shards.find_shards([tmp_path / "a", tmp_path / "b"])


def test_read_write_errors(tmp_path):
    (tmp_path / "x.txt").write_text("{}")
    with pytest.raises(ValueError, match="path: .* is not a .json, .jsonl or .parquet shard"):
        shards.read_shard(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="fmt must be one of"):
        shards.read_shard(tmp_path / "x.txt", fmt="csv")
    with pytest.raises(shards.ShardError, match="cannot read"):
        shards.read_shard(tmp_path / "none.json")
    (tmp_path / "l.json").write_text("[1]")
    with pytest.raises(shards.ShardError, match="the top level must be an object"):
        shards.read_shard(tmp_path / "l.json")
    (tmp_path / "r.jsonl").write_text('{"image": 3}\n')
    with pytest.raises(shards.ShardError, match="each record must be an object with an 'image'"):
        shards.read_shard(tmp_path / "r.jsonl")
    with pytest.raises(TypeError, match="data must be a dict from read_shard, got list"):
        shards.write_shard([], tmp_path / "o.json")
    with pytest.raises(ValueError, match="fmt must be one of"):
        shards.write_shard({"annotations": []}, tmp_path / "o.json", fmt="csv")


def test_parquet_errors(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1]}), tmp_path / "a.parquet")
    with pytest.raises(
        shards.ShardError, match="needs the columns image_id, height, width, counts"
    ):
        shards.read_shard(tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_text("nope")
    with pytest.raises(shards.ShardError, match="cannot read"):
        shards.read_shard(tmp_path / "b.parquet")
    data = {
        "images": [{"id": 1, "height": 2, "width": 2}],
        "annotations": [{"id": 5, "image_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1]]}],
    }
    with pytest.raises(ValueError, match="needs compressed RLEs; annotation 5 has none"):
        shards.write_shard(data, tmp_path / "o.parquet", fmt="parquet")


def test_run_and_process_errors(tmp_path):
    with pytest.raises(ValueError, match="engine must be 'local' or 'ray', got 'dask'"):
        shards.run(tmp_path, tmp_path / "o", engine="dask")
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(ValueError, match="job must be one of convert, validate, boxes, got 'x'"):
        shards.run(tmp_path / "a.json", tmp_path / "o", job="x")
    with pytest.raises(ValueError, match="job must be one of"):
        shards.process_shard(tmp_path / "a.json", "a.json", tmp_path / "o", job="x")
    with pytest.raises(ValueError, match="out_format must be one of"):
        shards.process_shard(tmp_path / "a.json", "a.json", tmp_path / "o", out_format="csv")


# ---- the command line ----------------------------------------------------------------------


def test_cli_convert_folder(tmp_path, capsys):
    src = write_layout(load_json(DATA), tmp_path / "in", "sa1b")
    rc = cli.main(["convert", str(src), "-o", str(tmp_path / "out"), "--recompute", "--quiet"])
    assert rc == 0
    report = json.loads((tmp_path / "out" / shards.REPORT_NAME).read_text())
    assert report["job"] == "convert" and report["failed"] == []
    assert len(report["shards"]) == len(list(src.rglob("*.json")))


def test_cli_glob_validate_and_invalid(tmp_path, capsys):
    src, bad_id = _bad_shards(tmp_path)
    rc = cli.main(["validate", str(src / "*" / "*.json"), "-o", str(tmp_path / "v"), "--quiet"])
    assert rc == 1
    assert "failed: 1 invalid annotation(s)" in capsys.readouterr().err
    rc = cli.main(
        [
            "validate",
            str(src / "*" / "*.json"),
            "-o",
            str(tmp_path / "v"),
            "--skip-invalid",
            "--quiet",
        ]
    )
    assert rc == 0


def test_cli_several_shards(tmp_path):
    src = write_layout(load_json(DATA), tmp_path / "in", "coco")
    files = [str(p) for p in sorted(src.rglob("*.json"))[:2]]
    rc = cli.main(["convert", *files, "-o", str(tmp_path / "out"), "--quiet"])
    assert rc == 0
    assert len(list((tmp_path / "out").rglob("shard*.json"))) == 2
