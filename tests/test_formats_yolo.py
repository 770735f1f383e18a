"""YOLO segmentation (issue 14 item 2): maskprep.formats.yolo and the export/import commands.

Round trip COCO -> YOLO -> COCO on the real annotations of ../shared/data (stand-in JPEGs of
each image's size where the photos are absent): every object and class is kept, and the mask
IoU against the original (maskprep.rle.iou; measured 2026-12-03) is

    coco_instances_val2014_100img  839 objects  min 1.0  mean 1.0
    cocomini_instances_val2017     624 objects  min 1.0  mean 1.0
    cocomini_instances_train2017   739 objects  min 1.0  mean 1.0

(every mask back pixel for pixel; the test asserts min >= 0.99 and mean >= 0.9999). That
needs the objects whose parts overlap (5 + 3 + 0 of them) to be traced from their mask: joined
as ultralytics joins them, the overlap drops out of the even-odd fill and their IoU falls to
0.9725 (ann 71858) and 0.9804 (ann 1303041), min 0.9725 / mean 0.99993 on val2014_100img.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import IMAGES, shared_file
from maskprep import cli, coco, formats, rle
from maskprep.formats import yolo

REAL = [
    "coco_instances_val2014_100img.json",
    "cocomini_instances_val2017.json",
    "cocomini_instances_train2017.json",
]
IOU_MIN = 0.99


def _stand_ins(data, folder: Path) -> None:
    """A tiny black JPEG of each image's size (only its header matters to read_yolo)."""
    for im in data["images"]:
        path = (folder / im["file_name"]).with_suffix(".jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (im["width"], im["height"])).save(path, quality=1)


def _by_file(data):
    names = {im["id"]: im["file_name"] for im in data["images"]}
    out = {}
    for a in data["annotations"]:
        out.setdefault(Path(names[a["image_id"]]).stem, []).append(a)
    return out


def _ious(original, back):
    """IoU of each original object with the object read back from the same place."""
    sizes = coco.image_sizes(original)
    got = _by_file(back)
    ious = []
    for stem, anns in _by_file(original).items():
        assert len(got[stem]) == len(anns), stem
        for a, b in zip(anns, got[stem]):
            assert b["category_id"] == a["category_id"]
            hw = sizes[a["image_id"]]
            ra, rb = rle.from_segmentations([a["segmentation"], b["segmentation"]], hw)
            ious.append(float(rle.iou([rb], [ra], [0])[0, 0]))
    return np.array(ious)


def _tiny(n_images=2):
    data = {
        "images": [
            {"id": k, "height": 20, "width": 30, "file_name": f"im{k}.jpg"}
            for k in range(1, n_images + 1)
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 5,
                "segmentation": [[3, 3, 12, 3, 12, 9, 3, 9]],
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 5, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    return data


def _dataset(tmp_path: Path, names=("cat", "dog"), lines=("0 0.1 0.1 0.5 0.1 0.5 0.5",)):
    """A YOLO dataset with one 20 x 30 image and the given label lines."""
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    Image.new("RGB", (30, 20)).save(root / "images" / "a.jpg")
    (root / "labels" / "a.txt").write_text("".join(x + "\n" for x in lines))
    (root / "data.yaml").write_text(
        "names:\n" + "".join(f"  {k}: {n}\n" for k, n in enumerate(names))
    )
    return root


def _ultralytics(tmp_path: Path, code: str) -> Any:
    """Run ``code`` (which prints one JSON value) with ultralytics in a child process, or skip
    when it is not installed. A child: importing ultralytics changes the process for every
    later test (numpy's print options, PIL.Image.open, cv2's thread count)."""
    if importlib.util.find_spec("ultralytics") is None:
        pytest.skip("ultralytics is not installed (scripts/setup.sh installs it, without deps)")
    script = tmp_path / "ultralytics_job.py"
    script.write_text(code)
    env = dict(os.environ, YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(tmp_path / "ul-config"))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL)
def test_round_trip_real(tmp_path, name):
    """Every object and class back, IoU >= 0.99 (measured: see the module docstring)."""
    data = json.loads(shared_file("annotations", name).read_text())
    report = yolo.write_yolo(data, tmp_path / "ds")
    assert report.objects == len(data["annotations"]) and not report.skipped
    images = IMAGES if name.endswith("val2017.json") and IMAGES.is_dir() else tmp_path / "photos"
    if images != IMAGES:
        _stand_ins(data, images)
    back, r2 = yolo.read_yolo(tmp_path / "ds", images=images)
    assert not r2.skipped
    assert len(back["annotations"]) == len(data["annotations"])
    assert [c["id"] for c in back["categories"]] == sorted(c["id"] for c in data["categories"])
    assert len(back["images"]) == len(data["images"])
    ious = _ious(data, back)
    print(f"{name}: {len(ious)} objects, IoU min {ious.min()!r} mean {ious.mean()!r}")
    assert ious.min() >= IOU_MIN
    assert ious.mean() >= 0.9999


def test_round_trip_rle_output(tmp_path):
    """to="rle": the same masks as the polygons read back, with pycocotools' area and bbox."""
    data = json.loads(shared_file("annotations", REAL[1]).read_text())
    yolo.write_yolo(data, tmp_path / "ds")
    _stand_ins(data, tmp_path / "photos")
    polys, _ = yolo.read_yolo(tmp_path / "ds", images=tmp_path / "photos")
    rles, _ = yolo.read_yolo(tmp_path / "ds", images=tmp_path / "photos", to="rle")
    sizes = coco.image_sizes(polys)
    for a, b in zip(polys["annotations"], rles["annotations"]):
        r = rle.from_segmentations([a["segmentation"]], sizes[a["image_id"]], counts="str")[0]
        assert b["segmentation"]["counts"] == r["counts"]
        assert a["area"] == b["area"] == float(rle.area(r))
        assert a["bbox"] == b["bbox"] == rle.to_bbox([r])[0].tolist()


def test_round_trip_seeded_random(tmp_path, rng):
    """Random polygons (1-3 parts), crowd RLEs and sizes: every mask back with IoU >= 0.99."""
    images, anns = [], []
    for i in range(1, 13):
        h, w = int(rng.integers(8, 90)), int(rng.integers(8, 90))
        images.append({"id": i, "height": h, "width": w, "file_name": f"r/{i}.png"})
        for k in range(int(rng.integers(0, 4))):
            aid = 100 * i + k
            if k == 2:  # a crowd RLE of random blobs
                m = np.asfortranarray(rng.random((h, w)) > 0.7, dtype=np.uint8)
                seg = rle.encode(m)
                seg = {"size": seg["size"], "counts": seg["counts"].decode()}
                anns.append({"id": aid, "image_id": i, "category_id": 7, "segmentation": seg,
                             "iscrowd": 1})  # fmt: skip
                continue
            parts = []
            for _ in range(int(rng.integers(1, 4))):  # disjoint boxes side by side
                x0 = 2 + 25 * len(parts)
                if x0 + 6 > w:
                    break
                x1, y1 = min(w, x0 + int(rng.integers(3, 20))), int(rng.integers(4, h + 1))
                parts.append([x0, 1, x1, 1, x1, y1, x0, y1])
            if parts:
                anns.append({"id": aid, "image_id": i, "category_id": int(rng.choice([3, 9])),
                             "segmentation": parts, "iscrowd": 0})  # fmt: skip
    cats = [{"id": c, "name": f"c{c}"} for c in (3, 7, 9)]
    data = {"images": images, "annotations": anns, "categories": cats}
    yolo.write_yolo(data, tmp_path / "ds")
    for im in images:
        p = tmp_path / "ds" / "images" / im["file_name"]
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (im["width"], im["height"])).save(p)
    back, report = yolo.read_yolo(tmp_path / "ds")
    assert not report.skipped
    assert _ious(data, back).min() >= IOU_MIN
    # --crowd skip: the crowds are left out and listed, the rest kept
    r = yolo.write_yolo(data, tmp_path / "ds2", options={"crowd": "skip"})
    crowds = [a["id"] for a in anns if a["iscrowd"]]
    assert crowds and r.extra["crowd_skipped"] == crowds
    assert r.objects == len(anns) - len(crowds)


# -- the join rule and ultralytics ------------------------------------------------------------


def test_merge_multi_segment_by_hand():
    """Two triangles linked at their closest vertices (1, 0) and (3, 0): out along the link,
    round the second part, back along it."""
    got = yolo.merge_multi_segment([[0, 0, 1, 0, 1, 1], [3, 0, 4, 0, 4, 1]])
    assert got.tolist() == [[1, 0], [1, 1], [0, 0], [1, 0], [3, 0], [4, 0], [4, 1], [3, 0]]
    one = yolo.merge_multi_segment([[0, 0, 1, 0, 1, 1]])
    assert one.tolist() == [[0, 0], [1, 0], [1, 1]]


def test_merge_multi_segment_equals_ultralytics(tmp_path, rng):
    cases = [
        [
            (rng.random(2 * int(rng.integers(3, 12))) * 100).round(2).tolist()
            for _ in range(int(rng.integers(2, 7)))
        ]  # fmt: skip
        for _ in range(200)
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    theirs = _ultralytics(
        tmp_path,
        "import json, numpy as np\n"
        "from ultralytics.data.converter import merge_multi_segment\n"
        f"cases = json.load(open({str(tmp_path / 'cases.json')!r}))\n"
        "print(json.dumps([np.concatenate(merge_multi_segment(c)).tolist() for c in cases]))\n",
    )
    for segs, expected in zip(cases, theirs):
        np.testing.assert_array_equal(yolo.merge_multi_segment(segs), np.array(expected))


def test_export_equals_ultralytics_convert_coco(tmp_path):
    """ultralytics' convert_coco(use_segments=True) on the same file: the same lines, up to the
    class index (category_id - 1 there) and number formatting (%g there, %.6f here), but
    for the differences listed in docs/guide/formats.md: crowds (left out there) and objects
    whose parts overlap (joined there, traced here)."""
    src = shared_file("annotations", REAL[1])
    data = json.loads(src.read_text())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "instances_val.json").write_bytes(src.read_bytes())
    _ultralytics(
        tmp_path,
        "from ultralytics.data.converter import convert_coco\n"
        f"convert_coco({str(tmp_path / 'in')!r}, {str(tmp_path / 'ul')!r}, use_segments=True, "
        "cls91to80=False)\nprint(0)\n",
    )
    report = yolo.write_yolo(data, tmp_path / "mp")
    index = {c["id"]: k for k, c in enumerate(sorted(data["categories"], key=lambda c: c["id"]))}
    sizes = coco.image_sizes(data)
    overlapping = set()
    for a in data["annotations"]:
        if isinstance(a["segmentation"], list) and len(a["segmentation"]) > 1:
            parts = rle.from_segmentations([[p] for p in a["segmentation"]], sizes[a["image_id"]])
            if rle.area(rle.merge(parts)) < rle.area(parts).sum():
                overlapping.add(a["id"])
    assert len(overlapping) == report.extra["overlap_traced"] == 3
    compared = 0
    for stem, anns in _by_file(data).items():
        ours = (tmp_path / "mp" / "labels" / f"{stem}.txt").read_text().splitlines()
        theirs = (tmp_path / "ul" / "labels" / "val" / f"{stem}.txt").read_text().splitlines()
        assert len(ours) == len(anns)
        theirs_iter = iter(theirs)
        for a, line in zip(anns, ours):
            if a["iscrowd"]:
                continue  # not in ultralytics' file
            other = next(theirs_iter).split()
            if a["id"] in overlapping:
                continue
            mine = line.split()
            assert int(mine[0]) == index[a["category_id"]]
            assert int(other[0]) == a["category_id"] - 1
            np.testing.assert_allclose(
                np.array(mine[1:], float), np.array(other[1:], float), rtol=0, atol=1.01e-6
            )
            compared += 1
    assert compared == len(data["annotations"]) - 5 - 3  # 5 crowds, 3 overlapping


def test_ultralytics_reads_the_export(tmp_path):
    """ultralytics' own label check (verify_image_label) accepts every file written."""
    data = json.loads(shared_file("annotations", REAL[1]).read_text())
    yolo.write_yolo(data, tmp_path / "ds")
    _stand_ins(data, tmp_path / "ds" / "images")
    found = _ultralytics(
        tmp_path,
        "import json\nfrom pathlib import Path\n"
        "from ultralytics.data.utils import verify_image_label\n"
        f"root = Path({str(tmp_path / 'ds')!r})\nout = []\n"
        "for im in sorted((root / 'images').glob('*.jpg')):\n"
        "    r = verify_image_label((str(im), str(root / 'labels' / (im.stem + '.txt')), '',"
        " False, 80, 0, 0, False))\n"
        "    out.append([len(r[1]), r[-2], r[-1]])\n"
        "print(json.dumps(out))\n",
    )
    assert len(found) == len(data["images"])
    assert all(corrupt == 0 and msg == "" for _, corrupt, msg in found), found
    assert sum(n for n, _, _ in found) == len(data["annotations"])


# -- the files written -------------------------------------------------------------------------


def test_yaml_and_layout(tmp_path):
    report = yolo.write_yolo(_tiny(), tmp_path / "ds", options={"split": "val"})
    assert report.files == 2 and report.objects == 1
    assert (tmp_path / "ds" / "images" / "val").is_dir()
    assert (tmp_path / "ds" / "labels" / "val" / "im1.txt").read_text() == (
        "1 0.100000 0.150000 0.400000 0.150000 0.400000 0.450000 0.100000 0.450000\n"
    )
    assert (tmp_path / "ds" / "labels" / "val" / "im2.txt").read_text() == ""  # background
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    assert doc["names"] == {0: "dog", 1: "cat"}  # ids 2, 5 in order
    assert doc["coco_category_ids"] == {0: 2, 1: 5}
    assert doc["train"] == doc["val"] == "images/val"
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.startswith(".")]


