"""COCO JSON files in and out: orjson reads, atomic streamed writes, and the exceptions that
tell the command which exit code a failure gets."""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Union

import orjson

from .. import _core

PathLike = Union[str, "os.PathLike[str]"]


class UnreadableInput(ValueError):
    """The input file is not JSON (the command exits 2, as for a missing file)."""


class NotInstancesFile(UnreadableInput):
    """The input is JSON but not a COCO instances file (its top level is not an object)."""


class OutputError(Exception):
    """The output cannot be written (its folder is missing or read-only, it is a folder, the disk
    is full); the message names the output path. The command exits 3."""


def _top_level_error(path: PathLike, is_list: bool) -> NotInstancesFile:
    if is_list:
        return NotInstancesFile(
            f"{path}: this is a COCO results file (a JSON list); maskprep expects a COCO "
            "instances file (an object with images/annotations)"
        )
    return NotInstancesFile(f"{path}: the top level must be an object (a COCO instances file)")


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector in the block (or the decorated function).

    Converting a big file creates 100k+ small dicts and lists, and every collection they trigger
    walks the whole loaded dataset (millions of objects): up to a third of the run time. The
    objects made here hold no cycles. The collector's previous state comes back on exit.

    Yields
    ------
    None

    Examples
    --------
    >>> import gc
    >>> with no_gc():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load(path: PathLike) -> Dict[str, Any]:
    """Read a COCO instances file with orjson (several times faster than the json module).

    The raw bytes are freed as soon as they are parsed, so the peak is the file plus its
    objects once.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict

    Raises
    ------
    UnreadableInput
        Text that is not JSON (with the byte offset, in the same words as ``convert``'s
        scanner: invalid UTF-8, lone surrogates, NaN/Infinity).
    NotInstancesFile
        JSON whose top level is not an object (a results file is a list).
    OSError
        A file that cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "in.json"
    >>> _ = path.write_text('{"images": [], "annotations": []}')
    >>> load(path)
    {'images': [], 'annotations': []}
    >>> _ = path.write_text("[]")
    >>> load(path)
    Traceback (most recent call last):
    ...
    maskprep.coco.jsonio.NotInstancesFile: ...: this is a COCO results file (a JSON list); ...
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with no_gc():
            data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UnreadableInput(f"{path} is {_syntax_error(raw, exc)}") from None
    finally:
        del raw
    if not isinstance(data, dict):
        raise _top_level_error(path, isinstance(data, list))
    return data


def _syntax_error(raw: bytes, exc: Exception) -> str:
    """The scanner's message for text orjson rejected, so that every command words it alike."""
    try:
        _core.json_check(raw)
    except _core.JsonSyntaxError as scanned:
        return str(scanned)
    return f"not valid JSON: {exc}"


# Large lists are serialised this many items at a time: the output is never held in memory whole.
_WRITE_CHUNK = 10000


