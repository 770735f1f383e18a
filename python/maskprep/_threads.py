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
    """The positive thread count that a per-call ``num_threads`` stands for.

    Parameters
    ----------
    num_threads : int or None
        None (the calling thread's budget, see :func:`get_num_threads`), ``-1`` (all usable
        cores) or ``n >= 1`` (exactly n).

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        For 0 or anything below -1.
    TypeError
        For a value that is not an int or None.

    Examples
    --------
    >>> resolve_num_threads(3)
    3
    >>> resolve_num_threads(None) == get_num_threads()
    True
    >>> resolve_num_threads(0)
    Traceback (most recent call last):
    ...
    ValueError: num_threads must be None, -1 ... got 0
    """
    return _core.resolve_threads(num_threads=num_threads)


def get_num_threads() -> int:
    """The thread count ``num_threads=None`` stands for in the calling thread.

    Inside a ``threads(n)`` block of this thread: ``n``; elsewhere the process-wide budget.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> with threads(2):
    ...     get_num_threads()
    2
    """
    return _core.current_thread_budget()


def set_num_threads(n: int) -> None:
    """Set the process-wide default thread count: ``n >= 1``, or ``-1`` for all cores.

    Defaults to the ``MASKPREP_NUM_THREADS`` environment variable, else ``OMP_NUM_THREADS``
    (as Ray and Dask set it for their workers), else the usable cores.
    Threads inside a ``threads()`` block keep the block's count until it ends.

    Parameters
    ----------
    n : int
        ``n >= 1`` or ``-1``.

    Raises
    ------
    ValueError
        For 0 or anything below -1.

    Examples
    --------
    >>> before = get_num_threads()
    >>> set_num_threads(1)
    >>> get_num_threads()
    1
    >>> set_num_threads(before)
    """
    _core.set_thread_budget(resolve_num_threads(n))


@contextlib.contextmanager
def threads(n: int) -> Iterator[int]:
    """Use ``n`` threads (``n >= 1`` or ``-1``) for kernels called from this thread in the block.

    Scoped to the calling thread (and asyncio task): other threads are not affected, and the
    previous value comes back on exit even when blocks in several threads overlap.

    Parameters
    ----------
    n : int
        ``n >= 1`` or ``-1`` (all cores).

    Yields
    ------
    int
        The resolved thread count.

    Raises
    ------
    ValueError
        For 0 or anything below -1.

    Examples
    --------
    >>> with threads(1) as n:
    ...     n, get_num_threads()
    (1, 1)
    """
    token = _core.thread_scope.set(resolve_num_threads(n))
    try:
        yield _core.thread_scope.get()
    finally:
        _core.thread_scope.reset(token)
