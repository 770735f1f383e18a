"""maskprep.formats.png: Cityscapes, VOC and instance-id PNGs to COCO and back.

Planted trees are built in tmp_path from label images whose answer is known; the round trip
runs on the real annotations of ../shared/data; areas and boxes are compared with pycocotools.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import load_json
from maskprep.formats import png

mask_util = pytest.importorskip("pycocotools.mask")


# ---------------------------------------------------------------------------------------------
# helpers


def _save(arr: np.ndarray, path: Path, mode: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "P":
        im = Image.fromarray(arr.astype(np.uint8), mode="L").convert("P")
        im.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
        im.save(path)
    else:
        Image.fromarray(arr).save(path)
    return path


def _decode(seg, h, w):
    if isinstance(seg, list):
        return mask_util.decode(mask_util.merge(mask_util.frPyObjects(seg, h, w)))
    return mask_util.decode(_ref_rle(seg, h, w))


def _ref_rle(seg, h, w):
    """pycocotools' annToRLE (counts as bytes)."""
    if isinstance(seg, list):
        return mask_util.merge(mask_util.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return mask_util.frPyObjects(seg, h, w)
    counts = seg["counts"]
    return {"size": seg["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def _by_value(data):
    return {(a["image_id"], a["category_id"], a["iscrowd"]): a for a in data["annotations"]}


def _check_area_bbox(data):
    """area and bbox equal pycocotools' on the imported RLEs."""
    for a in data["annotations"]:
        seg = a["segmentation"]
        r = {"size": seg["size"], "counts": seg["counts"].encode()}
        assert a["area"] == float(mask_util.area(r))
        assert a["bbox"] == mask_util.toBbox(r).tolist()


# ---------------------------------------------------------------------------------------------
# label image -> RLE


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64]
)
def test_label_image_rles_match_pycocotools_encode(dtype):
    """Seeded random label images, up to 60 wide (the kernel tests rows 16 pixels at a time)."""
    rng = np.random.default_rng(14)
    for _ in range(150):
        h, w = rng.integers(1, 60, 2)
        lab = (rng.integers(0, 5, (h, w)) * rng.integers(1, 50)).astype(dtype)
        ids, rles = png.label_image_rles(lab, ignore=(0, 255))
        assert ids.tolist() == sorted(set(np.unique(lab).tolist()) - {0, 255})
        for i, r in zip(ids.tolist(), rles):
            ref = mask_util.encode(np.asfortranarray(lab == i).astype(np.uint8))
            assert r == {"size": [int(h), int(w)], "counts": ref["counts"].decode()}


def test_label_image_rles_full_and_empty():
    ids, rles = png.label_image_rles(np.full((3, 4), 7, np.uint16))
    assert (
        ids.tolist() == [7]
        and rles[0]["counts"]
        == mask_util.encode(np.ones((3, 4), np.uint8, order="F"))["counts"].decode()
    )
    ids, rles = png.label_image_rles(np.zeros((3, 4), np.uint16))
    assert ids.tolist() == [] and rles == []
    ids, rles = png.label_image_rles(np.zeros((0, 4), np.uint16))
    assert ids.tolist() == [] and rles == []


def test_label_image_rles_errors():
    with pytest.raises(TypeError, match="label must be an integer numpy array, got dtype float"):
        png.label_image_rles(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="label must be an integer numpy array, got list"):
        png.label_image_rles([[1]])
    with pytest.raises(ValueError, match=r"label must have shape \(H, W\), got \(2, 2, 3\)"):
        png.label_image_rles(np.zeros((2, 2, 3), np.uint8))


# ---------------------------------------------------------------------------------------------
# round trip COCO -> instance-png -> COCO on the real annotations


def _painted_after(anns, masks):
    """The masks painted after each annotation, in write_instance_png's documented order."""
    order = sorted(
        range(len(anns)),
        key=lambda k: (not anns[k].get("iscrowd"), -int(masks[k].sum()), k),
    )
    rank = {k: i for i, k in enumerate(order)}
    return [[j for j in range(len(anns)) if rank[j] > rank[k]] for k in range(len(anns))]


@pytest.mark.parametrize(
    "name", ["coco_instances_val2014_100img.json", "cocomini_instances_val2017.json"]
)
def test_round_trip_real_annotations(tmp_path, name):
    data = load_json("annotations", name)
    report = png.write_instance_png(data, tmp_path / "png")
    assert report.files == len(data["images"])
    back, rep = png.read_instance_png(tmp_path / "png")
    key = lambda im: im["id"]  # noqa: E731  (images come back in PNG name order)
    assert sorted(back["images"], key=key) == sorted(data["images"], key=key)
    assert back["categories"] == data["categories"]
    lost = {s.obj for s in report.skipped}
    assert {s.obj for s in rep.skipped} == lost  # painted over entirely: reported both ways
    got = {a["id"]: a for a in back["annotations"]}
    assert len(got) + len(lost) == len(data["annotations"]) == report.objects + len(lost)
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    per_image = {}
    for a in data["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a)
    identical = overlapped = 0
    for iid, anns in per_image.items():
        h, w = sizes[iid]
        masks = [_decode(a["segmentation"], h, w).astype(bool) for a in anns]
        later = _painted_after(anns, masks)
        for k, a in enumerate(anns):
            if a["id"] in lost:
                continue
            b = got[a["id"]]
            assert (b["category_id"], b["iscrowd"], b["image_id"]) == (
                a["category_id"],
                a.get("iscrowd", 0),
                iid,
            )
            covered = np.zeros((h, w), bool)
            for j in later[k]:
                covered |= masks[j]
            mine = masks[k] & ~covered
            if (mine == masks[k]).all():
                # nothing painted over it: the RLE is pycocotools' annToRLE, bit for bit
                ref = _ref_rle(a["segmentation"], h, w)["counts"]
                assert b["segmentation"]["counts"] == (
                    ref.decode() if isinstance(ref, bytes) else ref
                )
                identical += 1
            else:
                # an overlapped object comes back as the part of it left visible
                assert (_decode(b["segmentation"], h, w).astype(bool) == mine).all()
                overlapped += 1
    assert identical > overlapped > 0
    _check_area_bbox(back)


def test_overlaps_reported_and_order_documented(tmp_path):
    big = np.zeros((8, 8), np.uint8, order="F")
    big[1:7, 1:7] = 1
    small = np.zeros((8, 8), np.uint8, order="F")
    small[2:4, 2:4] = 1
    crowd = np.zeros((8, 8), np.uint8, order="F")
    crowd[0:3, 0:8] = 1
    rle_of = lambda m: {**mask_util.encode(m), "counts": mask_util.encode(m)["counts"].decode()}  # noqa: E731
    data = {
        "images": [{"id": 5, "file_name": "a/x.jpg", "height": 8, "width": 8}],
        "annotations": [
            {
                "id": 10,
                "image_id": 5,
                "category_id": 1,
                "segmentation": rle_of(small),
                "iscrowd": 0,
            },
            {"id": 11, "image_id": 5, "category_id": 2, "segmentation": rle_of(big), "iscrowd": 0},
            {
                "id": 12,
                "image_id": 5,
                "category_id": 1,
                "segmentation": rle_of(crowd),
                "iscrowd": 1,
            },
        ],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    report = png.write_instance_png(data, tmp_path)
    canvas = np.asarray(Image.open(tmp_path / "x.png"))
    assert canvas.dtype == np.uint16
    expect = np.zeros((8, 8), np.uint16)
    expect[crowd.astype(bool)] = 3  # crowd first, then by decreasing area: big, small
    expect[big.astype(bool)] = 2
    expect[small.astype(bool)] = 1
    assert (canvas == expect).all()
    side = json.loads((tmp_path / "x.json").read_text())
    assert side["objects"] == [
        {"value": 1, "id": 10, "category_id": 1, "iscrowd": 0},
        {"value": 2, "id": 11, "category_id": 2, "iscrowd": 0},
        {"value": 3, "id": 12, "category_id": 1, "iscrowd": 1},
    ]
    assert report.notes == [
        "x.png: annotation 11 painted over 12 pixel(s) of annotation 12",
        "x.png: annotation 10 painted over 4 pixel(s) of annotation 11",
    ]
    back, rep = png.read_instance_png(tmp_path)
    crowd_back = [a for a in back["annotations"] if a["iscrowd"]]
    assert [a["id"] for a in crowd_back] == [12] and rep.skipped == []


def test_export_skips_reported(tmp_path):
    full = mask_util.encode(np.ones((4, 4), np.uint8, order="F"))  # every pixel
    full["counts"] = full["counts"].decode()
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "height": 4, "width": 4},
            {"id": 2, "file_name": "b.jpg", "height": 0, "width": 4},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": full, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": full, "iscrowd": 0},
            {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[1, 2]], "iscrowd": 0},
            {"id": 4, "image_id": 9, "category_id": 1, "segmentation": full, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "a"}],
    }
    report = png.write_instance_png(data, tmp_path)
    reasons = {(s.file, s.obj): s.reason for s in report.skipped}
    assert reasons[("annotations", 4)] == "image_id 9 is not in images"
    assert "at least 3 point(s)" in reasons[("a.png", 3)]
    # equal areas: painted in annotation order, so annotation 2 hides annotation 1 entirely
    assert reasons[("a.png", 1)] == "no pixel left visible: painted over or empty mask"
    assert reasons[("b.png", None)] == "image 2 has no valid height/width"
    assert report.files == 1 and report.objects == 1
    back, rep = png.read_instance_png(tmp_path)
    assert [a["id"] for a in back["annotations"]] == [2]


