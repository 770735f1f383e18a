"""Sharded datasets: read, convert, validate and write many shards with bounded memory.

A shard is one file in one of four layouts:

- ``coco``: a COCO instances file (``{"images": [...], "annotations": [...], ...}``),
- ``sa1b``: SA-1B-style per-image JSON (``{"image": {...}, "annotations": [...]}``),
- ``jsonl``: JSON Lines, one image record per line (the ``sa1b`` layout on each line),
- ``parquet``: one row per annotation (image_id, id, category_id, height, width, counts as the
  COCO string, area, bbox, iscrowd, and any other columns, carried through), via pyarrow.

Every shard is processed alone (its memory is its own bytes and its output), its output is
written atomically (a temporary file renamed over the target) and a completion record is appended
to the process's journal after it (:func:`completed`), so a re-run skips shards that are already done (resume after a crash) and a shard
written twice (a retried task) is written identically. :func:`run` is the whole job, on the local
engine (a loop, OpenMP inside each shard) or on Ray (one task per shard, retried when a worker
dies); both call :func:`process_shard` and so write the same bytes. Invalid annotations are data:
they are listed in the report, never retried.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import itertools
import os
import socket
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import orjson

from maskprep import _core, coco
from maskprep.coco.jsonio import _test_pause

__all__ = [
    "FORMATS",
    "BOX_OPTIONS",
    "JOBS",
    "ShardError",
    "check_box_options",
    "completed",
    "find_shards",
    "read_shard",
    "write_shard",
    "process_shard",
    "run",
]

PathLike = Union[str, "os.PathLike[str]"]
FORMATS = ("coco", "sa1b", "jsonl", "parquet")
JOBS = ("convert", "validate", "boxes")
# job="boxes": the options of ``maskprep boxes`` (coco.masks_for_method's, plus images/overwrite)
BOX_OPTIONS = (
    "method", "images", "seed", "tolerance", "arch", "weights", "device", "use_labels",
    "overwrite",
)  # fmt: skip
SUFFIXES = (".json", ".jsonl", ".parquet")
DONE_DIR = ".maskprep-done"  # per-shard completion records, beside the outputs
REPORT_NAME = "maskprep-report.json"
# Parquet columns that make up the COCO annotation (the rest are carried through as they are).
_PARQUET_IMAGE = ("height", "width")


class ShardError(ValueError):
    """A shard that cannot be processed (unreadable, or invalid without ``skip_invalid``); the
    message names the shard."""


def _check_path(name: str, value: Any) -> Path:
    if isinstance(value, Path):
        return value  # Path(a Path) parses it again: per shard, that added up
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(value).__name__}")
    return Path(value)


def _glob_base(pattern: str) -> Path:
    """The folder of a glob before its first wildcard (relative paths are kept under it)."""
    parts = Path(pattern).parts
    base: List[str] = []
    for part in parts:
        if glob.has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def find_shards(inputs: Union[PathLike, Sequence[PathLike]]) -> List[Tuple[Path, Path]]:
    """``(path, relative path)`` of every shard named by ``inputs``, sorted by relative path.

    The relative path (under the folder, or under the glob's folder, or the file's name) is
    where the output goes under the output folder.

    Parameters
    ----------
    inputs : path or list of paths
        Files, folders (searched recursively for .json, .jsonl and .parquet files) or globs.

    Returns
    -------
    list of (Path, Path)
        ``(path, relative path)`` per shard.

    Raises
    ------
    TypeError
        If ``inputs`` is not a path or a list or tuple of paths.
    ValueError
        If ``inputs`` is empty, an input matches nothing (or a folder holds no shard), or two
        inputs map to the same relative path.

    Examples
    --------
    >>> import json, tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> coco = {"images": [{"id": 1, "height": 4, "width": 4}],
    ...         "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}
    >>> (d / "in").mkdir()
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> (d / "in" / "sub").mkdir()
    >>> _ = (d / "in" / "sub" / "b.json").write_text(json.dumps(coco))
    >>> from maskprep.shards import find_shards
    >>> [(str(path.relative_to(d)), str(rel)) for path, rel in find_shards(d / "in")]
    [('in/a.json', 'a.json'), ('in/sub/b.json', 'sub/b.json')]
    >>> [str(rel) for _, rel in find_shards(str(d / "in" / "*.json"))]  # a glob
    ['a.json']
    >>> find_shards([])
    Traceback (most recent call last):
    ValueError: inputs must name at least one shard, got an empty list
    >>> import shutil; shutil.rmtree(d)
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"inputs must be a path or a list of paths, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError("inputs must name at least one shard, got an empty list")
    found: Dict[Path, Path] = {}
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"inputs must be paths, got {type(item).__name__}")
        text = os.fspath(item)
        if os.path.isdir(text):
            base = Path(text)
            paths = [p for p in base.rglob("*") if p.suffix in SUFFIXES and p.is_file()]
            paths = [p for p in paths if DONE_DIR not in p.parts and p.name != REPORT_NAME]
        elif glob.has_magic(text):
            base = _glob_base(text)
            paths = [Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p)]
        elif os.path.isfile(text):
            base = Path(text).parent
            paths = [Path(text)]
        else:
            raise ValueError(f"inputs: {text} is not a file, a folder or a glob that matches")
        if not paths:
            raise ValueError(f"inputs: {text} holds no .json, .jsonl or .parquet shard")
        for p in paths:
            rel = p.relative_to(base)
            if rel in found and found[rel] != p:
                raise ValueError(f"inputs: {found[rel]} and {p} would both be written to {rel}")
            found[rel] = p
    return sorted(((p, rel) for rel, p in found.items()), key=lambda t: str(t[1]))


