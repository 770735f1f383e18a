"""Drop-ins for the training loaders: the same targets as torchvision / detectron2 / mmdet build,
with the masks rasterized by maskprep in one call per image.

- :func:`wrap_dataset_for_transforms_v2`: torchvision's function of that name (same signature,
  same targets: ``tv_tensors.BoundingBoxes``, ``tv_tensors.Mask`` (uint8), labels, image_id and
  the native keys); for ``CocoDetection`` the masks come from
  :func:`maskprep.rle.dense_from_segmentations`, every other dataset goes to torchvision.
- :class:`ConvertCocoPolysToMask`: the transform of torchvision's detection references
  (``references/detection/coco_utils.py``), same output.
- :func:`annotations_to_bitmasks`: an image's annotations to the dense masks detectron2's
  ``annotations_to_instances(..., mask_format="bitmask")`` and mmdet's
  ``LoadAnnotations(poly2mask=True)`` build; :func:`polygon_masks_crop_and_resize` and
  :func:`bitmasks_crop_and_resize`: detectron2's ``PolygonMasks.crop_and_resize`` and
  ``BitMasks.crop_and_resize`` (the mask head's RoI targets).

torch and torchvision are imported only when these are used. On valid annotations the results
are torchvision's, bit for bit. An annotation pycocotools cannot rasterize raises an error naming
its id: an empty polygon list (torchvision: IndexError), a first polygon of 2 points (TypeError),
an RLE of another size (a wrong-sized mask or a torch.stack error), and also what pycocotools
rasterizes silently wrong (odd-length or non-finite coordinates, a later polygon of fewer than
3 points). Compressed RLEs of non-crowd objects, on which the references' frPyObjects fails,
are decoded.
"""

from __future__ import annotations

import collections.abc
from typing import Any, Optional, Sequence

from . import _core, rle

__all__ = [
    "wrap_dataset_for_transforms_v2",
    "ConvertCocoPolysToMask",
    "annotations_to_bitmasks",
    "polygon_masks_crop_and_resize",
    "bitmasks_crop_and_resize",
]


def _ann_name(ann: Any) -> str:
    return f"annotation id {ann.get('id')!r}" if isinstance(ann, dict) else "annotation"


def _segmentations(anns: Sequence[dict], torchvision_rules: bool) -> list:
    """The segmentation of every annotation; with torchvision_rules, an empty polygon list is an
    error (pycocotools' frPyObjects raises IndexError on it) instead of an empty mask."""
    segs = []
    for a in anns:
        try:
            s = a["segmentation"]
        except (KeyError, TypeError):
            raise ValueError(f"{_ann_name(a)} has no 'segmentation'") from None
        if torchvision_rules and isinstance(s, list) and not s:
            raise ValueError(f"{_ann_name(a)} has an empty segmentation (no polygon)")
        segs.append(s)
    return segs


def _dense(anns: Sequence[dict], h: int, w: int, out: Any, torchvision_rules: bool) -> Any:
    """dense_from_segmentations of the annotations' segmentations; errors name the annotation."""
    segs = _segmentations(anns, torchvision_rules)
    try:
        return rle.dense_from_segmentations(segs, (h, w), out=out)
    except (_core.IndexedValueError, _core.IndexedTypeError) as e:  # e.index: which segmentation
        base = ValueError if isinstance(e, ValueError) else TypeError
        raise base(f"{_ann_name(anns[e.index])}: segmentation{e.message}") from None


# ---- torchvision --------------------------------------------------------------------------------

_COCO_AVAILABLE = {
    "segmentation", "area", "iscrowd", "image_id", "bbox", "category_id",
    "boxes", "masks", "labels",
}  # fmt: skip
_COCO_DEFAULT = {"image_id", "boxes", "labels"}


def _parse_target_keys(target_keys: Any) -> set:
    # torchvision's parse_target_keys for CocoDetection (same keys, same error).
    keys = _COCO_DEFAULT if target_keys is None else target_keys
    if keys == "all":
        return _COCO_AVAILABLE
    keys = set(keys)
    extra = keys - _COCO_AVAILABLE
    if extra:
        raise ValueError(f"Target keys {sorted(extra)} are not available")
    return keys


