"""maskprep.datasets against the real torchvision code and the detectron2 / references rules.

Anchors:
- ``wrap_dataset_for_transforms_v2``: torchvision's own function, run here on the same
  ``torchvision.datasets.CocoDetection`` (PIL images read from disk).
- ``ConvertCocoPolysToMask``: torchvision's detection references are scripts, not a package, so
  ``RefConvertCocoPolysToMask`` below re-implements ``references/detection/coco_utils.py``
  (pytorch/vision main: ``convert_coco_poly_to_mask`` + ``ConvertCocoPolysToMask``) step for step
  on pycocotools.
- detectron2 helpers: its rules are re-implemented in test_targets.py (detectron2 does not
  install from the package index) and in ``d2_bitmask_gt_masks`` below (the bitmask branch of
  ``detectron2.data.detection_utils.annotations_to_instances``).

Tolerance: none; every tensor is compared with torch.equal, with its type (tv_tensors), dtype,
shape and metadata, and every target dict with its keys in order. The bundled sample always
runs; the 79 real photos of ../shared/data are skipped when absent; the edge cases (crowd RLEs,
compressed RLEs, objects outside the image, images without annotations, empty boxes, bad
annotations) run on a small generated dataset.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from conftest import shared_file, torch_or_skip
from maskprep import cli, datasets, rle
from test_targets import d2_bitmasks_crop_and_resize, d2_polygon_crop_and_resize, ref_dense

torch = torch_or_skip()
M = pytest.importorskip("pycocotools.mask")
pytest.importorskip("PIL")
from PIL import Image  # noqa: E402
from torchvision import datasets as tvd  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

# ---- the anchors re-implemented -----------------------------------------------------------------


def ref_convert_coco_poly_to_mask(segmentations, height, width):
    # references/detection/coco_utils.py: frPyObjects -> decode -> as_tensor -> any -> stack
    masks = []
    for polygons in segmentations:
        rles = M.frPyObjects(polygons, height, width)
        mask = M.decode(rles)
        if len(mask.shape) < 3:
            mask = mask[..., None]
        masks.append(torch.as_tensor(mask, dtype=torch.uint8).any(dim=2))
    if masks:
        return torch.stack(masks, dim=0)
    return torch.zeros((0, height, width), dtype=torch.uint8)


class RefConvertCocoPolysToMask:
    """references/detection/coco_utils.py's ConvertCocoPolysToMask (pytorch/vision main)."""

    def __call__(self, image, target):
        w, h = image.size
        image_id = target["image_id"]
        anno = [obj for obj in target["annotations"] if obj["iscrowd"] == 0]
        boxes = [obj["bbox"] for obj in anno]
        boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2].clamp_(min=0, max=w)
        boxes[:, 1::2].clamp_(min=0, max=h)
        classes = torch.tensor([obj["category_id"] for obj in anno], dtype=torch.int64)
        masks = ref_convert_coco_poly_to_mask([obj["segmentation"] for obj in anno], h, w)
        keypoints = None
        if anno and "keypoints" in anno[0]:
            keypoints = torch.as_tensor([obj["keypoints"] for obj in anno], dtype=torch.float32)
            num_keypoints = keypoints.shape[0]
            if num_keypoints:
                keypoints = keypoints.view(num_keypoints, -1, 3)
        keep = (boxes[:, 3] > boxes[:, 1]) & (boxes[:, 2] > boxes[:, 0])
        target = {"boxes": boxes[keep], "labels": classes[keep], "masks": masks[keep]}
        target["image_id"] = image_id
        if keypoints is not None:
            target["keypoints"] = keypoints[keep]
        target["area"] = torch.tensor([obj["area"] for obj in anno])
        target["iscrowd"] = torch.tensor([obj["iscrowd"] for obj in anno])
        return image, target


def d2_bitmask_gt_masks(annos, image_size):
    """detectron2 annotations_to_instances(..., mask_format="bitmask").gt_masks.tensor."""
    from test_targets import d2_polygons_to_bitmask

    masks = []
    for segm in [obj["segmentation"] for obj in annos]:
        if isinstance(segm, list):
            masks.append(d2_polygons_to_bitmask(segm, *image_size))
        else:
            if isinstance(segm["counts"], list):  # done by detectron2's load_coco_json
                segm = M.frPyObjects(segm, *segm["size"])
            masks.append(M.decode(segm))
    stacked = torch.stack([torch.from_numpy(np.ascontiguousarray(x)) for x in masks])
    return torch.as_tensor(stacked, dtype=torch.bool)  # BitMasks.__init__


# ---- datasets -----------------------------------------------------------------------------------