def _json_format(raw: Any) -> str:
    """``sa1b`` for a per-image object (``image`` without ``images``), else ``coco``."""
    return "sa1b" if isinstance(raw, dict) and "image" in raw and "images" not in raw else "coco"


def _from_records(records: Iterable[Dict[str, Any]], where: str) -> Dict[str, Any]:
    """SA-1B-style image records -> one COCO dict; annotations without an image_id get their
    image's (marked, so that writing removes it again and the output keeps the input's keys)."""
    images, anns, added_ann, added_im = [], [], [], []
    for rec in records:
        if not isinstance(rec, dict) or not isinstance(rec.get("image"), dict):
            raise ShardError(f"{where}: each record must be an object with an 'image' object")
        im = rec["image"]
        images.append(im)
        for ann in rec.get("annotations", []):
            if not isinstance(ann, dict):
                raise ShardError(f"{where}: annotations must be objects")
            if "image_id" not in ann:
                ann["image_id"] = im.get("image_id", im.get("id"))
                added_ann.append(ann)
            anns.append(ann)
        if "id" not in im and "image_id" in im:
            im["id"] = im["image_id"]
            added_im.append(im)
    return {
        "images": images,
        "annotations": anns,
        "_added": (added_ann, added_im),
        "_records": records,
    }


