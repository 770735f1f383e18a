"""The shape of a COCO instances dict: image sizes and the lists every job needs, checked once
for all the jobs (convert, validate, box masks, the command's show)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

# Largest image height or width (h * w then fits 64 bits); the same limit as convert's scanner.
MAX_SIDE = 2**31 - 1


def side(value: Any) -> Optional[int]:
    """An image height or width as an int, or None when it is not one.

    Valid: an int from 0 to :data:`MAX_SIDE`, or a float with an integral value (10.0 reads as
    10, as every command and the C++ scanner read it). Strings and booleans are not sizes.

    Parameters
    ----------
    value : object

    Returns
    -------
    int or None

    Examples
    --------
    >>> side(10.0), side(-1), side(True)
    (10, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_SIDE:
        return value
    return None


def image_hw(im: Dict[str, Any]) -> Optional[Tuple[int, int]]:
    """An image's ``(height, width)`` (see :func:`side`), or None when either is not valid.

    Parameters
    ----------
    im : dict
        A COCO image entry.

    Returns
    -------
    (int, int) or None
        Never raises: an invalid size is None (the validators report it).

    Examples
    --------
    >>> image_hw({"id": 1, "height": 480, "width": 640.0})
    (480, 640)
    >>> image_hw({"id": 1, "height": "480", "width": 640}) is None
    True
    """
    h, w = side(im.get("height")), side(im.get("width"))
    return None if h is None or w is None else (h, w)


def _size_error(im: Dict[str, Any]) -> Optional[str]:
    if image_hw(im) is None:
        return (
            f"needs non-negative integer height and width (at most {MAX_SIDE}), got "
            f"{im.get('height')!r} x {im.get('width')!r}"
        )
    return None


def structure_errors(data: Dict[str, Any]) -> List[str]:
    """What makes ``data`` unusable as a COCO instances dict: ``images``, ``annotations`` and
    ``categories`` that are not lists of objects.

    Parameters
    ----------
    data : dict

    Returns
    -------
    list of str
        Empty when the structure is fine.

    Examples
    --------
    >>> structure_errors({"images": {}, "annotations": [1]})
    ['images must be a list, got dict', 'annotations[0] must be an object']
    """
    out = []
    for key in ("images", "annotations", "categories"):
        value = data.get(key, [])
        if not isinstance(value, list):
            out.append(f"{key} must be a list, got {type(value).__name__}")
            continue
        bad = [k for k, v in enumerate(value) if not isinstance(v, dict)]
        if bad:
            out.append(
                f"{key}[{bad[0]}] must be an object"
                + (f" ({len(bad)} are not)" if len(bad) > 1 else "")
            )
    return out


def check_structure(data: Dict[str, Any]) -> None:
    """Check that ``data`` has the shape of an instances file and every image a valid size (see
    :func:`side`).

    Parameters
    ----------
    data : dict

    Raises
    ------
    ValueError
        Listing what is wrong (the command exits 1).

    Examples
    --------
    >>> check_structure({"images": [{"id": 1, "height": -1, "width": 2}]})
    Traceback (most recent call last):
    ...
    ValueError: not a usable COCO instances file: image 1 needs non-negative integer height and width (at most 2147483647), got -1 x 2
    """
    errors = structure_errors(data)
    if not errors:
        errors = [
            f"image {im.get('id')!r} {e}"
            for im in data.get("images", [])
            if (e := _size_error(im)) is not None
        ]
    if errors:
        raise ValueError("not a usable COCO instances file: " + join_limited(errors))


def join_limited(items: Sequence[Any], limit: int = 20, sep: str = "; ") -> str:
    """The first ``limit`` items joined, then "and N more" for the rest.

    Parameters
    ----------
    items : sequence
    limit : int
    sep : str

    Returns
    -------
    str

    Examples
    --------
    >>> join_limited(list(range(5)), 3)
    '0; 1; 2; and 2 more'
    """
    text = sep.join(str(x) for x in items[:limit])
    return text + (f"{sep}and {len(items) - limit} more" if len(items) > limit else "")


def image_sizes(data: Dict[str, Any]) -> Dict[Any, Tuple[int, int]]:
    """Every image's size, after :func:`check_structure`.

    Parameters
    ----------
    data : dict

    Returns
    -------
    dict
        ``{image id: (height, width)}``.

    Raises
    ------
    ValueError
        As :func:`check_structure` (e.g. an image without a valid size).

    Examples
    --------
    >>> image_sizes({"images": [{"id": 1, "height": 10, "width": 12}]})
    {1: (10, 12)}
    """
    check_structure(data)
    # every size is valid after check_structure
    return {im.get("id"): hw for im in data.get("images", []) if (hw := image_hw(im)) is not None}
