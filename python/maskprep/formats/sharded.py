"""A COCO instances dict written as shards (issue 14 item 5): ``maskprep import --shard-size``.

The shards are the files the sharded jobs read (:mod:`maskprep.shards`), so an import's output
folder goes straight into ``maskprep convert|validate OUTDIR -o ...`` and
``maskprep export OUTDIR``. Each shard is written by :func:`maskprep.shards.write_shard`
(atomically), named ``part-00000.json``, ``part-00001.json``, ... in input order.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Union

from maskprep import shards
from maskprep.coco.structure import structure_errors

__all__ = ["SHARD_FORMATS", "write_shards"]

#: The layouts :func:`write_shards` writes: those of :data:`maskprep.shards.FORMATS`.
SHARD_FORMATS = shards.FORMATS
_SUFFIX = {"coco": ".json", "sa1b": ".json", "jsonl": ".jsonl", "parquet": ".parquet"}
# The names write_shards gives; only these are removed as an older run's stale parts.
_PART = re.compile(r"part-[0-9]+(\.json|\.jsonl|\.parquet)")


def write_shards(
    data: Dict[str, Any],
    outdir: Union[str, os.PathLike[str]],
    *,
    images_per_shard: int,
    out_format: str = "coco",
) -> List[Path]:
    """Write a COCO instances dict as shards of ``images_per_shard`` images each.

    Images keep their input order; each annotation goes into its image's shard (in input
    order). What a shard keeps depends on its layout (:mod:`maskprep.shards`): ``coco`` keeps
    everything (``categories``, ``info``, ``licenses`` and every other top-level key are
    copied into every shard); ``sa1b`` and ``jsonl`` keep the images and annotations (the
    SA-1B layout has no categories); ``parquet`` keeps the annotations (compressed RLEs only)
    with their image's id, height and width (images without annotations have no row). Files
    are named ``part-NNNNN`` (5 digits, more when there are more shards) with the layout's
    suffix; the ``part-*`` files of that suffix that an earlier run left in ``outdir`` and this
    run did not write are removed (no other file is touched). An empty ``images`` list writes
    no shard.

    Parameters
    ----------
    data : dict
        A COCO instances dict (``images``, ``annotations``, ``categories``, ...); not modified.
    outdir : str or os.PathLike
        The output folder (created).
    images_per_shard : int
        Images per shard (>= 1; the last shard may hold fewer). ``sa1b`` holds one image per
        file, so it needs 1.
    out_format : {"coco", "sa1b", "jsonl", "parquet"}
        The shards' layout, one of :data:`SHARD_FORMATS`.

    Returns
    -------
    list of Path
        The shards written, in order.

    Raises
    ------
    TypeError
        If ``data`` is not a dict, ``outdir`` is not a path or ``images_per_shard`` is not an
        int (a bool is not).
    ValueError
        If ``images_per_shard`` < 1 (or not 1 for ``sa1b``), ``out_format`` is not one of
        :data:`SHARD_FORMATS`, ``outdir`` is an existing file, ``data``'s lists are not lists
        of objects, two images share an id, an annotation's ``image_id`` is not an image's, or
        (``parquet``) a segmentation is not a compressed RLE. Nothing is written then.
    ImportError
        For ``parquet`` without pyarrow.

    Examples
    --------
    >>> import tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> data = {
    ...     "images": [{"id": k, "height": 4, "width": 4} for k in (1, 2, 3)],
    ...     "annotations": [{"id": 7, "image_id": 3, "segmentation": [[0, 0, 3, 0, 3, 3]]}],
    ...     "categories": [{"id": 1, "name": "cell"}],
    ... }
    >>> from maskprep.formats import write_shards
    >>> paths = write_shards(data, d / "out", images_per_shard=2)
    >>> [p.name for p in paths]
    ['part-00000.json', 'part-00001.json']
    >>> from maskprep.shards import read_shard
    >>> part = read_shard(paths[1])
    >>> [im["id"] for im in part["images"]], part["annotations"][0]["id"], part["categories"]
    ([3], 7, [{'id': 1, 'name': 'cell'}])
    >>> [p.name for p in write_shards(data, d / "out", images_per_shard=1, out_format="jsonl")]
    ['part-00000.jsonl', 'part-00001.jsonl', 'part-00002.jsonl']
    >>> write_shards(data, d / "out", images_per_shard=0)
    Traceback (most recent call last):
    ValueError: images_per_shard must be a positive integer, got 0
    >>> import shutil; shutil.rmtree(d)
    """
    if not isinstance(data, dict):
        raise TypeError(f"data must be a COCO instances dict, got {type(data).__name__}")
    if not isinstance(outdir, (str, os.PathLike)):
        raise TypeError(f"outdir must be a path, got {type(outdir).__name__}")
    if isinstance(images_per_shard, bool) or not isinstance(images_per_shard, int):
        raise TypeError(
            f"images_per_shard must be a positive integer, got {type(images_per_shard).__name__}"
        )
    if images_per_shard < 1:
        raise ValueError(f"images_per_shard must be a positive integer, got {images_per_shard}")
    if out_format not in SHARD_FORMATS:
        raise ValueError(
            f"out_format must be one of {', '.join(SHARD_FORMATS)}, got {out_format!r}"
        )
    # An SA-1B file is one image: silently writing one file per image for another value would
    # make the count of files differ from what was asked.
    if out_format == "sa1b" and images_per_shard != 1:
        raise ValueError(
            "out_format 'sa1b' holds one image per file: images_per_shard must be 1, got "
            f"{images_per_shard} (use 'jsonl' for several images per file)"
        )
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"outdir {outdir} is a file, expected a folder")
    if out_format == "parquet":
        _check_pyarrow()
    parts = _split(data, images_per_shard, out_format)
    # Enough digits for every index, so that the names sort in order; at least 5.
    width = max(5, len(str(len(parts) - 1)))
    suffix = _SUFFIX[out_format]
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, part in enumerate(parts):
        path = outdir / f"part-{k:0{width}d}{suffix}"
        shards.write_shard(part, path, out_format)
        paths.append(path)
    # After the writes: a failed run leaves the older parts rather than a folder of neither.
    written = {p.name for p in paths}
    for entry in os.listdir(outdir):
        match = _PART.fullmatch(entry)
        if match and match.group(1) == suffix and entry not in written:
            stale = outdir / entry
            if stale.is_file():
                stale.unlink()
    return paths


def _check_pyarrow() -> None:
    """ImportError when pyarrow is missing (``maskprep import`` asks before it reads)."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ImportError(
            "out_format 'parquet' needs pyarrow: pip install pyarrow (or maskprep[ray], which "
            "includes it)"
        )


