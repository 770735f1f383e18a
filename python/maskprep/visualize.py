"""Overlays of masks, boxes and labels on images (people look at masks; they do not read RLE):
:func:`overlay` draws one image, :func:`write_overlays` writes the PNGs of ``maskprep show``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import rle
from .coco.box_masks import _box_error, find_image
from .coco.conversion import rles_or_errors
from .coco.jsonio import OutputError, PathLike, UnreadableInput, make_dir
from .coco.structure import image_sizes, join_limited

__all__ = ["MissingImageFiles", "OverlayReport", "overlay", "write_overlays"]

# Distinct, colour-blind-friendly colours (Okabe-Ito + extras), cycled by instance.
PALETTE = np.array(
    [
        [230, 159, 0],
        [86, 180, 233],
        [0, 158, 115],
        [240, 228, 66],
        [0, 114, 178],
        [213, 94, 0],
        [204, 121, 167],
        [255, 255, 255],
        [120, 200, 80],
        [160, 80, 220],
    ],
    dtype=np.float32,
)


def overlay(
    image: np.ndarray,
    rles: Sequence[Optional[dict]],
    *,
    boxes: Optional[Sequence[Sequence[float]]] = None,
    labels: Optional[Sequence[Any]] = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend each mask over ``image`` in its own colour, outline its ``[x, y, w, h]`` box and
    write its label.

    Instance i has colour i (:data:`PALETTE`, cycled); ``rles[i]`` may be None (a box-only
    annotation: box and label only).

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) uint8 RGB.
    rles : sequence of dict or None
        COCO RLEs of the image's size.
    boxes : sequence of [x, y, w, h], optional
    labels : sequence, optional
        One label per instance (drawn at its box's corner).
    alpha : float
        The masks' opacity.

    Returns
    -------
    numpy.ndarray
        A new (H, W, 3) uint8 array.

    Raises
    ------
    ValueError
        An image that is not (H, W, 3) uint8, or masks of another size.

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import rle
    >>> image = np.zeros((4, 5, 3), np.uint8)
    >>> out = overlay(image, [rle.encode(np.ones((4, 5), np.uint8))])
    >>> out.shape, out[0, 0].tolist()
    ((4, 5, 3), [115, 80, 0])
    """
    from PIL import Image, ImageDraw

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    out = img.astype(np.float32)
    h, w = img.shape[:2]
    which = [i for i, r in enumerate(rles) if r is not None]
    if which:
        masks = rle.decode([rles[i] for i in which], layout="nhw")
        if masks.shape[1:] != (h, w):
            raise ValueError(f"masks are {masks.shape[1:]} but the image is {(h, w)}")
        for i, m in zip(which, masks):
            sel = m.astype(bool)
            out[sel] = (1 - alpha) * out[sel] + alpha * PALETTE[i % len(PALETTE)]
    pil = Image.fromarray(out.round().astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for i, box in enumerate(boxes or []):
        x, y, bw, bh = (float(v) for v in box)
        color = tuple(int(c) for c in PALETTE[i % len(PALETTE)])
        draw.rectangle([x, y, x + bw, y + bh], outline=color, width=2)
        if labels is not None:
            draw.text((x + 3, y + 2), str(labels[i]), fill=color)
    return np.asarray(pil)


class MissingImageFiles(UnreadableInput):
    """Image files that are not in the images folder (found before anything is written; the
    ``maskprep`` command exits 2). ``problems`` maps each image id to its message."""

    def __init__(self, message: str, problems: Dict[Any, str]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass
class OverlayReport:
    """What :func:`write_overlays` did."""

    written: int = 0  # PNG files written
    not_drawn: List[Any] = field(default_factory=list)  # annotation ids of invalid segmentations
    problems: Dict[Any, str] = field(default_factory=dict)  # image id -> why it was not drawn


def write_overlays(
    data: Dict[str, Any],
    images_dir: PathLike,
    out_dir: PathLike,
    image_ids: Sequence[Any],
    *,
    skip_missing: bool = False,
    num_threads: Optional[int] = None,
) -> OverlayReport:
    """Write ``out_dir/<image id>.png``: each image of ``image_ids`` with the :func:`overlay` of
    its annotations (masks, boxes and category names; ``maskprep show``).

    Every image file is looked up (see :func:`maskprep.coco.find_image`) before anything is
    written. An image that cannot be decoded, or is not the size ``images`` gives, is left out
    and listed in ``report.problems``; invalid segmentations are not drawn and their annotation
    ids are in ``report.not_drawn``.

    Parameters
    ----------
    data : dict
        A COCO instances dict (checked with :func:`maskprep.coco.check_structure`).
    images_dir, out_dir : str or os.PathLike
        The folder of the image files; the folder for the PNGs (created when missing).
    image_ids : sequence
        Ids of images of ``data`` to draw.
    skip_missing : bool
        Leave out images whose file is missing (listed in ``report.problems``) instead of
        raising.
    num_threads : int, optional
        Threads for decoding the masks (None: the process budget).

    Returns
    -------
    OverlayReport

    Raises
    ------
    KeyError
        An id of ``image_ids`` that is not an image of ``data``.
    MissingImageFiles
        Image files that are not in ``images_dir`` (unless ``skip_missing``); nothing is
        written then.
    OutputError
        A PNG or ``out_dir`` cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (12, 10)).save(tmp / "x.png")
    >>> data = {"images": [{"id": 1, "height": 10, "width": 12, "file_name": "x.png"}],
    ...         "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
    ...                          "segmentation": [[1, 1, 6, 1, 6, 6]], "bbox": [1, 1, 5, 5]}],
    ...         "categories": [{"id": 1, "name": "thing"}]}
    >>> write_overlays(data, tmp, tmp / "out", [1]).written
    1
    >>> sorted(p.name for p in (tmp / "out").iterdir())
    ['1.png']
    """
    from PIL import Image

    images = {im.get("id"): im for im in data.get("images", [])}
    unknown = [i for i in image_ids if i not in images]
    if unknown:
        raise KeyError(f"image ids not in the instances: {unknown}")
    sizes = image_sizes(data)
    report = OverlayReport()
    paths: Dict[Any, Path] = {}
    for image_id in image_ids:
        path, names = find_image(images_dir, images[image_id])
        if path is None:
            report.problems[image_id] = (
                f"image {image_id}: no file {' or '.join(names) or '(no file_name)'}"
            )
        else:
            paths[image_id] = path
    if report.problems and not skip_missing:
        raise MissingImageFiles(
            f"{len(report.problems)} image file(s) not found in {images_dir}: "
            f"{join_limited(list(report.problems.values()))} (--skip-missing draws the others)",
            report.problems,
        )
    category = {c.get("id"): c.get("name", str(c.get("id"))) for c in data.get("categories", [])}
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for a in data.get("annotations", []):
        by_image.setdefault(a.get("image_id"), []).append(a)
    make_dir(out_dir)
    for image_id, path in paths.items():
        h, w = sizes[image_id]
        try:
            with Image.open(path) as f:
                pixels = np.asarray(f.convert("RGB"))
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            report.problems[image_id] = f"image {image_id}: {path} cannot be read: {exc}"
            continue
        if pixels.shape[:2] != (h, w):
            report.problems[image_id] = (
                f"image {image_id}: {path} is {pixels.shape[1]}x{pixels.shape[0]} but images "
                f"says {w}x{h}"
            )
            continue
        anns = [a for a in by_image.get(image_id, []) if a.get("segmentation") or "bbox" in a]
        with_mask = [a for a in anns if a.get("segmentation")]
        rles, errors = rles_or_errors(
            [a["segmentation"] for a in with_mask],
            [h] * len(with_mask),
            [w] * len(with_mask),
            [a.get("id") for a in with_mask],
            num_threads=num_threads,
        )
        report.not_drawn += list(errors)
        mask_of = {id(a): r for a, r in zip(with_mask, rles)}
        boxes: Optional[List[Any]] = [a.get("bbox") for a in anns]
        if not all(_box_error(b) is None for b in boxes or []):
            boxes = None
        picture = overlay(
            pixels,
            [mask_of.get(id(a)) for a in anns],
            boxes=boxes,
            labels=[_label(a, category) for a in anns],
        )
        target = Path(out_dir) / f"{image_id}.png"
        try:
            Image.fromarray(picture).save(target)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        report.written += 1
    return report


def _label(ann: Dict[str, Any], category: Dict[Any, Any]) -> Any:
    """The category's name, and the score of a detection (a results file's annotation)."""
    name = category.get(ann.get("category_id"), ann.get("category_id"))
    score = ann.get("score")
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        return f"{name} {score:.2f}"
    return name
