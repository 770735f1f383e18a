"""Whole-file conversion on the JSON text (coco.convert_file, C++ coco_json): equal to
pycocotools' COCO.annToRLE per annotation, everything else copied verbatim, and every way a
file can be wrong reported clearly."""

from __future__ import annotations

import json
import re

import numpy as np
import orjson
import pytest

from conftest import shared_file
from maskprep import _core, coco

M = pytest.importorskip("pycocotools.mask")
FILES = [
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
]


def convert_text(data, *, recompute=False, keep_going=False, num_threads=1, progress=None):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    out, report, errors = _core.coco_convert_to_rle(
        raw, recompute, keep_going, progress, num_threads=num_threads
    )
    return out.tobytes(), report, errors


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("recompute", [False, True])
def test_real_files_equal_the_object_path(name, recompute, tmp_path):
    # The object path (coco.convert) is itself checked against pycocotools in test_cli.
    src = shared_file("annotations", name)
    dst = tmp_path / "out.json"
    report = coco.convert_file(src, dst, recompute=recompute)
    expected = coco.load(src)
    ref = coco.convert(expected, recompute=recompute)
    assert orjson.loads(dst.read_bytes()) == expected
    assert (report.converted, report.polygons, report.rles) == (
        ref.converted,
        ref.polygons,
        ref.rles,
    )


def test_real_file_against_pycocotools():
    src = shared_file("annotations", "cocomini_instances_train2017.json")
    data = json.loads(src.read_text())
    out, _, errors = convert_text(src.read_bytes())
    assert errors == []
    imgs = {im["id"]: im for im in data["images"]}
    for a, b in zip(data["annotations"], orjson.loads(out)["annotations"]):
        im = imgs[a["image_id"]]
        seg = a["segmentation"]
        if isinstance(seg, list):
            r = M.merge(M.frPyObjects(seg, im["height"], im["width"]))
        else:
            r = M.frPyObjects(seg, im["height"], im["width"])
        assert b["segmentation"] == {"size": r["size"], "counts": r["counts"].decode()}


def test_other_bytes_are_copied_verbatim():
    # Pretty-printed input, unusual number spellings and non-ASCII text outside the converted
    # values survive byte for byte.
    text = (
        '{\n  "info": {"description": "caf\\u00e9 \u00e9", "v": 1.50, "e": 1E+2},\n'
        '  "images": [ {"id": 1, "height": 4, "width": 5, "file_name": "a b.jpg"} ],\n'
        '  "annotations": [\n'
        '    {"segmentation": [[0, 0, 4, 0, 4, 3]], "extra": [1.0, -0.0, null, true],\n'
        '     "image_id": 1, "id": 7, "area": 6.00}\n'
        "  ],\n"
        '  "categories": []\n}\n'
    ).encode()
    out, report, _ = convert_text(text)
    r = M.merge(M.frPyObjects([[0, 0, 4, 0, 4, 3]], 4, 5))
    seg = b'{"size":[4,5],"counts":"' + r["counts"] + b'"}'
    assert out == text.replace(b"[[0, 0, 4, 0, 4, 3]]", seg)
    assert report == {"images": 1, "annotations": 1, "converted": 1, "polygons": 1, "rles": 0}


def test_recompute_replaces_or_adds_area_and_bbox():
    data = {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "area": 1,
                "bbox": [0, 0, 0, 0],
                "segmentation": [[1, 1, 5, 1, 5, 4]],
            },
            {"segmentation": [[2, 2, 8, 2, 8, 8, 2, 8]], "image_id": 1, "id": 2},
            {"id": 3, "image_id": 1, "bbox": [1, 2, 3, 4]},  # box only: untouched
        ],
    }
    out, report, _ = convert_text(data, recompute=True)
    anns = orjson.loads(out)["annotations"]
    for a, src in zip(anns[:2], data["annotations"]):
        r = M.merge(M.frPyObjects(src["segmentation"], 10, 10))
        assert a["area"] == float(M.area(r)) and a["bbox"] == M.toBbox(r).tolist()
        assert a["id"] == src["id"]
    assert list(anns[1]) == ["segmentation", "image_id", "id", "area", "bbox"]
    assert anns[2] == data["annotations"][2]
    assert report["converted"] == 2