def test_export_names_collide(tmp_path):
    data = {
        "images": [
            {"id": 1, "file_name": "a/x.jpg", "height": 2, "width": 2},
            {"id": 2, "file_name": "b/x.jpg", "height": 2, "width": 2},
        ],
        "annotations": [],
        "categories": [],
    }
    png.write_instance_png(data, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["x_1.png", "x_2.png"]


def test_export_errors(tmp_path):
    with pytest.raises(ValueError, match="data must be a COCO instances dict with an 'images'"):
        png.write_instance_png({"annotations": []}, tmp_path)
    with pytest.raises(ValueError, match=r"options: unknown \['order'\]"):
        png.write_instance_png({"images": []}, tmp_path, options={"order": 1})


def test_threads_agree(tmp_path):
    data = load_json("annotations", "coco_instances_val2014_100img.json")
    png.write_instance_png(data, tmp_path)
    one, _ = png.read_instance_png(tmp_path, num_threads=1)
    two, _ = png.read_instance_png(tmp_path, num_threads=2)
    assert one == two


def test_polygons(tmp_path):
    data = load_json("annotations", "coco_instances_val2014_100img.json")
    png.write_instance_png(data, tmp_path)
    rles, _ = png.read_instance_png(tmp_path)
    polys, _ = png.read_instance_png(tmp_path, to="polygon")
    for a, b in zip(rles["annotations"], polys["annotations"]):
        assert isinstance(b["segmentation"], dict) == bool(a["iscrowd"])
        assert (a["area"], a["bbox"]) == (b["area"], b["bbox"])


# ---------------------------------------------------------------------------------------------
# Cityscapes


def _cityscapes_tree(root: Path) -> np.ndarray:
    lab = np.zeros((6, 10), np.uint16)
    lab[0, :] = 7  # road: stuff
    lab[1, 0:3] = 24  # a group of persons: crowd
    lab[2:4, 0:2] = 24000  # person 0
    lab[2:4, 3:5] = 24001  # person 1
    lab[4, :] = 26003  # car 3
    lab[5, 0:2] = 29000  # caravan: ignoreInEval
    lab[5, 2] = 1  # ego vehicle: void
    lab[5, 3] = 57000  # class 57: unknown
    lab[5, 4] = 99  # class 99: unknown
    _save(lab, root / "gtFine" / "val" / "lindau" / "lindau_000001_000019_gtFine_instanceIds.png")
    return lab


def test_cityscapes_planted(tmp_path):
    lab = _cityscapes_tree(tmp_path)
    data, report = png.read_cityscapes(tmp_path)
    assert data["images"] == [
        {
            "id": 1,
            "file_name": "val/lindau/lindau_000001_000019_leftImg8bit.png",
            "height": 6,
            "width": 10,
            "cityscapes_id": "lindau_000001_000019",
        }
    ]
    got = [(a["category_id"], a["iscrowd"], int(a["area"])) for a in data["annotations"]]
    assert got == [(24, 1, 3), (24, 0, 4), (24, 0, 4), (26, 0, 10)]
    a = data["annotations"][1]
    assert (_decode(a["segmentation"], 6, 10) == (lab == 24000)).all()
    assert [c["name"] for c in data["categories"]] == [
        "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"
    ]  # fmt: skip
    assert data["categories"][0] == {
        "id": 24, "name": "person", "supercategory": "human", "isthing": 1
    }  # fmt: skip
    rel = "gtFine/val/lindau/lindau_000001_000019_gtFine_instanceIds.png"
    assert [(s.file, s.obj, s.reason) for s in report.skipped] == [
        (rel, 99, "unknown Cityscapes class id 99"),
        (rel, 57000, "unknown Cityscapes class id 57"),
    ]
    assert report.extra["left_out"] == {"road": 1, "ego vehicle": 1, "caravan": 1}
    assert report.objects == 4 and report.files == 1
    _check_area_bbox(data)


def test_cityscapes_options(tmp_path):
    _cityscapes_tree(tmp_path)
    data, report = png.read_cityscapes(tmp_path / "gtFine", options={"stuff": True})
    road = [a for a in data["annotations"] if a["category_id"] == 7]
    assert len(road) == 1 and road[0]["iscrowd"] == 0  # stuff is never a crowd
    assert report.extra["left_out"] == {"ego vehicle": 1, "caravan": 1}
    data, report = png.read_cityscapes(tmp_path, options={"ignored": True})
    ids = [a["category_id"] for a in data["annotations"]]
    assert 29 in ids and 1 not in ids and 7 not in ids  # ego vehicle is void stuff
    assert {c["id"] for c in data["categories"]} >= {29, 30}
    data, report = png.read_cityscapes(tmp_path, options={"ignored": True, "stuff": True})
    assert {a["category_id"] for a in data["annotations"]} == {1, 7, 24, 26, 29}
    assert "left_out" not in report.extra


def test_cityscapes_images_folder(tmp_path):
    _cityscapes_tree(tmp_path)
    photos = tmp_path / "leftImg8bit"
    (photos / "val" / "lindau").mkdir(parents=True)
    (photos / "val" / "lindau" / "lindau_000001_000019_leftImg8bit.png").write_bytes(b"")
    data, _ = png.read_cityscapes(tmp_path / "gtFine", images=photos)
    assert data["images"][0]["file_name"] == "val/lindau/lindau_000001_000019_leftImg8bit.png"
    data, report = png.read_cityscapes(tmp_path / "gtFine", images=tmp_path / "gtFine")
    assert data["images"] == [] and data["annotations"] == []
    assert "no lindau_000001_000019_leftImg8bit.* in images folder" in report.skipped[0].reason


def test_cityscapes_unreadable_png(tmp_path):
    bad = tmp_path / "gtFine" / "train" / "x" / "x_1_2_gtFine_instanceIds.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a png")
    _save(np.zeros((2, 2, 3), np.uint8), bad.with_name("y_1_2_gtFine_instanceIds.png"))
    data, report = png.read_cityscapes(tmp_path)
    assert data["images"] == []
    assert [s.obj for s in report.skipped] == [None, None]
    assert report.skipped[0].reason.startswith("unreadable PNG")
    assert "expected a single-channel label PNG" in report.skipped[1].reason
    assert "got mode RGB" in report.skipped[1].reason


