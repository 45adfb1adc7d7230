"""One evaluation code path for serial, multi-process and MPI runs.

A pool offers ``map(fn, items) -> list`` and ``size``. :class:`ChunkedFunction` splits a
``(n_points, n_params)`` array into ``size`` row blocks, evaluates each block with the
vectorised posterior on one worker and concatenates the results, so the sampler sees one
vectorised function whatever the pool. The posterior itself never travels between
processes: every process builds it from the config and registers it under a key
(:func:`register`); what is sent is a :class:`Ref` (key + method name), a few bytes.

* :class:`SerialPool` - evaluates in this process.
* :class:`ProcessPool` - ``multiprocessing`` workers (fork start method; POSIX).
* :class:`MPIPool` - built on ``mpi4py.MPI.COMM_WORLD``: rank 0 drives the sampler and
  evaluates one block itself; ranks > 0 loop in :meth:`MPIPool.wait` evaluating blocks.
"""
from __future__ import annotations

import os
from collections import Counter
from typing import Any, Callable, Iterable

import numpy as np

_REGISTRY: dict[str, Any] = {}

#: environment variables set by MPI launchers (MPICH/Hydra, Open MPI, Slurm PMI)
_MPI_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


def register(key: str, obj: Any) -> None:
    """Make ``obj`` reachable in this process as ``Ref(key, ...)``."""
    _REGISTRY[key] = obj


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


class Ref:
    """A picklable reference to a method of a registered object: ``Ref(key, attr)(*args)``."""

    def __init__(self, key: str, attr: str) -> None:
        self.key, self.attr = key, attr

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            obj = _REGISTRY[self.key]
        except KeyError:
            raise RuntimeError(f"object {self.key!r} is not registered in process "
                               f"{os.getpid()}") from None
        return getattr(obj, self.attr)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Ref({self.key!r}, {self.attr!r})"


def handle(obj: Any, attr: str) -> Callable:
    """``Ref(key, attr)`` when ``obj`` is registered (under ``key``), so that only the
    reference travels to pool workers; otherwise the bound method (serial use)."""
    for key, value in _REGISTRY.items():
        if value is obj:
            return Ref(key, attr)
    return getattr(obj, attr)


class Uncounted:
    """A picklable wrapper giving a vectorised ``fn`` the ``(values, counts)`` return of
    :class:`ChunkedFunction` (with no counts)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, theta: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        return np.asarray(self.fn(theta), dtype=float), {}


class SerialPool:
    """Evaluate in the calling process."""
    size = 1
    is_master = True

    def map(self, fn: Callable, items: Iterable) -> list:
        return [fn(x) for x in items]

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessPool(SerialPool):
    """``n`` local worker processes (fork start method, so registered objects are inherited;
    register the posterior *before* creating the pool)."""

    def __init__(self, n: int) -> None:
        import multiprocessing
        self.size = int(n)
        self._pool = multiprocessing.get_context("fork").Pool(self.size)

    def map(self, fn: Callable, items: Iterable) -> list:
        return self._pool.map(fn, list(items))

    def close(self) -> None:
        self._pool.close()
        self._pool.join()


class MPIPool(SerialPool):
    """A small master/worker pool over ``MPI.COMM_WORLD``; rank 0 also evaluates a share."""

    def __init__(self, comm: Any = None) -> None:
        from mpi4py import MPI
        self._MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.is_master = self.rank == 0
        self._closed = False

    def wait(self) -> None:
        """Worker loop (ranks > 0): evaluate ``(fn, items)`` tasks until told to stop."""
        status = self._MPI.Status()
        while True:
            task = self.comm.recv(source=0, tag=self._MPI.ANY_TAG, status=status)
            if task is None:
                return
            fn, items = task
            self.comm.send([fn(x) for x in items], dest=0, tag=status.Get_tag())

    def map(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        blocks = np.array_split(np.arange(len(items)), self.size)
        for worker in range(1, self.size):
            self.comm.send((fn, [items[i] for i in blocks[worker]]), dest=worker, tag=worker)
        results: list = [None] * len(items)
        for i in blocks[0]:
            results[i] = fn(items[i])
        for worker in range(1, self.size):
            out = self.comm.recv(source=worker, tag=worker)
            for i, value in zip(blocks[worker], out):
                results[i] = value
        return results

    def close(self) -> None:
        if self.is_master and not self._closed:
            for worker in range(1, self.size):
                self.comm.send(None, dest=worker, tag=0)
        self._closed = True

    def bcast(self, obj: Any) -> Any:
        return self.comm.bcast(obj, root=0)


def mpi_world_size() -> int:
    """Number of MPI ranks this process was launched with (1 when not under an MPI
    launcher); read from the launcher's environment so that mpi4py is imported only when
    needed."""
    for var in _MPI_SIZE_VARS:
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                continue
    return 1


def make_pool(kind: str = "auto", n_processes: int | None = None) -> SerialPool:
    """``kind``: ``"auto"`` (MPI when launched by mpirun with > 1 rank, else serial),
    ``"serial"``, ``"processes"`` (``n_processes`` local workers) or ``"mpi"``."""
    if kind == "auto":
        kind = "mpi" if mpi_world_size() > 1 else "serial"
    if kind == "serial":
        return SerialPool()
    if kind == "processes":
        return ProcessPool(n_processes or os.cpu_count() or 1)
    if kind == "mpi":
        return MPIPool()
    raise ValueError(f"unknown pool {kind!r}")


class ChunkedFunction:
    """Vectorised ``theta (n, d) -> (n,)`` evaluated in ``pool.size`` row blocks.

    ``fn`` returns ``(values, counts)`` for a block, ``counts`` a dict of rejection reasons;
    they are added to :attr:`counts` so statistics survive multi-process evaluation.
    """

    def __init__(self, fn: Callable, pool: SerialPool) -> None:
        self.fn, self.pool = fn, pool
        self.counts: Counter = Counter()
        self.n_calls = 0

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        self.n_calls += theta.shape[0]
        if self.pool.size == 1:
            results = [self.fn(theta)]
        else:
            n_blocks = min(self.pool.size, theta.shape[0])
            results = self.pool.map(self.fn, np.array_split(theta, n_blocks))
        for _, counts in results:
            self.counts.update(counts)
        return np.concatenate([values for values, _ in results])
