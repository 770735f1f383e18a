"""The thread budget and per-call ``num_threads`` resolution.

Two levels, innermost first:

- ``with threads(n):`` is scoped to the calling Python thread (a ``contextvars.ContextVar``, so
  also to the asyncio task): kernels started inside the block, from that thread, use ``n``; other
  threads keep their own budget, and concurrent or nested blocks never clobber each other.
- ``set_num_threads(n)`` sets the process-wide budget (an atomic in the compiled module), which
  every thread outside a ``threads()`` block uses, as users of a data loader expect.

Per-call ``num_threads`` follows scikit-learn: ``None`` = the budget above, ``-1`` = all cores,
``n >= 1`` = exactly n, anything else (0 included) raises ``ValueError``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "threads", "resolve_num_threads"]


def resolve_num_threads(num_threads: Optional[int]) -> int:
    """Return the positive thread count that ``num_threads`` (None, -1 or n >= 1) stands for."""
    return _core.resolve_threads(num_threads)


def get_num_threads() -> int:
    """The thread count ``num_threads=None`` stands for in the calling thread.

    Inside a ``threads(n)`` block of this thread: ``n``; elsewhere the process-wide budget.
    """
    return _core.current_thread_budget()


def set_num_threads(n: int) -> None:
    """Set the process-wide default thread count: ``n >= 1``, or ``-1`` for all cores.

    Defaults to the ``MASKPREP_NUM_THREADS`` environment variable, else ``OMP_NUM_THREADS``
    (as Ray and Dask set it for their workers), else the usable cores.
    Threads inside a ``threads()`` block keep the block's count until it ends.
    """
    _core.set_thread_budget(resolve_num_threads(n))


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Use ``n`` threads (``n >= 1`` or ``-1``) for kernels called from this thread in the block.

    Scoped to the calling thread (and asyncio task): other threads are not affected, and the
    previous value comes back on exit even when blocks in several threads overlap.
    """
    token = _core.thread_scope.set(resolve_num_threads(n))
    try:
        yield _core.thread_scope.get()
    finally:
        _core.thread_scope.reset(token)