def test_cityscapes_empty_folder_noted(tmp_path):
    data, report = png.read_cityscapes(tmp_path)
    assert data["annotations"] == [] and report.notes == [
        f"no *_gtFine_instanceIds.png under {tmp_path}"
    ]


# ---------------------------------------------------------------------------------------------
# VOC


def _voc_tree(root: Path):
    obj = np.zeros((6, 8), np.uint8)
    cls = np.zeros((6, 8), np.uint8)
    obj[0:2, 0:3], cls[0:2, 0:3] = 1, 15  # person
    obj[2:5, 0:4], cls[2:5, 0:4] = 2, 12  # dog ...
    cls[4, 0] = 8  # ... one pixel labelled cat: mixed
    obj[0:2, 4:8] = 3  # object 3: every pixel void in the class image
    cls[0:2, 4:8] = 255
    obj[3:5, 5:8], cls[3:5, 5:8] = 4, 0  # object 4 on background class
    obj[5, :], cls[5, :] = 255, 255  # the void boundary band
    _save(obj, root / "SegmentationObject" / "2007_000032.png", "P")
    _save(cls, root / "SegmentationClass" / "2007_000032.png", "P")
    return obj, cls


def test_voc_planted(tmp_path):
    obj, _ = _voc_tree(tmp_path)
    data, report = png.read_voc(tmp_path)
    assert data["images"] == [{"id": 1, "file_name": "2007_000032.jpg", "height": 6, "width": 8}]
    got = [(a["id"], a["category_id"], int(a["area"])) for a in data["annotations"]]
    assert got == [(1, 15, 6), (2, 12, 12)]
    assert (_decode(data["annotations"][1]["segmentation"], 6, 8) == (obj == 2)).all()
    assert len(data["categories"]) == 20 and data["categories"][14] == {"id": 15, "name": "person"}
    rel = "SegmentationObject/2007_000032.png"
    assert [(s.file, s.obj, s.reason) for s in report.skipped] == [
        (rel, 3, "instance has no class: all its pixels are void (255)"),
        (rel, 4, "majority class is background (0), not a VOC class"),
    ]
    assert report.notes == [
        f"{rel}: object 2: pixels of several classes (cat (8) 1 px, dog (12) 11 px); kept as dog (12)"
    ]
    assert report.extra["mixed_classes"] == 1
    _check_area_bbox(data)


