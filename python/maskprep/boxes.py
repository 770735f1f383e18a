"""Bounding boxes to instance masks (seed 000: "how can I convert bounding boxes to instance
segmentation masks in a COCO dataset?"), many boxes per call.

Methods and what each assumes:

- ``"box"``: the filled box, exactly ``pycocotools.mask.frBbox`` (the box as a 4-point polygon
  under pycocotools' rasterization rule). Assumes nothing; the crudest mask, area = box area.
- ``"ellipse"``: the ellipse inscribed in the box, as a polygon (vertices about every 2 pixels of
  its perimeter) rasterized by the same rule. Assumes a compact, roundish object that touches
  the box on all four sides; typically closer to the true mask than the box for people,
  animals, fruit.
- ``"grow"``: looks at the image inside each box: grey levels, then Otsu's threshold (the side
  of the threshold that the box border is *not* is the object) or, with ``seed="flood"``, a
  flood fill from the box centre with ``tolerance``; keeps the connected component that best
  covers the box centre; closes it and fills its holes. Falls back to the box when nothing
  plausible is found: no component, one under ``min_fill`` of the box, or one whose IoU with
  the box's inscribed ellipse is under ``min_ellipse_iou`` (an object that its box was drawn
  around touches all four sides; a region that does not is usually background or a part).
  On the cocomini val2017 photos (619 objects in clutter) the mean IoU with the true masks is
  0.63 for grow, 0.62 for the box and 0.66 for the ellipse: grow pays off on plain
  backgrounds (documents, products, cells, coins), not in clutter. Assumes the object
  contrasts with its surroundings and is one piece (e.g. objects on plain backgrounds);
  cluttered scenes need ``"maskrcnn"`` (:meth:`maskprep.models.MaskRCNN.refine_boxes`).
  The flood seeds at the box centre, so it also assumes the centre is on the object (not true
  of rings or of an object with a hole in the middle: Otsu, the default, handles those).
  On a textureless or pure-noise crop the result approaches the box itself.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import rle
from ._arrays import image_size as image_size_of
from ._arrays import like_input, to_numpy

__all__ = ["boxes_to_masks", "METHODS"]

METHODS = ("box", "ellipse", "grow")
RLE = dict


def _boxes_xywh(boxes: Any, box_format: str) -> np.ndarray:
    if box_format not in ("xywh", "xyxy"):
        raise ValueError(f"box_format must be 'xywh' or 'xyxy', got {box_format!r}")
    # The boxes are used here (and cast to float64), so their dtype and shape are checked here.
    expected = "an (N, 4) array of numbers"
    try:
        b = to_numpy(boxes, "boxes")
    except ValueError:  # a ragged list
        raise ValueError(f"boxes must be {expected}, got {boxes!r}") from None
    if b.ndim == 1 and b.size == 0:
        b = b.reshape(0, 4)
    if b.dtype.kind not in "iuf":
        raise TypeError(f"boxes must be {expected}, got {b.dtype} with shape {b.shape}")
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be {expected}, got {b.dtype} with shape {b.shape}")
    b = b.astype(np.float64)
    if not np.isfinite(b).all():
        raise ValueError(f"boxes must be finite: box {int(np.argwhere(~np.isfinite(b))[0, 0])}")
    if box_format == "xyxy":
        b = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    bad = np.flatnonzero((b[:, 2] < 0) | (b[:, 3] < 0))
    if bad.size:
        raise ValueError(
            f"boxes must have non-negative width and height ({box_format}): box {bad[0]} "
            f"is {to_numpy(boxes).astype(np.float64)[bad[0]].tolist()}"
        )
    return b


def ellipse_polygons(boxes_xywh: np.ndarray) -> List[List[float]]:
    """The inscribed ellipse of each (x, y, w, h) box as a flat COCO polygon, a vertex about
    every 2 pixels of perimeter (at least 16): the chord error stays under 0.1 pixel for
    boxes up to ~1000 pixels, finer than the rasterizer's 1/5-pixel grid matters."""
    out = []
    for x, y, w, h in boxes_xywh:
        rx, ry = w / 2.0, h / 2.0
        perimeter = math.pi * (3 * (rx + ry) - math.sqrt((3 * rx + ry) * (rx + 3 * ry)))
        n = max(16, int(math.ceil(perimeter / 2.0)))
        t = np.arange(n) * (2.0 * math.pi / n)
        xy = np.empty(2 * n)
        xy[0::2] = x + rx + rx * np.cos(t)
        xy[1::2] = y + ry + ry * np.sin(t)
        out.append(xy.tolist())
    return out


