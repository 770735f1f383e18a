"""The maskprep command on bad inputs, bad outputs and signals (issue 10): every failure is one
line on stderr (``maskprep: error: ...``) and a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from maskprep import cli, coco, rle

TINY = {
    "images": [{"id": 1, "height": 10, "width": 12, "file_name": "x.png"}],
    "annotations": [
        {"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6]]},
    ],
    "categories": [{"id": 1, "name": "thing"}],
}


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def _one_error_line(err, *parts):
    """stderr is exactly one ``maskprep: error:`` line holding every part."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("maskprep: error: "), err
    assert "Traceback" not in err
    for part in parts:
        assert part in lines[0], (part, err)
    return lines[0]


def _run(*args, env=None, **kwargs):
    """The command in a subprocess (for stdout, signals and the console behaviour)."""
    code = "import sys; from maskprep import cli; sys.exit(cli.main())"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        **kwargs,
    )


# ---- input that is not a COCO instances file ------------------------------------------------


def _results_file(tmp_path):
    src = shared_file("annotations", "coco_val2014_fakesegm100_results.json")
    return src


@pytest.mark.parametrize(
    "command",
    [
        ["validate"],
        ["convert", "-o", "{out}"],
        ["convert", "--to", "polygon", "-o", "{out}"],
        ["boxes", "-o", "{out}"],
        ["show", "--images", "{tmp}", "--out", "{tmp}/o"],
    ],
)
@pytest.mark.parametrize("real", [False, True])
def test_a_results_file_is_named_as_such(tmp_path, capsys, command, real):
    if real:
        src = shared_file("annotations", "coco_val2014_fakesegm100_results.json")
    else:
        src = _write(tmp_path / "res.json", [{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])
    argv = [command[0], str(src)] + [
        a.format(out=tmp_path / "out.json", tmp=tmp_path) for a in command[1:]
    ]
    assert cli.main(argv) == 2
    # issue 14: a results file is read with --gt GT.json; boxes takes instances files only
    _one_error_line(
        capsys.readouterr().err,
        "is a COCO results file (a JSON list)",
        "boxes adds masks to the annotations" if command[0] == "boxes" else "needs --gt GT.json",
    )
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("text", ['"instances"', "5", "null"])
@pytest.mark.parametrize("command", ["validate", "convert"])
def test_a_top_level_that_is_not_an_object(tmp_path, capsys, text, command):
    src = tmp_path / "in.json"
    src.write_text(text)
    argv = [command, str(src)] + (["-o", str(tmp_path / "o.json")] if command == "convert" else [])
    assert cli.main(argv) == 2
    _one_error_line(capsys.readouterr().err, "the top level must be an object")


@pytest.mark.parametrize(
    "data, what",
    [
        ({"annotations": {}}, "annotations must be a list, got dict"),
        ({"images": {"id": 1}}, "images must be a list, got dict"),
        ({"annotations": [1, 2]}, "annotations[0] must be an object (2 are not)"),
        ({"categories": "x"}, "categories must be a list, got str"),
    ],
)
def test_lists_that_are_not_lists_are_errors(tmp_path, capsys, data, what):
    src = _write(tmp_path / "in.json", data)
    assert cli.main(["validate", str(src)]) == 1
    assert f"error: dataset: {what}" in capsys.readouterr().err
    out = tmp_path / "o.json"
    for to in ("rle", "polygon"):
        code = cli.main(["convert", str(src), "-o", str(out), "--to", to])
        err = capsys.readouterr().err
        if to == "rle" and "categories" in what:
            assert code == 0  # the scanner reads only images and annotations
            continue
        assert code == 1, err
        _one_error_line(err, "must be a")
    assert (
        cli.main(["show", str(src), "--images", str(tmp_path), "--out", str(tmp_path / "s")]) == 1
    )
    _one_error_line(capsys.readouterr().err, what.split(",")[0])


def test_nesting_deeper_than_the_scanner_takes_names_the_limit(tmp_path, capsys):
    deep = {"images": [], "annotations": [], "info": json.loads("[" * 600 + "]" * 600)}
    src = _write(tmp_path / "in.json", deep)
    assert cli.main(["validate", str(src), "--quiet"]) == 0  # valid JSON
    assert cli.main(["convert", str(src), "-o", str(tmp_path / "o.json")]) == 2
    _one_error_line(capsys.readouterr().err, "nested deeper than 512 levels", "maskprep's limit")
    src.write_text('{"info": ' + "[" * 2000 + "]" * 2000 + "}")  # beyond orjson's limit too
    assert cli.main(["validate", str(src)]) == 2
    _one_error_line(
        capsys.readouterr().err, "nested deeper than 512 levels of arrays and objects at byte 520"
    )


@pytest.mark.parametrize(
    "raw, what",
    [
        (b'{"images": [], "info": NaN}', "at byte 23: NaN/Infinity are not valid JSON"),
        (b'{"images": [], "info": -Infinity}', "at byte 23: NaN/Infinity are not valid JSON"),
        (b'{"images": [], "info": 1e400}', "at byte 23: number out of the range of a double"),
        (b'{"images": [], "info": -2E+308}', "at byte 23: number out of the range of a double"),
        (b'{"images": [], "info": "\xff"}', "at byte 24: invalid UTF-8 byte in a string"),
        (b'{"images": [], "info": "\\ud800"}', "at byte 24: lone surrogate \\u escape"),
        (b'{"images": [], "info": "\\udfff\\ud800"}', "at byte 24: lone surrogate"),
    ],
)
def test_convert_and_validate_reject_the_same_text_alike(tmp_path, capsys, raw, what):
    # convert used to copy such strings into an output that is not JSON (exit 0)
    src = tmp_path / "in.json"
    src.write_bytes(raw)
    messages = []
    for argv in (
        ["validate", str(src)],
        ["convert", str(src), "-o", str(tmp_path / "o.json")],
        ["convert", str(src), "-o", str(tmp_path / "o.json"), "--to", "polygon"],
    ):
        assert cli.main(argv) == 2
        messages.append(_one_error_line(capsys.readouterr().err, "is not valid JSON " + what))
    assert len(set(messages)) == 1
    assert not (tmp_path / "o.json").exists()


def test_valid_utf8_and_surrogate_pairs_are_copied(tmp_path):
    data = dict(TINY, info={"name": "caf\u00e9 \U0001f600"})
    src = tmp_path / "in.json"
    src.write_bytes(json.dumps(data, ensure_ascii=False).encode())
    out = tmp_path / "o.json"
    assert cli.main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    assert json.loads(out.read_bytes())["info"] == data["info"]
    src.write_text(json.dumps(data))  # as \ud83d\ude00 escapes
    assert cli.main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    assert json.loads(out.read_bytes())["info"] == data["info"]


# ---- image sizes ------------------------------------------------------------------------------


def test_integral_float_sizes_are_ints_in_every_command(tmp_path, capsys):
    as_float = json.loads(json.dumps(TINY))
    as_float["images"][0].update(height=10.0, width=12.0)
    crowd = {
        "id": 8,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 1,
        "segmentation": {"counts": [13, 3, 104]},
    }
    as_int = json.loads(json.dumps(TINY))
    as_int["annotations"].append(
        dict(crowd, segmentation={**crowd["segmentation"], "size": [10, 12]})
    )
    as_float["annotations"].append(
        dict(crowd, segmentation={**crowd["segmentation"], "size": [10.0, 12.0]})
    )
    outs = {}
    for name, data in (("int", as_int), ("float", as_float)):
        src = _write(tmp_path / f"{name}.json", data)
        assert cli.main(["validate", str(src), "--quiet"]) == 0
        for to in ("rle", "polygon"):
            out = tmp_path / f"{name}-{to}.json"
            assert cli.main(["convert", str(src), "-o", str(out), "--to", to, "--quiet"]) == 0
            outs[name, to] = json.loads(out.read_text())["annotations"]
    assert outs["int", "rle"] == outs["float", "rle"]
    assert outs["int", "polygon"] == outs["float", "polygon"]
    assert [a["segmentation"]["size"] for a in outs["float", "rle"]] == [[10, 12], [10, 12]]


@pytest.mark.parametrize(
    "height, width",
    [(10.5, 12), ("10", 12), (True, 12), (-1, 12), (2**63, 12), (2**40, 2**40), (None, 12)],
)
def test_sizes_that_are_not_sizes_are_errors_everywhere(tmp_path, capsys, height, width):
    # 2**63 and 2**40 x 2**40 used to be tracebacks (int64 overflow, h*w overflow)
    data = json.loads(json.dumps(TINY))
    data["images"][0].update(height=height, width=width)
    src = _write(tmp_path / "in.json", data)
    assert cli.main(["validate", str(src)]) == 1
    err = capsys.readouterr().err
    assert "error: image 1: needs non-negative integer height and width (at most 2147483647)" in err
    assert "Traceback" not in err and "annotation 7" not in err  # the image's error covers it
    out = tmp_path / "o.json"
    for to in ("rle", "polygon"):
        assert cli.main(["convert", str(src), "-o", str(out), "--to", to]) == 1
        _one_error_line(capsys.readouterr().err, "image 1 needs non-negative integer height")
    assert not out.exists()


# ---- outputs ---------------------------------------------------------------------------------


def test_full_disk_is_exit_3_in_one_line(tmp_path, capsys):
    # /dev/full: every write fails with ENOSPC, as on a full disk.
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    src = _write(tmp_path / "in.json", TINY)
    for to in ("rle", "polygon"):
        assert cli.main(["convert", str(src), "-o", "/dev/full", "--to", to]) == 3
        _one_error_line(capsys.readouterr().err, "cannot write /dev/full: No space left on device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # written to, not replaced


def test_unwritable_folder_is_exit_3_in_one_line(tmp_path, capsys):
    # Root ignores directory permissions (chmod 0500 would not stop it): /sys refuses new files
    # to everyone (EACCES), which is what a read-only folder does.
    target = Path("/sys/maskprep-test-output.json")
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(target)
        pytest.skip("/sys is writable here")
    except OSError:
        pass
    src = _write(tmp_path / "in.json", TINY)
    assert cli.main(["convert", str(src), "-o", str(target)]) == 3
    line = _one_error_line(capsys.readouterr().err, f"cannot write {target}")
    assert ".tmp" not in line


def test_missing_output_folder_names_the_output(tmp_path, capsys):
    src = _write(tmp_path / "in.json", TINY)
    out = tmp_path / "nowhere" / "out.json"
    for command in (["convert"], ["boxes"]):
        assert cli.main([*command, str(src), "-o", str(out)]) == 3
        line = _one_error_line(
            capsys.readouterr().err, f"cannot write {out}", f"{out.parent} does not exist"
        )
        assert ".tmp" not in line


def test_a_folder_as_output_is_an_error(tmp_path, capsys):
    src = _write(tmp_path / "in.json", TINY)
    for out in (str(tmp_path / "newdir") + "/", str(tmp_path)):
        assert cli.main(["convert", str(src), "-o", out]) == 3
        _one_error_line(capsys.readouterr().err, f"{out} is a folder")
    assert not (tmp_path / "newdir").exists()  # used to be written as a file called newdir


def test_output_through_a_symlink_replaces_its_target(tmp_path):
    src = _write(tmp_path / "in.json", TINY)
    target = tmp_path / "real" / "out.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert cli.main(["convert", str(src), "-o", str(link), "--quiet"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["annotations"][0]["segmentation"]["size"] == [10, 12]
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]  # no temp left


def test_output_to_a_symlinked_device_or_pipe_writes_into_it(tmp_path):
    # -o /dev/stdout as root used to replace /dev/stdout with a regular file; the same path
    # (a symlink to something that is not a regular file) is tested on files of our own.
    src = _write(tmp_path / "in.json", TINY)
    link = tmp_path / "null.json"
    link.symlink_to(os.devnull)
    assert cli.main(["convert", str(src), "-o", str(link), "--quiet"]) == 0
    assert link.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert cli.main(["convert", str(src), "-o", str(fifo), "--quiet"]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["images"] == TINY["images"]


def test_dash_writes_to_stdout(tmp_path):
    src = _write(tmp_path / "in.json", TINY)
    res = _run("convert", src, "-o", "-")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["annotations"][0]["segmentation"]["size"] == [10, 12]
    assert b"converted 1 annotations" in res.stderr  # the summary stays off the JSON
    assert not (tmp_path / "-").exists()
    res = _run("convert", src, "-o", "/dev/stdout", "--quiet")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["images"] == TINY["images"]
    assert os.path.islink("/dev/stdout") or stat.S_ISCHR(os.stat("/dev/stdout").st_mode)


def test_output_modes_follow_the_umask_and_are_kept_on_overwrite(tmp_path):
    src = _write(tmp_path / "in.json", TINY)
    old = os.umask(0o027)
    try:
        new = tmp_path / "new.json"
        assert cli.main(["convert", str(src), "-o", str(new), "--quiet"]) == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o640  # mkstemp made every output 0600
        kept = tmp_path / "kept.json"
        kept.write_text("old")
        kept.chmod(0o644)
        for to in ("rle", "polygon"):
            assert cli.main(["convert", str(src), "-o", str(kept), "--to", to, "--quiet"]) == 0
            assert stat.S_IMODE(kept.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_files_of_dead_runs_are_removed(tmp_path):
    src = _write(tmp_path / "in.json", TINY)
    out = tmp_path / "out.json"
    stale = tmp_path / f".out.json.maskprep-{_dead_pid()}.tmp"
    alive = tmp_path / f".out.json.maskprep-{os.getppid()}.tmp"  # a live process: maybe writing
    other = tmp_path / f".other.json.maskprep-{_dead_pid()}.tmp"  # another output's: not ours
    for p in (stale, alive, other):
        p.write_text("partial")
    assert cli.main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    assert not stale.exists() and alive.exists() and other.exists()


# ---- signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("to", ["rle", "polygon"])
def test_signal_during_the_final_write_cleans_up(tmp_path, sig, code, to):
    # MASKPREP_TEST_PAUSE_BEFORE_RENAME holds the finished temporary file before its rename:
    # the signal arrives exactly while the output is being written, every time.
    src = _write(tmp_path / "in.json", TINY)
    out = tmp_path / "out.json"
    env = {**os.environ, "MASKPREP_TEST_PAUSE_BEFORE_RENAME": "60"}
    code_ = "import sys; from maskprep import cli; sys.exit(cli.main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code_, "convert", str(src), "-o", str(out), "--to", to],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    tmp = tmp_path / f".out.json.maskprep-{proc.pid}.tmp"
    deadline = time.monotonic() + 60
    while not tmp.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert tmp.exists(), proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    word = "interrupted (SIGINT)" if sig == signal.SIGINT else "terminated (SIGTERM)"
    _one_error_line(err.decode(), word, "no output written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


def test_a_run_killed_during_the_write_is_cleaned_up_by_the_next(tmp_path):
    # SIGKILL cannot be handled: its temporary file stays, named with the dead pid, and the
    # next run writing the same output removes it.
    src = _write(tmp_path / "in.json", TINY)
    out = tmp_path / "out.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from maskprep import cli; sys.exit(cli.main())",
            "convert",
            str(src),
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MASKPREP_TEST_PAUSE_BEFORE_RENAME": "60"},
    )
    tmp = tmp_path / f".out.json.maskprep-{proc.pid}.tmp"
    deadline = time.monotonic() + 60
    while not tmp.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=60)
    assert tmp.exists() and not out.exists()
    assert cli.main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out.json"]


# ---- internal errors and arguments -------------------------------------------------------------


def test_an_internal_error_is_one_line_that_says_bug(tmp_path, capsys, monkeypatch):
    src = _write(tmp_path / "in.json", TINY)

    def broken(*args, **kwargs):
        raise TypeError("something unexpected")

    monkeypatch.setattr(coco, "validate", broken)
    assert cli.main(["validate", str(src)]) == 4
    _one_error_line(
        capsys.readouterr().err, "a bug in maskprep", "TypeError: something", "MASKPREP_DEBUG=1"
    )
    monkeypatch.setenv("MASKPREP_DEBUG", "1")
    assert cli.main(["validate", str(src)]) == 4
    err = capsys.readouterr().err
    assert "Traceback" in err and "something unexpected" in err


def test_global_options_before_or_after_the_command(tmp_path, capsys):
    src = _write(tmp_path / "in.json", TINY)
    out = str(tmp_path / "o.json")
    assert cli.main(["--num-threads", "1", "convert", src.as_posix(), "-o", out]) == 0
    assert "converted 1" in capsys.readouterr().out
    assert cli.main(["--quiet", "--num-threads", "1", "convert", str(src), "-o", out]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["--quiet", "convert", str(src), "-o", out, "--num-threads", "2"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["--num-threads", "0", "validate", str(src)]) == 2
    _one_error_line(capsys.readouterr().err, "--num-threads must be -1 or a positive integer")


def test_bad_arguments_are_one_line(tmp_path):
    res = _run("convert", tmp_path / "in.json")
    assert res.returncode == 2
    _one_error_line(res.stderr.decode(), "required: -o/--output", "maskprep convert --help")


def test_exit_codes_are_documented():
    for text in (cli.__doc__, cli.EXIT_CODES):
        for code in ("0", "1", "2", "3", "4", "130", "143"):
            assert f" {code} " in text.replace("\n", " "), (code, text)
    for argv in (["--help"], ["convert", "--help"], ["show", "--help"]):
        res = _run(*argv)
        assert res.returncode == 0 and cli.EXIT_CODES in res.stdout.decode()
    readme = Path(__file__).resolve().parents[1] / "README.md"
    assert "3 the output cannot be written" in readme.read_text()


# ---- lists of ids ------------------------------------------------------------------------------


def test_long_lists_of_failing_ids_say_how_many_more(tmp_path, capsys):
    data = json.loads(json.dumps(TINY))
    data["annotations"] = [
        {"id": k, "image_id": 1, "segmentation": [[0, 0, 5, 0, 5]]} for k in range(25)
    ]
    src = _write(tmp_path / "in.json", data)
    for to in ("rle", "polygon"):
        assert cli.main(["convert", str(src), "-o", str(tmp_path / "o.json"), "--to", to]) == 1
        line = _one_error_line(capsys.readouterr().err, "25 annotation(s) cannot be converted")
        assert "id 19:" in line and "id 20:" not in line and line.endswith("; and 5 more")
    assert cli.main(["convert", str(src), "-o", str(tmp_path / "o.json"), "--skip-invalid"]) == 0
    assert "ids: [0, 1, 2," in capsys.readouterr().err


def test_boxes_reports_a_missing_image_once(tmp_path, capsys):
    data = json.loads(json.dumps(TINY))
    data["annotations"] = [{"id": k, "image_id": 1, "bbox": [1, 1, 3, 3]} for k in range(3)]
    src = _write(tmp_path / "in.json", data)
    out = tmp_path / "o.json"
    argv = ["boxes", str(src), "-o", str(out), "--method", "grow", "--images", str(tmp_path)]
    assert cli.main(argv) == 1
    line = _one_error_line(capsys.readouterr().err, "3 annotation(s) cannot be given a mask")
    assert line.count("image 1: no file x.png") == 1 and "(annotation(s) 0, 1, 2)" in line
    assert cli.main([*argv, "--skip-invalid"]) == 0
    err = capsys.readouterr().err
    assert err.count("no file x.png") == 1 and "skipped 3 annotation(s)" in err


# ---- validate ----------------------------------------------------------------------------------


def test_quiet_validate_prints_errors_only(tmp_path, capsys):
    data = json.loads(json.dumps(TINY))
    data["annotations"] += [
        {"id": 8, "image_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6]], "area": 900.0},
        {"id": 9, "image_id": 1, "segmentation": [[1, 1, 6, 1, 6]]},
    ]
    src = _write(tmp_path / "in.json", data)
    assert cli.main(["validate", str(src), "--quiet"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert "error: annotation 9" in out.err and "warning" not in out.err


@pytest.mark.parametrize(
    "name",
    [
        "coco_instances_val2014_100img.json",
        "cocomini_instances_val2017.json",
        "cocomini_instances_train2017.json",
    ],
)
def test_bbox_warnings_on_real_files_are_not_false_alarms(name):
    # COCO's bboxes are the extent of the polygon points; the rasterized mask's box differs by up
    # to a few pixels, which made 37 false warnings on these three files (11, 9, 17).
    from maskprep import rle

    data = coco.load(shared_file("annotations", name))
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    old_rule = 0
    for a in data["annotations"]:
        h, w = sizes[a["image_id"]]
        b = rle.to_bbox(rle.from_segmentations([a["segmentation"]], (h, w)))[0]
        s = a["bbox"]
        edges = zip([b[0], b[1], b[0] + b[2], b[1] + b[3]], [s[0], s[1], s[0] + s[2], s[1] + s[3]])
        old_rule += max(abs(x - y) for x, y in edges) > 2
    assert old_rule >= 9
    bbox_warnings = [p for p in coco.validate(data) if "bbox" in p.message]
    assert bbox_warnings == []
    # a bbox that really disagrees is still reported
    a = next(a for a in data["annotations"] if isinstance(a["segmentation"], list))
    a["bbox"] = [a["bbox"][0] + 5, *a["bbox"][1:]]
    assert [p.ann_id for p in coco.validate(data) if "bbox" in p.message] == [a["id"]]


def test_rle_bboxes_are_checked_against_the_rles_box(tmp_path):
    data = json.loads(json.dumps(TINY))
    counts = [13, 3, 7, 3, 94]  # column-major: columns 1 and 2, rows 3..5
    data["annotations"] = [
        {
            "id": 1,
            "image_id": 1,
            "segmentation": {"size": [10, 12], "counts": counts},
            "bbox": [1, 3, 2, 3],
        },
        {
            "id": 2,
            "image_id": 1,
            "segmentation": {"size": [10, 12], "counts": counts},
            "bbox": [1, 3, 5, 3],
        },
    ]
    problems = [p for p in coco.validate(data) if "bbox" in p.message]
    assert [(p.ann_id, p.message) for p in problems] == [
        (2, "bbox [1, 3, 5, 3] but the RLE's box is [1.0, 3.0, 2.0, 3.0]")
    ]


# ---- show --------------------------------------------------------------------------------------


def _show_data(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((10, 12, 3), 40, np.uint8)).save(images / "000000000001.png")
    Image.fromarray(np.full((20, 12, 3), 40, np.uint8)).save(images / "b.png")  # wrong size
    (images / "c.png").write_bytes(b"not an image")
    data = {
        "images": [
            {"id": 1, "height": 10, "width": 12, "file_name": "COCO_val2014_000000000001.png"},
            {"id": 2, "height": 10, "width": 12, "file_name": "b.png"},
            {"id": 3, "height": 10, "width": 12, "file_name": "c.png"},
            {"id": 4, "height": 10, "width": 12, "file_name": "gone.png"},
            {"id": 5, "height": 10, "width": 12, "coco_url": "http://x/val2017/000000000001.png"},
        ],
        "annotations": [
            {"id": k, "image_id": k, "category_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6]]}
            for k in range(1, 6)
        ],
    }
    return _write(tmp_path / "in.json", data), images


def test_show_finds_lvis_and_coco_url_names(tmp_path, capsys):
    src, images = _show_data(tmp_path)
    out = tmp_path / "o"
    argv = ["show", str(src), "--images", str(images), "--out", str(out), "--quiet"]
    assert cli.main([*argv, "--ids", "1", "5"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "5.png"]


def test_show_missing_images_fail_before_writing(tmp_path, capsys):
    src, images = _show_data(tmp_path)
    out = tmp_path / "o"
    assert cli.main(["show", str(src), "--images", str(images), "--out", str(out)]) == 2
    _one_error_line(
        capsys.readouterr().err, "1 image file(s) not found", "image 4: no file gone.png"
    )
    assert not out.exists()  # used to stop at the first and leave an empty folder


def test_show_reports_unreadable_and_wrong_size_images_by_id(tmp_path, capsys):
    src, images = _show_data(tmp_path)
    out = tmp_path / "o"
    argv = ["show", str(src), "--images", str(images), "--out", str(out), "--quiet"]
    assert cli.main([*argv, "--ids", "1", "2", "3"]) == 1
    line = _one_error_line(capsys.readouterr().err, "2 image(s) cannot be shown")
    assert "image 2: " in line and "is 12x20 but images says 12x10" in line
    assert "image 3: " in line and "cannot be read" in line
    assert sorted(p.name for p in out.iterdir()) == ["1.png"]  # the good one is still drawn
    assert cli.main([*argv, "--skip-missing"]) == 0
    err = capsys.readouterr().err
    assert "skipped 3 image(s)" in err and "image 4: no file gone.png" in err
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "5.png"]


def test_kernel_failures_on_one_annotation_are_reported_by_its_id(tmp_path, capsys, monkeypatch):
    # An RLE the kernels refuse, or a mask too large for memory, used to fail the whole file
    # (rles[0]: ...) or be a traceback; each is now an error of its own annotation.
    from maskprep import rle

    data = json.loads(json.dumps(TINY))
    data["images"].append({"id": 2, "height": 11, "width": 12})
    data["annotations"].append(
        {"id": 8, "image_id": 2, "category_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6]]}
    )
    src = _write(tmp_path / "in.json", data)
    area, decode = rle.area, rle.decode

    def refusing(real):
        def call(rles, *args, **kwargs):
            if any(r["size"][0] == 11 for r in rles):
                raise MemoryError
            return real(rles, *args, **kwargs)

        return call

    monkeypatch.setattr(rle, "area", refusing(area))
    monkeypatch.setattr(rle, "decode", refusing(decode))
    assert cli.main(["validate", str(src)]) == 1
    err = capsys.readouterr().err
    assert "error: annotation 8: the 11 x 12 mask does not fit in memory" in err
    assert "annotation 7" not in err and "Traceback" not in err
    out = tmp_path / "o.json"
    for extra in (["--to", "polygon", "--recompute"], ["--to", "polygon"]):  # the Python path
        assert cli.main(["convert", str(src), "-o", str(out), *extra]) == 1
        _one_error_line(capsys.readouterr().err, "1 annotation(s) cannot be converted: id 8: the")
        assert cli.main(["convert", str(src), "-o", str(out), *extra, "--skip-invalid"]) == 0
        assert "skipped 1 invalid annotation(s), ids: [8]" in capsys.readouterr().err
        anns = json.loads(out.read_text())["annotations"]
        assert anns[1] == data["annotations"][1] and anns[0] != data["annotations"][0]


def test_the_largest_images_give_no_traceback(tmp_path, capsys):
    # 2^31 - 1 on a side (the limit): h * w fits 64 bits. The RLE jobs work on such images (the
    # 64-bit string codec reads back what it writes); tracing polygons needs the dense mask, which
    # cannot be allocated: one line per annotation id, exit 1.
    side = 2**31 - 1
    data = {
        "images": [{"id": 1, "height": side, "width": side}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]},
            {
                "id": 6,
                "image_id": 1,
                "segmentation": {"size": [side, side], "counts": [side * side]},
            },
        ],
    }
    src = _write(tmp_path / "in.json", data)
    for argv, expect in (
        (["validate", str(src)], 0),
        (["convert", str(src), "-o", str(tmp_path / "r.json"), "--recompute"], 0),
        (["convert", str(src), "-o", str(tmp_path / "o.json"), "--to", "rle"], 0),
        (["convert", str(src), "-o", str(tmp_path / "p.json"), "--to", "polygon"], 1),
    ):
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == expect and "Traceback" not in err, (argv, err)
        for line in err.splitlines():
            assert line.startswith(("error: annotation ", "maskprep: error: ")), line
    assert "id 5: the 2147483647 x 2147483647 mask does not fit in memory" in err
    anns = json.loads((tmp_path / "r.json").read_text())["annotations"]
    assert [a["area"] for a in anns] == [10.0, 0.0]
    assert rle.area([a["segmentation"] for a in anns]).tolist() == [10, 0]