def test_clamped_points_are_noted(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = [[-3, 3, 40, 3, 12, 9]]
    report = yolo.write_yolo(data, tmp_path / "ds")
    assert "clamped" in report.notes[0] and "10" in report.notes[0]
    line = (tmp_path / "ds" / "labels" / "im1.txt").read_text().split()
    assert line[1:4] == ["0.000000", "0.150000", "1.000000"]


def test_image_size_reads_only_the_header(tmp_path, monkeypatch):
    """read_yolo never decodes pixels: with PIL's decoder disabled it still reads the sizes,
    and a JPEG cut after its header gives its size too."""
    from PIL import ImageFile

    root = _dataset(tmp_path)
    noise = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(noise).resize((300, 200)).save(root / "images" / "a.jpg", quality=95)
    raw = (root / "images" / "a.jpg").read_bytes()
    (root / "images" / "a.jpg").write_bytes(raw[: len(raw) // 2])  # pixel data cut off

    def no_decoding(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data, report = yolo.read_yolo(root)
    assert not report.skipped
    assert (data["images"][0]["height"], data["images"][0]["width"]) == (200, 300)
    assert len(data["annotations"]) == 1


# -- export: one test per error path ------------------------------------------------------------


def _export_error(tmp_path, data, match, **options):
    with pytest.raises(ValueError, match=match):
        yolo.write_yolo(data, tmp_path / "ds", options=options or None)
    assert not (tmp_path / "ds").exists()  # nothing written


def test_export_unknown_category(tmp_path):
    data = _tiny()
    data["annotations"][0]["category_id"] = 99
    _export_error(tmp_path, data, r"image 1: object 10: category_id 99 is not in categories")


def test_export_unknown_image(tmp_path):
    data = _tiny()
    data["annotations"][0]["image_id"] = 42
    _export_error(tmp_path, data, r"object 10: image_id 42 is not in images")


def test_export_odd_polygon(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = [[1, 2, 3, 4, 5, 6, 7]]
    _export_error(tmp_path, data, r"polygon 0 must have an even count of at least 6 numbers")


def test_export_non_numbers(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = [[1, 2, "x", 4, 5, 6]]
    _export_error(tmp_path, data, r"object 10: segmentation polygons must hold only numbers")


def test_export_non_finite(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = [[1, 2, float("nan"), 4, 5, 6]]
    _export_error(tmp_path, data, r"object 10: segmentation coordinates must be finite")


def test_export_empty_segmentation(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = []
    _export_error(tmp_path, data, r"object 10: no segmentation \(empty\)")


def test_export_bad_multi_part(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = [[1, 1, 5, 1, 5, 5], [1, 2, "x", 4, 5, 6]]
    _export_error(tmp_path, data, r"object 10: segmentation")


def test_export_rle_size_mismatch(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = {"size": [5, 5], "counts": [25]}
    _export_error(tmp_path, data, r"object 10: RLE size \[5, 5\] is not the image's")


def test_export_bad_rle(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = {"size": [20, 30], "counts": [5, 5]}
    _export_error(tmp_path, data, r"object 10: segmentation")


def test_export_empty_rle(tmp_path):
    data = _tiny()
    data["annotations"][0]["segmentation"] = {"size": [20, 30], "counts": [600]}
    _export_error(tmp_path, data, r"object 10: its mask is empty")


def test_export_bad_file_name(tmp_path):
    data = _tiny()
    data["images"][0]["file_name"] = "../up.jpg"
    _export_error(tmp_path, data, r"image 1: file_name '../up.jpg' must be a relative path")


def test_export_label_name_clash(tmp_path):
    data = _tiny()
    data["images"][1]["file_name"] = "im1.png"
    _export_error(tmp_path, data, r"image 2: its label file im1.txt is also image 1's")


def test_export_bad_options(tmp_path):
    _export_error(tmp_path, _tiny(), r"options: crowd must be 'polygon' or 'skip'", crowd="x")
    _export_error(tmp_path, _tiny(), r"options: unknown \['colour'\]", colour=1)
    _export_error(tmp_path, _tiny(), r"options: split must be a relative folder", split="../x")


def test_export_bad_categories(tmp_path):
    data = _tiny()
    data["categories"].append({"id": 5, "name": "again"})
    _export_error(tmp_path, data, r"categories: ids must be unique")
    data["categories"] = [{"id": "5", "name": "cat"}]
    _export_error(tmp_path, data, r"categories: every id must be an integer, got '5'")


def test_export_skip_invalid_writes_the_rest(tmp_path):
    data = _tiny()
    data["annotations"].append(dict(data["annotations"][0], id=11, category_id=99))
    report = yolo.write_yolo(data, tmp_path / "ds", options={"skip_invalid": True})
    assert report.objects == 1
    assert [str(s) for s in report.skipped] == [
        "image 1: object 11: category_id 99 is not in categories"
    ]


def test_export_unwritable(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(coco.OutputError, match="cannot create the folder"):
        yolo.write_yolo(_tiny(), tmp_path / "file" / "ds")


# -- import: one test per error path ------------------------------------------------------------


@pytest.mark.parametrize(
    "line, match",
    [
        ("x 0.1 0.1 0.5 0.1 0.5 0.5", r"line 1: class index 'x' is not a number"),
        ("0.5 0.1 0.1 0.5 0.1 0.5 0.5", r"line 1: class index '0.5' is not an integer"),
        ("2 0.1 0.1 0.5 0.1 0.5 0.5", r"line 1: class index 2 is not in the YAML's names \(0..1\)"),
        ("-1 0.1 0.1 0.5 0.1 0.5 0.5", r"class index -1 is not in the YAML's names"),
        ("0 0.1 0.1 0.5 0.1 0.5", r"line 1: odd count of coordinates \(5\)"),
        ("0 0.5 0.5 0.2 0.2", r"line 1: 4 coordinates: a detection box"),
        ("0 0.5 0.5", r"line 1: 2 coordinates: a polygon needs at least 3 points"),
        ("0 0.1 0.1 1.5 0.1 0.5 0.5", r"line 1: coordinates must be normalised: in \[0, 1\]"),
        ("0 0.1 -0.1 0.5 0.1 0.5 0.5", r"coordinates must be normalised"),
        ("0 0.1 nan 0.5 0.1 0.5 0.5", r"coordinates must be normalised"),
        ("0 0.1 y 0.5 0.1 0.5 0.5", r"line 1: the coordinates must be numbers"),
    ],
)
def test_import_bad_line(tmp_path, line, match):
    root = _dataset(tmp_path, lines=(line, "1 0.1 0.1 0.5 0.1 0.5 0.5"))
    data, report = yolo.read_yolo(root)
    assert len(report.skipped) == 1
    assert str(report.skipped[0]).startswith(str(root / "labels" / "a.txt"))
    assert re.search(match, str(report.skipped[0])), str(report.skipped[0])
    assert [a["category_id"] for a in data["annotations"]] == [2]  # the good line is kept


def test_import_good_line(tmp_path):
    data, report = yolo.read_yolo(_dataset(tmp_path))
    assert not report.skipped and report.files == 1
    (ann,) = data["annotations"]
    assert ann["segmentation"] == [[3.0, 2.0, 15.0, 2.0, 15.0, 10.0]]
    assert ann["category_id"] == 1 and ann["image_id"] == 1
    assert data["categories"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    r = rle.from_segmentations([ann["segmentation"]], (20, 30))
    assert ann["area"] == float(rle.area(r)[0]) and ann["bbox"] == rle.to_bbox(r)[0].tolist()


def test_import_missing_image(tmp_path):
    root = _dataset(tmp_path)
    (root / "labels" / "b.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    data, report = yolo.read_yolo(root)
    assert [str(s) for s in report.skipped] == [
        f"{root / 'labels' / 'b.txt'}: no image file for it under {root / 'images'}"
    ]
    assert len(data["images"]) == 1


def test_import_unreadable_image(tmp_path):
    root = _dataset(tmp_path)
    (root / "images" / "a.jpg").write_text("not an image")
    data, report = yolo.read_yolo(root)
    assert "cannot read the size of" in str(report.skipped[0]) and not data["images"]


def test_import_background_image(tmp_path):
    root = _dataset(tmp_path)
    Image.new("RGB", (8, 6)).save(root / "images" / "b.png")
    data, report = yolo.read_yolo(root)
    assert not report.skipped
    assert [(im["file_name"], im["height"]) for im in data["images"]] == [
        ("a.jpg", 20),
        ("b.png", 6),
    ]


def test_import_missing_yaml(tmp_path):
    root = _dataset(tmp_path)
    (root / "data.yaml").unlink()
    with pytest.raises(coco.UnreadableInput, match=r"holds no data YAML \(the class names\)"):
        yolo.read_yolo(root)


def test_import_two_yamls(tmp_path):
    root = _dataset(tmp_path)
    os.rename(root / "data.yaml", root / "a.yaml")
    (root / "b.yml").write_text("names: [x]\n")
    with pytest.raises(coco.UnreadableInput, match=r"2 YAML files and no data.yaml"):
        yolo.read_yolo(root)
    data, _ = yolo.read_yolo(root / "b.yml")  # the YAML named: its names
    assert data["categories"] == [{"id": 1, "name": "x"}]


@pytest.mark.parametrize(
    "text, match",
    [
        ("train: images\n", r"names must be a non-empty mapping or list"),
        ("names: {1: a, 2: b}\n", r"the names' keys must be the class indices 0..1"),
        ("names: [a]\ncoco_category_ids: {0: x}\n", r"coco_category_ids must map every class"),
        ("names: [a, b]\ncoco_category_ids: {0: 3, 1: 3}\n", r"coco_category_ids must map"),
        ("names: [a\n", r"cannot read the data YAML"),
    ],
)
def test_import_bad_yaml(tmp_path, text, match):
    root = _dataset(tmp_path)
    (root / "data.yaml").write_text(text)
    with pytest.raises(coco.UnreadableInput, match=match):
        yolo.read_yolo(root)


def test_import_no_labels_folder(tmp_path):
    root = _dataset(tmp_path)
    (root / "labels" / "a.txt").unlink()
    (root / "labels").rmdir()
    with pytest.raises(coco.UnreadableInput, match=r"has no labels/ folder"):
        yolo.read_yolo(root)


def test_import_no_images_folder(tmp_path):
    root = _dataset(tmp_path)
    with pytest.raises(coco.UnreadableInput, match=r"the images folder .*nowhere does not exist"):
        yolo.read_yolo(root, images=tmp_path / "nowhere")


def test_import_not_a_dataset(tmp_path):
    with pytest.raises(coco.UnreadableInput, match=r"is not a YOLO dataset folder or data YAML"):
        yolo.read_yolo(tmp_path / "missing")


def test_import_bad_to_and_options(tmp_path):
    root = _dataset(tmp_path)
    with pytest.raises(ValueError, match=r"to must be 'rle' or 'polygon', got 'mask'"):
        yolo.read_yolo(root, to="mask")
    with pytest.raises(ValueError, match=r"options: unknown \['x'\]"):
        yolo.read_yolo(root, options={"x": 1})


def test_import_without_pyyaml(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match=r"needs PyYAML: pip install pyyaml"):
        yolo.read_yolo(_dataset(tmp_path))


# -- the registry ---------------------------------------------------------------------------


def test_registry():
    assert formats.IMPORTERS["yolo"].load() is yolo.read_yolo
    assert formats.EXPORTERS["yolo"].load() is yolo.write_yolo
    assert set(formats.IMPORTERS) == {"yolo", "labelme", "cityscapes", "voc", "instance-png"}
    assert set(formats.EXPORTERS) == {"yolo", "instance-png"}


def test_registry_missing_module(monkeypatch):
    entry = formats._Lazy("nope", "no_such_module", "read")
    with pytest.raises(formats.MissingFormat, match=r"format 'nope' needs maskprep.formats.no_"):
        entry()


# -- the commands -----------------------------------------------------------------------------


def _write(tmp_path, data, name="in.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_cli_export_and_import(tmp_path, capsys):
    src = shared_file("annotations", REAL[1])
    assert cli.main(["export", str(src), "--format", "yolo", "-o", str(tmp_path / "ds")]) == 0
    assert "exported 624 object(s) in 79 file(s)" in capsys.readouterr().out
    images = IMAGES if IMAGES.is_dir() else tmp_path / "photos"
    if images != IMAGES:
        _stand_ins(json.loads(src.read_text()), images)
    out = tmp_path / "back.json"
    argv = ["import", str(tmp_path / "ds"), "--format", "yolo", "--images", str(images)]
    assert cli.main([*argv, "-o", str(out), "--to", "rle"]) == 0
    back = json.loads(out.read_text())
    assert len(back["annotations"]) == 624
    assert isinstance(back["annotations"][0]["segmentation"]["counts"], str)


def test_cli_export_invalid_writes_nothing(tmp_path, capsys):
    data = _tiny()
    data["annotations"][0]["category_id"] = 99
    src = _write(tmp_path, data)
    out = tmp_path / "ds"
    assert cli.main(["export", str(src), "--format", "yolo", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "category_id 99 is not in categories; nothing written" in err
    assert not out.exists()
    assert cli.main(["export", str(src), "--format", "yolo", "-o", str(out), "--skip-invalid"]) == 0
    assert "skipped: image 1: object 10: category_id 99" in capsys.readouterr().err
    assert (out / "labels" / "im1.txt").read_text() == ""


def test_cli_export_crowd_skip_is_listed(tmp_path, capsys):
    data = _tiny()
    data["annotations"][0].update(
        iscrowd=1, segmentation={"size": [20, 30], "counts": [50, 10, 540]}
    )
    src = _write(tmp_path, data)
    argv = ["export", str(src), "--format", "yolo", "-o", str(tmp_path / "ds"), "--crowd", "skip"]
    assert cli.main(argv) == 0
    assert "left out 1 crowd annotation(s) (crowd='skip'): ids 10" in capsys.readouterr().out


def test_cli_export_output_is_a_file(tmp_path, capsys):
    src = _write(tmp_path, _tiny())
    (tmp_path / "f").write_text("x")
    assert cli.main(["export", str(src), "--format", "yolo", "-o", str(tmp_path / "f")]) == 3
    assert "is a file; -o needs a folder" in capsys.readouterr().err


def test_cli_export_yolo_options_elsewhere(tmp_path, capsys):
    src = _write(tmp_path, _tiny())
    argv = ["export", str(src), "--format", "instance-png", "-o", str(tmp_path / "o")]
    assert cli.main([*argv, "--crowd", "skip"]) == 2
    assert "--crowd and --split are options of --format yolo" in capsys.readouterr().err


def test_cli_export_unreadable_input(tmp_path, capsys):
    argv = ["export", str(tmp_path / "none.json"), "--format", "yolo", "-o", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert "is not a file, a folder or a glob" in capsys.readouterr().err


def test_cli_export_shards(tmp_path, capsys):
    """A shard folder is exported as one dataset: images and annotations of every shard."""
    one, two = _tiny(1), _tiny(1)
    two["images"][0].update(id=2, file_name="other.jpg")
    two["annotations"][0].update(id=11, image_id=2)
    (tmp_path / "shards").mkdir()
    _write(tmp_path / "shards", one, "a.json")
    _write(tmp_path / "shards", two, "b.json")
    argv = ["export", str(tmp_path / "shards"), "--format", "yolo", "-o", str(tmp_path / "ds")]
    assert cli.main(argv) == 0
    labels = sorted(p.name for p in (tmp_path / "ds" / "labels").iterdir())
    assert labels == ["im1.txt", "other.txt"]
    two["images"][0]["id"] = 1  # the same image id in two shards: refused
    _write(tmp_path / "shards", two, "b.json")
    assert cli.main(argv) == 1
    assert "the shards' images ids repeat" in capsys.readouterr().err


def test_cli_import_invalid_writes_nothing(tmp_path, capsys):
    root = _dataset(tmp_path, lines=("7 0.1 0.1 0.5 0.1 0.5 0.5", "0 0.1 0.1 0.5 0.1 0.5 0.5"))
    out = tmp_path / "out.json"
    out.write_text("old")
    assert cli.main(["import", str(root), "--format", "yolo", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "cannot import: " in err and "line 1: class index 7 is not in the YAML's names" in err
    assert "1 object(s) or file(s) cannot be imported" in err
    assert out.read_text() == "old"  # untouched
    assert (
        cli.main(["import", str(root), "--format", "yolo", "-o", str(out), "--skip-invalid"]) == 0
    )
    assert len(json.loads(out.read_text())["annotations"]) == 1
    assert "skipped: " in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_cli_import_exit_codes(tmp_path, capsys):
    root = _dataset(tmp_path)
    (root / "data.yaml").unlink()
    out = str(tmp_path / "o.json")
    assert cli.main(["import", str(root), "--format", "yolo", "-o", out]) == 2
    assert "holds no data YAML" in capsys.readouterr().err
    assert (
        cli.main(["import", str(root), "--format", "yolo", "-o", str(tmp_path / "no" / "o")]) == 3
    )
    assert (
        cli.main(["import", str(root), "--format", "yolo", "--images", "/nowhere", "-o", out]) == 2
    )
    with pytest.raises(SystemExit) as exc:
        cli.main(["import", str(root), "--format", "tiff", "-o", out])
    assert exc.value.code == 2
    assert not os.path.exists(out)


def test_cli_import_missing_format_module(tmp_path, capsys, monkeypatch):
    """A registered format whose module this build lacks: exit 2, the module named."""
    monkeypatch.setitem(formats.IMPORTERS, "voc", formats._Lazy("voc", "no_such_module", "read"))
    argv = ["import", str(tmp_path), "--format", "voc", "-o", str(tmp_path / "o.json")]
    assert cli.main(argv) == 2
    assert "format 'voc' needs maskprep.formats.no_such_module" in capsys.readouterr().err


def test_cli_import_to_stdout(tmp_path, capsys):
    assert cli.main(["import", str(_dataset(tmp_path)), "--format", "yolo", "-o", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["annotations"][0]["category_id"] == 1
    assert "imported 1 object(s)" in captured.err


@pytest.mark.parametrize("fmt", ["yolo", "labelme", "cityscapes", "voc", "instance-png"])
def test_importer_options_must_be_a_dict(fmt, tmp_path):
    """One options rule for every importer (formats._build.check_options), checked first."""
    from maskprep.formats import IMPORTERS

    with pytest.raises(TypeError, match=r"options must be a dict, got list"):
        IMPORTERS[fmt](tmp_path, options=[("labels", None)])


@pytest.mark.parametrize("fmt", ["yolo", "instance-png"])
def test_exporter_options_must_be_a_dict(fmt, tmp_path):
    from maskprep.formats import EXPORTERS

    data = {"images": [], "annotations": [], "categories": []}
    with pytest.raises(TypeError, match=r"options must be a dict, got str"):
        EXPORTERS[fmt](data, tmp_path / "out", options="crowd=skip")


def test_export_without_images(tmp_path):
    """No images: data.yaml and the empty folders (the labels folder used to be missing from
    the temporary tree, so the move failed)."""
    report = yolo.write_yolo({"images": [], "annotations": [], "categories": []}, tmp_path / "ds")
    assert (report.files, report.objects) == (0, 0)
    assert (tmp_path / "ds" / "data.yaml").is_file()
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["data.yaml", "images", "labels"]
    assert list((tmp_path / "ds" / "labels").iterdir()) == []
