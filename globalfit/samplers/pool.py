"""One evaluation code path for serial, multi-process and MPI runs.

A pool offers ``map(fn, items) -> list`` and ``size``. :class:`ChunkedFunction` splits a
``(n_points, n_params)`` array into ``size`` row blocks, evaluates each block with the
vectorised posterior on one worker and concatenates the results, so the sampler sees one
vectorised function whatever the pool. The posterior itself never travels between
processes: every process builds it from the config and registers it under a key
(:func:`register`); what is sent is a :class:`Ref` (key + method name), a few bytes.

* :class:`SerialPool` - evaluates in this process.
* :class:`ProcessPool` - ``multiprocessing`` workers (fork start method; POSIX).
* :class:`MPIPool` - ``mpi4py.futures.MPICommExecutor`` on ``COMM_WORLD``: rank 0 drives
  the sampler and evaluates items itself that no worker has started; ranks > 0 serve
  tasks (one or more items, :func:`guided_chunks`) in :meth:`MPIPool.wait`.

Splitting pays only when a block's work exceeds the cost of shipping it (about 1 ms per task
with ``mpi4py.futures`` on this project's machines, benchmarks/README.md):
:class:`ChunkedFunction` times its calls and splits a batch only into blocks whose estimated
work is at least ``min_task_seconds`` (default 2 ms), so a cheap vectorised call (the
fast-mode default fit: 32 walkers in ~0.05 ms) stays on rank 0, and only while split calls
measure faster than whole ones.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterable

import numpy as np

_REGISTRY: dict[str, Any] = {}

#: the user's thread counts of BLAS / OpenMP (when one is set, it is theirs to choose)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: environment variables set by MPI launchers (MPICH/Hydra, Open MPI, Slurm PMI)
_MPI_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


def limit_blas_threads(processes_on_node: int) -> int | None:
    """Limit this process's BLAS and OpenMP threads to (cores / ``processes_on_node``), at
    least 1, so that N evaluating processes on one machine do not run N x cores threads:
    OpenBLAS threads spin while they wait, and on 2 cores two MPI ranks with 2 threads each
    made a 64-point full-mode call 5-10x slower (benchmarks/README.md, "MPI"). Left alone when
    the user set ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS``.
    Returns the limit set, or None."""
    if any(var in os.environ for var in _THREAD_VARS):
        return None
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    n = max(1, cores // max(1, int(processes_on_node)))
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=n)
    return n


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
    """Evaluate in the calling process. ``min_task_seconds``: the smallest estimated work a
    :class:`ChunkedFunction` block is given on this pool (seconds)."""
    size = 1
    is_master = True
    min_task_seconds = 2e-3

    def map(self, fn: Callable, items: Iterable,
            on_result: Callable[[int], None] | None = None) -> list:
        """``[fn(x) for x in items]``; ``on_result(i)`` (on this process) after item ``i``
        has been evaluated, in whatever order the items end (progress bars)."""
        out = []
        for i, x in enumerate(items):
            out.append(fn(x))
            if on_result is not None:
                on_result(i)
        return out

    def close(self) -> None:
        pass

    def __enter__(self) -> "SerialPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Indexed:
    """``(i, x) -> (i, fn(x))``, picklable (a ProcessPool's unordered map)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, item: tuple[int, Any]) -> tuple[int, Any]:
        return item[0], self.fn(item[1])


class ProcessPool(SerialPool):
    """``n`` local worker processes (fork start method, so registered objects are inherited;
    register the posterior *before* creating the pool); each limits its BLAS threads to its
    share of the cores (:func:`limit_blas_threads`)."""

    def __init__(self, n: int) -> None:
        import multiprocessing
        self.size = int(n)
        self._pool = multiprocessing.get_context("fork").Pool(
            self.size, initializer=limit_blas_threads, initargs=(self.size,))

    def map(self, fn: Callable, items: Iterable,
            on_result: Callable[[int], None] | None = None) -> list:
        items = list(items)
        if on_result is None:
            return self._pool.map(fn, items)
        out: list = [None] * len(items)
        for i, value in self._pool.imap_unordered(_Indexed(fn), list(enumerate(items))):
            out[i] = value
            on_result(i)
        return out

    def close(self) -> None:
        self._pool.close()
        self._pool.join()


class MPIPool(SerialPool):
    """MPI through ``mpi4py.futures.MPICommExecutor`` on ``COMM_WORLD`` (launch:
    ``mpiexec -n N python run_fit.py ...``; every rank builds the posterior first).

    Rank 0 drives the sampler; :meth:`map` submits every item to the executor, in tasks of
    one or more items (:func:`guided_chunks`), whose workers (ranks 1..N-1) take them from the
    front as they become free, while rank 0 evaluates tasks from the back that no worker has
    started (cancelling their futures), and returns the results in order: N ranks give N
    evaluators, balanced however uneven the items.
    Ranks > 0 call :meth:`wait`, which serves tasks until rank 0 closes the pool. Idle ranks
    poll with mpi4py's back-off (at most ``backoff_s``, default ``BACKOFF_S`` = 0.1 ms, asleep
    between polls; ``MPI4PY_FUTURES_BACKOFF``, when set, overrides it) instead of spinning. Every rank limits its BLAS
    threads to its share of the machine's cores (:func:`limit_blas_threads`).
    """

    #: longest sleep (s) of an idle rank between polls; mpi4py's default is 1 ms, which adds
    #: ~1.5 ms to a round trip of two 3 ms tasks on 2 ranks (benchmarks/README.md, "MPI")
    BACKOFF_S = 1e-4
    #: longest wait (s) of rank 0 for the workers to receive their first tasks of a map (they
    #: are idle then, so this is only reached when a worker is slow to answer)
    DISPATCH_WAIT_S = 5e-3
    #: Python's thread switch interval (s) on rank 0 while the pool is open (at most): the
    #: executor's thread needs the GIL several times to take a worker's result and send it
    #: the next task, and while rank 0 computes its own share in Python it got the GIL only
    #: after the default 5 ms each time. Measured on 2 ranks, tasks of 50 ms of Python work:
    #: a worker waited 17-20 ms between tasks at 5 ms, 3-4 ms at 0.5 ms
    SWITCH_INTERVAL_S = 5e-4

    def __init__(self, comm: Any = None, backoff_s: float | None = None) -> None:
        from mpi4py import MPI
        from mpi4py.futures import MPICommExecutor
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.is_master = self.rank == 0
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        #: BLAS threads of this rank (None: the user's environment decides)
        self.blas_threads = limit_blas_threads(node.Get_size())
        node.Free()
        env = os.environ.get("MPI4PY_FUTURES_BACKOFF")   # when set, the user's choice
        if env:
            backoff_s = float(env)
        elif backoff_s is None:
            backoff_s = self.BACKOFF_S
        #: rank 0's wait for the workers to take their first tasks (s): at least two of the
        #: executor thread's polls, which are up to ``backoff_s`` apart
        self.dispatch_wait_s = max(self.DISPATCH_WAIT_S, 3.0 * float(backoff_s))
        self._context = MPICommExecutor(self.comm, root=0, backoff=float(backoff_s))
        self._executor = self._context.__enter__() if self.is_master else None
        self._closed = False
        self._switch_interval = sys.getswitchinterval()
        if self.is_master:
            sys.setswitchinterval(min(self._switch_interval, self.SWITCH_INTERVAL_S))

    def wait(self) -> None:
        """Worker ranks: serve tasks until rank 0 closes the pool (returns then)."""
        if not self.is_master:
            self._context.__enter__()
            self._context.__exit__(None, None, None)

    def map(self, fn: Callable, items: Iterable,
            on_result: Callable[[int], None] | None = None) -> list:
        items = list(items)
        if len(items) < 2:
            return SerialPool.map(self, fn, items, on_result)
        # every item goes to the executor's queue, in the tasks of guided_chunks: the worker
        # ranks take tasks from the front as they become free; rank 0 takes tasks from the
        # back for itself, each one that no worker has started yet (a pending future can
        # still be cancelled), so items of uneven cost are balanced between rank 0 and the
        # workers as they go
        batch = _Batch(fn)
        lock = threading.Lock()

        def report(i: int) -> None:
            with lock:
                on_result(i)

        def done(f: Any, a: int, b: int) -> None:
            if not f.cancelled():
                for i in range(a, b):
                    report(i)

        def submit(start: int, stop: int) -> list[tuple[Any, int, int]]:
            """Tasks for items[start:stop], in the executor's queue (guided_chunks)."""
            new = []
            for a, b in guided_chunks(stop - start, self.size):
                f = self._executor.submit(batch, items[start + a:start + b])
                if on_result is not None:      # the workers' results end on its thread
                    f.add_done_callback(lambda f, a=start + a, b=start + b: done(f, a, b))
                new.append((f, start + a, start + b))
            return new

        tasks = submit(0, len(items))          # in queue order
        # let the executor's thread hand the first tasks to the idle workers before rank 0
        # computes: a computation in numpy holds the GIL between its (small) operations, and
        # the thread would otherwise get it only after up to one switch interval (5 ms), so
        # that the workers started when rank 0 had finished its own share
        front = [f for f, _, _ in tasks[:min(self.size - 1, len(tasks) - 1)]]
        deadline = time.perf_counter() + self.dispatch_wait_s
        while (not all(f.running() or f.done() for f in front)
               and time.perf_counter() < deadline):
            time.sleep(2e-5)
        out: list = [None] * len(items)
        pending = list(tasks)
        while pending:
            f, a, b = pending[-1]
            if not f.cancel():                 # a worker has it (and every earlier task)
                break
            pending.pop()
            if b - a > 1:
                # a task of several items that the workers have not reached: rank 0 takes
                # its last item and gives the others back to the queue (behind the tasks
                # still waiting there), so that a worker that becomes free meanwhile is
                # not left idle while rank 0 works through the whole task
                more = submit(a, b - 1)
                tasks += more
                pending += more
            out[b - 1] = fn(items[b - 1])
            if on_result is not None:
                report(b - 1)
        for f, a, b in tasks:              # the workers' tasks (rank 0's were cancelled)
            if not f.cancelled():
                out[a:b] = f.result()
        return out

    def close(self) -> None:
        if self.is_master and not self._closed:
            self._context.__exit__(None, None, None)
            sys.setswitchinterval(self._switch_interval)
        self._closed = True

    def bcast(self, obj: Any) -> Any:
        return self.comm.bcast(obj, root=0)


class _Batch:
    """``items -> [fn(x) for x in items]``, picklable: one pool task of several items."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, items: list) -> list:
        return [self.fn(x) for x in items]


def guided_chunks(n: int, processes: int) -> list[tuple[int, int]]:
    """``(start, stop)`` ranges of the tasks of an :class:`MPIPool` map of ``n`` items on
    ``processes`` evaluators (rank 0 and ``processes - 1`` workers).

    The workers take tasks from the front and rank 0 takes from the back, so the workers'
    expected share, the first ``n (processes - 1) / processes`` items, is cut as in guided
    self-scheduling: each task half of what is left of that share per worker, down to single
    items near where the two sides meet, and rank 0's share into single items (it needs no
    round trip). Every task costs a worker one round trip through the executor's thread on
    rank 0, which waits for the GIL while rank 0 computes (~8 ms between two tasks measured
    in dynesty on 2 ranks, benchmarks/README.md, "MPI"): a map of 32 slice-sampling
    proposals on 2 ranks gives the worker 5 tasks (8, 4, 2, 1, 1 items) instead of 16."""
    workers = int(processes) - 1
    share = n * workers // int(processes) if workers > 0 else 0
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < share:
        size = max(1, (share - start) // (2 * workers))
        bounds.append((start, start + size))
        start += size
    bounds.extend((i, i + 1) for i in range(start, n))
    return bounds


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


def make_pool(kind: str = "auto", n_processes: int | None = None,
              min_task_ms: float = 2.0, backoff_ms: float | None = None) -> SerialPool:
    """``kind``: ``"auto"`` (MPI when launched by mpirun with > 1 rank, else serial),
    ``"serial"``, ``"processes"`` (``n_processes`` local workers) or ``"mpi"``;
    ``min_task_ms``: see :class:`ChunkedFunction`; ``backoff_ms``: the longest sleep of an
    idle MPI rank between polls (default :attr:`MPIPool.BACKOFF_S`, for millisecond tasks;
    a fit passes its sampler's ``Sampler.mpi_backoff_ms``, 1 ms, and a workload of tasks of
    a second or more a few ms, so that the polling thread does not slow rank 0's own
    tasks). ``MPI4PY_FUTURES_BACKOFF``, when set, overrides both."""
    if kind == "auto":
        kind = "mpi" if mpi_world_size() > 1 else "serial"
    if kind == "serial":
        pool: SerialPool = SerialPool()
    elif kind == "processes":
        pool = ProcessPool(n_processes or os.cpu_count() or 1)
    elif kind == "mpi":
        pool = MPIPool(backoff_s=None if backoff_ms is None else 1e-3 * float(backoff_ms))
    else:
        raise ValueError(f"unknown pool {kind!r}")
    pool.min_task_seconds = 1e-3 * float(min_task_ms)
    return pool


class ChunkedFunction:
    """Vectorised ``theta (n, d) -> (n,)`` evaluated in row blocks on ``pool``.

    ``fn`` returns ``(values, counts)`` for a block, ``counts`` a dict of rejection reasons;
    they are added to :attr:`counts` so statistics survive multi-process evaluation.
    Splitting changes no value (the evaluation is per point); whether it pays is decided
    in two steps:

    * the work rule (:meth:`n_blocks`): ``min(pool.size, n, work / min_task_seconds)``
      blocks, ``work`` the estimated time of the whole batch from the measured time per
      point of earlier whole calls (the first call of a batch size is whole): no block
      carries less than ``min_task_seconds`` of work;
    * the measurement: a call has a fixed cost whatever its size (~1 ms for the
      full-systematics posterior) and a pool a round trip, which the work rule cannot see,
      so for every batch size the wall times of whole and split calls are measured
      (:data:`PROBE_CALLS` of each first, then the other one again every
      :data:`REPROBE_CALLS` calls) and the faster, by the least of its last
      :data:`KEEP_TIMES` times, is used. On 2 MPI ranks emcee's 128-point calls of the
      full-systematics fit were 0.7-0.9x as fast split as whole (benchmarks/README.md,
      "MPI"): they now stay whole, and an MPI run is not slower than a serial one.

    ``min_task_seconds = 0`` always splits (no measurement); ``clock`` (seconds) is for
    tests.
    """

    #: calls of each option (whole, split) measured before the faster is chosen
    PROBE_CALLS = 3
    #: calls of the faster option between two measurements of the other one
    REPROBE_CALLS = 50
    #: wall times kept per batch size and option; the least of them is the estimate
    KEEP_TIMES = 5

    def __init__(self, fn: Callable, pool: SerialPool,
                 min_task_seconds: float | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.fn, self.pool, self.clock = fn, pool, clock
        self.min_task_seconds = float(pool.min_task_seconds if min_task_seconds is None
                                      else min_task_seconds)
        self.counts: Counter = Counter()
        self.n_calls = 0
        #: wall time (s) spent in calls, pool round trips included: what the sampler's own
        #: work between calls is measured against (``wall_time_likelihood_s`` in its stats)
        self.wall_time_s = 0.0
        self.seconds_per_point: float | None = None
        #: (batch size, blocks) -> the last wall times (s) of such calls
        self.wall_times: dict[tuple[int, int], list[float]] = {}
        self._since_probe: Counter = Counter()

    def n_blocks(self, n: int) -> int:
        """Blocks a batch of ``n`` points may be split into by the work rule."""
        if self.pool.size == 1 or n < 2:
            return 1
        if self.min_task_seconds <= 0:
            return min(self.pool.size, n)
        if self.seconds_per_point is None:
            return 1
        work = n * self.seconds_per_point
        return int(max(1, min(self.pool.size, n, work // self.min_task_seconds)))

    def best_time(self, n: int, blocks: int) -> float | None:
        """The estimated wall time (s) of a call of ``n`` points in ``blocks`` blocks: the
        least of the last :data:`KEEP_TIMES` measured; None before the first."""
        times = self.wall_times.get((n, blocks))
        return min(times) if times else None

    def choose_blocks(self, n: int) -> int:
        """Blocks of the next call of ``n`` points (class docstring)."""
        b = self.n_blocks(n)
        if b == 1 or self.min_task_seconds <= 0:
            return b
        whole, split = (len(self.wall_times.get((n, k), ())) for k in (1, b))
        if whole < self.PROBE_CALLS or split < self.PROBE_CALLS:
            return b if split < whole else 1          # alternate until both are measured
        faster, other = (b, 1) if self.best_time(n, b) < self.best_time(n, 1) else (1, b)
        self._since_probe[n] += 1
        if self._since_probe[n] > self.REPROBE_CALLS:
            self._since_probe[n] = 0
            return other
        return faster

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        n = theta.shape[0]
        self.n_calls += n
        n_blocks = self.choose_blocks(n)
        t0 = self.clock()
        if n_blocks == 1:
            results = [self.fn(theta)]
        else:
            results = self.pool.map(self.fn, np.array_split(theta, n_blocks))
        elapsed = self.clock() - t0
        self.wall_time_s += elapsed
        if n_blocks == 1:
            per_point = elapsed / max(n, 1)
            # running estimate, weighted towards recent calls (caches warm up)
            self.seconds_per_point = (per_point if self.seconds_per_point is None
                                      else 0.5 * (self.seconds_per_point + per_point))
        if self.pool.size > 1:
            times = self.wall_times.setdefault((n, n_blocks), [])
            times.append(elapsed)
            del times[:-self.KEEP_TIMES]
        for _, counts in results:
            self.counts.update(counts)
        return np.concatenate([values for values, _ in results])