def _torchvision_keys(tv_wrapper: Any, target_keys: Any) -> set:
    """The parsed key set held by torchvision's own per-sample function: the extra native keys
    are added in the iteration order of that set, which depends on how it was built; taking
    torchvision's set keeps the target dicts' key order identical. Falls back to parsing."""
    cells = getattr(tv_wrapper, "__closure__", None) or ()
    names = getattr(getattr(tv_wrapper, "__code__", None), "co_freevars", ())
    for name, cell in zip(names, cells):
        if name == "target_keys" and isinstance(cell.cell_contents, set):
            return cell.cell_contents
    return _parse_target_keys(target_keys)


def _batch_keys(anns: Sequence[dict], needed: set) -> dict:
    """torchvision's list_of_dicts_to_dict_of_lists restricted to the needed fields; when an
    annotation lacks one, the full version (whose lists then skip it, as torchvision's do)."""
    try:
        return {k: [a[k] for a in anns] for k in needed}
    except KeyError:
        batched: dict = {}
        for a in anns:
            for k, v in a.items():
                batched.setdefault(k, []).append(v)
        return batched


def _coco_wrapper(dataset: Any, keys: set):
    """The per-sample function of torchvision's CocoDetection wrapper, masks by maskprep."""
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as F

    # the annotation fields the targets are built from (torchvision batches every field)
    fields = {"boxes": "bbox", "labels": "category_id", "masks": "segmentation"}
    needed = {fields.get(k, k) for k in keys if k != "image_id"}

    def wrapper(idx: int, sample: Any) -> Any:
        image_id = dataset.ids[idx]
        image, anns = sample
        if not anns:
            return image, dict(image_id=image_id)
        canvas_size = tuple(F.get_size(image))
        batched = _batch_keys(anns, needed)
        target: dict = {}
        if "image_id" in keys:
            target["image_id"] = image_id
        if "boxes" in keys:
            target["boxes"] = F.convert_bounding_box_format(
                tv_tensors.BoundingBoxes(
                    batched["bbox"],
                    format=tv_tensors.BoundingBoxFormat.XYWH,
                    canvas_size=canvas_size,
                ),
                new_format=tv_tensors.BoundingBoxFormat.XYXY,
            )
        if "masks" in keys:
            h, w = canvas_size
            masks = torch.empty((len(anns), h, w), dtype=torch.uint8)  # pycocotools' decode dtype
            target["masks"] = tv_tensors.Mask(_dense(anns, h, w, masks, True))
        if "labels" in keys:
            target["labels"] = torch.tensor(batched["category_id"])
        for k in keys - {"image_id", "boxes", "masks", "labels"}:
            target[k] = batched[k]
        return image, target

    return wrapper


def _wrapper_class():
    from torchvision.tv_tensors._dataset_wrapper import VisionDatasetTVTensorWrapper

    class _MaskprepCocoWrapper(VisionDatasetTVTensorWrapper):
        """torchvision's wrapper (attribute forwarding, transforms, len) with maskprep's
        per-sample function; pickles (DataLoader spawn workers) back through maskprep."""

        _wrapper: Any

        def __init__(self, dataset: Any, target_keys: Any) -> None:
            super().__init__(dataset, target_keys)  # checks and parses the keys as torchvision
            keys = _torchvision_keys(self._wrapper, target_keys)
            self._wrapper = _coco_wrapper(dataset, keys)

        def __reduce__(self):
            fn, args = super().__reduce__()
            return wrap_dataset_for_transforms_v2, args

    return _MaskprepCocoWrapper


def _is_coco_detection(dataset: Any) -> bool:
    from torchvision import datasets
    from torchvision.tv_tensors._dataset_wrapper import WRAPPER_FACTORIES

    # the factory torchvision would pick: the first class of the MRO that has one
    # (CocoCaptions, a CocoDetection subclass, has its own)
    for cls in type(dataset).mro():
        if cls in WRAPPER_FACTORIES:
            return cls is datasets.CocoDetection
    return False


