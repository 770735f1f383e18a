"""The process-wide thread budget and per-call ``num_threads`` resolution.

The budget lives in the compiled module (a process-wide atomic), so ``set_num_threads`` in one
Python thread governs kernels started from any other thread, as users of a data loader expect.
Per-call ``num_threads`` follows scikit-learn: ``None`` = the budget, ``-1`` = all cores,
``n >= 1`` = exactly n, anything else (0 included) raises ``ValueError``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Optional

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "threads", "resolve_num_threads"]

_lock = threading.Lock()


def resolve_num_threads(num_threads: Optional[int]) -> int:
    """Return the positive thread count that ``num_threads`` (None, -1 or n >= 1) stands for."""
    return _core.resolve_threads(num_threads)


def get_num_threads() -> int:
    """The process-wide default number of threads used when ``num_threads=None``."""
    return _core.get_thread_budget()


def set_num_threads(n: int) -> None:
    """Set the process-wide default thread count: ``n >= 1``, or ``-1`` for all cores.

    Defaults to the ``MASKPREP_NUM_THREADS`` environment variable, else the usable cores.
    """
    _core.set_thread_budget(resolve_num_threads(n))


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Context manager that sets the thread budget to ``n`` and restores the old one on exit.

    The budget is process-wide: other Python threads see the change while the block runs.
    """
    resolved = resolve_num_threads(n)
    with _lock:
        previous = get_num_threads()
        _core.set_thread_budget(resolved)
    try:
        yield resolved
    finally:
        with _lock:
            _core.set_thread_budget(previous)
