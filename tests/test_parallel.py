"""Parallel and start-up paths: the grid build shared over cores, the MPI pool's block rule,
and the walkers' start near the no-signal best fit (Laplace approximation)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conftest import REPO
from globalfit.samplers.pool import ChunkedFunction, SerialPool
from likelihoods import _parallel


def test_map_rows_matches_serial(monkeypatch):
    tasks = [np.arange(5) * k for k in range(7)]
    monkeypatch.setenv(_parallel.ENV_PROCESSES, "2")
    par = dict(_parallel.map_rows(np.cumsum, tasks))
    monkeypatch.setenv(_parallel.ENV_PROCESSES, "1")
    ser = dict(_parallel.map_rows(np.cumsum, tasks))
    assert sorted(par) == list(range(7))
    for i in range(7):
        np.testing.assert_array_equal(par[i], ser[i])
    assert _parallel.build_processes(1) == 1


def test_borexino_profile_grid_same_on_one_and_two_processes(monkeypatch):
    """The blocks of fast-grid nodes are independent batched fits (each started at the SM fit):
    sharing them out over processes gives bit-identical Delta ln L."""
    from likelihoods.borexino import BorexinoLikelihood
    lk = BorexinoLikelihood()
    s = np.array([0.0, 1e-22, 9e-22])
    m = np.array([1e-6, 3e-4, 1e-3])
    monkeypatch.setenv(_parallel.ENV_PROCESSES, "1")
    one = lk.profile_grid(s, m)
    monkeypatch.setenv(_parallel.ENV_PROCESSES, "2")
    two = lk.profile_grid(s, m)
    np.testing.assert_array_equal(one, two)
    # light mediator: a larger moment is more excluded (at 1 MeV the signal's harder shape is
    # mildly preferred by the data: docs/borexino.md)
    assert np.all(one[0] == 0.0) and np.all(one[2, :2] < one[1, :2]) and one[1, 0] < 0


class _Pool(SerialPool):
    size = 2


def test_chunked_function_splits_only_with_enough_work():
    """A batch is split only into blocks of at least ``min_task_seconds`` of estimated work;
    the values never depend on the split."""
    calls = []

    def fn(theta):
        calls.append(theta.shape[0])
        return theta.sum(axis=1), {}

    pool = _Pool()
    cheap = ChunkedFunction(fn, pool, min_task_seconds=10.0)
    x = np.arange(64.0).reshape(32, 2)
    for _ in range(3):
        np.testing.assert_array_equal(cheap(x), x.sum(axis=1))
    assert calls == [32, 32, 32]                       # never worth splitting
    calls.clear()
    always = ChunkedFunction(fn, pool, min_task_seconds=0.0)
    np.testing.assert_array_equal(always(x), x.sum(axis=1))
    assert calls == [16, 16]
    calls.clear()
    timed = ChunkedFunction(fn, pool, min_task_seconds=1e-3)
    timed.seconds_per_point = 1e-4                      # 32 points: 3.2 ms of work
    assert timed.n_blocks(32) == 2 and timed.n_blocks(8) == 1


class _Clock:
    """A fake clock for :class:`ChunkedFunction` (seconds advanced by the fake work)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class _TimedPool(SerialPool):
    """Two 'processes' that evaluate blocks side by side: a map costs ``round_trip`` plus
    its slowest block, on the fake clock."""
    size = 2

    def __init__(self, clock: _Clock, round_trip: float) -> None:
        self.clock, self.round_trip = clock, round_trip

    def map(self, fn, items, on_result=None):
        t0, ends, out = self.clock.t, [], []
        for x in items:
            self.clock.t = t0
            out.append(fn(x))
            ends.append(self.clock.t)
        self.clock.t = max(ends) + self.round_trip
        return out


def _costly(clock: _Clock, fixed: float, per_point: float, calls: list):
    def fn(theta):
        calls.append(theta.shape[0])
        clock.t += fixed + per_point * theta.shape[0]
        return theta.sum(axis=1), {}
    return fn


@pytest.mark.parametrize("round_trip, expect_split", [(0.1e-3, True), (5e-3, False)])
def test_chunked_function_keeps_the_measured_faster_option(round_trip, expect_split):
    """Whole and split calls are both measured, then the faster one is used, the other
    measured again every REPROBE_CALLS calls. A 128-point call of 1 ms fixed + 20 us per
    point is 3.56 ms whole and 2.28 ms + the round trip split in two: split with a 0.1 ms
    round trip, whole with 5 ms (the work rule alone would split both). Values never change."""
    clock, calls = _Clock(), []
    fn = ChunkedFunction(_costly(clock, 1e-3, 20e-6, calls), _TimedPool(clock, round_trip),
                         min_task_seconds=1e-3, clock=clock)
    x = np.arange(256.0).reshape(128, 2)
    n_calls = 2 * ChunkedFunction.PROBE_CALLS + 3 * ChunkedFunction.REPROBE_CALLS
    blocks = []                                        # blocks of every call
    for _ in range(n_calls):
        before = len(calls)
        np.testing.assert_array_equal(fn(x), x.sum(axis=1))
        blocks.append(len(calls) - before)
    assert fn.n_blocks(128) == 2                       # the work rule would always split
    late = blocks[-2 * ChunkedFunction.REPROBE_CALLS:]
    whole, split = late.count(1), late.count(2)
    if expect_split:
        assert whole in (1, 2) and split >= 2 * ChunkedFunction.REPROBE_CALLS - 2
        assert fn.best_time(128, 2) < fn.best_time(128, 1)
    else:
        assert split in (1, 2) and whole >= 2 * ChunkedFunction.REPROBE_CALLS - 2
        assert fn.best_time(128, 1) < fn.best_time(128, 2)