def wrap_dataset_for_transforms_v2(dataset: Any, target_keys: Any = None) -> Any:
    """torchvision.datasets.wrap_dataset_for_transforms_v2 with maskprep's masks.

    Same signature, same behaviour and, for ``CocoDetection`` (and subclasses), the same targets
    bit for bit: ``masks`` is a ``tv_tensors.Mask`` (N, H, W) uint8 built in one parallel call
    per image instead of pycocotools' frPyObjects/merge/decode per object. Any other dataset is
    handed to torchvision's function unchanged.

    Parameters
    ----------
    dataset : torchvision.datasets.VisionDataset
        The dataset to wrap.
    target_keys : None, "all" or collection of str
        The target keys, as torchvision's (None: its default ``image_id``, ``boxes``,
        ``labels``).

    Returns
    -------
    VisionDataset
        The wrapped dataset, of torchvision's wrapper class for ``type(dataset)`` (an instance
        of ``type(dataset)``); it pickles (DataLoader spawn workers) back through maskprep.

    Raises
    ------
    TypeError
        If ``dataset`` is not a ``VisionDataset`` (torchvision's error).
    ValueError
        If ``target_keys`` names keys that are not available or is of another type
        (torchvision's errors). Reading a sample raises ValueError (TypeError for a
        segmentation of a wrong type) naming the annotation's id when pycocotools could not
        rasterize it (an empty polygon list, a polygon of fewer than 3 points, odd-length or
        non-finite coordinates, an RLE of another size).

    Examples
    --------
    >>> import torch
    >>> from pathlib import Path
    >>> from torchvision.datasets import CocoDetection
    >>> import maskprep
    >>> from maskprep.datasets import wrap_dataset_for_transforms_v2
    >>> sample = Path(maskprep.__file__).parent / "data" / "sample"  # the bundled photos
    >>> coco = CocoDetection(sample / "images", sample / "instances.json")
    loading annotations into memory...
    Done (t=...s)
    creating index...
    index created!
    >>> ds = wrap_dataset_for_transforms_v2(coco, target_keys={"boxes", "masks", "labels"})
    >>> type(ds).__name__, len(ds)
    ('WrappedCocoDetection', 4)
    >>> image, target = ds[0]
    >>> type(target["masks"]).__name__, target["masks"].dtype, tuple(target["masks"].shape)
    ('Mask', torch.uint8, (8, 480, 640))
    >>> wrap_dataset_for_transforms_v2(coco, target_keys={"nope"})
    Traceback (most recent call last):
    ValueError: Target keys ['nope'] are not available
    """
    from torchvision.datasets import wrap_dataset_for_transforms_v2 as tv_wrap

    if not _is_coco_detection(dataset):
        return tv_wrap(dataset, target_keys)
    ok = target_keys is None or target_keys == "all"
    if not (ok or isinstance(target_keys, collections.abc.Collection)):
        return tv_wrap(dataset, target_keys)  # raises torchvision's ValueError
    base = _wrapper_class()
    # Named and placed in the MRO as torchvision does, so isinstance(w, type(dataset)) holds.
    cls = type(f"Wrapped{type(dataset).__name__}", (base, type(dataset)), {})
    return cls(dataset, target_keys)