def test_compressed_counts_written_with_escapes():
    # The same counts spelled with JSON escapes: every backslash as \\, and characters as \u00XX
    # (runs of plain text between escapes are copied in one piece, SIMD-scanned 16 bytes at once:
    # escapes at every offset of a 16-byte block).
    rng = np.random.default_rng(5)
    runs = rng.integers(1, 120, 60)  # runs of many lengths: '\\' stands for some deltas
    flat = np.repeat(np.arange(runs.size) % 2, runs)[: 40 * 37]
    flat = np.pad(flat, (0, 40 * 37 - flat.size))
    mask = np.asfortranarray(flat.reshape(37, 40).T, dtype=np.uint8)
    counts = M.encode(mask)["counts"].decode()
    assert "\\" in counts
    for step in (1, 3, 7, 16, 17):
        spelled = "".join(
            f"\\u{ord(c):04x}" if k % step == 0 else ("\\\\" if c == "\\" else c)
            for k, c in enumerate(counts)
        )
        text = (
            '{"images": [{"id": 1, "height": 40, "width": 37}], "annotations": [{"id": 1, '
            '"image_id": 1, "segmentation": {"size": [40, 37], "counts": "' + spelled + '"}}]}'
        )
        out, report, errors = convert_text(text.encode(), recompute=True)
        assert errors == []
        (ann,) = orjson.loads(out)["annotations"]
        assert ann["segmentation"] == {"size": [40, 37], "counts": counts}
        assert ann["area"] == float(mask.sum())


def test_rle_segmentations_uncompressed_and_compressed():
    results = json.loads(
        shared_file("annotations", "coco_val2014_fakesegm100_results.json").read_text()
    )
    segs = [r["segmentation"] for r in results[:50]]
    assert any("\\" in s["counts"] for s in segs)  # JSON-escaped backslashes are exercised
    h, w = segs[0]["size"]
    segs = [s for s in segs if s["size"] == [h, w]]
    dense = M.decode(segs)
    uncompressed = []
    for k in range(dense.shape[2]):
        m = dense[:, :, k].flatten(order="F")
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(m)) + 1, [m.size]])
        counts = ([0] if m[0] else []) + np.diff(bounds).tolist()
        uncompressed.append({"size": [h, w], "counts": counts})
    anns = [{"id": k, "image_id": 1, "segmentation": s} for k, s in enumerate(segs + uncompressed)]
    data = {"images": [{"id": 1, "height": h, "width": w}], "annotations": anns}
    out, report, errors = convert_text(data)
    assert errors == [] and report["rles"] == len(anns)
    got = [a["segmentation"] for a in orjson.loads(out)["annotations"]]
    assert got[: len(segs)] == segs  # compressed: kept as written
    for g, u in zip(got[len(segs) :], uncompressed):
        ref = M.frPyObjects(u, h, w)
        assert g == {"size": [h, w], "counts": ref["counts"].decode()}


def test_serial_equals_parallel():
    src = shared_file("annotations", "coco_instances_val2014_100img.json").read_bytes()
    data = orjson.loads(src)
    data["annotations"] = data["annotations"] * 12  # past one batch of 8192
    raw = orjson.dumps(data)
    one = convert_text(raw, num_threads=1, recompute=True)
    two = convert_text(raw, num_threads=2, recompute=True)
    assert one[0] == two[0] and one[1:] == two[1:]


def test_progress_is_reported_per_batch_and_can_interrupt():
    data = {"images": [{"id": 1, "height": 5, "width": 5}], "annotations": []}
    data["annotations"] = [
        {"id": k, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]} for k in range(20000)
    ]
    calls = []
    convert_text(data, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(8192, 20000), (16384, 20000), (20000, 20000)]

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_text(data, progress=stop)


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '{"images": [], "annotations": []}',
        '{"annotations": [{"id": 1, "segmentation": null}]}',
    ],
)
def test_nothing_to_convert_is_copied(text):
    out, report, errors = convert_text(text.encode())
    assert out == text.encode() and errors == [] and report["converted"] == 0