def test_chunked_function_serial_pool_measures_nothing():
    clock, calls = _Clock(), []
    fn = ChunkedFunction(_costly(clock, 1e-3, 20e-6, calls), SerialPool(), clock=clock)
    for _ in range(10):
        fn(np.ones((128, 2)))
    assert calls == [128] * 10 and fn.wall_times == {}


def test_start_points_are_prior_draws_without_nuisance_starts():
    """Fits without sampled nuisances start exactly where they always did (same draws)."""
    from globalfit.config import load_config
    post = load_config(REPO / "configs" / "smoke.yaml").posterior
    a = post.start_points(np.random.default_rng(4), 16)
    b = post.priors.sample(np.random.default_rng(4), 16)
    np.testing.assert_array_equal(a, b)


def test_borexino_laplace_start_is_the_no_signal_posterior():
    """The Laplace covariance has the chi^2 = -2 ln L convention: moving one standard
    deviation along a principal axis raises chi^2 by 1 (quadratic to 15 % along the three
    best-constrained axes, where the deviance is most nearly quadratic), and the full-mode
    walkers start inside the bounds with a finite posterior."""
    from globalfit.config import load_config
    from likelihoods.borexino.parameters import LOWER, PARAMS, UPPER
    cfg = load_config(REPO / "configs" / "benchmark_borexino_full.yaml")
    lk = cfg.likelihoods["borexino"]
    mean, cov = lk.laplace
    np.testing.assert_array_equal(mean, lk.sm_fit[1])
    w, v = np.linalg.eigh(cov)
    assert np.all(w > 0)
    chi0 = lk.model.chi2_vectorised(mean[None], with_prior=True)[0]
    for k in range(3):                                  # smallest variances
        step = np.sqrt(w[k]) * v[:, k]
        pts = np.array([mean + step, mean - step])
        if np.any(pts < LOWER) or np.any(pts > UPPER):
            continue
        d = lk.model.chi2_vectorised(pts, with_prior=True) - chi0
        assert d.mean() == pytest.approx(1.0, rel=0.15)
    draws = lk.nuisance_start(np.random.default_rng(2), 200)
    x = np.stack([draws[p] for p in PARAMS], axis=1)
    assert np.all((x >= LOWER) & (x <= UPPER))
    assert np.all(np.abs(np.median(x, axis=0) - mean) < 3 * np.sqrt(np.diag(cov)))
    post = cfg.posterior
    theta = post.start_points(np.random.default_rng(3), 64)
    names = list(post.names)
    be7 = theta[:, names.index("borexino.be7")]
    assert np.all(np.abs(be7 - mean[PARAMS.index("be7")]) < 6 * np.sqrt(cov[1, 1]))
    assert lk.nuisance_start(np.random.default_rng(0), 4) is not None
    fast = load_config(REPO / "fit.yaml").likelihoods["borexino"]
    assert fast.nuisance_start(np.random.default_rng(0), 4) is None


def test_emcee_start_keeps_the_best_of_oversampled_prior_draws():
    """``start_oversample``: of k x nwalkers candidates the nwalkers with the highest
    posterior start; with k = 1 the plain prior draws (redrawn only where -inf)."""
    from globalfit.priors import Prior, PriorSet
    from globalfit.samplers.emcee_adapter import initial_positions
    priors = PriorSet((Prior("x", "uniform", -10.0, 10.0), Prior("y", "uniform", -10.0, 10.0)))

    def fn(z):
        z = np.atleast_2d(z)
        return np.where(z[:, 0] > 9.0, -np.inf, -0.5 * np.sum(z**2, axis=1))

    best = initial_positions(fn, priors, np.random.default_rng(1), 16, oversample=8)
    plain = initial_positions(fn, priors, np.random.default_rng(1), 16)
    assert best.shape == plain.shape == (16, 2)
    assert np.all(np.isfinite(fn(best))) and np.all(np.isfinite(fn(plain)))
    # the best 16 of 128 uniform draws on [-10, 10]^2 lie inside the disc holding 1/8 of the
    # square, radius sqrt(400 / 8 / pi) = 4.0 (up to the draw's fluctuation); plain draws
    # reach the corners (radius up to 14)
    assert np.max(np.hypot(best[:, 0], best[:, 1])) < 5.5
    assert np.median(fn(best)) > np.median(fn(plain))