def test_voc_file_errors(tmp_path):
    _voc_tree(tmp_path)
    _save(np.ones((4, 4), np.uint8), tmp_path / "SegmentationObject" / "b_size.png", "P")
    _save(np.ones((4, 5), np.uint8), tmp_path / "SegmentationClass" / "b_size.png", "P")
    _save(np.ones((4, 4), np.uint8), tmp_path / "SegmentationObject" / "c_noclass.png", "P")
    (tmp_path / "SegmentationObject" / "d_broken.png").write_bytes(b"\x89PNG garbage")
    _save(np.ones((4, 4), np.uint8), tmp_path / "SegmentationObject" / "e_badclass.png", "P")
    (tmp_path / "SegmentationClass" / "e_badclass.png").write_bytes(b"")
    _save(np.ones((4, 4), np.uint8), tmp_path / "SegmentationObject" / "f_unknown.png", "P")
    _save(np.full((4, 4), 21, np.uint8), tmp_path / "SegmentationClass" / "f_unknown.png", "P")
    data, report = png.read_voc(tmp_path)
    reasons = {Path(s.file).stem: s.reason for s in report.skipped if s.obj is None}
    assert reasons["b_size"] == (
        "SegmentationObject is 4 x 4 but SegmentationClass is 4 x 5 (height x width)"
    )
    assert reasons["c_noclass"] == "no SegmentationClass/c_noclass.png for its classes"
    assert reasons["d_broken"].startswith("SegmentationObject: unreadable PNG")
    assert reasons["e_badclass"].startswith("SegmentationClass: unreadable PNG")
    unknown = [s for s in report.skipped if s.file.endswith("f_unknown.png")]
    assert [(s.obj, s.reason) for s in unknown] == [
        (1, "majority class is index 21, not a VOC class")
    ]
    assert len(data["images"]) == 2 and report.files == 2


