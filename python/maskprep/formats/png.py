"""Instance masks held as PNG label images: Cityscapes, Pascal VOC and plain instance-id PNGs.

Importers (the :mod:`maskprep.formats` signature) return a COCO instances dict whose masks are
compressed RLE (counts as str, exactly what pycocotools writes) or polygons (``to="polygon"``,
crowd regions stay RLE as COCO requires), with ``area`` and ``bbox`` computed by maskprep's
kernels (:func:`maskprep.rle.area`, :func:`maskprep.rle.to_bbox`, the same numbers as
pycocotools' ``area`` / ``toBbox``). Everything left out is in the :class:`FormatReport`, by file
and object.

How a label image becomes RLEs: one pass over the image in COCO's column-major order finds its
runs of equal values; grouping the runs by value gives every id's run-length list directly
(gaps between one id's runs are the background of its mask). The cost is one pass over the
pixels plus the runs, whatever the number of instances, where comparing the image with each id
costs one pass per instance.

The exporter :func:`write_instance_png` writes one 16-bit instance-id PNG per image (see its
docstring for the painting order, overlaps and crowd regions) and a JSON sidecar per PNG that
:func:`read_instance_png` reads back.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple, Type

import numpy as np

from .. import _core, rle
from .._threads import resolve_num_threads
from ..coco import convert, make_dir, rles_or_errors, save
from ._build import check_options, check_to
from ._report import FormatReport

__all__ = [
    "CITYSCAPES_LABELS",
    "VOC_CLASSES",
    "read_cityscapes",
    "read_voc",
    "read_instance_png",
    "write_instance_png",
    "label_image_rles",
]


class CityscapesLabel(NamedTuple):
    name: str
    id: int
    category: str
    has_instances: bool
    ignore_in_eval: bool


# cityscapesscripts/helpers/labels.py (name, id, category, hasInstances, ignoreInEval).
# "license plate" (id -1) never appears in the label images and is left out.
CITYSCAPES_LABELS: Tuple[CityscapesLabel, ...] = tuple(
    CityscapesLabel(*row)
    for row in [
        ("unlabeled", 0, "void", False, True),
        ("ego vehicle", 1, "void", False, True),
        ("rectification border", 2, "void", False, True),
        ("out of roi", 3, "void", False, True),
        ("static", 4, "void", False, True),
        ("dynamic", 5, "void", False, True),
        ("ground", 6, "void", False, True),
        ("road", 7, "flat", False, False),
        ("sidewalk", 8, "flat", False, False),
        ("parking", 9, "flat", False, True),
        ("rail track", 10, "flat", False, True),
        ("building", 11, "construction", False, False),
        ("wall", 12, "construction", False, False),
        ("fence", 13, "construction", False, False),
        ("guard rail", 14, "construction", False, True),
        ("bridge", 15, "construction", False, True),
        ("tunnel", 16, "construction", False, True),
        ("pole", 17, "object", False, False),
        ("polegroup", 18, "object", False, True),
        ("traffic light", 19, "object", False, False),
        ("traffic sign", 20, "object", False, False),
        ("vegetation", 21, "nature", False, False),
        ("terrain", 22, "nature", False, False),
        ("sky", 23, "sky", False, False),
        ("person", 24, "human", True, False),
        ("rider", 25, "human", True, False),
        ("car", 26, "vehicle", True, False),
        ("truck", 27, "vehicle", True, False),
        ("bus", 28, "vehicle", True, False),
        ("caravan", 29, "vehicle", True, True),
        ("trailer", 30, "vehicle", True, True),
        ("train", 31, "vehicle", True, False),
        ("motorcycle", 32, "vehicle", True, False),
        ("bicycle", 33, "vehicle", True, False),
    ]
)
_CITYSCAPES_BY_ID = {lab.id: lab for lab in CITYSCAPES_LABELS}

# Pascal VOC's 20 classes, indices 1..20 of SegmentationClass (0 background, 255 void).
VOC_CLASSES: Tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
_VOC_VOID = 255


# ---------------------------------------------------------------------------------------------
# Label image -> RLEs


def label_image_rles(
    label: np.ndarray, *, ignore: Iterable[int] = (0,)
) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """The compressed RLE of every id of a label image.

    Parameters
    ----------
    label : ndarray, shape (H, W), integer dtype
        One id per pixel.
    ignore : iterable of int
        Ids that are not objects (background 0, a void label).

    Returns
    -------
    ids : ndarray, shape (n,)
        The ids present, ascending.
    rles : list of dict
        ``{'size': [H, W], 'counts': str}`` per id, exactly what pycocotools'
        ``encode(np.asfortranarray(label == id))`` gives (counts decoded to str).

    Raises
    ------
    TypeError
        ``label`` is not an integer numpy array.
    ValueError
        ``label`` is not two-dimensional.

    Examples
    --------
    >>> ids, rles = label_image_rles(np.array([[0, 3], [3, 5]], dtype=np.uint8))
    >>> ids.tolist(), [r["counts"] for r in rles]
    ([3, 5], ['121', '31'])
    """
    if not isinstance(label, np.ndarray) or label.dtype.kind not in "iu":
        raise TypeError(f"label must be an integer numpy array, got {_describe(label)}")
    if label.ndim != 2:
        raise ValueError(f"label must have shape (H, W), got {label.shape}")
    h, w = label.shape
    # The C++ kernel (label_image.hpp): one pass over the rows for the run starts, each run
    # appended to its id's counts; ids that do not fit 64 bits signed are never ignored.
    ignore = [int(v) for v in ignore if -(2**63) <= int(v) < 2**63]
    ids, counts = _core.rle_encode_labels(label, ignore)
    return ids, [{"size": [h, w], "counts": c} for c in counts]


def _describe(x: Any) -> str:
    return f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__


# ---------------------------------------------------------------------------------------------
# Reading PNGs


class _Unreadable(Exception):
    """A PNG that cannot be used, with the reason for the report."""


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SIXTEEN = ("I;16", "I;16B", "I;16L", "I")  # Pillow's modes for 16-bit grey, by version


def _inflate() -> Tuple[Callable[[bytes], bytes], Tuple[Type[BaseException], ...]]:
    """zlib-ng's decompress and its errors when it is installed (3-4x zlib's on label PNGs,
    whose long runs are zlib's slow case), else zlib's."""
    import zlib

    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return zlib.decompress, (zlib.error,)
    return zlib_ng.decompress, (zlib_ng.error, zlib.error)  # type: ignore[return-value]


def _decode_png(path: Path) -> Optional[Tuple[np.ndarray, str]]:
    """The samples and Pillow's mode of a plain label PNG: 8- or 16-bit grey or 8-bit palette,
    not interlaced, every chunk's CRC right, the image data exactly its size, no more pixels
    than Pillow opens without a DecompressionBombError. None for anything else (Pillow then
    reads it and says what is wrong). Pillow's values, several times faster: the data is
    inflated by zlib-ng and unfiltered by the C++ kernel (label_image.hpp)."""
    import struct
    import zlib

    from PIL import Image

    try:
        with open(path, "rb") as f:
            b = f.read()
    except OSError:
        return None
    if b[:8] != _PNG_SIGNATURE or b[12:16] != b"IHDR" or len(b) < 33:
        return None
    w, h, depth, color, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", b, 16)
    mode = {(8, 0): "L", (16, 0): "I;16", (8, 3): "P"}.get((depth, color))
    if mode is None or (compression, filtering, interlace) != (0, 0, 0) or not (h and w):
        return None
    if h * w > 2 * (Image.MAX_IMAGE_PIXELS or h * w):
        return None
    data, p, n, ended = [], 8, len(b), False
    view = memoryview(b)
    while p + 12 <= n:
        length, kind = struct.unpack_from(">I4s", b, p)
        end = p + 12 + length
        if end > n or zlib.crc32(view[p + 4 : end - 4]) != struct.unpack_from(">I", b, end - 4)[0]:
            return None
        if kind == b"IDAT":
            data.append(view[p + 8 : end - 4])
        elif kind == b"IEND":
            ended = True
            break
        p = end
    if not (ended and data):
        return None
    decompress, errors = _inflate()
    caught = errors + (ValueError,)  # not zlib data, or not the image's size
    try:
        return _core.png_unfilter(decompress(b"".join(data)), h, w, depth), mode
    except caught:
        return None


def _read_png(path: Path, modes: Tuple[str, ...]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    fast = _decode_png(path)
    if fast is not None and (
        fast[1] in modes or (fast[1] == "I;16" and set(modes) & set(_SIXTEEN))
    ):
        return fast[0]
    try:
        with Image.open(path) as im:
            if im.mode not in modes:
                raise _Unreadable(
                    f"expected a single-channel label PNG (mode {' or '.join(modes)}), "
                    f"got mode {im.mode}"
                )
            arr = np.asarray(im)
    except _Unreadable:
        raise
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise _Unreadable(f"unreadable PNG ({exc})") from None
    if arr.ndim != 2:
        raise _Unreadable(f"expected a single-channel label PNG, got shape {arr.shape}")
    return arr


_GRAY = ("L", "P", "I;16", "I;16B", "I;16L", "I")


def _map_files(fn: Callable[[Path], Any], files: List[Path], num_threads: Optional[int]) -> list:
    """``fn`` over ``files`` in order; Pillow's decoder and numpy release the GIL, so a thread
    pool overlaps the decoding of several files."""
    n = min(resolve_num_threads(num_threads), len(files))
    if n <= 1:
        return [fn(f) for f in files]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, files))


def _check_src(src: Path, name: str = "src") -> Path:
    src = Path(src)
    if not src.is_dir():
        raise ValueError(f"{name} must be an existing folder, got {str(src)!r}")
    return src


class _Photos:
    """The photo for a label PNG: ``default`` without an images folder, else the file there
    (any image extension, searched recursively, scanned once per import) whose stem matches."""

    def __init__(self, images: Optional[Path]):
        self.folder = images
        self.index: Optional[Dict[str, str]] = None
        if images is not None:
            images = Path(images)
            if not images.is_dir():
                raise ValueError(f"images must be an existing folder, got {str(images)!r}")
            self.index = {}
            for p in sorted(images.rglob("*")):
                if p.suffix.lower() in _IMAGE_EXT and p.is_file():
                    self.index.setdefault(p.stem, p.relative_to(images).as_posix())

    def find(self, stem: str, default: str) -> Optional[str]:
        return default if self.index is None else self.index.get(stem)


_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def _finish(
    images: List[Dict[str, Any]],
    anns: List[Dict[str, Any]],
    categories: List[Dict[str, Any]],
    to: str,
    num_threads: Optional[int],
    report: FormatReport,
) -> Dict[str, Any]:
    """area and bbox from the kernels, ids, polygons when asked."""
    rles = [a["segmentation"] for a in anns]
    if rles:
        areas = rle.area(rles, num_threads=num_threads)
        boxes = rle.to_bbox(rles, num_threads=num_threads)
        for a, ar, bb in zip(anns, areas.tolist(), boxes.tolist()):
            a["area"] = float(ar)
            a["bbox"] = bb
    data = {"images": images, "annotations": anns, "categories": categories}
    if to == "polygon":
        convert(data, to="polygon", num_threads=num_threads)
    report.objects = len(anns)
    return data


def _annotation(image_id: Any, category_id: Any, seg: Dict[str, Any], crowd: int) -> dict:
    return {
        "id": None,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": seg,
        "area": 0.0,
        "bbox": [0.0, 0.0, 0.0, 0.0],
        "iscrowd": crowd,
    }


def _number(anns: List[Dict[str, Any]]) -> None:
    """Annotation ids 1..n where the format has none; ids already set (a sidecar) are kept."""
    taken = {a["id"] for a in anns if a["id"] is not None}
    next_id = 1
    for a in anns:
        if a["id"] is None:
            while next_id in taken:
                next_id += 1
            a["id"] = next_id
            taken.add(next_id)


# ---------------------------------------------------------------------------------------------
# Cityscapes


def read_cityscapes(
    src: Path,
    *,
    images: Optional[Path] = None,
    to: str = "rle",
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Tuple[Dict[str, Any], FormatReport]:
    """Cityscapes ``*_gtFine_instanceIds.png`` to a COCO instances dict.

    A pixel holds ``class_id * 1000 + instance`` for an object of an instance class, and the
    class id alone (< 1000) for a stuff region or a group of objects of an instance class
    ("persongroup"). The rule is cityscapesScripts' own (``preparation/createPanopticImgs.py``,
    the same in detectron2's ``cityscapes_files_to_dict``): ``segmentId < 1000`` is a crowd
    (``iscrowd`` 1) of class ``segmentId``, otherwise class ``segmentId // 1000`` with
    ``iscrowd`` 0; a class without instances is never a crowd; classes marked
    ``ignoreInEval`` are left out (``unlabeled`` 0, the other void classes, caravan, trailer,
    ...). As detectron2's instance loader (and COCO instances files) do, stuff classes
    (``hasInstances`` False: road, sky, ...) are left out too unless ``options["stuff"]``.
    Every region left out is counted by class in ``report.extra["left_out"]``.

    Parameters
    ----------
    src : Path
        A Cityscapes root (holding ``gtFine/``), a ``gtFine`` folder or any folder below it;
        every ``*_gtFine_instanceIds.png`` under it is read, in sorted order.
    images : Path, optional
        A ``leftImg8bit`` folder: each image's ``file_name`` is the matching
        ``*_leftImg8bit.png`` there (relative to ``images``). Without it, ``file_name`` is
        ``<split>/<city>/<name>_leftImg8bit.png``, the layout of ``leftImg8bit/``.
    to : {"rle", "polygon"}
    num_threads : int, optional
    options : dict, optional
        ``stuff`` (bool, default False): also stuff regions, as ``iscrowd`` 0 annotations
        (createPanopticImgs' rule). ``ignored`` (bool, default False): also the classes marked
        ``ignoreInEval`` (except ``unlabeled`` 0).

    Returns
    -------
    data : dict
        Images have ``id`` 1..n in file order and a ``cityscapes_id``
        (``<city>_<seq>_<frame>``); categories are the Cityscapes labels that can appear, with
        their Cityscapes ids, ``supercategory`` and ``isthing``.
    report : FormatReport
        Unreadable PNGs and unknown class ids by file and pixel value.

    Raises
    ------
    TypeError
        ``options`` is not a dict (or holds a value of the wrong type).
    ValueError
        ``src`` (or ``images``) is not an existing folder, ``to`` is neither ``"rle"`` nor
        ``"polygon"``, or ``options`` has an unknown key.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> label = np.zeros((4, 5), np.uint16)
    >>> label[1:3, 1:4] = 24001  # person (class 24), instance 1
    >>> label[0, :] = 24  # a group of persons: a crowd region
    >>> city = root / "gtFine" / "val" / "x"
    >>> city.mkdir(parents=True)
    >>> Image.fromarray(label).save(city / "x_000000_000000_gtFine_instanceIds.png")
    >>> data, report = read_cityscapes(root / "gtFine")
    >>> [(a["category_id"], a["iscrowd"], a["area"]) for a in data["annotations"]]
    [(24, 1, 5.0), (24, 0, 6.0)]
    >>> data["images"][0]["file_name"]
    'val/x/x_000000_000000_leftImg8bit.png'
    """
    options = check_options(options, {"stuff": False, "ignored": False})
    check_to(to)
    src = _check_src(src)
    photos = _Photos(images)
    stuff, ignored = bool(options.get("stuff", False)), bool(options.get("ignored", False))
    files = sorted(src.rglob("*_gtFine_instanceIds.png"))
    report = FormatReport()
    if not files:
        report.notes.append(f"no *_gtFine_instanceIds.png under {src}")

    def wanted(lab: CityscapesLabel) -> bool:
        return lab.id != 0 and (lab.has_instances or stuff) and (not lab.ignore_in_eval or ignored)

    def one(path: Path) -> Any:
        try:
            label = _read_png(path, _GRAY)
        except _Unreadable as exc:
            return str(exc)
        return label.shape, label_image_rles(label)

    out_images: List[Dict[str, Any]] = []
    anns: List[Dict[str, Any]] = []
    left_out: Dict[str, int] = {}
    for path, res in zip(files, _map_files(one, files, num_threads)):
        rel = path.relative_to(src).as_posix()
        if isinstance(res, str):
            report.skip(rel, None, res)
            continue
        report.files += 1
        (h, w), (ids, rles) = res
        base = path.name[: -len("_gtFine_instanceIds.png")]
        default = "/".join(rel.split("/")[-3:-1] + [base + "_leftImg8bit.png"])
        file_name = photos.find(base + "_leftImg8bit", default)
        if file_name is None:
            report.skip(rel, None, f"no {base}_leftImg8bit.* in images folder {images}")
            continue
        image_id = len(out_images) + 1
        out_images.append(
            {"id": image_id, "file_name": file_name, "height": h, "width": w, "cityscapes_id": base}
        )
        for value, seg in zip(ids.tolist(), rles):
            class_id, crowd = (value, 1) if value < 1000 else (value // 1000, 0)
            lab = _CITYSCAPES_BY_ID.get(class_id)
            if lab is None:
                report.skip(rel, value, f"unknown Cityscapes class id {class_id}")
                continue
            if not wanted(lab):
                if lab.id != 0:
                    left_out[lab.name] = left_out.get(lab.name, 0) + 1
                continue
            anns.append(_annotation(image_id, lab.id, seg, crowd if lab.has_instances else 0))
    if left_out:
        report.extra["left_out"] = left_out
        report.notes.append(
            f"{sum(left_out.values())} region(s) of classes left out by design "
            f"(stuff or ignoreInEval; see options 'stuff', 'ignored'): "
            + ", ".join(f"{k} {v}" for k, v in sorted(left_out.items()))
        )
    _number(anns)
    categories = [
        {
            "id": lab.id,
            "name": lab.name,
            "supercategory": lab.category,
            "isthing": int(lab.has_instances),
        }
        for lab in CITYSCAPES_LABELS
        if wanted(lab)
    ]
    return _finish(out_images, anns, categories, to, num_threads, report), report


# ---------------------------------------------------------------------------------------------
# Pascal VOC


def read_voc(
    src: Path,
    *,
    images: Optional[Path] = None,
    to: str = "rle",
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Tuple[Dict[str, Any], FormatReport]:
    """Pascal VOC ``SegmentationObject`` / ``SegmentationClass`` PNGs to a COCO instances dict.

    ``SegmentationObject/<name>.png`` holds an instance number per pixel (0 background,
    255 void: the boundary band and "difficult" regions); ``SegmentationClass/<name>.png`` the
    class (1..20, :data:`VOC_CLASSES`) of the same pixels. An instance's category is the
    majority class over its pixels, void (255) pixels not counted; an instance whose pixels
    hold more than one class is kept with the majority class and listed in ``report.notes``
    (``report.extra["mixed_classes"]`` counts them). Image sizes come from the PNG.

    Parameters
    ----------
    src : Path
        The VOC year folder (``VOC2012``) holding ``SegmentationObject`` and
        ``SegmentationClass``.
    images : Path, optional
        Where the photos are (default ``src/JPEGImages`` names, ``<name>.jpg``); when given,
        ``file_name`` is the file there whose stem is ``<name>``.
    to : {"rle", "polygon"}
    num_threads : int, optional
    options : dict, optional
        None are known.

    Returns
    -------
    data : dict
        Images have ``id`` 1..n in sorted name order; categories 1..20 are VOC's classes.
    report : FormatReport
        By file (and instance number): unreadable PNGs, a missing SegmentationClass file, a
        size mismatch between the two, an instance with no class or an unknown class index.

    Raises
    ------
    TypeError
        ``options`` is not a dict (or holds a value of the wrong type).
    ValueError
        ``src`` (or ``images``) is not an existing folder, ``to`` is neither ``"rle"`` nor
        ``"polygon"``, ``options`` has an unknown key, or ``src`` holds no
        ``SegmentationObject`` folder.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "SegmentationObject").mkdir()
    >>> (root / "SegmentationClass").mkdir()
    >>> obj = np.zeros((4, 5), np.uint8)
    >>> obj[1:3, 1:3] = 1  # instance 1
    >>> obj[0, 4] = 255  # void: never an object
    >>> cls = np.where(obj == 1, 15, obj).astype(np.uint8)  # class 15: person
    >>> Image.fromarray(obj).save(root / "SegmentationObject" / "2007_000001.png")
    >>> Image.fromarray(cls).save(root / "SegmentationClass" / "2007_000001.png")
    >>> data, report = read_voc(root)
    >>> [(a["category_id"], a["area"], a["bbox"]) for a in data["annotations"]]
    [(15, 4.0, [1.0, 1.0, 2.0, 2.0])]
    >>> report.skipped
    []
    """
    options = check_options(options, {})
    check_to(to)
    src = _check_src(src)
    photos = _Photos(images)
    obj_dir, cls_dir = src / "SegmentationObject", src / "SegmentationClass"
    if not obj_dir.is_dir():
        raise ValueError(f"src must hold a SegmentationObject folder, none in {str(src)!r}")
    files = sorted(obj_dir.glob("*.png"))
    report = FormatReport()
    if not files:
        report.notes.append(f"no PNG in {obj_dir}")

    def one(path: Path) -> Any:
        try:
            obj = _read_png(path, ("P", "L"))
        except _Unreadable as exc:
            return f"SegmentationObject: {exc}"
        cpath = cls_dir / path.name
        if not cpath.is_file():
            return f"no SegmentationClass/{path.name} for its classes"
        try:
            cls = _read_png(cpath, ("P", "L"))
        except _Unreadable as exc:
            return f"SegmentationClass: {exc}"
        if cls.shape != obj.shape:
            return (
                f"SegmentationObject is {obj.shape[0]} x {obj.shape[1]} but SegmentationClass "
                f"is {cls.shape[0]} x {cls.shape[1]} (height x width)"
            )
        # (instance, class) pixel counts in one pass
        inst = (obj != 0) & (obj != _VOC_VOID) & (cls != _VOC_VOID)
        pairs, npix = np.unique(obj[inst].astype(np.int32) * 256 + cls[inst], return_counts=True)
        return obj.shape, label_image_rles(obj, ignore=(0, _VOC_VOID)), pairs, npix

    out_images: List[Dict[str, Any]] = []
    anns: List[Dict[str, Any]] = []
    mixed = 0
    for path, res in zip(files, _map_files(one, files, num_threads)):
        rel = f"SegmentationObject/{path.name}"
        if isinstance(res, str):
            report.skip(rel, None, res)
            continue
        report.files += 1
        (h, w), (ids, rles), pairs, npix = res
        file_name = photos.find(path.stem, f"{path.stem}.jpg")
        if file_name is None:
            report.skip(rel, None, f"no {path.stem}.* in images folder {images}")
            continue
        image_id = len(out_images) + 1
        out_images.append({"id": image_id, "file_name": file_name, "height": h, "width": w})
        classes: Dict[int, Dict[int, int]] = {}
        for pair, k in zip(pairs.tolist(), npix.tolist()):
            classes.setdefault(pair // 256, {})[pair % 256] = k
        for value, seg in zip(ids.tolist(), rles):
            votes = classes.get(value, {})
            if not votes:
                report.skip(rel, value, "instance has no class: all its pixels are void (255)")
                continue
            best = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            if len(votes) > 1:
                mixed += 1
                shares = ", ".join(f"{_voc_name(c)} {n} px" for c, n in sorted(votes.items()))
                report.notes.append(
                    f"{rel}: object {value}: pixels of several classes ({shares}); "
                    f"kept as {_voc_name(best)}"
                )
            if not 1 <= best <= len(VOC_CLASSES):
                report.skip(rel, value, f"majority class is {_voc_name(best)}, not a VOC class")
                continue
            anns.append(_annotation(image_id, best, seg, 0))
    report.extra["mixed_classes"] = mixed
    _number(anns)
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(VOC_CLASSES)]
    return _finish(out_images, anns, categories, to, num_threads, report), report


def _voc_name(c: int) -> str:
    if c == 0:
        return "background (0)"
    return f"{VOC_CLASSES[c - 1]} ({c})" if 1 <= c <= len(VOC_CLASSES) else f"index {c}"


# ---------------------------------------------------------------------------------------------
# Plain instance-id PNGs and the exporter's layout

_SIDECAR_VERSION = 1
_CATEGORIES_FILE = "categories.json"


def read_instance_png(
    src: Path,
    *,
    images: Optional[Path] = None,
    to: str = "rle",
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> Tuple[Dict[str, Any], FormatReport]:
    """Instance-id PNGs (8- or 16-bit, one per image, each nonzero id one object) to COCO.

    The PNGs :func:`write_instance_png` writes come back with their image entries,
    annotation ids, categories and crowd flags, read from each PNG's sidecar ``<name>.json``
    and the folder's ``categories.json``. Other PNGs take their categories from
    ``options["categories"]``.

    Parameters
    ----------
    src : Path
        A folder; every ``*.png`` in it (not below) is read, in sorted order.
    images : Path, optional
        Without a sidecar, ``file_name`` is the file here whose stem is the PNG's (any
        extension, searched recursively); without ``images`` it is the PNG's name.
    to : {"rle", "polygon"}
    num_threads : int, optional
    options : dict, optional
        ``categories``: for PNGs without a sidecar, either one category for every object (an
        int id, or a str name given id 1), or a dict mapping pixel value -> category id (ids
        missing from it are reported and left out). Default: one category ``{"id": 1,
        "name": "object"}``. ``category_names`` (dict id -> name) names the categories.

    Returns
    -------
    data : dict
    report : FormatReport
        Unreadable or non-single-channel PNGs, a sidecar that does not match its PNG, ids with
        no category, by file and pixel value; sidecar objects with no pixels in the PNG (all
        painted over) are reported too.

    Raises
    ------
    TypeError
        ``options`` is not a dict, or ``options["categories"]`` is not an int, a str or a dict.
    ValueError
        ``src`` (or ``images``) is not an existing folder, ``to`` is neither ``"rle"`` nor
        ``"polygon"``, or ``options`` has an unknown key.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> label = np.zeros((4, 5), np.uint16)
    >>> label[0:2, 0:2] = 1
    >>> label[2:4, 3:5] = 2
    >>> Image.fromarray(label).save(root / "frame.png")
    >>> data, report = read_instance_png(root, options={"categories": {1: 3, 2: 3}})
    >>> [(a["category_id"], a["area"], a["bbox"]) for a in data["annotations"]]
    [(3, 4.0, [0.0, 0.0, 2.0, 2.0]), (3, 4.0, [3.0, 2.0, 2.0, 2.0])]
    """
    options = check_options(options, {"categories": 1, "category_names": {}})
    check_to(to)
    src = _check_src(src)
    photos = _Photos(images)
    mapping, single, names = _category_options(options)
    files = sorted(p for p in src.glob("*.png") if p.is_file())
    report = FormatReport()
    if not files:
        report.notes.append(f"no PNG in {src}")
    cat_file = src / _CATEGORIES_FILE
    categories: Dict[Any, Dict[str, Any]] = {}
    if cat_file.is_file():
        raw = _load_json(cat_file, report)
        cats = raw.get("categories") if isinstance(raw, dict) else None
        if isinstance(cats, list) and all(isinstance(c, dict) and "id" in c for c in cats):
            categories = {c["id"]: c for c in cats}
        elif raw is not None:
            report.skip(_CATEGORIES_FILE, None, 'must hold {"categories": [{"id": ...}, ...]}')

    def one(path: Path) -> Any:
        try:
            label = _read_png(path, ("L", "I;16", "I;16B", "I;16L", "I", "P"))
        except _Unreadable as exc:
            return str(exc)
        if label.dtype.kind == "i" and label.size and int(label.min()) < 0:
            return "negative pixel values: an instance-id PNG holds ids >= 0"
        return label.shape, label_image_rles(label)

    out_images: List[Dict[str, Any]] = []
    anns: List[Dict[str, Any]] = []
    used: Dict[Any, None] = {}
    for path, res in zip(files, _map_files(one, files, num_threads)):
        rel = path.name
        if isinstance(res, str):
            report.skip(rel, None, res)
            continue
        (h, w), (ids, rles) = res
        side = path.with_suffix(".json")
        objects: Optional[Dict[int, Dict[str, Any]]] = None
        if side.is_file():
            meta = _load_json(side, report)
            got = _sidecar(meta, (h, w))
            if isinstance(got, str):
                report.skip(rel, None, f"sidecar {side.name}: {got}")
                continue
            im, objects = got
            im = dict(im)
        else:
            file_name = photos.find(path.stem, path.name)
            if file_name is None:
                report.skip(rel, None, f"no {path.stem}.* in images folder {images}")
                continue
            im = {"id": None, "file_name": file_name, "height": h, "width": w}
        report.files += 1
        if im["id"] is None:
            im["id"] = len(out_images) + 1
        out_images.append(im)
        found = set(ids.tolist())
        for value, seg in zip(ids.tolist(), rles):
            if objects is not None:
                obj = objects.get(value)
                if obj is None:
                    report.skip(rel, value, f"pixel value {value} is not in {side.name}")
                    continue
                ann = _annotation(im["id"], obj["category_id"], seg, int(obj.get("iscrowd", 0)))
                ann["id"] = obj.get("id")
            else:
                cid = single if mapping is None else mapping.get(value)
                if cid is None:
                    report.skip(rel, value, "no category for this id in options['categories']")
                    continue
                ann = _annotation(im["id"], cid, seg, 0)
            used[ann["category_id"]] = None
            anns.append(ann)
        for value in sorted(set(objects or ()) - found):
            report.skip(
                rel,
                value,
                f"annotation {objects[value].get('id')!r} has no pixels in the PNG "  # type: ignore[index]
                "(painted over when it was exported)",
            )
    _number(anns)
    cat_list = [
        categories.get(c) or {"id": c, "name": names.get(c, "object" if c == 1 else str(c))}
        for c in sorted(set(used) | set(categories), key=_sort_key)
    ]
    data = _finish(out_images, anns, cat_list, to, num_threads, report)
    return data, report


def _sort_key(x: Any) -> Tuple[int, Any]:
    return (0, x) if isinstance(x, (int, float)) else (1, str(x))


def _category_options(options: Dict[str, Any]) -> Tuple[Optional[Dict[int, Any]], Any, Dict]:
    names = options.get("category_names", {})
    if not isinstance(names, dict):
        raise TypeError(
            f"options['category_names'] must be a dict id -> name, got {type(names).__name__}"
        )
    cats = options.get("categories", 1)
    if isinstance(cats, bool):
        raise TypeError("options['categories'] must be an int, a str or a dict, got bool")
    if isinstance(cats, str):
        return None, 1, {1: cats, **names}
    if isinstance(cats, int):
        return None, cats, names
    if isinstance(cats, dict):
        mapping: Dict[int, Any] = {}
        for k, v in cats.items():
            try:
                mapping[int(k)] = v
            except (TypeError, ValueError):
                raise ValueError(
                    f"options['categories'] keys must be pixel values (ints), got {k!r}"
                ) from None
        return mapping, None, names
    raise TypeError(
        f"options['categories'] must be an int, a str or a dict, got {type(cats).__name__}"
    )


def _load_json(path: Path, report: FormatReport) -> Any:
    import orjson

    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        report.skip(path.name, None, f"unreadable JSON ({exc})")
        return None


def _sidecar(meta: Any, hw: Tuple[int, int]) -> Any:
    """(image entry, {pixel value: object}) from a sidecar, or the reason it is unusable."""
    if not isinstance(meta, dict) or not isinstance(meta.get("image"), dict):
        return "must be an object with an 'image' entry and 'objects'"
    im, objs = meta["image"], meta.get("objects")
    if not isinstance(objs, list):
        return "'objects' must be a list"
    if (im.get("height"), im.get("width")) != hw:
        return (
            f"image size {im.get('height')} x {im.get('width')} does not match the PNG's "
            f"{hw[0]} x {hw[1]}"
        )
    out: Dict[int, Dict[str, Any]] = {}
    for o in objs:
        if not isinstance(o, dict) or not isinstance(o.get("value"), int) or "category_id" not in o:
            return f"every object needs an int 'value' and a 'category_id', got {o!r}"
        if o.get("iscrowd", 0) not in (0, 1):
            return f"object {o['value']}: iscrowd must be 0 or 1, got {o.get('iscrowd')!r}"
        out[o["value"]] = o
    return im, out


def write_instance_png(
    data: Dict[str, Any],
    out: Path,
    *,
    num_threads: Optional[int] = None,
    options: Optional[Dict[str, Any]] = None,
) -> FormatReport:
    """A COCO instances dict to one 16-bit instance-id PNG per image, with JSON sidecars.

    Each image's annotations get pixel values 1, 2, ... in annotation order (so a value never
    depends on the painting order). They are painted crowd regions first, then the others by
    decreasing area (ties in annotation order): a small object lying on a large one stays
    visible, and crowd regions, which are "ignore" areas, never hide an object. A pixel
    covered by several masks holds the last one painted; every overlap is listed in
    ``report.notes`` (which annotation lost how many pixels to which), and an annotation with
    no pixel left is in ``report.skipped`` - it cannot come back from the PNG.

    Written in ``out``: ``<stem>.png`` (``stem``: the image's ``file_name`` without folder and
    extension; the image id when two names collide), ``<stem>.json`` = ``{"version": 1,
    "image": <the image entry>, "objects": [{"value", "id", "category_id", "iscrowd"}, ...]}``,
    and ``categories.json``. Every file is written atomically. Images with no annotation get
    an all-zero PNG.

    Parameters
    ----------
    data : dict
        A COCO instances dict (polygons or RLE).
    out : Path
        The output folder (created).
    num_threads : int, optional
    options : dict, optional
        None are known.

    Returns
    -------
    FormatReport
        ``files`` PNGs written, ``objects`` annotations written; annotations that cannot be
        rasterized (bad segmentation, unknown image, more than 65535 in one image) skipped.

    Raises
    ------
    TypeError
        ``options`` is not a dict.
    ValueError
        ``data`` is not a COCO instances dict with an ``images`` list, or ``options`` has a
        key (none are known).
    maskprep.coco.OutputError
        ``out`` cannot be created or written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "pngs"
    >>> data = {
    ...     "images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 5}],
    ...     "annotations": [{"id": 7, "image_id": 1, "category_id": 3, "iscrowd": 0,
    ...                      "segmentation": [[0, 0, 3, 0, 3, 3, 0, 3]]}],
    ...     "categories": [{"id": 3, "name": "cat"}],
    ... }
    >>> report = write_instance_png(data, out)
    >>> report.files, report.objects, sorted(p.name for p in out.iterdir())
    (1, 1, ['a.json', 'a.png', 'categories.json'])
    >>> back, _ = read_instance_png(out)  # the sidecars give ids and categories back
    >>> [(a["id"], a["category_id"], a["area"]) for a in back["annotations"]]
    [(7, 3, 9.0)]
    """
    options = check_options(options, {})
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError("data must be a COCO instances dict with an 'images' list")
    out = Path(out)
    make_dir(out)
    report = FormatReport()
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for ann in data.get("annotations", []):
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    image_ids = {im.get("id") for im in data["images"]}
    for iid, group in by_image.items():
        if iid not in image_ids:
            for a in group:
                report.skip("annotations", a.get("id"), f"image_id {iid!r} is not in images")
    stems: Dict[str, int] = {}
    for im in data["images"]:
        stem = Path(str(im.get("file_name", im.get("id")))).stem or str(im.get("id"))
        stems[stem] = stems.get(stem, 0) + 1
    for im in data["images"]:
        stem = Path(str(im.get("file_name", im.get("id")))).stem or str(im.get("id"))
        if stems[stem] > 1:
            stem = f"{stem}_{im.get('id')}"
        _write_image(im, by_image.get(im.get("id"), []), out, stem, num_threads, report)
    save({"categories": list(data.get("categories", []))}, out / _CATEGORIES_FILE)
    return report


def _write_image(
    im: Dict[str, Any],
    anns: List[Dict[str, Any]],
    out: Path,
    stem: str,
    num_threads: Optional[int],
    report: FormatReport,
) -> None:
    from PIL import Image

    png = f"{stem}.png"
    h, w = im.get("height"), im.get("width")
    if not (isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0):
        report.skip(png, None, f"image {im.get('id')!r} has no valid height/width")
        return
    if len(anns) > 65535:
        for a in anns[65535:]:
            report.skip(png, a.get("id"), "more than 65535 objects in one image (16-bit PNG)")
        anns = anns[:65535]
    ids = [a.get("id") for a in anns]
    rles, errors = rles_or_errors(
        [a.get("segmentation") for a in anns], [h] * len(anns), [w] * len(anns), ids,
        num_threads=num_threads,
    )  # fmt: skip
    for aid, msg in errors.items():
        report.skip(png, aid, msg)
    good = [(v + 1, a, r) for v, (a, r) in enumerate(zip(anns, rles)) if r is not None]
    areas = rle.area([r for _, _, r in good], num_threads=num_threads).tolist() if good else []
    order = sorted(range(len(good)), key=lambda k: (not good[k][1].get("iscrowd"), -areas[k], k))
    canvas = np.zeros((h, w), np.uint16)
    value_of = {v: a.get("id") for v, a, _ in good}
    for k in order:
        value, ann, r = good[k]
        m = rle.decode(r).astype(bool)
        under = canvas[m]
        hidden = np.bincount(under, minlength=1) if under.size else np.zeros(1, np.int64)
        for v in np.flatnonzero(hidden[1:]) + 1:
            report.notes.append(
                f"{png}: annotation {ann.get('id')!r} painted over {int(hidden[v])} pixel(s) "
                f"of annotation {value_of[int(v)]!r}"
            )
        canvas[m] = value
    visible = np.bincount(canvas.ravel(), minlength=len(anns) + 1)
    objects = []
    for value, ann, _ in good:
        if visible[value] == 0:
            report.skip(png, ann.get("id"), "no pixel left visible: painted over or empty mask")
            continue
        objects.append(
            {
                "value": value,
                "id": ann.get("id"),
                "category_id": ann.get("category_id"),
                "iscrowd": int(bool(ann.get("iscrowd", 0))),
            }
        )
    _atomic_png(Image.fromarray(canvas), out / png)
    save({"version": _SIDECAR_VERSION, "image": im, "objects": objects}, out / f"{stem}.json")
    report.files += 1
    report.objects += len(objects)


def _atomic_png(image: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