def _read_parquet(path: Path) -> Dict[str, Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    missing = [
        c for c in ("image_id", "id", "height", "width", "counts") if c not in table.schema.names
    ]
    if missing:
        raise ShardError(f"{path}: a Parquet shard needs the columns {', '.join(missing)}")
    rows = table.to_pylist()
    images: Dict[Any, Dict[str, Any]] = {}
    anns = []
    for row in rows:
        images.setdefault(
            row["image_id"], {"id": row["image_id"], "height": row["height"], "width": row["width"]}
        )
        ann = {k: v for k, v in row.items() if k not in ("counts", *_PARQUET_IMAGE)}
        ann["segmentation"] = {"size": [row["height"], row["width"]], "counts": row["counts"]}
        anns.append(ann)
    return {
        "images": list(images.values()),
        "annotations": anns,
        "_columns": table.schema.names,
        "_schema": table.schema,
    }


def read_shard(path: PathLike, fmt: Optional[str] = None) -> Dict[str, Any]:
    """One shard as a COCO dict (``images``, ``annotations``, ...) plus private keys that
    :func:`write_shard` uses to write it back in its layout.

    Parameters
    ----------
    path : str or os.PathLike
        The shard's file.
    fmt : {"coco", "sa1b", "jsonl", "parquet"}, optional
        Overrides the detection (by suffix; a .json file is ``sa1b`` when it has ``image`` and
        no ``images``).

    Returns
    -------
    dict
        The COCO dict, its layout in the private key ``_format``.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If ``fmt`` is not one of :data:`FORMATS`.
    ShardError
        A ValueError naming the shard when it is unreadable: missing, not valid JSON, not an
        object at the top level, another suffix (without ``fmt``), not Parquet.
    ImportError
        For a Parquet shard without pyarrow.

    Examples
    --------
    >>> import json, tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> coco = {"images": [{"id": 1, "height": 4, "width": 4}],
    ...         "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}
    >>> (d / "in").mkdir()
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> from maskprep.shards import read_shard
    >>> data = read_shard(d / "in" / "a.json")
    >>> data["_format"], data["annotations"][0]["segmentation"]
    ('coco', [[0, 0, 3, 0, 3, 3]])
    >>> read_shard(d / "in" / "missing.json")
    Traceback (most recent call last):
    maskprep.shards.ShardError: cannot read .../missing.json: No such file or directory
    >>> import shutil; shutil.rmtree(d)
    """
    path = _check_path("path", path)
    if fmt is None:
        fmt = {".jsonl": "jsonl", ".parquet": "parquet", ".json": "json"}.get(path.suffix)
        if fmt is None:
            raise ShardError(f"path: {path} is not a .json, .jsonl or .parquet shard")
    elif fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        if fmt == "parquet":
            data = _read_parquet(path)
        elif fmt == "jsonl":
            with open(path, "rb") as f:
                recs = [orjson.loads(line) for line in f if line.strip()]
            data = _from_records(recs, str(path))
        else:
            raw = orjson.loads(path.read_bytes())
            if not isinstance(raw, dict):
                raise ShardError(f"{path}: the top level must be an object")
            fmt = _json_format(raw) if fmt == "json" else fmt
            data = _from_records([raw], str(path)) if fmt == "sa1b" else raw
    except orjson.JSONDecodeError as exc:
        raise ShardError(f"{path} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise ShardError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ImportError, ShardError):
        raise
    except Exception as exc:  # pyarrow's errors for a file that is not Parquet
        raise ShardError(f"cannot read {path}: {exc}") from None
    data["_format"] = fmt
    return data


_temp_names = itertools.count()  # this process's temporary-file numbers


def _create_temp(path: Path) -> Tuple[int, str]:
    """A new, empty ``.NAME.PID-K.tmp`` beside ``path`` (its folder created), opened for
    writing with the umask's mode, as ``(fd, its path)``. Named from the process id and a
    counter rather than by tempfile.mkstemp (random names, then a chmod): per small shard that
    was as much Python time as the conversion. A name left by a killed process with a reused
    pid is skipped."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    folder = os.fspath(path.parent)
    while True:
        tmp = os.path.join(folder, f".{path.name}.{os.getpid()}-{next(_temp_names)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o666), tmp


@contextlib.contextmanager
def _atomic(path: Path) -> Any:
    """A temporary file ``.NAME.*.tmp`` beside ``path`` (:func:`_create_temp`), renamed over
    it only when the block succeeds. Leaner than coco.save's writer (one file creation, no scan
    of the folder per write): a shard folder holds thousands of files. Temporary files that a
    killed worker left are removed at the end of :func:`run` (:func:`_remove_temps`)."""
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        _test_pause()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _remove_temps(paths: Iterable[Path]) -> None:
    """Delete the ``.NAME.*.tmp`` files beside these outputs (left by workers killed mid-write;
    called when no shard of the run is being written any more)."""
    by_folder: Dict[Path, set] = {}
    for p in paths:
        by_folder.setdefault(p.parent, set()).add(p.name)
    for folder, names in by_folder.items():
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(".") and entry.endswith(".tmp"):
                name = entry[1:].rsplit(".", 2)[0]  # .NAME.random.tmp
                if name in names:
                    with contextlib.suppress(OSError):
                        os.unlink(folder / entry)


def _write_bytes(path: Path, data: Any) -> None:
    """``data`` (bytes or a uint8 array) written atomically to ``path``, its folder created
    (as :func:`_atomic`, with plain writes: no buffered file object for one write)."""
    fd, tmp = _create_temp(path)
    try:
        view = memoryview(data).cast("B")
        try:
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        _test_pause()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _strip_added(data: Dict[str, Any]) -> None:
    """Remove the ids that :func:`_from_records` added (the output keeps the input's keys)."""
    added_ann, added_im = data.pop("_added", ([], []))
    for ann in added_ann:
        ann.pop("image_id", None)
    for im in added_im:
        im.pop("id", None)


def write_shard(data: Dict[str, Any], path: PathLike, fmt: Optional[str] = None) -> None:
    """Write a dict from :func:`read_shard` atomically in ``fmt`` (default: its own layout).

    Parameters
    ----------
    data : dict
        A dict that :func:`read_shard` returned (possibly converted in place).
    path : str or os.PathLike
        The output file; its folder is created.
    fmt : {"coco", "sa1b", "jsonl", "parquet"}, optional
        The layout; ``sa1b`` and ``jsonl`` need a per-image shard (``sa1b`` one image),
        ``parquet`` needs every segmentation to be an RLE.

    Raises
    ------
    TypeError
        If ``data`` is not a dict from :func:`read_shard` or ``path`` is not a path.
    ValueError
        If ``fmt`` is not one of :data:`FORMATS`, or the data cannot be written in that layout.
    ImportError
        For ``parquet`` without pyarrow.

    Examples
    --------
    >>> import json, tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> coco = {"images": [{"id": 1, "height": 4, "width": 4}],
    ...         "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}
    >>> (d / "in").mkdir()
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> from maskprep.shards import read_shard, write_shard
    >>> data = read_shard(d / "in" / "a.json")
    >>> write_shard(data, d / "out" / "a.json")
    >>> json.loads((d / "out" / "a.json").read_text()) == coco
    True
    >>> write_shard(data, d / "out" / "a.jsonl", "jsonl")
    Traceback (most recent call last):
    ValueError: fmt 'jsonl' needs a per-image shard, got a coco shard
    >>> import shutil; shutil.rmtree(d)
    """
    if not isinstance(data, dict) or ("annotations" not in data and "_format" not in data):
        got = "a dict without annotations" if isinstance(data, dict) else type(data).__name__
        raise TypeError(f"data must be a dict from read_shard, got {got}")
    src = data.get("_format", "coco")
    fmt = fmt or src
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = _check_path("path", path)
    if fmt in ("sa1b", "jsonl") and src not in ("sa1b", "jsonl"):
        raise ValueError(f"fmt {fmt!r} needs a per-image shard, got a {src} shard")
    if fmt == "parquet":
        _write_parquet(data, path)
        return
    _strip_added(data)
    if fmt == "coco":
        if src == "coco":
            path.parent.mkdir(parents=True, exist_ok=True)
            coco.save({k: v for k, v in data.items() if not k.startswith("_")}, path)
            return
        clean = {"images": data.get("images", []), "annotations": data.get("annotations", [])}
        with _atomic(path) as f:
            f.write(orjson.dumps(clean))
    elif fmt == "sa1b":
        if len(data["_records"]) != 1:
            raise ValueError(f"fmt 'sa1b' holds one image, this shard has {len(data['_records'])}")
        with _atomic(path) as f:
            f.write(orjson.dumps(data["_records"][0]))
    else:
        with _atomic(path) as f:
            for rec in data["_records"]:
                f.write(orjson.dumps(rec) + b"\n")


def _write_parquet(data: Dict[str, Any], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sizes = {im.get("id"): (im.get("height"), im.get("width")) for im in data.get("images", [])}
    rows = []
    for ann in data.get("annotations", []):
        seg = ann.get("segmentation")
        if not isinstance(seg, dict) or not isinstance(seg.get("counts"), str):
            raise ValueError(
                f"fmt 'parquet' needs compressed RLEs; annotation {ann.get('id')} has none"
            )
        h, w = sizes.get(ann.get("image_id"), (None, None))
        row = {k: v for k, v in ann.items() if k != "segmentation"}
        row.update(height=h, width=w, counts=seg["counts"])
        rows.append(row)
    columns = data.get("_columns")
    if columns is None:
        order = [
            "image_id",
            "id",
            "category_id",
            "height",
            "width",
            "counts",
            "area",
            "bbox",
            "iscrowd",
        ]
        columns = [c for c in order if any(c in r for r in rows)]
        columns += sorted({k for r in rows for k in r} - set(columns))
    table = pa.Table.from_pylist(rows, schema=data.get("_schema"))
    table = table.select(columns) if data.get("_schema") is None else table
    with _atomic(path) as f:
        pq.write_table(table, f)


def _output_path(outdir: Path, rel: Path, out_format: Optional[str]) -> Path:
    if out_format is None:
        return outdir / rel
    suffix = {
        "coco": ".json",
        "sa1b": ".json",
        "jsonl": ".jsonl",
        "parquet": ".parquet",
    }[out_format]
    return outdir / rel.with_suffix(suffix)


def process_shard(
    src: PathLike,
    rel: PathLike,
    outdir: PathLike,
    *,
    job: str = "convert",
    to: str = "rle",
    recompute: bool = False,
    skip_invalid: bool = False,
    out_format: Optional[str] = None,
    num_threads: Optional[int] = None,
    resume: bool = True,
    boxes: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Process one shard and return its summary.

    ``job="convert"`` writes the converted shard to ``outdir / rel`` (its suffix changed for
    ``out_format``); ``job="boxes"`` writes the shard with a mask added to every annotation
    that has only a bbox (``maskprep boxes``; ``converted`` counts the masks added, an
    unreadable image lists its annotations as invalid); ``job="validate"`` writes nothing but the
    summary. Invalid annotations are data: without ``skip_invalid`` the shard fails (nothing
    written, ``status="failed"``), with it they are left as they are and listed. An unreadable
    shard fails too (a summary, not an exception). Idempotent: with ``resume`` a shard whose
    output and completion record (:func:`completed`) exist is not redone (its recorded summary
    is returned).

    Parameters
    ----------
    src : str or os.PathLike
        The shard's file.
    rel : str or os.PathLike
        Its relative path (as :func:`find_shards` gives it): where the output goes.
    outdir : str or os.PathLike
        The output folder.
    job : {"convert", "validate", "boxes"}
        What to do.
    to : {"rle", "polygon"}
        ``job="convert"``: the target segmentation form.
    recompute : bool
        ``job="convert"``: set ``area`` and ``bbox`` from the masks.
    skip_invalid : bool
        List invalid annotations instead of failing the shard.
    out_format : {"coco", "sa1b", "jsonl", "parquet"}, optional
        The output layout (default: the input's).
    num_threads : int, optional
        None: the process budget, -1: all cores, n >= 1: n threads.
    resume : bool
        Skip a shard that is already done.
    boxes : dict, optional
        ``job="boxes"``: the options of ``maskprep boxes``, :data:`BOX_OPTIONS`
        (``{"method": "grow", "images": "val2017/"}``), checked by :func:`check_box_options`.

    Returns
    -------
    dict
        The summary (JSON-able): ``shard`` (the relative path), ``images``, ``annotations``,
        ``converted``, ``invalid`` (annotation id -> message), ``warnings``, ``status``
        (``done``, ``resumed``, ``failed``) and ``error`` (why it failed).

    Raises
    ------
    TypeError
        If ``src``, ``rel`` or ``outdir`` is not a path, or ``boxes`` is not a dict.
    ValueError
        If ``job`` or ``out_format`` is not one of its values, or a ``boxes`` option is invalid.

    Examples
    --------
    >>> import json, tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> coco = {"images": [{"id": 1, "height": 4, "width": 4}],
    ...         "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}
    >>> (d / "in").mkdir()
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> from maskprep.shards import process_shard
    >>> process_shard(d / "in" / "a.json", "a.json", d / "out")
    {'shard': 'a.json', 'images': 1, 'annotations': 1, 'converted': 1, 'invalid': {},
     'warnings': 0, 'status': 'done', 'error': None}
    >>> (d / "out" / "a.json").read_text()
    '{"images": [{"id": 1, "height": 4, "width": 4}], "annotations": [{"id": 1, "image_id": 1,
     "segmentation": {"size":[4,4],"counts":"41313"}}]}'
    >>> process_shard(d / "in" / "a.json", "a.json", d / "out")["status"]  # done already
    'resumed'
    >>> import shutil; shutil.rmtree(d)
    """
    if job not in JOBS:
        raise ValueError(f"job must be one of {', '.join(JOBS)}, got {job!r}")
    if out_format is not None and out_format not in FORMATS:
        raise ValueError(f"out_format must be one of {', '.join(FORMATS)}, got {out_format!r}")
    src, rel = _check_path("src", src), _check_path("rel", rel)
    outdir = _check_path("outdir", outdir)
    dst = _output_path(outdir, rel, out_format)
    if resume:  # run() reads the records once for all its shards instead
        resumed = _resumed(completed(outdir, job).get(str(rel)), job, dst)
        if resumed is not None:
            return resumed
    summary: Dict[str, Any] = {
        "shard": str(rel),
        "images": 0,
        "annotations": 0,
        "converted": 0,
        "invalid": {},
        "warnings": 0,
        "status": "done",
        "error": None,
    }
    if job == "convert" and to == "rle" and out_format is None and src.suffix == ".json":
        _convert_text(src, dst, summary, recompute, skip_invalid, num_threads)
        if summary["status"] == "done":
            _record(outdir, job, summary)
        return summary
    try:
        data = read_shard(src)
    except ShardError as exc:
        summary.update(status="failed", error=str(exc))
        return summary
    summary["images"] = len(data.get("images") or [])
    summary["annotations"] = len(data.get("annotations") or [])
    if job == "validate":
        problems = coco.validate(
            {k: v for k, v in data.items() if not k.startswith("_")}, num_threads=num_threads
        )
        summary["invalid"] = {
            str(p.ann_id if p.ann_id is not None else f"image {p.image_id}"): p.message
            for p in problems
            if p.level == "error"
        }
        summary["warnings"] = sum(p.level == "warning" for p in problems)
        if summary["invalid"] and not skip_invalid:
            summary.update(
                status="failed", error=f"{len(summary['invalid'])} invalid annotation(s)"
            )
    elif job == "boxes":
        view = {k: v for k, v in data.items() if not k.startswith("_")}
        opts = check_box_options(boxes)
        method = _box_method(_method_key(opts, num_threads))
        try:
            added = coco.add_box_masks(
                view,
                method,
                images_dir=opts.get("images"),
                overwrite=bool(opts.get("overwrite", False)),
                skip_invalid=True,
            )
        except ValueError as exc:  # not an instances dict
            summary.update(status="failed", error=str(exc))
            return summary
        summary["converted"] = added.added
        invalid = {str(k): v for k, v in added.errors.items()}
        for msg, ids in added.image_errors.values():  # an unreadable image: each of its boxes
            invalid.update((str(i), msg) for i in ids)
        summary["invalid"] = invalid
        if invalid and not skip_invalid:
            summary.update(status="failed", error=f"{len(invalid)} invalid annotation(s)")
            return summary
        write_shard(data, dst, out_format)
    else:
        view = {k: v for k, v in data.items() if not k.startswith("_")}
        try:
            report = coco.convert(
                view, to=to, recompute=recompute, skip_invalid=True, num_threads=num_threads
            )
        except ValueError as exc:  # not an instances dict
            summary.update(status="failed", error=str(exc))
            return summary
        summary["converted"] = report.converted
        summary["invalid"] = {str(k): v for k, v in report.errors.items()}
        if summary["invalid"] and not skip_invalid:
            summary.update(
                status="failed", error=f"{len(summary['invalid'])} invalid annotation(s)"
            )
            return summary
        # coco.convert works on the view's lists, which are the shard's own objects.
        write_shard(data, dst, out_format)
    if summary["status"] == "done":
        _record(outdir, job, summary)
    return summary


# Completion records: an append-only JSON Lines journal per process and job,
# DONE_DIR/JOB-HOST-PID.jsonl, a line per finished shard (its summary), appended after the
# shard's output is renamed into place. One file per process, not per shard: creating a file
# costs as much as converting a small shard. A line cut short by a crash is ignored (its shard
# is redone, which writes the same bytes).
@functools.cache
def _hostname() -> str:
    return socket.gethostname()  # a system call: asked once per process, not per shard


def _record(outdir: Path, job: str, summary: Dict[str, Any]) -> None:
    folder = os.path.join(outdir, DONE_DIR)
    name = os.path.join(folder, f"{job}-{_hostname()}-{os.getpid()}.jsonl")
    try:
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        # One O_APPEND write per record; the leading newline ends a line a crash cut short.
        os.write(fd, b"\n" + orjson.dumps(summary) + b"\n")
    finally:
        os.close(fd)


def completed(outdir: PathLike, job: str = "convert") -> Dict[str, Dict[str, Any]]:
    """The completion records of ``job`` in ``outdir``.

    Parameters
    ----------
    outdir : str or os.PathLike
        The output folder of :func:`process_shard` or :func:`run`.
    job : {"convert", "validate", "boxes"}
        Whose records.

    Returns
    -------
    dict
        shard (its relative path, as the report names it) -> the summary :func:`process_shard`
        returned when it finished; empty when there are none.

    Raises
    ------
    TypeError
        If ``outdir`` is not a path.
    ValueError
        If ``job`` is not one of :data:`JOBS`.

    Examples
    --------
    >>> completed("/nonexistent")
    {}
    >>> import json, tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> coco = {"images": [{"id": 1, "height": 4, "width": 4}],
    ...         "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}
    >>> (d / "in").mkdir()
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> from maskprep.shards import completed, process_shard
    >>> _ = process_shard(d / "in" / "a.json", "a.json", d / "out")
    >>> completed(d / "out")
    {'a.json': {'shard': 'a.json', 'images': 1, 'annotations': 1, 'converted': 1, 'invalid': {},
     'warnings': 0, 'status': 'done', 'error': None}}
    >>> completed(d / "out", "validate")
    {}
    >>> import shutil; shutil.rmtree(d)
    """
    outdir = _check_path("outdir", outdir)
    if job not in JOBS:
        raise ValueError(f"job must be one of {', '.join(JOBS)}, got {job!r}")
    out: Dict[str, Dict[str, Any]] = {}
    for path in sorted((outdir / DONE_DIR).glob(f"{job}-*.jsonl")):
        try:
            text = path.read_bytes()
        except OSError:
            continue
        for line in text.splitlines():
            if not line:
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # cut short by a crash
            if isinstance(rec, dict) and isinstance(rec.get("shard"), str):
                out[rec["shard"]] = rec
    return out


def _resumed(record: Optional[Dict[str, Any]], job: str, dst: Path) -> Optional[Dict[str, Any]]:
    """The recorded summary as a resumed one, when the shard's output is still there."""
    if record is None or (job != "validate" and not dst.is_file()):
        return None
    return dict(record, status="resumed")


def _convert_text(
    src: Path,
    dst: Path,
    summary: Dict[str, Any],
    recompute: bool,
    skip_invalid: bool,
    num_threads: Optional[int],
) -> None:
    """convert --to rle of a COCO or SA-1B JSON shard on its text, as ``maskprep convert``
    does for a file (``_core.coco_convert_to_rle``: no Python objects per annotation, every
    other byte copied). Fills ``summary``."""
    try:
        raw = src.read_bytes()
    except OSError as exc:
        summary.update(status="failed", error=f"cannot read {src}: {exc.strerror or exc}")
        return
    try:
        out, counts, errors = _core.coco_convert_to_rle(
            raw, recompute, True, None, num_threads=num_threads
        )
    except _core.JsonSyntaxError as exc:
        summary.update(status="failed", error=f"{src} is not valid JSON: {exc}")
        return
    except _core.JsonNotObjectError:
        summary.update(status="failed", error=f"{src}: the top level must be an object")
        return
    except ValueError as exc:  # JSON, but not an instances or per-image file
        summary.update(status="failed", error=f"{src}: {exc}")
        return
    summary.update(
        images=counts["images"], annotations=counts["annotations"], converted=counts["converted"]
    )
    summary["invalid"] = {str(k): v for k, v in errors}
    if summary["invalid"] and not skip_invalid:
        summary.update(status="failed", error=f"{len(summary['invalid'])} invalid annotation(s)")
        return
    _write_bytes(dst, out)


def check_box_options(boxes: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The ``boxes`` options of job="boxes", checked as ``maskprep boxes`` checks its arguments.

    Parameters
    ----------
    boxes : dict, optional
        Options named in :data:`BOX_OPTIONS`; None is ``{}``.

    Returns
    -------
    dict
        A checked copy: ``method`` defaults to ``"box"``; ``images`` as a str (it travels to Ray
        workers), dropped for the methods that read no image (box and ellipse).

    Raises
    ------
    TypeError
        If ``boxes`` is not a dict.
    ValueError
        Naming the option: an unknown option, an unknown method, ``grow`` or ``maskrcnn``
        without ``images`` or with one that is not a folder, ``maskrcnn`` without ``weights``.

    Examples
    --------
    >>> from maskprep.shards import check_box_options
    >>> check_box_options(None)
    {'method': 'box'}
    >>> check_box_options({"method": "ellipse", "images": "val2017/"})
    {'method': 'ellipse'}
    >>> check_box_options({"method": "grow"})
    Traceback (most recent call last):
    ValueError: boxes method 'grow' needs boxes['images'] (a folder)
    """
    if boxes is not None and not isinstance(boxes, dict):
        raise TypeError(f"boxes must be a dict of boxes options, got {type(boxes).__name__}")
    opts = dict(boxes or {})
    unknown = sorted(set(opts) - set(BOX_OPTIONS))
    if unknown:
        raise ValueError(
            f"boxes has unknown option(s) {', '.join(unknown)}; expected {', '.join(BOX_OPTIONS)}"
        )
    method = opts.setdefault("method", "box")
    if method not in coco.BOX_METHODS:
        raise ValueError(
            f"boxes['method'] must be one of {', '.join(coco.BOX_METHODS)}, got {method!r}"
        )
    if method in ("grow", "maskrcnn"):
        if opts.get("images") is None:
            raise ValueError(f"boxes method {method!r} needs boxes['images'] (a folder)")
        if not Path(opts["images"]).is_dir():
            raise ValueError(f"boxes['images'] {opts['images']} is not a folder")
        opts["images"] = str(opts["images"])
    else:
        opts.pop("images", None)  # box and ellipse read no image
    if method == "maskrcnn" and not opts.get("weights"):
        raise ValueError("boxes method 'maskrcnn' needs boxes['weights'] (a state_dict file)")
    return opts


def _method_key(opts: Dict[str, Any], num_threads: Optional[int]) -> Tuple[Any, ...]:
    names = ("method", "seed", "tolerance", "arch", "weights", "device", "use_labels")
    defaults = {"seed": "otsu", "arch": "v1", "device": "auto", "use_labels": False}
    return tuple(opts.get(k, defaults.get(k)) for k in names) + (num_threads,)


@functools.lru_cache(maxsize=4)
def _box_method(key: Tuple[Any, ...]) -> Any:
    """coco.masks_for_method, built once per process (a Mask R-CNN model is loaded once per
    worker, not once per shard)."""
    method, seed, tolerance, arch, weights, device, use_labels, num_threads = key
    return coco.masks_for_method(
        method,
        seed=seed,
        tolerance=tolerance,
        arch=arch,
        weights=weights,
        device=device,
        use_labels=use_labels,
        num_threads=num_threads,
    )


def _local(
    shards: List[Tuple[Tuple[Path, Path], Optional[Dict[str, Any]]]],
    kwargs: Dict[str, Any],
    progress: Optional[Callable[[Dict[str, Any]], None]],
) -> List[Dict[str, Any]]:
    out = []
    for (src, rel), resumed in shards:
        summary = resumed or process_shard(src, rel, **kwargs)
        out.append(summary)
        if progress is not None:
            progress(summary)
        if summary["status"] == "failed" and not kwargs["skip_invalid"]:
            break
    return out


def run(
    inputs: Union[PathLike, Sequence[PathLike]],
    outdir: PathLike,
    *,
    job: str = "convert",
    to: str = "rle",
    recompute: bool = False,
    skip_invalid: bool = False,
    out_format: Optional[str] = None,
    engine: str = "local",
    address: Optional[str] = None,
    num_threads: Optional[int] = None,
    resume: bool = True,
    progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    boxes: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Run ``job`` over every shard of ``inputs`` (:func:`find_shards`) into ``outdir``.

    Writes the run's report, ``outdir/maskprep-report.json``: every shard with its counts and
    every invalid annotation by shard and id. ``engine="ray"`` runs one task per shard on the
    Ray cluster at ``address`` (default: a local one), retried when a worker dies; the outputs
    are byte-identical to ``engine="local"``. Without ``skip_invalid`` the first failed shard
    fails the job (the report is written first).

    Parameters
    ----------
    inputs : path or list of paths
        The shards, as :func:`find_shards` takes them.
    outdir : str or os.PathLike
        The output folder (created).
    job, to, recompute, skip_invalid, out_format, num_threads
        As :func:`process_shard`.
    engine : {"local", "ray"}
        A loop here (OpenMP inside each shard) or Ray tasks (:func:`maskprep.ray.run_shards`).
    address : str, optional
        ``engine="ray"``: the cluster's address.
    resume : bool
        Skip the shards that are already done (:func:`completed`).
    progress : callable, optional
        Called with each shard's summary as it finishes.
    boxes : dict, optional
        ``job="boxes"``: ``maskprep boxes``' options (see :func:`process_shard`).

    Returns
    -------
    dict
        The report: ``job``, ``shards`` (the summaries, by shard), ``totals``, ``invalid``
        (shard -> annotation id -> message) and ``failed`` (shards).

    Raises
    ------
    TypeError
        As :func:`find_shards` for ``inputs``, or if ``outdir`` is not a path or ``boxes`` not a
        dict.
    ValueError
        If ``engine`` or ``job`` is not one of its values, ``boxes`` is given for another job,
        or a ``boxes`` option is invalid (before any shard is read); as :func:`find_shards` for
        ``inputs``.
    ShardError
        Naming the first failed shard, without ``skip_invalid``.
    ImportError
        For ``engine="ray"`` without ray.

    Examples
    --------
    >>> import json, tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp())
    >>> coco = {"images": [{"id": 1, "height": 4, "width": 4}],
    ...         "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 3, 0, 3, 3]]}]}
    >>> (d / "in").mkdir()
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> from maskprep.shards import run
    >>> report = run(d / "in", d / "out")
    >>> report["totals"], report["failed"]
    ({'images': 1, 'annotations': 1, 'converted': 1, 'warnings': 0}, [])
    >>> (d / "out" / "maskprep-report.json").is_file()
    True
    >>> run(d / "in", d / "out")["shards"][0]["status"]  # a re-run resumes
    'resumed'
    >>> coco["annotations"][0]["segmentation"] = [[0, 0, 3, 0]]  # 2 points: invalid
    >>> _ = (d / "in" / "a.json").write_text(json.dumps(coco))
    >>> run(d / "in", d / "bad")
    Traceback (most recent call last):
    maskprep.shards.ShardError: shard a.json failed: 1 invalid annotation(s) (report: ...)
    >>> run(d / "in", d / "skipped", skip_invalid=True)["invalid"]
    {'a.json': {'1': 'segmentation polygon 0 must have at least 3 point(s) (6 numbers), got 2
     point(s)'}}
    >>> import shutil; shutil.rmtree(d)
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    if job not in JOBS:
        raise ValueError(f"job must be one of {', '.join(JOBS)}, got {job!r}")
    if job == "boxes":
        boxes = check_box_options(boxes)
        if engine == "local":  # fail on a bad model or weights file before the first shard
            _box_method(_method_key(boxes, num_threads))
    elif boxes is not None:
        raise ValueError(f"boxes options are for job='boxes', not job={job!r}")
    shards = find_shards(inputs)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    kwargs = dict(
        outdir=outdir,
        job=job,
        to=to,
        recompute=recompute,
        skip_invalid=skip_invalid,
        out_format=out_format,
        num_threads=num_threads,
        resume=False,  # decided here, from the records read once
        boxes=boxes,
    )
    records = completed(outdir, job) if resume else {}
    plan = [
        ((src, rel), _resumed(records.get(str(rel)), job, _output_path(outdir, rel, out_format)))
        for src, rel in shards
    ]
    if engine == "local":
        summaries = _local(plan, kwargs, progress)
    else:
        from maskprep.ray import run_shards

        summaries = [s for _, s in plan if s is not None]
        for s in summaries:
            if progress is not None:
                progress(s)
        todo = [item for item, s in plan if s is None]
        summaries += run_shards(todo, kwargs, address=address, progress=progress)
    summaries.sort(key=lambda s: s["shard"])
    _remove_temps([_output_path(outdir, rel, out_format) for _, rel in shards])
    report = {
        "job": job,
        "shards": summaries,
        "totals": {
            k: sum(s[k] for s in summaries)
            for k in ("images", "annotations", "converted", "warnings")
        },
        "invalid": {s["shard"]: s["invalid"] for s in summaries if s["invalid"]},
        "failed": [s["shard"] for s in summaries if s["status"] == "failed"],
    }
    with _atomic(outdir / REPORT_NAME) as f:
        f.write(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if report["failed"] and not skip_invalid:
        first = next(s for s in summaries if s["status"] == "failed")
        raise ShardError(
            f"shard {first['shard']} failed: {first['error']} (report: {outdir / REPORT_NAME})"
        )
    return report
