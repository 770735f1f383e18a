"""COCO results files: the JSON list of detections ``{image_id, category_id, segmentation,
score}`` (and optionally ``bbox``) that COCOeval reads through pycocotools' ``COCO.loadRes``.

A results file carries no image sizes: polygons can only be rasterized, and RLE sizes only be
checked, against the ground truth (GT) instances file the results were predicted on. Every
function here takes that GT as a dict or a path. Problems are reported by the result's index in
the list (loadRes gives result ``k`` the annotation id ``k + 1``).

Each result is read on its own. pycocotools' loadRes decides from the first result alone: when
it has a ``bbox``, every result needs one (box-only results get the box as their polygon);
when it has none, every segmentation must be a compressed RLE. :func:`validate_results` warns
where a file breaks that rule.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union, cast

import orjson

from .. import rle
from ..coco import (
    ConvertReport,
    PathLike,
    Problem,
    UnreadableInput,
    check_structure,
    convert,
    image_sizes,
    join_limited,
    load,
    no_gc,
    rles_or_errors,
    save,
)

__all__ = [
    "NotResultsFile",
    "ResultProblem",
    "convert_results",
    "convert_results_file",
    "is_results_file",
    "load_results",
    "results_to_instances",
    "validate_results",
]

GroundTruth = Union[Dict[str, Any], PathLike]


class NotResultsFile(UnreadableInput):
    """JSON whose top level is not a list, given where a results file is expected (the
    ``maskprep`` command exits 2)."""


@dataclass
class ResultProblem(Problem):
    """A :class:`maskprep.coco.Problem` of a results file: ``index`` is the result's position
    in the list (None for a problem of the whole file); ``ann_id`` stays None."""

    index: Optional[int] = None

    def __str__(self) -> str:
        where = "results" if self.index is None else f"result {self.index}"
        return f"{self.level}: {where}: {self.message}"


def _error(index: Optional[int], message: str) -> ResultProblem:
    return ResultProblem("error", None, message, index=index)


def _warning(index: Optional[int], message: str) -> ResultProblem:
    return ResultProblem("warning", None, message, index=index)


def is_results_file(path: PathLike) -> bool:
    """True when the JSON file's top level is a list (a results file), from its first bytes.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool

    Raises
    ------
    OSError
        A file that cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "res.json"
    >>> _ = path.write_text('  [{"image_id": 1}]')
    >>> is_results_file(path)
    True
    """
    with open(path, "rb") as f:
        while True:
            chunk = f.read(4096)
            if not chunk:
                return False
            text = chunk.lstrip(b" \t\r\n")
            if text:
                return text[:1] == b"["


def load_results(source: Union[PathLike, List[Any]]) -> List[Any]:
    """A results list, read from a JSON file (or given as a list: returned as it is).

    Files are read with orjson; one that orjson refuses only for ``NaN`` or ``Infinity`` (which
    Python's ``json.dump`` writes for a NaN score) is read with the json module, so that
    :func:`validate_results` can name the result whose score is not finite.

    Parameters
    ----------
    source : str, os.PathLike or list

    Returns
    -------
    list
        The results; their content is checked by :func:`validate_results`, not here.

    Raises
    ------
    NotResultsFile
        JSON whose top level is not a list (an instances file is an object).
    UnreadableInput
        A file that is not JSON.
    TypeError
        ``source`` is neither a path nor a list.
    OSError
        A file that cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "res.json"
    >>> _ = path.write_text('[{"image_id": 1, "score": NaN}]')
    >>> load_results(path)
    [{'image_id': 1, 'score': nan}]
    """
    if isinstance(source, list):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"results must be a list or a path, got {type(source).__name__}")
    path = source
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with no_gc():
            data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            data = json.loads(raw)  # accepts NaN and Infinity
        except ValueError:
            load(path)  # raises UnreadableInput with the scanner's message (offset and reason)
            raise  # pragma: no cover - load accepts only what orjson accepts
    if not isinstance(data, list):
        kind = "an object (an instances file?)" if isinstance(data, dict) else type(data).__name__
        raise NotResultsFile(
            f"{path}: a COCO results file is a JSON list of results, got {kind}"
        ) from None
    return data


def _ground_truth(gt: GroundTruth) -> Tuple[Dict[str, Any], Dict[Any, Tuple[int, int]], Set[Any]]:
    """The GT dict, its image sizes and category ids (ValueError naming the GT when unusable)."""
    data = gt if isinstance(gt, dict) else load(gt)
    try:
        check_structure(data)
    except ValueError as exc:
        raise ValueError(f"ground truth {_name(gt)}: {exc}") from None
    categories = {c.get("id") for c in data.get("categories", [])}
    return data, image_sizes(data), categories


def _name(gt: GroundTruth) -> str:
    return "a dict" if isinstance(gt, dict) else str(gt)


def _known(value: Any, table: Any) -> bool:
    try:
        return value in table
    except TypeError:  # an unhashable id (a list, a dict) is in no table
        return False


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bbox_error(bbox: Any) -> Optional[str]:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
        return f"bbox must be [x, y, width, height] (4 numbers), got {bbox!r}"
    if not all(math.isfinite(v) for v in bbox) or bbox[2] < 0 or bbox[3] < 0:
        return f"bbox must be finite with non-negative width and height, got {bbox!r}"
    return None


def _box_polygon(bbox: List[float]) -> List[List[float]]:
    """A box-only result's segmentation, as loadRes makes it."""
    x1, y1 = bbox[0], bbox[1]
    x2, y2 = bbox[0] + bbox[2], bbox[1] + bbox[3]
    return [[x1, y1, x1, y2, x2, y2, x2, y1]]


def _check_fields(
    results: List[Any], sizes: Dict[Any, Tuple[int, int]], categories: Set[Any]
) -> Tuple[List[ResultProblem], List[Tuple[int, Any]]]:
    """Every problem of the results' fields, and (index, segmentation) of the results whose
    mask can be checked (a box-only result gets its box's polygon)."""
    problems: List[ResultProblem] = []
    masks: List[Tuple[int, Any]] = []
    for k, r in enumerate(results):
        if not isinstance(r, dict):
            problems.append(
                _error(
                    k,
                    f"must be an object (image_id, category_id, segmentation, score), "
                    f"got {type(r).__name__}",
                )
            )
            continue
        iid = r.get("image_id")
        if "image_id" not in r:
            problems.append(_error(k, "has no image_id"))
        elif not _known(iid, sizes):
            problems.append(_error(k, f"image_id {iid!r} is not in the ground truth's images"))
        if "category_id" not in r:
            problems.append(_error(k, "has no category_id"))
        elif categories and not _known(r["category_id"], categories):
            problems.append(
                _error(
                    k, f"category_id {r['category_id']!r} is not in the ground truth's categories"
                )
            )
        if "score" not in r:
            problems.append(_error(k, "has no score"))
        elif not _number(r["score"]):
            problems.append(_error(k, f"score must be a number, got {r['score']!r}"))
        elif not math.isfinite(r["score"]):
            problems.append(_error(k, f"score must be finite, got {r['score']!r}"))
        box_problem = _bbox_error(r["bbox"]) if "bbox" in r else None
        if box_problem is not None:
            problems.append(_error(k, box_problem))
        seg = r.get("segmentation")
        if seg is None:
            if "bbox" not in r:
                problems.append(_error(k, "has neither a segmentation nor a bbox"))
            elif box_problem is None:
                masks.append((k, _box_polygon(r["bbox"])))
        elif isinstance(seg, list) and not seg:
            problems.append(
                _error(
                    k,
                    "segmentation is an empty list, which pycocotools cannot read (an "
                    "empty mask is an RLE)",
                )
            )
        elif _known(iid, sizes):
            masks.append((k, seg))
    return problems, masks


def _masks(
    masks: List[Tuple[int, Any]],
    sizes: Dict[Any, Tuple[int, int]],
    results: List[Any],
    num_threads: Optional[int],
) -> Tuple[Dict[int, Dict[str, Any]], List[ResultProblem]]:
    """Each segmentation as pycocotools' annToRLE gives it (counts as str), or its error."""
    hw = [sizes[results[k]["image_id"]] for k, _ in masks]
    rles, errors = rles_or_errors(
        [s for _, s in masks],
        [h for h, _ in hw],
        [w for _, w in hw],
        [k for k, _ in masks],
        counts="str",
        num_threads=num_threads,
    )
    good = {k: r for (k, _), r in zip(masks, rles) if r is not None}
    return good, [_error(k, msg) for k, msg in errors.items()]


def _loadres_warnings(results: List[Any]) -> List[ResultProblem]:
    """Where pycocotools' loadRes, which reads the whole file by its first result's keys,
    would fail on results maskprep accepts."""
    if not results:
        return [_warning(None, "the results list is empty (pycocotools' loadRes fails on it)")]
    first, items = results[0], [(k, r) for k, r in enumerate(results) if isinstance(r, dict)]
    if not isinstance(first, dict):
        return []
    if first.get("bbox"):
        missing = [k for k, r in items if "bbox" not in r]
        if missing:
            return [
                _warning(
                    None,
                    "the first result has a bbox, so pycocotools' loadRes needs one on every "
                    f"result; results {join_limited(missing, 10, ', ')} have none",
                )
            ]
        return []
    other = [
        k
        for k, r in items
        if not (isinstance(r.get("segmentation"), dict) and _compressed(r["segmentation"]))
    ]
    if other:
        return [
            _warning(
                None,
                "the first result has no bbox, so pycocotools' loadRes reads only compressed "
                f"RLE segmentations; results {join_limited(other, 10, ', ')} are not (maskprep "
                "convert --to rle writes them)",
            )
        ]
    return []


def _compressed(seg: Dict[str, Any]) -> bool:
    return isinstance(seg.get("counts"), (str, bytes))


def _raise_errors(problems: List[ResultProblem], what: str) -> None:
    errors = [p for p in problems if p.level == "error"]
    if errors:
        listed = join_limited([str(p).removeprefix("error: ") for p in errors])
        raise ValueError(f"{len(errors)} problem(s) in the results, nothing {what}: {listed}")


def _by_index(problems: List[ResultProblem]) -> List[ResultProblem]:
    return sorted(problems, key=lambda p: -1 if p.index is None else p.index)


@no_gc()
def validate_results(
    results: List[Any], gt: GroundTruth, *, num_threads: Optional[int] = None
) -> List[Problem]:
    """Every problem of a results list, by result index, checked against the ground truth.

    Errors: a result that is not an object; an ``image_id`` or ``category_id`` that is missing
    or not in the GT (categories are not checked when the GT has none); a ``score`` that is
    missing, not a number or not finite; a ``bbox`` that is not 4 finite numbers with
    non-negative width and height; neither a ``segmentation`` nor a ``bbox``; a segmentation
    that is an empty list, whose RLE size is not its GT image's height and width, whose RLE is
    malformed or does not decode to h*w pixels, or whose polygons are odd-length, non-finite or
    have fewer than 3 points.

    Warnings: an empty list, and results pycocotools' ``loadRes`` would refuse although
    maskprep reads them (see the module docstring).

    Parameters
    ----------
    results : list
        The results (see :func:`load_results`).
    gt : dict, str or os.PathLike
        The ground-truth COCO instances file or dict.
    num_threads : int, optional

    Returns
    -------
    list of ResultProblem
        Sorted by result index (problems of the whole list first); empty for a valid list.

    Raises
    ------
    TypeError
        ``results`` is not a list.
    ValueError
        A ground truth that is not a usable instances file.

    Examples
    --------
    >>> gt = {"images": [{"id": 1, "height": 10, "width": 12}],
    ...       "categories": [{"id": 1, "name": "thing"}]}
    >>> res = [{"image_id": 1, "category_id": 1, "score": 0.9,
    ...         "segmentation": {"size": [10, 12], "counts": "e0191O1O1j1"}}]
    >>> validate_results(res, gt)
    []
    >>> res[0]["image_id"], res[0]["score"] = 2, float("nan")
    >>> [str(p) for p in validate_results(res, gt)]
    ["error: result 0: image_id 2 is not in the ground truth's images", 'error: result 0: score must be finite, got nan']
    """
    if not isinstance(results, list):
        raise TypeError(f"results must be a list, got {type(results).__name__}")
    _, sizes, categories = _ground_truth(gt)
    problems, masks = _check_fields(results, sizes, categories)
    problems += _masks(masks, sizes, results, num_threads)[1]
    return cast(List[Problem], _loadres_warnings(results) + _by_index(problems))


@no_gc()
def convert_results(
    results: List[Any],
    gt: GroundTruth,
    *,
    to: str = "rle",
    recompute: bool = False,
    tolerance: float = 0.0,
    num_threads: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Tuple[List[Dict[str, Any]], ConvertReport]:
    """Every result's segmentation converted, in new dicts (``results`` is not changed).

    ``to="rle"`` gives what pycocotools' ``COCO.loadRes`` + ``annToRLE`` give: polygons and
    uncompressed RLEs rasterized at their GT image's size, compressed RLEs as they are, all
    with str counts. A box-only result gets its box as a polygon, as loadRes does.
    ``to="polygon"`` traces outlines from the masks (:func:`maskprep.coco.convert`; results are
    never crowds); an empty mask gives ``[]`` and its index is in ``report.empty``. Every other
    field, and the order, are kept.

    Parameters
    ----------
    results : list
    gt : dict, str or os.PathLike
        The ground truth (its image sizes).
    to : {"rle", "polygon"}
    recompute : bool
        Set ``area`` and ``bbox`` from the mask (pycocotools' ``area`` and ``toBbox``).
    tolerance : float
        ``to="polygon"``: simplify outlines by up to this many pixels.
    num_threads : int, optional
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    converted : list of dict
    report : maskprep.coco.ConvertReport
        Its ids are result indices.

    Raises
    ------
    TypeError
        ``results`` is not a list.
    ValueError
        An unknown ``to``, a ground truth that is not usable, or results with errors (see
        :func:`validate_results`): every one listed, nothing converted.

    Examples
    --------
    >>> gt = {"images": [{"id": 1, "height": 10, "width": 12}],
    ...       "categories": [{"id": 1, "name": "thing"}]}
    >>> res = [{"image_id": 1, "category_id": 1, "score": 0.9,
    ...         "segmentation": [[1, 1, 6, 1, 6, 6]]}]
    >>> out, report = convert_results(res, gt)
    >>> out
    [{'image_id': 1, 'category_id': 1, 'score': 0.9, 'segmentation': {'size': [10, 12], 'counts': 'e0191O1O1j1'}}]
    """
    if not isinstance(results, list):
        raise TypeError(f"results must be a list, got {type(results).__name__}")
    if to not in ("rle", "polygon"):
        raise ValueError(f"to must be 'rle' or 'polygon', got {to!r}")
    data, sizes, categories = _ground_truth(gt)
    problems, masks = _check_fields(results, sizes, categories)
    _raise_errors(problems, "converted")
    # coco.convert on an instances dict whose annotations are the results (id = index)
    anns = [
        {"id": k, "image_id": results[k]["image_id"], "iscrowd": 0, "segmentation": s}
        for k, s in masks
    ]
    report = convert(
        {"images": data.get("images", []), "annotations": anns},
        to=to,
        recompute=recompute,
        skip_invalid=True,
        tolerance=tolerance,
        num_threads=num_threads,
        progress=progress,
    )
    _raise_errors([_error(k, msg) for k, msg in report.errors.items()], "converted")
    report.skipped = []
    out = []
    for r, a in zip(results, anns):
        new = dict(r)
        new["segmentation"] = a["segmentation"]
        if recompute:
            new["area"], new["bbox"] = a["area"], a["bbox"]
        out.append(new)
    return out, report


def convert_results_file(
    src: PathLike,
    dst: PathLike,
    gt: GroundTruth,
    *,
    to: str = "rle",
    recompute: bool = False,
    tolerance: float = 0.0,
    num_threads: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> ConvertReport:
    """:func:`convert_results` from file to file; ``dst`` is written atomically and only on
    success (``-``: standard output), as :func:`maskprep.coco.convert_file` writes.

    Parameters
    ----------
    src, dst : str or os.PathLike
        The results file, and where to write the converted one (``-``: standard output).
    gt : GroundTruth
        The ground truth (image sizes, ids and categories), as :func:`convert_results` takes.
    to, recompute, tolerance, num_threads, progress
        As :func:`convert_results`.

    Returns
    -------
    maskprep.coco.ConvertReport

    Raises
    ------
    NotResultsFile, UnreadableInput
        ``src`` is not a results file / not JSON.
    ValueError
        As :func:`convert_results`.
    OutputError
        ``dst`` cannot be written.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> gt = {"images": [{"id": 1, "height": 10, "width": 12}], "categories": [{"id": 1}]}
    >>> _ = (folder / "res.json").write_text(json.dumps([{"image_id": 1, "category_id": 1,
    ...     "score": 0.5, "bbox": [1, 1, 4, 3]}]))
    >>> convert_results_file(folder / "res.json", folder / "out.json", gt).converted
    1
    >>> json.loads((folder / "out.json").read_text())[0]["segmentation"]
    {'size': [10, 12], 'counts': ';3700000U2'}
    """
    out, report = convert_results(
        load_results(src),
        gt,
        to=to,
        recompute=recompute,
        tolerance=tolerance,
        num_threads=num_threads,
        progress=progress,
    )
    save(cast(Any, out), dst)  # save writes lists too
    return report


def results_to_instances(
    results: List[Any],
    gt: GroundTruth,
    *,
    score_threshold: Optional[float] = None,
    num_threads: Optional[int] = None,
) -> Tuple[Dict[str, Any], Dict[int, str]]:
    """The results as a COCO instances dict over the GT's images and categories, as
    pycocotools' ``loadRes`` builds it (for :func:`maskprep.visualize.write_overlays` and any
    job that takes an instances dict).

    Result ``k`` becomes the annotation with ``id`` ``k`` (its index; loadRes uses ``k + 1``),
    ``iscrowd`` 0, its segmentation as a compressed RLE (str counts: ``annToRLE``'s), ``area``
    the mask's pixel count and ``bbox`` as given or the mask's (``toBbox``); ``score`` and every
    other field are kept.

    Parameters
    ----------
    results : list
    gt : dict, str or os.PathLike
    score_threshold : float, optional
        Leave out the results scoring below it (they are not listed as left out).
    num_threads : int, optional

    Returns
    -------
    instances : dict
        ``images`` and ``categories`` of the GT, ``annotations`` the results.
    left_out : dict
        Result index -> why it is not in ``instances`` (its problem, see
        :func:`validate_results`).

    Raises
    ------
    TypeError
        ``results`` is not a list.
    ValueError
        A ground truth that is not usable, or a ``score_threshold`` that is not finite.

    Examples
    --------
    >>> gt = {"images": [{"id": 1, "height": 10, "width": 12}], "categories": [{"id": 1}]}
    >>> res = [{"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [1, 1, 4, 3]},
    ...        {"image_id": 1, "category_id": 1, "score": 0.1, "bbox": [0, 0, 2, 2]},
    ...        {"image_id": 5, "category_id": 1, "score": 0.8, "bbox": [0, 0, 2, 2]}]
    >>> data, left_out = results_to_instances(res, gt, score_threshold=0.5)
    >>> [(a["id"], a["area"]) for a in data["annotations"]], left_out
    ([(0, 12.0)], {2: "image_id 5 is not in the ground truth's images"})
    """
    if not isinstance(results, list):
        raise TypeError(f"results must be a list, got {type(results).__name__}")
    if score_threshold is not None and not (
        _number(score_threshold) and math.isfinite(score_threshold)
    ):
        raise ValueError(f"score_threshold must be a finite number, got {score_threshold!r}")
    data, sizes, categories = _ground_truth(gt)
    problems, masks = _check_fields(results, sizes, categories)
    left_out: Dict[int, str] = {}
    for p in problems:
        if p.index is not None and p.level == "error":
            left_out.setdefault(p.index, p.message)
    if score_threshold is not None:
        masks = [
            (k, s) for k, s in masks if k not in left_out and results[k]["score"] >= score_threshold
        ]
    masks = [(k, s) for k, s in masks if k not in left_out]
    rles, mask_problems = _masks(masks, sizes, results, num_threads)
    for p in mask_problems:
        left_out[cast(int, p.index)] = p.message
    order = sorted(rles)
    areas = rle.area([rles[k] for k in order], num_threads=num_threads).tolist() if order else []
    boxes = rle.to_bbox([rles[k] for k in order], num_threads=num_threads).tolist() if order else []
    anns = []
    for k, a, b in zip(order, areas, boxes):
        ann = dict(results[k])
        ann.update(id=k, iscrowd=0, segmentation=rles[k], area=float(a))
        ann.setdefault("bbox", b)
        anns.append(ann)
    instances = {
        "images": data.get("images", []),
        "annotations": anns,
        "categories": data.get("categories", []),
    }
    return instances, dict(sorted(left_out.items()))