def sample_paths():
    root = cli.sample_dir()
    return str(root / "images"), str(root / "instances.json")


def real_paths():
    ann = shared_file("annotations", "cocomini_instances_val2017.json")
    return str(shared_file("images", "coco_val2017")), str(ann)


def rect(x0, y0, x1, y1):
    return [x0, y0, x1, y0, x1, y1, x0, y1]


@pytest.fixture(scope="module")
def edge_paths(tmp_path_factory):
    """Three small images: every segmentation kind, objects partly or wholly outside, an empty
    box, a 3-part object; one image with only a crowd RLE; one with no annotation."""
    root = tmp_path_factory.mktemp("edge")
    rng = np.random.default_rng(7)
    images, anns = [], []
    sizes = {1: (40, 50), 2: (30, 20), 3: (16, 16)}
    for iid, (h, w) in sizes.items():
        name = f"{iid:03d}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / name)
        images.append({"id": iid, "file_name": name, "height": h, "width": w})
    crowd = M.encode(np.asfortranarray((rng.random((40, 50)) < 0.4).astype(np.uint8)))
    crowd_u = {"size": [40, 50], "counts": rle.from_string(crowd["counts"]).tolist()}
    small = M.encode(np.asfortranarray((rng.random((30, 20)) < 0.5).astype(np.uint8)))
    segs1 = [
        ([rect(2.5, 3, 20, 30)], [2.5, 3, 17.5, 27], 0),
        ([rect(-10, -5, 8, 9), [30, 30, 70, 35, 45, 60]], [-10, -5, 80, 65], 0),  # partly outside
        ([rect(60, 50, 80, 70)], [60, 50, 20, 20], 0),  # wholly outside: empty mask, empty box
        (crowd_u, [0, 0, 50, 40], 1),
        ({"size": [40, 50], "counts": crowd["counts"].decode()}, [1, 1, 40, 30], 0),
        ([rect(5, 5, 9, 9), rect(10, 10, 14, 20), [1, 30, 6, 39, 2, 38.5]], [1, 5, 13, 34], 0),
        ([rect(4, 4, 4.5, 8)], [4, 4, 0, 4], 0),  # zero-width box: dropped by the references
    ]
    segs2 = [(crowd_u | {"size": [30, 20], "counts": rle.from_string(small["counts"]).tolist()},
              [0, 0, 20, 30], 1)]  # fmt: skip
    aid = 100
    for iid, segs in ((1, segs1), (2, segs2)):
        for seg, bbox, crowd_flag in segs:
            aid += 1
            anns.append({"id": aid, "image_id": iid, "category_id": aid % 7 + 1, "bbox": bbox,
                         "area": float(aid), "iscrowd": crowd_flag, "segmentation": seg})  # fmt: skip
    ann_file = root / "instances.json"
    data = {"images": images, "annotations": anns, "categories": [{"id": i} for i in range(1, 8)]}
    ann_file.write_text(json.dumps(data))
    return str(root), str(ann_file)


def coco(paths, **kw):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints while indexing
        return tvd.CocoDetection(*paths, **kw)


def assert_same(a, b, where=""):
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, (
            where,
            a.dtype,
            b.dtype,
            a.shape,
            b.shape,
        )
        assert torch.equal(a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor)), where
        if isinstance(a, tv_tensors.BoundingBoxes):
            assert a.format == b.format and a.canvas_size == b.canvas_size, where
    elif isinstance(a, dict):
        assert list(a) == list(b), (where, list(a), list(b))
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, Image.Image):
        assert a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b)), where
    else:
        assert a == b, (where, a, b)


def compare_wrappers(paths, target_keys, **kw):
    ours = datasets.wrap_dataset_for_transforms_v2(coco(paths, **kw), target_keys=target_keys)
    theirs = tvd.wrap_dataset_for_transforms_v2(coco(paths, **kw), target_keys=target_keys)
    assert type(ours).__name__ == type(theirs).__name__ == "WrappedCocoDetection"
    assert isinstance(ours, tvd.CocoDetection) and len(ours) == len(theirs)
    for i in range(len(theirs)):
        assert_same(ours[i], theirs[i], f"sample {i}")
    return ours


# ---- wrap_dataset_for_transforms_v2 -------------------------------------------------------------

KEYS = [None, "all", {"masks", "boxes", "labels"}, ["segmentation", "masks", "iscrowd"]]


@pytest.mark.parametrize("target_keys", KEYS)
def test_wrap_bundled_sample_matches_torchvision(target_keys):
    compare_wrappers(sample_paths(), target_keys)


def test_wrap_real_photos_match_torchvision():
    ours = compare_wrappers(real_paths(), "all")
    assert len(ours) == 79