@pytest.mark.parametrize(
    "text, where, what",
    [
        (b"", 0, "unexpected end of the text"),
        (b'{"images": [', 12, "unexpected end"),
        (b'{"a": 1} x', 9, "text after the top-level object"),
        (b'{"a": "\\q"}', 7, "bad escape"),
        (b'{"a": "\\u12g4"}', 11, "bad \\u escape"),
        (b'{"a": "x\ny"}', 8, "control character"),
        (b'{"a": "abc', 10, "unterminated string"),
        (b'{"a": 01}', 7, "expected ',' or '}'"),
        (b'{"a": 1.}', 8, "expected a digit"),
        (b'{"a": NaN}', 6, "NaN/Infinity are not valid JSON"),
        (b'{"a": -Infinity}', 6, "NaN/Infinity are not valid JSON"),
        (b'{"a": "\xff"}', 7, "invalid UTF-8 byte in a string"),
        (b'{"a": "x\xc3("}', 8, "invalid UTF-8 sequence in a string"),
        (b'{"a": "\xed\xa0\x80"}', 7, "invalid UTF-8 sequence"),  # an encoded surrogate
        (b'{"a": "\xc0\xaf"}', 7, "invalid UTF-8 byte"),  # overlong
        (b'{"a": "\\ud800"}', 7, "lone surrogate \\u escape"),
        (b'{"a": "\\udc00"}', 7, "lone surrogate \\u escape"),
        (b'{"a": "\\ud800\\u0041"}', 7, "lone surrogate \\u escape"),
        (b'{"a" 1}', 5, "expected ':'"),
        (b"{1: 2}", 1, "expected a string key"),
        (b'{"a": [1 2]}', 9, "expected ',' or ']'"),
        (b"[1, ]", 4, "unexpected character"),
    ],
)
def test_text_that_is_not_json(tmp_path, text, where, what):
    src = tmp_path / "in.json"
    src.write_bytes(text)
    with pytest.raises(
        coco.UnreadableInput, match=rf"is not valid JSON at byte {where}: {re.escape(what)}"
    ):
        coco.convert_file(src, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(
    "special, what",
    [
        (b"\n", "control character"),
        (b"\x1f", "control character"),
        (b"\xff", "invalid UTF-8 byte in a string"),
        (b"\\q", "bad escape"),
    ],
)
def test_string_scan_finds_every_byte_at_every_offset(tmp_path, special, what):
    """The JSON scanner reads strings eight bytes at a time: a special byte is found wherever
    it falls within a word, and the valid specials ('"', an escape, UTF-8) end or continue the
    string exactly where the byte-by-byte rule does."""
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    for k in range(20):
        body = b"a" * k + special + b"b" * 11
        src.write_bytes(b'{"a": "' + body + b'"}')
        with pytest.raises(
            coco.UnreadableInput, match=rf"not valid JSON at byte {7 + k}: {re.escape(what)}"
        ):
            coco.convert_file(src, out)
        good = b"a" * k + b'\\" \xc3\xa9 \\u00e9' + b"b" * 11
        src.write_bytes(b'{"a": "' + good + b'", "z": "' + b"c" * k + b'"}')
        coco.convert_file(src, out)
        assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize(
    "data, match",
    [
        ({"images": {}}, '"images" must be an array'),
        ({"annotations": {}}, '"annotations" must be an array'),
        ({"images": [1]}, r"images\[0\] must be an object"),
        ({"images": [{"height": 2, "width": 2}]}, r"images\[0\] needs an id"),
        ({"images": [{"id": 1, "height": 2}]}, r"image 1 needs non-negative integer height"),
        ({"images": [{"id": 1, "height": 2.5, "width": 3}]}, r"got 2.5 x 3"),
        ({"images": [{"id": 1, "height": 2**31, "width": 3}]}, r"at most 2147483647"),
        ({"images": [{"id": 1, "height": "2", "width": 3}]}, "non-negative integer height"),
        ({"images": [{"id": 1, "height": -2, "width": 3}]}, "non-negative integer height"),
        ({"annotations": [[]]}, r"annotations\[0\] must be an object"),
    ],
)
def test_files_that_are_not_coco(data, match):
    with pytest.raises(ValueError, match=match):
        convert_text(data)


def test_annotation_structure_checked_after_the_syntax_and_the_images():
    # The annotations are read in the pass that validates the text, but what that pass finds
    # is reported in the old order: syntax errors, then the images, then the annotations.
    ann = '{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}'
    text = '{"annotations": [' + ann + ', 5], "images": [{"id": 1, "height": 4, "width": 4}]}'
    with pytest.raises(ValueError, match=r"annotations\[1\] must be an object"):
        convert_text(text.encode())
    with pytest.raises(_core.JsonSyntaxError, match="expected ',' or '}'"):
        convert_text(text.replace(', "images"', ' "images"').encode())
    with pytest.raises(ValueError, match=r"images\[0\] needs an id"):
        convert_text(text.replace('"id": 1, "height"', '"height"').encode())


def test_repeated_annotations_key_the_last_one_counts():
    # As json.load keeps the last of repeated keys, whatever the earlier value was.
    first = '[{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}, 5]'
    second = '[{"id": 2, "image_id": 1, "segmentation": [[0, 0, 2, 0, 2, 2]]}]'
    images = '"images": [{"id": 1, "height": 4, "width": 4}]'
    for a, b in ((first, second), ('"none"', second), ("[]", second)):
        text = "{" + f'"annotations": {a}, {images}, "annotations": {b}' + "}"
        out, report, errors = convert_text(text.encode())
        assert errors == [] and report["annotations"] == 1 and report["converted"] == 1
        assert [x["id"] for x in json.loads(out)["annotations"]] == [2]
    text = "{" + f'"annotations": {second}, {images}, "annotations": {{}}' + "}"
    with pytest.raises(ValueError, match='"annotations" must be an array'):
        convert_text(text.encode())


IMAGE = {"id": 1, "height": 10, "width": 10}


@pytest.mark.parametrize(
    "segmentation, match",
    [
        ([[0, 0, 5, 0, 5]], "segmentation polygon 0 must have an even number of coordinates"),
        ([[0, 0, 5, 0, 5, 5], [1, 1, 2, 2]], "segmentation polygon 1 must have at least 3 point"),
        ([[0, 0, "5", 0, 5, 5]], "segmentation polygon 0 must be a list of numbers"),
        ([5], "segmentation polygon 0 must be a list of numbers"),
        ([[0, 0, 5, 0, 5, 3e9]], "segmentation polygon 0 has coordinate 3e"),
        ("polygon", "segmentation must be a polygon list or an RLE dict"),
        ({"size": [10, 10]}, 'segmentation is a dict without "size" and "counts"'),
        (
            {"size": [10], "counts": [100]},
            r"segmentation size must be \[height, width\], got \[10\]",
        ),
        (
            {"size": [10, 9], "counts": [90]},
            r"segmentation has size \[10, 9\] but its image is 10 x 10",
        ),
        (
            {"size": [10, 10], "counts": [50, 40]},
            "segmentation counts sum to 90 but size 10 x 10 has 100",
        ),
        ({"size": [10, 10], "counts": [50, -50, 100]}, "counts must be non-negative integers"),
        ({"size": [10, 10], "counts": [50, 50.5]}, "counts must be non-negative integers"),
        ({"size": [10, 10], "counts": "P1{"}, "segmentation counts: .*byte"),
        ({"size": [10, 10], "counts": 100}, "counts must be a string or a list of integers"),
    ],
)
def test_bad_annotations_are_reported_by_id(segmentation, match, tmp_path):
    good = {"id": 1, "image_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]}
    bad = {"id": "b-2", "image_id": 1, "segmentation": segmentation}
    data = {"images": [IMAGE], "annotations": [good, bad]}
    out, report, errors = convert_text(data)
    assert out == b"" and len(errors) == 1
    assert errors[0][0] == "b-2"
    assert re.search(match, errors[0][1]), errors[0][1]
    # keep_going: the bad annotation is copied as it was, the good one converted
    out, report, errors = convert_text(data, keep_going=True)
    anns = orjson.loads(out)["annotations"]
    assert anns[1] == bad and isinstance(anns[0]["segmentation"], dict)
    # and through the file API: ValueError naming the id unless skip_invalid
    src = tmp_path / "in.json"
    src.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="1 annotation\\(s\\) cannot be converted: id b-2: "):
        coco.convert_file(src, tmp_path / "out.json")
    report = coco.convert_file(src, tmp_path / "out.json", skip_invalid=True)
    assert report.skipped == ["b-2"] and report.converted == 1


def test_unknown_or_missing_image_id():
    data = {
        "images": [IMAGE],
        "annotations": [
            {"id": 5, "image_id": 9, "segmentation": [[0, 0, 5, 0, 5, 5]]},
            {"id": 6, "segmentation": [[0, 0, 5, 0, 5, 5]]},
        ],
    }
    _, _, errors = convert_text(data)
    assert errors == [(5, "image_id 9 is not in images"), (6, "has a segmentation but no image_id")]


def test_data_must_be_bytes():
    with pytest.raises(TypeError):
        _core.coco_convert_to_rle("{}", False, False, None, num_threads=1)


def test_numbers_that_underflow_read_as_python_reads_them(tmp_path):
    # 1e-400 is 0.0 to Python (and orjson); the scanner's from_chars calls it out of range.
    data = {
        "images": [IMAGE],
        "annotations": [{"id": 1, "image_id": 1, "segmentation": [[1e-400, 0, 5, 0, 5, 5]]}],
    }
    src = tmp_path / "in.json"
    src.write_text(json.dumps(data).replace("0.0", "1e-400"))
    assert b"1e-400" in src.read_bytes()
    report = coco.convert_file(src, tmp_path / "out.json")
    assert report.converted == 1
    expected = coco.load(src)
    coco.convert(expected)
    assert orjson.loads((tmp_path / "out.json").read_bytes()) == expected


# ---- SA-1B per-image files: {"image": {...}, "annotations": [...]} ----------------------------


def _sa1b_record(seed=0, n=12, h=37, w=53):
    rng = np.random.default_rng(seed)
    anns = []
    for k in range(n):
        m = np.asfortranarray((rng.random((h, w)) > 0.6).astype(np.uint8))
        r = M.encode(m)
        anns.append(
            {"id": 100 + k, "segmentation": {"size": [h, w], "counts": r["counts"].decode()},
             "predicted_iou": 0.5, "bbox": [0, 0, 1, 1], "area": 1}
        )  # fmt: skip
    anns.append({"id": 999, "segmentation": [[1.5, 2, 20, 3, 11, 30.25]], "note": "a polygon"})
    image = {"image_id": 7, "width": w, "height": h, "file_name": "sa_7.jpg"}
    return {"image": image, "annotations": anns}


@pytest.mark.parametrize("recompute", [False, True])
def test_sa1b_record_equals_pycocotools(recompute):
    rec = _sa1b_record()
    h, w = rec["image"]["height"], rec["image"]["width"]
    out, report, errors = convert_text(rec, recompute=recompute)
    assert errors == [] and report["images"] == 1
    assert report["annotations"] == report["converted"] == len(rec["annotations"])
    got = orjson.loads(out)
    assert got["image"] == rec["image"]  # no id added, nothing else changed
    for a, b in zip(rec["annotations"], got["annotations"]):
        seg = a["segmentation"]
        if isinstance(seg, dict):  # annToRLE keeps a compressed RLE (pycocotools: bytes)
            r = {"size": seg["size"], "counts": seg["counts"].encode()}
        else:
            r = M.merge(M.frPyObjects(seg, h, w))
        assert b["segmentation"] == {"size": [h, w], "counts": r["counts"].decode()}
        assert "image_id" not in b
        if recompute:
            assert b["area"] == float(M.area(r))
            assert b["bbox"] == M.toBbox(r).tolist()
        else:
            assert {k: v for k, v in b.items() if k != "segmentation"} == {
                k: v for k, v in a.items() if k != "segmentation"
            }


def test_sa1b_annotations_with_an_image_id_must_name_the_image():
    rec = _sa1b_record(n=2)
    rec["annotations"][0]["image_id"] = 7  # the image's own id: fine
    rec["annotations"][1]["image_id"] = 8
    _, report, errors = convert_text(rec, keep_going=True)
    assert errors == [(101, "image_id 8 is not in images")]
    assert report["converted"] == 2


@pytest.mark.parametrize(
    "image, message",
    [
        ([1, 2], '"image" must be an object'),
        ({"image_id": 3, "width": 4}, r"image 3 needs non-negative integer height and width"),
        ({"height": -1, "width": 4}, r'"image" needs non-negative integer height and width'),
    ],
)
def test_sa1b_bad_image(image, message):
    with pytest.raises(ValueError, match=message):
        convert_text({"image": image, "annotations": []})


def test_sa1b_size_must_match_the_image():
    rec = _sa1b_record(n=1)
    rec["image"]["height"] += 1
    _, _, errors = convert_text(rec, keep_going=True)
    assert errors[0][0] == 100 and "has size [37, 53] but its image is 38 x 53" in errors[0][1]