def test_voc_images_folder(tmp_path):
    _voc_tree(tmp_path)
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "JPEGImages" / "2007_000032.jpeg").write_bytes(b"")
    data, _ = png.read_voc(tmp_path, images=tmp_path / "JPEGImages")
    assert data["images"][0]["file_name"] == "2007_000032.jpeg"


def test_voc_errors(tmp_path):
    with pytest.raises(ValueError, match="src must hold a SegmentationObject folder"):
        png.read_voc(tmp_path)
    with pytest.raises(ValueError, match=r"options: unknown \['stuff'\]"):
        png.read_voc(tmp_path, options={"stuff": True})


# ---------------------------------------------------------------------------------------------
# plain instance-id PNGs


def test_instance_png_plain(tmp_path):
    lab = np.zeros((5, 6), np.uint8)
    lab[0:2, 0:2], lab[3:5, 1:6], lab[2, 5] = 1, 2, 9
    _save(lab, tmp_path / "png" / "img7.png")
    lab16 = np.zeros((4, 4), np.uint16)
    lab16[1:3, 1:3] = 40000
    _save(lab16, tmp_path / "png" / "img8.png")
    data, report = png.read_instance_png(tmp_path / "png")
    assert [im["file_name"] for im in data["images"]] == ["img7.png", "img8.png"]
    assert [(a["image_id"], int(a["area"])) for a in data["annotations"]] == [
        (1, 4), (1, 10), (1, 1), (2, 4)
    ]  # fmt: skip
    assert data["categories"] == [{"id": 1, "name": "object"}]
    _check_area_bbox(data)
    data, report = png.read_instance_png(
        tmp_path / "png",
        options={"categories": {1: 3, "2": 4, 40000: 3}, "category_names": {3: "c"}},
    )
    assert [a["category_id"] for a in data["annotations"]] == [3, 4, 3]
    assert data["categories"] == [{"id": 3, "name": "c"}, {"id": 4, "name": "4"}]
    assert [(s.file, s.obj, s.reason) for s in report.skipped] == [
        ("img7.png", 9, "no category for this id in options['categories']")
    ]
    data, _ = png.read_instance_png(tmp_path / "png", options={"categories": "cell"})
    assert data["categories"] == [{"id": 1, "name": "cell"}]