def boxes_to_masks(
    boxes: Any,
    image_size: Union[Tuple[int, int], Sequence[int]],
    *,
    method: str = "box",
    image: Optional[np.ndarray] = None,
    box_format: str = "xywh",
    output: str = "rle",
    compressed: bool = True,
    seed: str = "otsu",
    tolerance: Optional[float] = None,
    min_fill: float = 0.1,
    min_ellipse_iou: float = 0.5,
    num_threads: Optional[int] = None,
) -> Union[List[RLE], np.ndarray]:
    """One mask per box.

    Parameters
    ----------
    boxes : array_like or tensor
        (N, 4) floats, COCO ``xywh`` (default) or ``xyxy``, in pixels of an image of
        ``image_size``. Parts outside the image are clipped; a zero-size box gives an empty mask.
    image_size : (int, int)
        (height, width).
    method : {"box", "ellipse", "grow"}
        See the module docs.
    image : numpy.ndarray, optional
        For ``"grow"`` (which needs it): (H, W) or (H, W, 3) uint8 RGB.
    box_format : {"xywh", "xyxy"}
        How the boxes are given.
    output : {"rle", "dense"}
        The result's form.
    compressed : bool
        For RLE output: compressed strings, or lists of run lengths (``compressed=False``).
    seed : {"otsu", "flood"}
        For ``"grow"``: Otsu's threshold, or a flood fill from the box centre.
    tolerance : float, optional
        For ``seed="flood"``: the grey-level tolerance of the flood (default: a quarter of the
        crop's grey level range).
    min_fill : float
        For ``"grow"``: fall back to the box when the component covers less of the box, in
        [0, 1].
    min_ellipse_iou : float
        For ``"grow"``: fall back to the box when the component's IoU with the box's inscribed
        ellipse is lower, in [0, 1].
    num_threads : int, optional
        None = the process budget, -1 = all cores, n >= 1 = n.

    Returns
    -------
    list of dict or array or tensor
        A list of N COCO RLE dicts (``output="rle"``, compressed strings unless
        ``compressed=False``) or a bool array (N, H, W) (``output="dense"``; a tensor on the
        boxes' device for tensor boxes).

    Raises
    ------
    TypeError
        ``boxes`` not numbers (complex, strings); for ``"grow"``, an ``image`` that is not
        uint8; ``num_threads`` not None or an int (checked where threads run: ``"grow"`` and
        dense output).
    ValueError
        ``method``, ``output``, ``box_format`` or ``seed`` not one of the values above; ``boxes``
        not (N, 4) (a ragged list, say), not finite, or of negative width or height; an
        ``image_size`` that is not two ints >= 0; for ``"grow"``: no ``image``, an ``image`` not
        (H, W) or (H, W, 3) or not of ``image_size``, a negative or non-finite ``tolerance``,
        ``min_fill`` or ``min_ellipse_iou`` outside [0, 1]; ``num_threads`` 0 or below -1 (as
        for TypeError).

    Examples
    --------
    >>> import numpy as np
    >>> from maskprep import boxes, rle
    >>> boxes.boxes_to_masks([[1, 1, 2, 2]], (4, 4))
    [{'size': [4, 4], 'counts': b'52203'}]
    >>> boxes.boxes_to_masks([[1, 1, 3, 3]], (4, 4), box_format="xyxy", output="dense")
    array([[[False, False, False, False],
            [False,  True,  True, False],
            [False,  True,  True, False],
            [False, False, False, False]]])

    An 8 x 8 bright square in a 12 x 12 box: ``"grow"`` finds it, the others do not look:

    >>> image = np.zeros((16, 16), np.uint8)
    >>> image[4:12, 4:12] = 200
    >>> [rle.area(boxes.boxes_to_masks([[2, 2, 12, 12]], (16, 16), method=m, image=image)[0])
    ...  for m in boxes.METHODS]
    [144, 112, 64]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if output not in ("rle", "dense"):
        raise ValueError(f"output must be 'rle' or 'dense', got {output!r}")
    b = _boxes_xywh(boxes, box_format)
    h, w = image_size_of(image_size)
    if method == "box":
        rles = rle.from_bbox(b, (h, w), compressed=compressed)
    elif method == "ellipse":
        rles = rle.from_polygons(ellipse_polygons(b), (h, w), compressed=compressed)
    else:
        from ._grow import grow

        rles = grow(
            b,
            (h, w),
            image,
            seed=seed,
            tolerance=tolerance,
            min_fill=min_fill,
            min_ellipse_iou=min_ellipse_iou,
            compressed=compressed,
            num_threads=num_threads,
        )
    if output == "rle":
        return rles
    if not rles:
        return like_input(np.zeros((0, h, w), bool), boxes)
    dense = rle.decode(rles, layout="nhw", num_threads=num_threads).view(bool)
    return like_input(dense, boxes)  # a tensor on the boxes' device for tensor boxes