class ConvertCocoPolysToMask:
    """The ``ConvertCocoPolysToMask`` transform of torchvision's detection references.

    ``(image, {"image_id": id, "annotations": [...]})`` -> ``(image, target)`` with the same
    keys, values and dtypes: crowd annotations dropped; ``boxes`` float32 xyxy clamped to the
    image; ``labels`` int64; ``masks`` (K, H, W) uint8 0/1; objects whose clamped box is empty
    dropped from boxes/labels/masks (and keypoints); ``area`` and ``iscrowd`` of every non-crowd
    annotation. ``image`` is a PIL image (``image.size`` is (w, h)).

    Raises
    ------
    KeyError
        For a target without ``annotations`` or an annotation without ``iscrowd``, ``bbox``,
        ``category_id`` or ``area``, as the references raise.
    ValueError
        For an annotation without a segmentation, with an empty polygon list, or with one
        pycocotools cannot rasterize (TypeError for one of a wrong type); the message names
        the annotation's id.

    Examples
    --------
    >>> import torch
    >>> from PIL import Image
    >>> from maskprep.datasets import ConvertCocoPolysToMask
    >>> ann = {"id": 7, "bbox": [1, 1, 3, 3], "category_id": 2, "area": 4.5, "iscrowd": 0,
    ...        "segmentation": [[1.0, 1.0, 4.0, 1.0, 1.0, 4.0]]}
    >>> image, target = ConvertCocoPolysToMask()(
    ...     Image.new("RGB", (6, 5)), {"image_id": 1, "annotations": [ann]})
    >>> target["boxes"], target["labels"], target["masks"].shape, target["masks"].dtype
    (tensor([[1., 1., 4., 4.]]), tensor([2]), torch.Size([1, 5, 6]), torch.uint8)
    >>> target["masks"][0].tolist()
    [[0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0],
     [0, 0, 0, 0, 0, 0]]
    """

    def __call__(self, image: Any, target: dict) -> Any:
        import torch

        w, h = image.size
        image_id = target["image_id"]
        anno = [obj for obj in target["annotations"] if obj["iscrowd"] == 0]

        boxes = torch.as_tensor([obj["bbox"] for obj in anno], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2].clamp_(min=0, max=w)
        boxes[:, 1::2].clamp_(min=0, max=h)
        classes = torch.tensor([obj["category_id"] for obj in anno], dtype=torch.int64)

        # uint8, as there: torch's any() of a uint8 tensor is uint8
        masks = torch.empty((len(anno), h, w), dtype=torch.uint8)
        _dense(anno, h, w, masks, True)

        keypoints = None
        if anno and "keypoints" in anno[0]:
            keypoints = torch.as_tensor([obj["keypoints"] for obj in anno], dtype=torch.float32)
            if keypoints.shape[0]:
                keypoints = keypoints.view(keypoints.shape[0], -1, 3)

        keep = (boxes[:, 3] > boxes[:, 1]) & (boxes[:, 2] > boxes[:, 0])
        out = {
            "boxes": boxes[keep],
            "labels": classes[keep],
            "masks": masks if bool(keep.all()) else masks[keep],
            "image_id": image_id,
        }
        if keypoints is not None:
            out["keypoints"] = keypoints[keep]
        # for the COCO API, as the references: not filtered by `keep`
        out["area"] = torch.tensor([obj["area"] for obj in anno])
        out["iscrowd"] = torch.tensor([obj["iscrowd"] for obj in anno])
        return image, out


# ---- detectron2 / mmdet -------------------------------------------------------------------------


def annotations_to_bitmasks(
    annotations: Sequence[dict],
    image_size: Sequence[int],
    *,
    out: Any = None,
    num_threads: Optional[int] = None,
) -> Any:
    """An image's annotations to dense masks ``(N, H, W)`` bool (numpy, or ``out``).

    The masks detectron2's ``annotations_to_instances(annos, (h, w), mask_format="bitmask")``
    puts in ``gt_masks.tensor`` (polygons through ``polygons_to_bitmask``, RLE dicts through
    ``mask_util.decode``) and mmdet's ``LoadAnnotations(with_mask=True, poly2mask=True)``
    builds (``_poly2mask`` per object; pass ``out`` a uint8 array for its dtype).

    Parameters
    ----------
    annotations : sequence of dict
        The image's annotations, each with a ``segmentation``: a polygon list (polygons may be
        lists or 1-D arrays, detectron2's transformed annotations; an empty polygon list gives
        a zero mask, as ``polygons_to_bitmask`` does) or an RLE dict.
    image_size : (int, int)
        ``(height, width)``.
    out : array or tensor, optional
        Where to write: a C-contiguous ``(N, height, width)`` bool or uint8 numpy array or CPU
        tensor; None: a new bool numpy array.
    num_threads : int, optional
        Currently not passed on: the masks are rasterized on the process thread budget.

    Returns
    -------
    array or tensor
        ``out`` itself when given, else a new ``(N, H, W)`` bool array.

    Raises
    ------
    TypeError
        If a segmentation is of a wrong type (the message names the annotation's id), ``out``
        is not bool or uint8, or ``annotations`` or ``image_size`` is not iterable.
    ValueError
        If an annotation has no segmentation or one pycocotools cannot rasterize (a polygon of
        fewer than 3 points, odd-length or non-finite coordinates, an RLE of another size;
        named by id), ``image_size`` is not two ints >= 0, or ``out`` has another shape or is
        not on the CPU.

    Examples
    --------
    >>> import torch
    >>> import numpy as np
    >>> from maskprep.datasets import annotations_to_bitmasks
    >>> anns = [{"id": 7, "segmentation": [[1.0, 1.0, 4.0, 1.0, 1.0, 4.0]]}]
    >>> masks = annotations_to_bitmasks(anns, (5, 5))
    >>> masks.dtype, masks.shape
    (dtype('bool'), (1, 5, 5))
    >>> print(masks[0].astype(np.uint8))
    [[0 0 0 0 0]
     [0 1 1 0 0]
     [0 1 0 0 0]
     [0 0 0 0 0]
     [0 0 0 0 0]]
    >>> out = torch.empty((1, 5, 5), dtype=torch.uint8)  # mmdet's dtype
    >>> annotations_to_bitmasks(anns, (5, 5), out=out) is out
    True
    >>> annotations_to_bitmasks([{"id": 8}], (5, 5))
    Traceback (most recent call last):
    ValueError: annotation id 8 has no 'segmentation'
    """
    h, w = (int(v) for v in image_size)
    return _dense(list(annotations), h, w, out, False)


