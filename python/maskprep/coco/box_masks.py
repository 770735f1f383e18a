"""Masks for box-only annotations (``maskprep boxes``) and finding an annotation's image file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import rle
from .conversion import _raise_unless_skipping, _rle_json
from .jsonio import PathLike, no_gc
from .structure import image_sizes

# ``maskprep boxes --method``: boxes.METHODS (no model), then Mask R-CNN's mask head.
BOX_METHODS = ("box", "ellipse", "grow", "maskrcnn")


@dataclass
class BoxesReport:
    added: int = 0  # annotations that received a mask
    images: int = 0  # images read
    skipped: List[Any] = field(default_factory=list)
    errors: Dict[Any, str] = field(default_factory=dict)
    # image id -> (message, ids of its annotations): an unreadable image is reported once
    image_errors: Dict[Any, Tuple[str, List[Any]]] = field(default_factory=dict)


def _needs_mask(ann: Dict[str, Any], overwrite: bool) -> bool:
    seg = ann.get("segmentation")
    return overwrite or seg is None or (isinstance(seg, (list, dict)) and not seg)


def _box_error(bbox: Any) -> Optional[str]:
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return f"bbox must be [x, y, width, height], got {bbox!r}"
    try:
        v = [float(x) for x in bbox]
    except (TypeError, ValueError):
        return f"bbox must hold 4 numbers, got {bbox!r}"
    if not all(math.isfinite(x) for x in v) or v[2] < 0 or v[3] < 0:
        return f"bbox must be finite with non-negative width and height, got {bbox!r}"
    return None


def image_file_names(im: Dict[str, Any]) -> List[str]:
    """The names under which an image's file may be stored, in the order they are tried.

    Its ``file_name``, the last part of its ``coco_url`` (LVIS v1 images have only that), and
    the file name without a ``COCO_<split>_`` prefix (COCO 2014 / LVIS v0.5 names for files in a
    COCO 2017 folder).

    Parameters
    ----------
    im : dict
        An entry of ``images``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> image_file_names({"file_name": "COCO_val2014_000000000042.jpg"})
    ['COCO_val2014_000000000042.jpg', '000000000042.jpg']
    """
    names: List[str] = []
    file_name = im.get("file_name")
    if isinstance(file_name, str) and file_name:
        names.append(file_name)
    url = im.get("coco_url")
    if isinstance(url, str) and url.rstrip("/"):
        names.append(url.rstrip("/").rsplit("/", 1)[-1])
    for name in list(names):
        base = name.rsplit("/", 1)[-1]
        parts = base.split("_")
        if len(parts) == 3 and parts[0] == "COCO":  # COCO_val2014_000000000042.jpg
            names.append(parts[2])
    return list(dict.fromkeys(names))


def find_image(images_dir: PathLike, im: Dict[str, Any]) -> Tuple[Optional[Path], List[str]]:
    """The first of :func:`image_file_names` that exists in ``images_dir``.

    Parameters
    ----------
    images_dir : str or os.PathLike
    im : dict
        An entry of ``images``.

    Returns
    -------
    path : pathlib.Path or None
        None when no name exists there.
    names : list of str
        The names tried.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "000000000042.jpg").write_bytes(b"")
    >>> path, names = find_image(folder, {"file_name": "COCO_val2014_000000000042.jpg"})
    >>> path.name
    '000000000042.jpg'
    """
    names = image_file_names(im)
    for name in names:
        path = Path(images_dir) / name
        if path.is_file():
            return path, names
    return None, names


def load_rgb(path: PathLike) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (grey and RGBA files are converted).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    OSError
        A file that is missing or cannot be decoded (PIL's ``UnidentifiedImageError``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.png"
    >>> Image.new("L", (5, 4)).save(path)
    >>> load_rgb(path).shape
    (4, 5, 3)
    """
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@no_gc()
def add_box_masks(
    data: Dict[str, Any],
    masks_for_image: Callable[
        [np.ndarray, Optional[np.ndarray], Tuple[int, int], List[Any]], List[Any]
    ],
    *,
    images_dir: Optional[PathLike] = None,
    overwrite: bool = False,
    skip_invalid: bool = False,
    progress: Optional[Callable[[int, int], None]] = None,
) -> BoxesReport:
    """Give a mask to every annotation that has a ``bbox`` but no ``segmentation`` (with
    ``overwrite``: to every annotation with a bbox), in place.

    The segmentation becomes compressed RLE and ``area`` its pixel count (COCO's segmentation
    area); ``bbox`` and every other field are kept.

    Parameters
    ----------
    data : dict
        A COCO instances dict.
    masks_for_image : callable
        ``masks_for_image(boxes_xywh (N, 4) float64, image or None, (h, w), category_ids)``
        returns N COCO RLEs (see :func:`masks_for_method`); the image, (H, W, 3) uint8 RGB read
        from ``images_dir`` (see :func:`find_image`), is passed only when ``images_dir`` is
        given.
    images_dir : str or os.PathLike, optional
    overwrite : bool
    skip_invalid : bool
        Leave annotations with bad boxes, unknown image ids or unreadable images as they are
        (listed in ``report.skipped``) instead of raising.
    progress : callable, optional
        ``progress(done, total)``, called after each image.

    Returns
    -------
    BoxesReport

    Raises
    ------
    ValueError
        A structure :func:`check_structure` refuses, or bad boxes, unknown image ids and
        unreadable images (by annotation id, before anything is changed) unless
        ``skip_invalid``.

    Examples
    --------
    >>> data = {"images": [{"id": 1, "height": 10, "width": 12, "file_name": "x.png"}],
    ...         "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "area": 12.5,
    ...                          "bbox": [1, 1, 5, 5], "segmentation": [[1, 1, 6, 1, 6, 6]]}],
    ...         "categories": [{"id": 1, "name": "thing"}]}
    >>> del data["annotations"][0]["segmentation"]
    >>> add_box_masks(data, masks_for_method("box")).added
    1
    >>> data["annotations"][0]["segmentation"], data["annotations"][0]["area"]
    ({'size': [10, 12], 'counts': ';550000000k1'}, 25.0)
    """
    sizes = image_sizes(data)  # checks the structure
    report = BoxesReport()
    images = {im.get("id"): im for im in data.get("images", [])}
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for ann in data.get("annotations", []):
        if "bbox" not in ann or not _needs_mask(ann, overwrite):
            continue
        aid = ann.get("id")
        err = _box_error(ann["bbox"])
        if err is None and ann.get("image_id") not in images:
            err = f"image_id {ann.get('image_id')!r} is not in images"
        if err is not None:
            report.errors[aid] = err
            continue
        by_image.setdefault(ann["image_id"], []).append(ann)
    results: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
    total = sum(len(v) for v in by_image.values())
    done = 0
    for image_id, anns in by_image.items():
        im = images[image_id]
        size = sizes[image_id]
        pixels = None
        if images_dir is not None:
            path, names = find_image(images_dir, im)
            msg = None
            if path is None:
                msg = f"image {image_id}: no file {' or '.join(names) or '(no file_name)'} in {images_dir}"
            else:
                try:
                    pixels = load_rgb(path)
                    report.images += 1
                except (OSError, ValueError) as exc:
                    msg = f"image {image_id} ({path}) cannot be read: {exc}"
            if pixels is not None and pixels.shape[:2] != size:
                msg = (
                    f"image {image_id} ({path}) is {pixels.shape[1]}x{pixels.shape[0]} but "
                    f"images says {size[1]}x{size[0]}"
                )
            if msg is not None:
                report.image_errors[image_id] = (msg, [a.get("id") for a in anns])
                anns = []
        if anns:
            b = np.array([a["bbox"] for a in anns], dtype=np.float64)
            rles = masks_for_image(b, pixels, size, [a.get("category_id") for a in anns])
            results += list(zip(anns, rles))
        done += len(by_image[image_id])
        if progress is not None:
            progress(done, total)
    _raise_unless_skipping(report, skip_invalid, "given a mask")
    if results:
        areas = rle.area([r for _, r in results])
        for (ann, r), a in zip(results, areas):
            ann["segmentation"] = _rle_json(r)
            ann["area"] = float(a)
            report.added += 1
    return report