def make_dir(path: PathLike) -> None:
    """Create the folder ``path`` (and its parents) unless it exists.

    Parameters
    ----------
    path : str or os.PathLike
        The folder.

    Raises
    ------
    OutputError
        When it cannot be created; the message names the folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "a" / "b"
    >>> make_dir(folder)
    >>> folder.is_dir()
    True
    """
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {path}: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def _tmp_name(name: str, pid: int) -> str:
    return f".{name}.maskprep-{pid}.tmp"


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete the temporary files earlier runs left for this output when they were killed
    (SIGKILL, power loss): ``.NAME.maskprep-PID.tmp`` whose process no longer exists."""
    prefix, suffix = f".{name}.maskprep-", ".tmp"
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix) : -len(suffix)]
        if not (entry.startswith(prefix) and entry.endswith(suffix) and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running (maybe writing it now)
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue  # someone else's live process, or not a pid
        with contextlib.suppress(OSError):
            os.unlink(folder / entry)


def output_problem(path: PathLike) -> Optional[str]:
    """Why ``path`` cannot be an output (checked before a job starts), or None.

    Parameters
    ----------
    path : str or os.PathLike
        The output; ``-`` is standard output.

    Returns
    -------
    str or None

    Examples
    --------
    >>> output_problem("-") is None
    True
    >>> output_problem("/no/such/folder/out.json")
    'cannot write /no/such/folder/out.json: the folder /no/such/folder does not exist'
    """
    text = os.fspath(path)
    if text == "-":
        return None
    if text.endswith(os.sep) or (os.path.isdir(text)):
        return f"{text} is a folder; -o needs a file name"
    folder = os.path.dirname(os.path.realpath(text)) or "."
    if not os.path.isdir(folder):
        return f"cannot write {text}: the folder {folder} does not exist"
    return None


def _atomic_write(path: PathLike, write: Callable[[Any], None]) -> None:
    """write(file) into ``.NAME.maskprep-PID.tmp`` beside ``path``, renamed over it only on
    success, so an interrupted run never leaves a partial file (SIGINT and SIGTERM remove the
    temporary file; one left by a killed run is removed by the next run that writes NAME).

    ``-`` writes to standard output. A symlink is written through: its target is replaced, the
    link stays. A path that is not a regular file (``/dev/stdout``, a pipe, a device) is written
    to directly. A new file gets the umask's mode (0666 & ~umask), a replaced file keeps its
    mode. OSError becomes :class:`OutputError` naming ``path``.
    """
    if os.fspath(path) == "-":
        try:
            write(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):  # the reader left (| head): no flush at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None
        return
    problem = output_problem(path)
    if problem is not None:
        raise OutputError(problem)
    try:
        st: Optional[os.stat_result] = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        if st is not None and not stat.S_ISREG(st.st_mode):
            with open(path, "wb") as f:  # a device or pipe: there is nothing to rename over
                write(f)
            return
        target = Path(os.path.realpath(path))  # through symlinks: replace the target, not the link
        mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        _remove_stale_temps(target.parent, target.name)
        tmp = target.parent / _tmp_name(target.name, os.getpid())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # left by an earlier process that had our pid: stale
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            os.fchmod(f.fileno(), mode)
        _test_pause()
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _test_pause() -> None:
    """Tests only: MASKPREP_TEST_PAUSE_BEFORE_RENAME=SECONDS holds a finished temporary file
    before its rename, so that a signal can be sent at exactly that moment."""
    pause = os.environ.get("MASKPREP_TEST_PAUSE_BEFORE_RENAME")
    if pause:
        import time

        time.sleep(float(pause))


def save(data: Dict[str, Any], path: PathLike) -> None:
    """Write JSON atomically: into a temporary file beside ``path``, renamed over it only on
    success (see ``_atomic_write``: symlinks are written through, ``-`` is standard output).

    Top-level lists (``annotations``, ``images``) are streamed in chunks, so writing needs
    little memory beyond ``data`` itself.

    Parameters
    ----------
    data : dict or list
    path : str or os.PathLike

    Raises
    ------
    OutputError
        The output cannot be written (missing or read-only folder, a folder, a full disk); the
        message names ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.json"
    >>> save({"images": [], "annotations": [{"id": 1}]}, path)
    >>> path.read_text()
    '{"images":[],"annotations":[{"id":1}]}'
    """

    def write(f: Any) -> None:
        if isinstance(data, dict):
            f.write(b"{")
            for k, (key, value) in enumerate(data.items()):
                f.write((b"," if k else b"") + orjson.dumps(key) + b":")
                _write_value(f, value)
            f.write(b"}")
        else:
            _write_value(f, data)

    _atomic_write(path, write)


def _write_value(f: Any, value: Any) -> None:
    if not isinstance(value, list) or len(value) <= _WRITE_CHUNK:
        f.write(orjson.dumps(value))
        return
    f.write(b"[")
    for start in range(0, len(value), _WRITE_CHUNK):
        chunk = orjson.dumps(value[start : start + _WRITE_CHUNK])
        f.write((b"," if start else b"") + chunk[1:-1])  # the items without their brackets
    f.write(b"]")