def polygon_masks_crop_and_resize(polygon_masks: Any, boxes: Any, mask_size: int) -> Any:
    """detectron2's ``PolygonMasks.crop_and_resize(boxes, mask_size)``, bit for bit.

    Install with ``PolygonMasks.crop_and_resize = polygon_masks_crop_and_resize``.

    Parameters
    ----------
    polygon_masks : PolygonMasks or list of list
        A detectron2 ``PolygonMasks`` (its ``.polygons``) or a list of per-object polygon
        lists.
    boxes : Tensor
        (N, 4) float32 or float64 xyxy boxes, one per object.
    mask_size : int
        M, the side of the targets (>= 1).

    Returns
    -------
    Tensor
        (N, M, M) bool on ``boxes.device``.

    Raises
    ------
    TypeError
        If ``mask_size`` is not an int or ``boxes`` is not float32 or float64.
    ValueError
        If ``mask_size`` is below 1, ``boxes`` is not (N, 4) with one row per object, or a
        polygon is invalid (odd-length, fewer than 3 points; the message names it).

    Examples
    --------
    >>> import torch
    >>> from maskprep.datasets import polygon_masks_crop_and_resize
    >>> polygons = [[[1.0, 1.0, 4.0, 1.0, 1.0, 4.0]]]  # one object, one triangle
    >>> out = polygon_masks_crop_and_resize(polygons, torch.tensor([[0.0, 0.0, 4.0, 4.0]]), 4)
    >>> out.dtype, tuple(out.shape)
    (torch.bool, (1, 4, 4))
    >>> out[0].to(torch.uint8).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    """
    polygons = getattr(polygon_masks, "polygons", polygon_masks)
    import torch

    boxes_t = torch.as_tensor(boxes)
    out = rle.rasterize_within_boxes(list(polygons), boxes_t.cpu(), mask_size)
    return out.to(boxes_t.device)


def bitmasks_crop_and_resize(bitmasks: Any, boxes: Any, mask_size: int) -> Any:
    """detectron2's ``BitMasks.crop_and_resize(boxes, mask_size)``, bit for bit on the CPU:
    RoI Align (aligned=True) of the float32 masks, then ``>= 0.5``.

    Parameters
    ----------
    bitmasks : BitMasks, Tensor or array
        A detectron2 ``BitMasks`` (its ``.tensor``) or an (N, H, W) bool/uint8 tensor or array.
    boxes : Tensor or array
        (N, 4) float32 or float64 xyxy boxes, one per mask.
    mask_size : int
        M, the side of the targets (>= 1).

    Returns
    -------
    Tensor or array
        (N, M, M) bool, a tensor on the masks' device when they are a tensor.

    Raises
    ------
    TypeError
        If the masks are not bool or uint8, ``mask_size`` is not an int, or ``boxes`` is not
        float32 or float64.
    ValueError
        If the masks are not (N, H, W), ``boxes`` is not (N, 4) with one row per mask, or
        ``mask_size`` is below 1.

    Examples
    --------
    >>> import torch
    >>> from maskprep.datasets import bitmasks_crop_and_resize
    >>> masks = torch.zeros((1, 4, 4), dtype=torch.bool)
    >>> masks[0, :2, :2] = True  # the top-left quarter
    >>> bitmasks_crop_and_resize(masks, torch.tensor([[0.0, 0.0, 4.0, 4.0]]), 2).tolist()
    [[[True, False], [False, False]]]
    """
    masks = getattr(bitmasks, "tensor", bitmasks)
    from ._arrays import is_tensor

    if is_tensor(masks) and masks.device.type != "cpu":
        device = masks.device
        return rle.rasterize_within_boxes(masks.cpu(), boxes.cpu(), mask_size).to(device)
    return rle.rasterize_within_boxes(masks, boxes, mask_size)
