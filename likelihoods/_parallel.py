"""Independent pieces of a cache build shared out over the machine's cores.

``map_rows(fn, tasks)`` yields ``(index, fn(task))`` for every task, in any order, from forked
worker processes (``os.fork`` through ``multiprocessing``'s "fork" context, so ``fn`` may be a
bound method of an object built before the call: the workers inherit it and nothing but the
task and the result is pickled). It runs in this process instead when there is one task or
one core, when ``GLOBALFIT_BUILD_PROCESSES=1``, on platforms without fork, or when MPI is
initialised in this process (forking an MPI process is not safe). The number of workers is
``GLOBALFIT_BUILD_PROCESSES`` if set, else the cores this process may run on.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

ENV_PROCESSES = "GLOBALFIT_BUILD_PROCESSES"


def build_processes(n_tasks: int) -> int:
    """Worker processes for ``n_tasks`` independent tasks (1: run in this process)."""
    raw = os.environ.get(ENV_PROCESSES, "").strip()
    try:
        wanted = int(raw) if raw else len(os.sched_getaffinity(0))
    except (ValueError, AttributeError):
        wanted = os.cpu_count() or 1
    if "fork" not in _start_methods() or _mpi_initialised():
        return 1
    return max(1, min(wanted, n_tasks))


def _start_methods() -> list[str]:
    import multiprocessing
    return multiprocessing.get_all_start_methods()


def _mpi_initialised() -> bool:
    mpi = sys.modules.get("mpi4py.MPI")
    try:
        return bool(mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized())
    except Exception:   # an mpi4py without these calls: be safe
        return True


_FN: list[Callable[[Any], Any]] = []


def _worker_init() -> None:
    """Workers die quietly when the pool is terminated (the parent handles the signals)."""
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(item: tuple[int, Any]) -> tuple[int, Any]:
    index, task = item
    return index, _FN[0](task)


def map_rows(fn: Callable[[Any], Any], tasks: Sequence[Any],
             on_done: Callable[[], None] | None = None) -> Iterator[tuple[int, Any]]:
    """``(index, fn(task))`` for every task (module docstring); ``on_done()`` after each."""
    n = build_processes(len(tasks))
    if n == 1:
        for i, task in enumerate(tasks):
            yield i, fn(task)
            if on_done is not None:
                on_done()
        return
    import multiprocessing
    _FN[:] = [fn]
    try:
        with multiprocessing.get_context("fork").Pool(n, initializer=_worker_init) as pool:
            for item in pool.imap_unordered(_call, list(enumerate(tasks))):
                yield item
                if on_done is not None:
                    on_done()
    finally:
        _FN.clear()


__all__ = ["ENV_PROCESSES", "build_processes", "map_rows"]