@pytest.mark.parametrize("target_keys", ["all", {"masks"}])
def test_wrap_edge_cases_match_torchvision(edge_paths, target_keys):
    ours = compare_wrappers(edge_paths, target_keys)
    _, t = ours[0]
    assert t["masks"].shape == (7, 40, 50) and not t["masks"][2].any()  # wholly outside
    assert ours[2][1] == {"image_id": 3}  # no annotations: image_id only, as torchvision


def test_wrap_with_v2_transforms_matches_torchvision():
    tf = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0), v2.CenterCrop(300)])
    compare_wrappers(sample_paths(), "all", transforms=tf)


def test_wrap_pickles_back_to_maskprep():
    ours = datasets.wrap_dataset_for_transforms_v2(coco(sample_paths()), target_keys="all")
    back = pickle.loads(pickle.dumps(ours))
    assert type(back).__name__ == "WrappedCocoDetection"
    assert back._wrapper.__module__ == "maskprep.datasets"
    assert_same(back[1], ours[1])


def test_wrap_delegates_other_datasets_and_bad_keys_to_torchvision(tmp_path):
    caps = tvd.CocoCaptions(*sample_paths())
    ours, theirs = (f(caps) for f in (datasets.wrap_dataset_for_transforms_v2,
                                      tvd.wrap_dataset_for_transforms_v2))  # fmt: skip
    assert ours._wrapper.__module__ == theirs._wrapper.__module__ != "maskprep.datasets"
    with pytest.raises(ValueError, match=r"Target keys \['nope'\] are not available"):
        datasets.wrap_dataset_for_transforms_v2(coco(sample_paths()), target_keys={"nope"})
    with pytest.raises(ValueError, match="target_keys"):
        datasets.wrap_dataset_for_transforms_v2(coco(sample_paths()), target_keys=5)
    with pytest.raises(TypeError, match="VisionDataset"):
        datasets.wrap_dataset_for_transforms_v2([1, 2])


def bad_sample(seg):
    image = Image.new("RGB", (20, 10))
    ann = {"id": 4242, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 1.0,
           "iscrowd": 0, "segmentation": seg}  # fmt: skip
    return image, [ann]


class FakeCoco(tvd.CocoDetection):
    """A CocoDetection serving one prepared sample (for annotations no JSON file should hold)."""

    def __init__(self, sample):
        self.sample, self.ids = sample, [1]
        self.transform = self.target_transform = self.transforms = None

    def __getitem__(self, idx):
        return self.sample

    def __len__(self):
        return 1


@pytest.mark.parametrize(
    "seg, match",
    [
        ([], r"annotation id 4242 has an empty segmentation"),
        ([[1, 1, 5, 1]], r"annotation id 4242: segmentation polygon 0 must have at least 3"),
        ([[1, 1, 5, 1, 3, float("nan")]], r"annotation id 4242: segmentation polygon 0"),
        ({"size": [5, 5], "counts": [25]}, r"annotation id 4242: segmentation is an RLE of size"),
        ("oops", r"annotation id 4242: segmentation must be a polygon list"),
    ],
)
def test_bad_annotations_name_the_id(seg, match):
    """torchvision fails inside pycocotools or torch.stack here (IndexError, TypeError,
    RuntimeError...) or returns a mask of the wrong size; maskprep names the annotation."""
    exc = TypeError if isinstance(seg, str) else ValueError
    ds = datasets.wrap_dataset_for_transforms_v2(FakeCoco(bad_sample(seg)), target_keys={"masks"})
    with pytest.raises(exc, match=match):
        ds[0]
    image, anns = bad_sample(seg)
    with pytest.raises(exc, match=match):
        datasets.ConvertCocoPolysToMask()(image, {"image_id": 1, "annotations": anns})


def test_torchvision_itself_fails_on_the_empty_segmentation():
    ds = tvd.wrap_dataset_for_transforms_v2(FakeCoco(bad_sample([])), target_keys={"masks"})
    with pytest.raises(IndexError):
        ds[0]


# ---- ConvertCocoPolysToMask ---------------------------------------------------------------------


def compressed_non_crowd(a) -> bool:
    return isinstance(a["segmentation"], dict) and not isinstance(a["segmentation"]["counts"], list)


def compare_convert(paths):
    ds = coco(paths)
    for i in range(len(ds)):
        image, anns = ds[i]
        anns = [a for a in anns if not compressed_non_crowd(a)]  # the references fail on them
        target = {"image_id": ds.ids[i], "annotations": anns}
        ref = RefConvertCocoPolysToMask()(image, {**target})
        got = datasets.ConvertCocoPolysToMask()(image, {**target})
        assert got[0] is image
        assert_same(got[1], ref[1], f"image {ds.ids[i]}")