@pytest.mark.parametrize("n, processes", [(1, 2), (2, 2), (3, 2), (32, 2), (1000, 2),
                                          (32, 8), (7, 16), (5, 1)])
def test_guided_chunks_partition_the_items(n, processes):
    """Every item in exactly one task, in order; task sizes never grow; rank 0's expected share
    (the last n / processes items, which it takes from the back) is in single items."""
    from globalfit.samplers.pool import guided_chunks
    chunks = guided_chunks(n, processes)
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    assert all(a < b for a, b in chunks)
    assert all(chunks[k][1] == chunks[k + 1][0] for k in range(len(chunks) - 1))
    sizes = [b - a for a, b in chunks]
    assert sizes == sorted(sizes, reverse=True)
    own = n - n * (processes - 1) // processes
    assert sizes[len(sizes) - own:] == [1] * own


def test_guided_chunks_cut_the_workers_round_trips():
    """A dynesty map of 32 proposals on 2 ranks: the worker's expected 16 items come in 5
    tasks of halving size (8, 4, 2, 1, 1) instead of 16 one-item tasks; emcee's two halves
    stay two tasks."""
    from globalfit.samplers.pool import guided_chunks
    sizes = [b - a for a, b in guided_chunks(32, 2)]
    assert sizes[:5] == [8, 4, 2, 1, 1] and len(sizes) == 5 + 16
    assert guided_chunks(2, 2) == [(0, 1), (1, 2)]


class _QueueExecutor:
    """A stand-in for the MPI executor with one worker whose steps the test controls: the
    worker takes the first task of the queue that is not cancelled and ends it at once."""

    def __init__(self) -> None:
        from collections import deque
        self.queue: Any = deque()
        self.done: list[list[int]] = []          # the items of each task the worker ended

    def submit(self, fn, items):
        from concurrent.futures import Future
        future = Future()
        self.queue.append((future, fn, items))
        return future

    def step(self) -> None:
        while self.queue:
            future, fn, items = self.queue.popleft()
            if future.set_running_or_notify_cancel():
                future.set_result(fn(items))
                self.done.append(list(items))
                return


def test_mpi_map_gives_back_a_task_rank_0_reaches_first():
    """MPIPool.map's scheduling on 2 processes, with the worker's pace set by the test: the
    worker takes the first task (items 0-9) at once and its next one only after rank 0 has
    evaluated 26 items. Rank 0 goes from the back through the single items and reaches the
    5-item task 10-14 that no worker has started: it evaluates item 14 and puts 10-13 back
    in the queue, so that the worker, free again, takes item 10 from there. The results
    come back in order and every item is reported once."""
    from globalfit.samplers.pool import MPIPool
    ex = _QueueExecutor()
    own: list[int] = []

    def square(i: int) -> int:
        if not in_worker[0]:
            own.append(i)
            if len(own) in (1, 26):
                in_worker[0] = True
                ex.step()
                in_worker[0] = False
        return i * i
    in_worker = [False]
    pool = MPIPool.__new__(MPIPool)
    pool.size, pool._executor, pool.dispatch_wait_s = 2, ex, 1e-3
    reported: list[int] = []
    out = pool.map(square, list(range(40)), on_result=reported.append)
    assert out == [i * i for i in range(40)]
    assert sorted(reported) == list(range(40))
    assert ex.done == [list(range(10)), [10]]
    assert own[:20] == list(range(39, 19, -1)) and 14 in own and 10 not in own


def test_chunked_function_adds_up_the_wall_time_of_its_calls():
    """``wall_time_s`` is the sum of the calls' wall times, round trips of split calls
    included: 10 whole calls of 1 ms + 20 us x 128 points on the stand-in clock are 35.6 ms;
    on 2 processes with a 5 ms round trip the probing split calls add theirs."""
    clock, calls = _Clock(), []
    fn = ChunkedFunction(_costly(clock, 1e-3, 20e-6, calls), SerialPool(), clock=clock)
    for _ in range(10):
        fn(np.ones((128, 2)))
    assert fn.wall_time_s == pytest.approx(10 * (1e-3 + 128 * 20e-6), rel=1e-12)
    clock, calls = _Clock(), []
    fn = ChunkedFunction(_costly(clock, 1e-3, 20e-6, calls), _TimedPool(clock, 5e-3),
                         min_task_seconds=1e-3, clock=clock)
    for _ in range(10):
        fn(np.ones((128, 2)))
    assert fn.wall_time_s == pytest.approx(clock.t, rel=1e-12)   # nothing but calls ran
    assert calls.count(64) >= 2 * ChunkedFunction.PROBE_CALLS    # split calls were timed too