def test_instance_png_images_folder(tmp_path):
    _save(np.ones((2, 2), np.uint8), tmp_path / "png" / "a.png")
    _save(np.ones((2, 2), np.uint8), tmp_path / "png" / "b.png")
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "photos" / "sub" / "a.jpg").write_bytes(b"")
    data, report = png.read_instance_png(tmp_path / "png", images=tmp_path / "photos")
    assert [im["file_name"] for im in data["images"]] == ["sub/a.jpg"]
    assert [(s.file, s.obj) for s in report.skipped] == [("b.png", None)]
    assert report.skipped[0].reason.startswith("no b.* in images folder")


def test_instance_png_bad_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"junk")
    _save(np.zeros((2, 2, 3), np.uint8), tmp_path / "b.png")
    _save(np.ones((2, 2), np.uint8), tmp_path / "c.png")
    (tmp_path / "c.json").write_text(
        json.dumps({"image": {"id": 1, "height": 3, "width": 2}, "objects": []})
    )
    _save(np.full((2, 2), 2, np.uint8), tmp_path / "d.png")
    (tmp_path / "d.json").write_text(
        json.dumps(
            {
                "image": {"id": 4, "height": 2, "width": 2},
                "objects": [{"value": 1, "category_id": 1}],
            }
        )
    )
    _save(np.ones((2, 2), np.uint8), tmp_path / "e.png")
    (tmp_path / "e.json").write_text("{")
    _save(np.ones((2, 2), np.uint8), tmp_path / "f.png")
    (tmp_path / "f.json").write_text(json.dumps({"image": {}, "objects": {}}))
    _save(np.ones((2, 2), np.uint8), tmp_path / "g.png")
    (tmp_path / "g.json").write_text(
        json.dumps({"image": {"height": 2, "width": 2}, "objects": [1]})
    )
    _save(np.ones((2, 2), np.uint8), tmp_path / "h.png")
    (tmp_path / "h.json").write_text(
        json.dumps(
            {
                "image": {"height": 2, "width": 2},
                "objects": [{"value": 1, "category_id": 1, "iscrowd": "yes"}],
            }
        )
    )
    (tmp_path / "categories.json").write_text("[1]")
    data, report = png.read_instance_png(tmp_path)
    reasons = [(s.file, s.obj, s.reason) for s in report.skipped]
    assert reasons[0][:2] == ("categories.json", None)
    assert reasons[0][2] == 'must hold {"categories": [{"id": ...}, ...]}'
    assert reasons[1][:2] == ("a.png", None) and reasons[1][2].startswith("unreadable PNG")
    assert reasons[2][:2] == ("b.png", None) and "got mode RGB" in reasons[2][2]
    assert reasons[3] == (
        "c.png", None, "sidecar c.json: image size 3 x 2 does not match the PNG's 2 x 2"
    )  # fmt: skip
    assert reasons[4] == ("d.png", 2, "pixel value 2 is not in d.json")
    assert reasons[5] == (
        "d.png",
        1,
        "annotation None has no pixels in the PNG (painted over when it was exported)",
    )
    assert reasons[6][0] == "e.json" and reasons[6][2].startswith("unreadable JSON")
    assert reasons[7] == (
        "e.png", None, "sidecar e.json: must be an object with an 'image' entry and 'objects'"
    )  # fmt: skip
    assert reasons[8] == ("f.png", None, "sidecar f.json: 'objects' must be a list")
    assert reasons[9][:2] == ("g.png", None)
    assert "every object needs an int 'value' and a 'category_id'" in reasons[9][2]
    assert reasons[10] == (
        "h.png",
        None,
        "sidecar h.json: object 1: iscrowd must be 0 or 1, got 'yes'",
    )
    assert len(reasons) == 11
    assert [im["id"] for im in data["images"]] == [4] and data["annotations"] == []