def _split(data: Dict[str, Any], size: int, out_format: str) -> List[Dict[str, Any]]:
    """The shards' dicts, in the form :func:`maskprep.shards.write_shard` takes for the
    layout; everything is checked before the first file is written."""
    errors = structure_errors(data)
    if errors:
        raise ValueError("data is not a COCO instances dict: " + "; ".join(errors))
    images = data.get("images", [])
    shard_of: Dict[Any, int] = {}  # image id -> its shard's index
    for k, im in enumerate(images):
        if im.get("id") in shard_of:
            raise ValueError(f"data: two images have the id {im.get('id')!r}")
        shard_of[im.get("id")] = k // size
    shard_anns: List[List[Dict[str, Any]]] = [[] for _ in range(0, len(images), size)]
    for ann in data.get("annotations", []):
        if ann.get("image_id") not in shard_of:
            raise ValueError(
                f"data: annotation {ann.get('id')!r} has image_id {ann.get('image_id')!r}, "
                "which is no image's id"
            )
        seg = ann.get("segmentation")
        if out_format == "parquet" and not (
            isinstance(seg, dict) and isinstance(seg.get("counts"), str)
        ):
            raise ValueError(
                f"out_format 'parquet' needs compressed RLE segmentations; annotation "
                f"{ann.get('id')!r} has none (import with to='rle')"
            )
        shard_anns[shard_of[ann["image_id"]]].append(ann)  # in input order
    parts = []
    for k, chunk_anns in enumerate(shard_anns):
        chunk = images[k * size : (k + 1) * size]
        if out_format in ("sa1b", "jsonl"):
            # write_shard writes a per-image shard from its records (SA-1B's layout).
            per_image: Dict[Any, List[Dict[str, Any]]] = {im.get("id"): [] for im in chunk}
            for ann in chunk_anns:
                per_image[ann["image_id"]].append(ann)
            records = [{"image": im, "annotations": per_image[im.get("id")]} for im in chunk]
            part: Dict[str, Any] = {"images": chunk, "annotations": chunk_anns}
            part.update(_format=out_format, _records=records)
        else:
            # categories, info, licenses and any other top-level key, in the input's order
            # ("_" keys are read_shard's private ones); parquet keeps only the annotations.
            part = {key: v for key, v in data.items() if not key.startswith("_")}
            part.update(images=chunk, annotations=chunk_anns)
        parts.append(part)
    return parts
