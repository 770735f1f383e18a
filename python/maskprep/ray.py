"""Ray adapters (the optional extra ``maskprep[ray]``): ray is imported only when used.

- :func:`run_shards`: the ``--engine ray`` path of :func:`maskprep.shards.run`, one Ray task per
  shard (1 CPU, ``num_threads=1`` inside), retried when its worker or node dies. Each task writes
  its shard atomically and idempotently (:func:`maskprep.shards.process_shard`), so a retried
  task rewrites the same bytes; invalid annotations come back as data and are never retried.
- :func:`convert_batch`: a batch function for ``ds.map_batches(convert_batch, ...)`` over rows in
  the Parquet layout (image_id, id, height, width, counts, ...), records (a dict of columns) or a
  ``pyarrow.Table`` in, the same type out, ``num_threads`` from the task's CPUs.

This module is ``maskprep.ray``; ``import ray`` below is absolute and finds the real Ray.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from maskprep import coco, shards

__all__ = ["run_shards", "convert_batch", "task_num_threads", "MaskRCNNPredictor"]


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray engine needs ray: pip install 'maskprep[ray]'") from None
    return ray


def task_num_threads() -> int:
    """The CPUs Ray gave the current task or actor, at least 1.

    Outside a task (or when Ray is not initialized): ``OMP_NUM_THREADS``, which Ray sets to
    them, else 1.

    Returns
    -------
    int
        The thread count, >= 1.

    Raises
    ------
    ImportError
        Without ray (the ``maskprep[ray]`` extra).

    Examples
    --------
    >>> from maskprep.ray import task_num_threads
    >>> try:
    ...     n = task_num_threads()  # no Ray task here: OMP_NUM_THREADS or 1
    ... except ImportError:  # ray is an optional extra
    ...     n = 1
    >>> n >= 1
    True
    """
    ray = _ray()
    if ray.is_initialized():
        try:
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(cpus))
        except Exception:  # noqa: BLE001 - the driver has no assigned resources
            pass
    text = os.environ.get("OMP_NUM_THREADS", "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def _shard_task(group: List[Tuple[str, str]], kwargs: Dict[str, Any]) -> List[Dict[str, Any]]:
    kwargs = dict(kwargs, num_threads=kwargs.get("num_threads") or task_num_threads())
    return [shards.process_shard(src, rel, **kwargs) for src, rel in group]


def run_shards(
    items: List[Tuple[Path, Path]],
    kwargs: Dict[str, Any],
    *,
    address: Optional[str] = None,
    max_retries: int = 5,
    shards_per_task: Optional[int] = None,
    progress: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> List[Dict[str, Any]]:
    """Run :func:`maskprep.shards.process_shard` over ``items`` as Ray tasks.

    The tasks run on the cluster at ``address`` (an existing ``ray.init`` is used as it is;
    else a local one is started and shut down afterwards), one CPU each (``num_threads`` from
    the task's CPUs, 1, unless ``kwargs`` sets it), retried when their worker or node dies. A
    task takes ``shards_per_task`` shards. Each task writes its shards atomically and
    idempotently, so a retried task rewrites the same bytes.

    Parameters
    ----------
    items : list of (path, relative path)
        The shards, as :func:`maskprep.shards.find_shards` gives them.
    kwargs : dict
        The keyword arguments of :func:`maskprep.shards.process_shard` (``outdir``, ``job``,
        ...); paths are sent as strings.
    address : str, optional
        The cluster's address (None: an existing ``ray.init``, else a local cluster).
    max_retries : int
        Retries of a task whose worker or node died (invalid annotations are data, never
        retried).
    shards_per_task : int, optional
        Shards per task (default: enough for about 8 tasks per cluster CPU, so that small
        per-image shards do not pay Ray's per-task cost each).
    progress : callable, optional
        Called with each shard's summary as it arrives.

    Returns
    -------
    list of dict
        The summaries in completion order (no Ray is started for no items).

    Raises
    ------
    TypeError
        If ``items`` is not a list.
    ValueError
        If ``shards_per_task`` is not None or an int >= 1.
    ImportError
        Without ray (the ``maskprep[ray]`` extra), when there are items.

    Examples
    --------
    Starting a cluster takes seconds, so only the calls that start none are shown;
    :func:`maskprep.shards.run` with ``engine="ray"`` is the usual entry point.

    >>> from maskprep.ray import run_shards
    >>> run_shards([], {"outdir": "out"})
    []
    >>> run_shards([], {}, shards_per_task=0)
    Traceback (most recent call last):
    ValueError: shards_per_task must be None or an int >= 1, got 0
    """
    if not isinstance(items, list):
        raise TypeError(
            f"items must be a list of (path, relative path), got {type(items).__name__}"
        )
    if shards_per_task is not None and (
        not isinstance(shards_per_task, int) or shards_per_task < 1
    ):
        raise ValueError(f"shards_per_task must be None or an int >= 1, got {shards_per_task!r}")
    if not items:
        return []
    ray = _ray()
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        if shards_per_task is None:
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            shards_per_task = max(1, len(items) // (8 * cpus))
        task = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_shard_task)
        kw = {k: (str(v) if isinstance(v, Path) else v) for k, v in kwargs.items()}
        flat = [(str(src), str(rel)) for src, rel in items]
        groups = [flat[k : k + shards_per_task] for k in range(0, len(flat), shards_per_task)]
        pending = [task.remote(g, kw) for g in groups]
        out: List[Dict[str, Any]] = []
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for summary in ray.get(ready[0]):
                out.append(summary)
                if progress is not None:
                    progress(summary)
        return out
    finally:
        if started:
            ray.shutdown()


_PARQUET_REQUIRED = ("image_id", "id", "height", "width", "counts")


def convert_batch(
    batch: Any,
    *,
    job: str = "convert",
    recompute: bool = False,
    num_threads: Optional[int] = None,
) -> Any:
    """One ``map_batches`` batch of annotation rows in the Parquet layout.

    ``job="convert"`` re-encodes ``counts`` (canonical pycocotools strings) and, with
    ``recompute``, sets ``area`` and ``bbox`` from the mask; ``job="validate"`` adds an
    ``error`` column (None when valid). Invalid rows get an ``error`` column either way, never
    an exception (they are data).

    Parameters
    ----------
    batch : pyarrow.Table or dict of columns
        Rows with the columns ``image_id``, ``id``, ``height``, ``width`` and ``counts`` (the
        COCO string); other columns are carried through.
    job : {"convert", "validate"}
        What to do.
    recompute : bool
        ``job="convert"``: set ``area`` and ``bbox`` from the masks.
    num_threads : int, optional
        Threads (default: the task's CPUs, :func:`task_num_threads`).

    Returns
    -------
    pyarrow.Table or dict of lists
        A ``pyarrow.Table`` for a table, a dict of lists for a dict; with the ``error`` column.

    Raises
    ------
    TypeError
        If ``batch`` is not a ``pyarrow.Table`` or a dict.
    ValueError
        If ``job`` is not one of the two, or the batch lacks a required column.

    Examples
    --------
    >>> from maskprep.ray import convert_batch
    >>> batch = {"image_id": [1, 1], "id": [10, 11], "height": [3, 3], "width": [3, 3],
    ...          "counts": ["4210", "42"]}  # the second sums to 6 pixels, not 9
    >>> out = convert_batch(batch, recompute=True, num_threads=1)
    >>> out["area"], out["bbox"], out["error"]
    ([4.0, None], [[1.0, 1.0, 2.0, 2.0], None],
     [None, 'segmentation: counts sum to 6, expected h*w = 9 for size [3, 3]'])
    >>> convert_batch({"id": [10]}, num_threads=1)
    Traceback (most recent call last):
    ValueError: batch must have the columns image_id, height, width, counts
    """
    if job not in ("convert", "validate"):
        raise ValueError(f"job must be 'convert' or 'validate', got {job!r}")
    arrow = type(batch).__module__.startswith("pyarrow")
    if arrow:
        cols = batch.to_pydict()
    elif isinstance(batch, dict):
        cols = {k: list(v) for k, v in batch.items()}
    else:
        raise TypeError(
            f"batch must be a pyarrow.Table or a dict of columns, got {type(batch).__name__}"
        )
    missing = [c for c in _PARQUET_REQUIRED if c not in cols]
    if missing:
        raise ValueError(f"batch must have the columns {', '.join(missing)}")
    n = len(cols["id"])
    images: Dict[Any, Dict[str, Any]] = {}
    anns = []
    for i in range(n):
        h, w = int(cols["height"][i]), int(cols["width"][i])
        images.setdefault(cols["image_id"][i], {"id": cols["image_id"][i], "height": h, "width": w})
        counts = cols["counts"][i]
        counts = counts.decode() if isinstance(counts, bytes) else str(counts)
        anns.append(
            {
                "id": i,
                "image_id": cols["image_id"][i],
                "segmentation": {"size": [h, w], "counts": counts},
            }
        )
    data = {"images": list(images.values()), "annotations": anns}
    threads = num_threads if num_threads is not None else task_num_threads()
    errors: List[Optional[str]] = [None] * n
    if job == "validate":
        for p in coco.validate(data, num_threads=threads):
            if p.level == "error" and isinstance(p.ann_id, int):
                errors[p.ann_id] = p.message
    else:
        report = coco.convert(
            data, to="rle", recompute=recompute, skip_invalid=True, num_threads=threads
        )
        for k, msg in report.errors.items():
            errors[k] = msg
        cols["counts"] = [a["segmentation"]["counts"] for a in anns]
        if recompute:
            cols["area"] = [
                a.get("area", cols.get("area", [None] * n)[i]) for i, a in enumerate(anns)
            ]
            cols["bbox"] = [
                a.get("bbox", cols.get("bbox", [None] * n)[i]) for i, a in enumerate(anns)
            ]
    cols["error"] = errors
    if arrow:
        import pyarrow as pa

        return pa.table(cols)
    return cols


class MaskRCNNPredictor:
    """A callable class for ``ds.map_batches(MaskRCNNPredictor, ...)``: the model is built once
    per actor (:class:`maskprep.models.MaskRCNN`; ``device="auto"`` takes the actor's GPU when Ray
    gave it one, ``num_gpus=1``, else the CPU), then every batch of images is predicted. ::

        ds = ray.data.read_images("images/", include_paths=True)
        out = ds.map_batches(MaskRCNNPredictor, fn_constructor_kwargs={"weights": "w.pt"},
                             batch_size=8, num_gpus=1, concurrency=4)

    A batch is a dict of columns with ``image_column`` (a (N, H, W, 3) uint8 array or a list of
    (H, W, 3) arrays). Out: the batch's other columns, ``boxes`` (per image a list of
    [x1, y1, x2, y2]), ``labels``, ``scores``, ``counts`` (COCO RLE strings) and ``height`` /
    ``width``. With ``mode="refine"``, the batch's ``boxes_column`` holds each image's boxes and
    ``counts`` one mask per box (:meth:`maskprep.models.MaskRCNN.refine_boxes`).

    Raises
    ------
    ValueError
        If ``mode`` is not ``"predict"`` or ``"refine"`` (before any model is built); when
        called, for a batch that is not a dict with ``image_column`` (or, in ``"refine"`` mode,
        without ``boxes_column``).

    Examples
    --------
    Building the model needs torch (the ``maskprep[torch]`` extra), so only the argument check
    is shown:

    >>> from maskprep.ray import MaskRCNNPredictor
    >>> MaskRCNNPredictor(mode="train")
    Traceback (most recent call last):
    ValueError: mode must be 'predict' or 'refine', got 'train'
    """

    def __init__(
        self,
        arch: str = "v1",
        weights: Any = None,
        *,
        seed: Optional[int] = None,
        device: str = "auto",
        mode: str = "predict",
        score_threshold: Optional[float] = None,
        image_column: str = "image",
        boxes_column: str = "boxes",
        num_threads: Optional[int] = None,
        **model_kwargs: Any,
    ) -> None:
        if mode not in ("predict", "refine"):
            raise ValueError(f"mode must be 'predict' or 'refine', got {mode!r}")
        from maskprep.models import MaskRCNN

        if num_threads is None:
            with contextlib.suppress(ImportError):
                num_threads = task_num_threads()
        self.mode = mode
        self.score_threshold = score_threshold
        self.image_column = image_column
        self.boxes_column = boxes_column
        self.model = MaskRCNN(
            arch, weights, seed=seed, device=device, num_threads=num_threads, **model_kwargs
        )

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        if not isinstance(batch, dict) or self.image_column not in batch:
            raise ValueError(f"batch must be a dict of columns with {self.image_column!r}")
        images = list(batch[self.image_column])
        out = {k: list(v) for k, v in batch.items() if k != self.image_column}
        boxes, labels, scores, counts = [], [], [], []
        if self.mode == "predict":
            for det in self.model.predict(images, score_threshold=self.score_threshold):
                boxes.append(det["boxes"].tolist())
                labels.append(det["labels"].tolist())
                scores.append(det["scores"].tolist())
                counts.append([m["counts"] for m in det["masks"]])
        else:
            if self.boxes_column not in batch:
                raise ValueError(f"mode 'refine' needs the column {self.boxes_column!r}")
            for im, b in zip(images, batch[self.boxes_column]):
                b = [list(map(float, x)) for x in b]
                counts.append([m["counts"] for m in self.model.refine_boxes(im, b or _no_boxes())])
            out.pop(self.boxes_column)
            boxes = [[list(map(float, x)) for x in b] for b in batch[self.boxes_column]]
        out.update(
            boxes=boxes,
            counts=counts,
            height=[int(im.shape[0]) for im in images],
            width=[int(im.shape[1]) for im in images],
        )
        if self.mode == "predict":
            out.update(labels=labels, scores=scores)
        return out


def _no_boxes() -> Any:
    import numpy as np

    return np.zeros((0, 4), np.float32)