@pytest.mark.parametrize("fn", [png.read_cityscapes, png.read_voc, png.read_instance_png])
def test_importer_argument_errors(tmp_path, fn):
    with pytest.raises(ValueError, match="to must be 'rle' or 'polygon', got 'mask'"):
        fn(tmp_path, to="mask")
    with pytest.raises(TypeError, match="options must be a dict, got list"):
        fn(tmp_path, options=[])
    with pytest.raises(ValueError, match="src must be an existing folder, got '.*nowhere'"):
        fn(tmp_path / "nowhere")
    (tmp_path / "SegmentationObject").mkdir(exist_ok=True)
    with pytest.raises(ValueError, match="images must be an existing folder, got '.*nowhere'"):
        fn(tmp_path, images=tmp_path / "nowhere")


def test_instance_png_option_errors(tmp_path):
    with pytest.raises(
        TypeError, match=r"options\['categories'\] must be an int, a str or a dict, got list"
    ):
        png.read_instance_png(tmp_path, options={"categories": [1]})
    with pytest.raises(
        TypeError, match=r"options\['categories'\] must be an int, a str or a dict, got bool"
    ):
        png.read_instance_png(tmp_path, options={"categories": True})
    with pytest.raises(
        ValueError, match=r"options\['categories'\] keys must be pixel values \(ints\), got 'x'"
    ):
        png.read_instance_png(tmp_path, options={"categories": {"x": 1}})
    with pytest.raises(
        TypeError, match=r"options\['category_names'\] must be a dict id -> name, got list"
    ):
        png.read_instance_png(tmp_path, options={"category_names": []})