MasksForImage = Callable[[np.ndarray, Optional[np.ndarray], Tuple[int, int], List[Any]], List[Any]]


def masks_for_method(
    method: str,
    *,
    seed: str = "otsu",
    tolerance: Optional[float] = None,
    arch: str = "v1",
    weights: Any = None,
    device: str = "auto",
    use_labels: bool = False,
    num_threads: Optional[int] = None,
) -> MasksForImage:
    """The ``masks_for_image`` callable :func:`add_box_masks` takes, for ``maskprep boxes
    --method``.

    Parameters
    ----------
    method : {"box", "ellipse", "grow", "maskrcnn"}
        ``"box"``, ``"ellipse"``, ``"grow"``: :func:`maskprep.boxes.boxes_to_masks` (``seed``
        and ``tolerance`` are grow's); ``"maskrcnn"``:
        :meth:`maskprep.models.MaskRCNN.refine_boxes` of a model built from ``arch``,
        ``weights`` and ``device``, each box's category id as its class with ``use_labels``.
    num_threads : int, optional
        Threads for the kernels (None: the process budget).

    Returns
    -------
    callable
        ``masks_for_image(boxes_xywh, image, (h, w), category_ids)`` -> N COCO RLEs.

    Raises
    ------
    ValueError
        An unknown ``method``, or bad ``maskrcnn`` arguments (see
        :class:`maskprep.models.MaskRCNN`).
    ImportError
        ``"maskrcnn"`` without torch and torchvision.

    Examples
    --------
    >>> import numpy as np
    >>> masks = masks_for_method("box")
    >>> masks(np.array([[1.0, 1.0, 2.0, 2.0]]), None, (4, 4), [1])
    [{'size': [4, 4], 'counts': b'52203'}]
    """
    from .. import boxes

    if method in boxes.METHODS:
        options: Dict[str, Any] = {"seed": seed, "tolerance": tolerance} if method == "grow" else {}

        def masks(b: np.ndarray, image: Any, size: Tuple[int, int], categories: List[Any]) -> Any:
            return boxes.boxes_to_masks(
                b, size, method=method, image=image, num_threads=num_threads, **options
            )

        return masks
    if method != "maskrcnn":
        raise ValueError(f"method must be one of {BOX_METHODS}, got {method!r}")
    from .. import models

    model = models.MaskRCNN(arch=arch, weights=weights, device=device, num_threads=num_threads)

    def refine(b: np.ndarray, image: Any, size: Tuple[int, int], categories: List[Any]) -> Any:
        xyxy = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
        return model.refine_boxes(image, xyxy, labels=categories if use_labels else None)

    return refine