def test_convert_bundled_sample_matches_references():
    compare_convert(sample_paths())


def test_convert_real_photos_match_references():
    compare_convert(real_paths())


def test_convert_edge_cases_match_references(edge_paths):
    compare_convert(edge_paths)  # the crowd-only image gives (0, H, W) masks
    _, t = datasets.ConvertCocoPolysToMask()(Image.new("RGB", (7, 5)), {"image_id": 9,
                                                                        "annotations": []})  # fmt: skip
    assert t["masks"].dtype == torch.uint8 and t["masks"].shape == (0, 5, 7)


def test_convert_decodes_compressed_rles_where_the_references_fail(edge_paths):
    image, anns = coco(edge_paths)[0]
    target = {"image_id": 1, "annotations": [a for a in anns if compressed_non_crowd(a)]}
    with pytest.raises(ValueError, match="invalid literal"):  # frPyObjects on a str
        RefConvertCocoPolysToMask()(image, target)
    got = datasets.ConvertCocoPolysToMask()(image, target)[1]["masks"]
    ref = ref_dense(target["annotations"][0]["segmentation"], 40, 50)
    assert torch.equal(got, torch.from_numpy(ref[None]).to(torch.uint8))


def test_convert_keypoints_match_references():
    image = Image.new("RGB", (30, 20))
    anns = [{"id": i, "bbox": [1, 1, 10 - 3 * i, 5], "category_id": 1, "area": 3.0,
             "iscrowd": 0, "segmentation": [rect(1, 1, 11, 6)],
             "keypoints": [2.0, 3.0, 2, 5.0, 4.0, 1]} for i in range(5)]  # fmt: skip
    target = {"image_id": 3, "annotations": anns}
    assert_same(datasets.ConvertCocoPolysToMask()(image, target)[1],
                RefConvertCocoPolysToMask()(image, target)[1])  # fmt: skip


# ---- detectron2 / mmdet helpers -----------------------------------------------------------------


def real_or_sample_annotations():
    data = json.loads((cli.sample_dir() / "instances.json").read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    by_image: dict = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    return [(sizes[i], anns) for i, anns in by_image.items()]


def test_annotations_to_bitmasks_matches_detectron2_and_mmdet():
    for size, anns in real_or_sample_annotations():
        # detectron2 hands over transformed polygons as float64 arrays
        d2_anns = [a | {"segmentation": [np.asarray(p, "float64") for p in a["segmentation"]]}
                   if isinstance(a["segmentation"], list) else a for a in anns]  # fmt: skip
        got = datasets.annotations_to_bitmasks(d2_anns, size)
        assert torch.equal(torch.from_numpy(got), d2_bitmask_gt_masks(d2_anns, size))
        # mmdet's LoadAnnotations(poly2mask=True): _poly2mask per object, uint8
        out = np.empty((len(anns), *size), np.uint8)
        datasets.annotations_to_bitmasks(anns, size, out=out)
        ref = np.stack([ref_dense(a["segmentation"], *size) for a in anns]).astype(np.uint8)
        np.testing.assert_array_equal(out, ref)


class FakePolygonMasks:
    def __init__(self, polygons):
        self.polygons = [[np.asarray(p, "float64") for p in o] for o in polygons]


class FakeBitMasks:
    def __init__(self, tensor):
        self.tensor = tensor


def test_crop_and_resize_drop_ins_match_detectron2(rng):
    from test_targets import random_objects, sampled_boxes

    objs, boxes = sampled_boxes(rng, random_objects(rng, 20, 80, 90), 8, 80, 90, np.float32)
    got = datasets.polygon_masks_crop_and_resize(
        FakePolygonMasks(objs), torch.from_numpy(boxes), 28
    )
    assert isinstance(got, torch.Tensor) and got.dtype == torch.bool
    np.testing.assert_array_equal(got.numpy(), d2_polygon_crop_and_resize(objs, boxes, 28))
    keep = boxes[:, 2] >= boxes[:, 0]
    objs = [o for o, k in zip(objs, keep) if k]
    boxes = torch.from_numpy(boxes[keep])
    masks = torch.from_numpy(rle.dense_from_segmentations(objs, (80, 90)))
    got = datasets.bitmasks_crop_and_resize(FakeBitMasks(masks), boxes, 28)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), d2_bitmasks_crop_and_resize(masks, boxes, 28))
    empty = datasets.polygon_masks_crop_and_resize(FakePolygonMasks([]), torch.zeros(0, 4), 28)
    assert empty.shape == (0, 28, 28) and empty.dtype == torch.bool
