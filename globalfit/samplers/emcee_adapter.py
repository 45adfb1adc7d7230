"""emcee (affine-invariant ensemble MCMC) with an autocorrelation-time stopping rule.

Foreman-Mackey et al., PASP 125 (2013) 306, arXiv:1202.3665; stopping rule after the
emcee documentation ("Saving & monitoring progress"): stop when the chain is longer than
``tau_factor`` integrated autocorrelation times (Sokal's windowed estimator of
``emcee.autocorr.integrated_time``, computed by :mod:`globalfit.samplers.autocorr`) and the
estimate changed by less than ``tau_rtol`` since the previous check; here additionally the
effective sample count ``n_walkers (N - burn) / tau`` must reach ``min_ess`` and the
rank-normalised split R-hat of every parameter (walkers as chains) must be below
``max_rhat``. Burn-in is ``burn_factor * max tau`` and thinning ``thin_factor * min tau``.

All walkers are evaluated in one vectorised call (``vectorize=True``); emcee samples into
its in-memory ``Backend`` and the chain and the random state are appended to the checkpoint
at least every ``ChainFile.FLUSH_S`` seconds, and when the run stops for any reason other
than SIGKILL (:class:`ChainFile`, emcee's ``HDFBackend`` file layout, read back with
emcee's public read-only ``HDFBackend``), so a resumed run continues exactly where the
checkpoint ends. Progress shows max tau and N / (tau_factor tau) at every check. ``fn`` acts on the sampler coordinates of
:meth:`globalfit.priors.PriorSet.to_sampling` (ln x for log-uniform parameters); the chain
in the checkpoint is in those coordinates, the returned samples are parameters.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..options import Option, short_repr
from ..priors import PriorSet
from . import SamplerResult, StopFlag
from .autocorr import autocorr_thin, chain_autocorr_time
from .base import Sampler, corrupt_checkpoint, sampler_progress
from .pool import ChunkedFunction, handle

log = logging.getLogger("globalfit.emcee")


def initial_positions(fn: Callable[[np.ndarray], np.ndarray], priors: PriorSet,
                      rng: np.random.Generator, nwalkers: int,
                      max_rounds: int = 200,
                      draw: Callable[[np.random.Generator, int], np.ndarray] | None = None,
                      oversample: int = 1) -> np.ndarray:
    """``(nwalkers, ndim)`` starting points, in sampler coordinates, where ``fn`` is finite
    (redrawn until so): ``draw(rng, n)`` parameter points (the posterior's
    ``start_points``: prior draws, nuisances near their best fit) or prior draws.

    ``oversample`` > 1 draws ``oversample * nwalkers`` candidates and keeps the
    ``nwalkers`` with the highest ``fn``. A walker started where the posterior is 1e20 below
    the bulk (e.g. a prior draw of the Yukawa scale that MEG II excludes by 40 orders of
    magnitude) climbs back with acceptance ~1e-3 and, in 25 dimensions, was still apart
    after 30,000 steps (R-hat 1.07); the best eighth of the prior draws starts the ensemble in
    the bulk. Only the start changes, never the posterior."""
    def sample(n: int) -> np.ndarray:
        return priors.to_sampling(priors.sample(rng, n) if draw is None else draw(rng, n))
    n = nwalkers * max(int(oversample), 1)
    p0 = sample(n)
    lp = np.asarray(fn(p0), dtype=float)
    bad = ~np.isfinite(lp)
    for _ in range(max_rounds):
        if not bad.any():
            if n == nwalkers:
                return p0
            return p0[np.argsort(-lp, kind="stable")[:nwalkers]]
        p0[bad] = sample(int(bad.sum()))
        lp[bad] = np.asarray(fn(p0[bad]), dtype=float)
        bad = ~np.isfinite(lp)
    raise RuntimeError(f"no finite posterior for {int(bad.sum())} of {n} walkers after "
                       f"{max_rounds} prior draws; is the prior inside the model's domain?")


class ChainFile:
    """The emcee checkpoint: emcee's ``HDFBackend`` file layout (group ``mcmc`` with the
    attributes ``nwalkers``, ``ndim``, ``has_blobs``, ``iteration``, ``random_state_<i>``
    and the datasets ``chain``, ``log_prob``, ``accepted``), written by this small writer
    and read back with emcee's public ``emcee.backends.HDFBackend(read_only=True)``.

    Sampling runs on emcee's in-memory ``Backend``; every step (coordinates, log-probabilities,
    acceptance counts, random state, iteration) is appended here and written and flushed
    together with the steps before it once ``FLUSH_S`` seconds have passed since the last
    write (or ``FLUSH_BYTES`` are waiting), and by :meth:`close`. The file therefore always
    holds a prefix of the chain with the random state of its last step: a resumed run
    continues it exactly, and a SIGKILL loses at most the last ``FLUSH_S`` seconds of
    sampling. (Writing every step cost 1.15 ms per step for 64 walkers x 25 parameters and
    0.89 ms for 32 x 5, ~20 % of both the full-systematics and the default emcee fit.) The
    file stays open between writes (emcee's own HDFBackend reopens it at every step).
    """

    GROUP = "mcmc"
    #: longest time (s) between two writes of the checkpoint while sampling
    FLUSH_S = 1.0
    #: bytes of appended steps that are written at once, however short the time
    FLUSH_BYTES = 32 * 2**20

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: Any = None
        self._steps: list[tuple[np.ndarray, np.ndarray]] = []
        self._last: tuple[np.ndarray, Any] | None = None
        self._written_at = time.monotonic()

    def open_new(self, nwalkers: int, ndim: int) -> None:
        """Start an empty chain (replacing the group in this tool's own checkpoint)."""
        import emcee
        import h5py
        self._file = h5py.File(self.path, "a")
        if self.GROUP in self._file:
            del self._file[self.GROUP]
        g = self._file.create_group(self.GROUP)
        g.attrs.update(version=emcee.__version__, nwalkers=nwalkers, ndim=ndim,
                       has_blobs=False, iteration=0)
        g.create_dataset("accepted", data=np.zeros(nwalkers))
        g.create_dataset("chain", (0, nwalkers, ndim), maxshape=(None, nwalkers, ndim),
                         dtype=float)
        g.create_dataset("log_prob", (0, nwalkers), maxshape=(None, nwalkers), dtype=float)
        self._file.flush()
        self._bind()

    def open_existing(self) -> None:
        """Continue the chain of an existing (already validated) checkpoint."""
        import h5py
        self._file = h5py.File(self.path, "a")
        self._bind()

    def _bind(self) -> None:
        g = self._file[self.GROUP]
        self._g, self._chain, self._lp, self._acc = g, g["chain"], g["log_prob"], g["accepted"]
        self.iteration = int(g.attrs["iteration"])

    def reserve(self, n_steps: int) -> None:
        """Grow the datasets to hold ``n_steps`` more steps (as ``HDFBackend.grow``)."""
        total = self.iteration + int(n_steps)
        if self._chain.shape[0] < total:
            self._chain.resize(total, axis=0)
            self._lp.resize(total, axis=0)

    def append(self, coords: np.ndarray, log_prob: np.ndarray, accepted: np.ndarray,
               random_state: Any) -> None:
        """Add one step (copied: emcee updates its arrays in place); written with the steps
        before it when a write is due (class docstring)."""
        step = (np.array(coords, dtype=float), np.array(log_prob, dtype=float))
        self._steps.append(step)
        self._last = (np.array(accepted, dtype=float), random_state)
        pending_bytes = len(self._steps) * (step[0].nbytes + step[1].nbytes)
        if (time.monotonic() - self._written_at >= self.FLUSH_S
                or pending_bytes >= self.FLUSH_BYTES):
            self.flush()

    def flush(self) -> None:
        """Write the steps appended since the last write, the acceptance counts and random
        state of the last of them and the new iteration count, and flush the file."""
        self._written_at = time.monotonic()
        if not self._steps:
            return
        it, k = self.iteration, len(self._steps)
        self.reserve(k)
        self._chain[it:it + k] = np.stack([c for c, _ in self._steps])
        self._lp[it:it + k] = np.stack([lp for _, lp in self._steps])
        accepted, random_state = self._last
        self._acc[...] = accepted
        for i, value in enumerate(random_state):
            self._g.attrs[f"random_state_{i}"] = value
        self._g.attrs["iteration"] = it + k
        self._file.flush()
        self.iteration = it + k
        self._steps = []

    def close(self) -> None:
        """Write what is pending and close the file."""
        if self._file is not None:
            try:
                self.flush()
            finally:
                self._file.close()
                self._file = None


def read_checkpoint(path: Path, nwalkers: int, ndim: int) -> Any:
    """emcee's read-only ``HDFBackend`` of a checkpoint to resume, after checking it can be
    resumed with ``nwalkers`` x ``ndim``; None when it holds no step yet.
    :class:`CheckpointError` (naming the file) for a corrupt, truncated or other-shape
    file, which is left untouched."""
    import emcee
    import h5py
    try:
        with h5py.File(path, "r") as f:
            g = f[ChainFile.GROUP]
            it = int(g.attrs["iteration"])
            shape = (int(g.attrs["nwalkers"]), int(g.attrs["ndim"]))
            stored = g["chain"].shape[0], g["log_prob"].shape[0], g["accepted"].shape
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise corrupt_checkpoint(path, f"not an emcee chain: {type(exc).__name__}") from None
    if shape != (nwalkers, ndim):
        raise corrupt_checkpoint(path, f"{shape[0]} walkers x {shape[1]} parameters, the "
                                       f"config needs {nwalkers} x {ndim}")
    if it < 0 or stored[0] < it or stored[1] < it or stored[2] != (nwalkers,):
        raise corrupt_checkpoint(path, f"iteration {it} but {stored[0]} stored steps")
    if it == 0:
        return None
    reader = emcee.backends.HDFBackend(str(path), name=ChainFile.GROUP, read_only=True)
    try:
        last = reader.get_last_sample()
    except (OSError, KeyError, ValueError, AttributeError) as exc:
        raise corrupt_checkpoint(path, type(exc).__name__) from None
    if last.random_state is None or not np.all(np.isfinite(last.coords)):
        raise corrupt_checkpoint(path, "no random state or non-finite coordinates")
    return reader


def _memory_backend(reader: Any, nwalkers: int, ndim: int) -> Any:
    """emcee's in-memory ``Backend`` holding the chain read from a checkpoint (its public
    attributes ``chain``, ``log_prob``, ``accepted``, ``iteration``, ``random_state``)."""
    import emcee
    backend = emcee.backends.Backend()
    backend.reset(nwalkers, ndim)
    if reader is None:
        return backend
    n = int(reader.iteration)
    backend.grow(n, None)
    backend.chain[:n] = reader.get_chain()
    backend.log_prob[:n] = reader.get_log_prob()
    backend.accepted[:] = reader.accepted
    backend.random_state = reader.random_state
    backend.iteration = n
    return backend


def burn_thin(tau: np.ndarray, n_steps: int, options: dict[str, Any]) -> tuple[int, int]:
    """Burn-in (``burn_factor`` max tau, at most half the chain) and thinning
    (``thin_factor`` min tau, at least 1) of the output for autocorrelation times ``tau``."""
    burn = int(min(options["burn_factor"] * np.max(tau), n_steps // 2))
    return burn, max(1, int(options["thin_factor"] * np.min(tau)))


def split_rhat(backend: Any, tau: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    """Rank-normalised split R-hat (Vehtari et al., Bayesian Analysis 16 (2021) 667) of each
    coordinate, walkers taken as chains, after the burn-in and thinning that the output of a
    run stopped here gets (:func:`burn_thin` with these ``tau``)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz
    burn, thin = burn_thin(tau, backend.iteration, options)
    chain = backend.get_chain(discard=burn, thin=thin)           # (draw, walker, ndim)
    if chain.shape[0] < 4:
        return np.full(chain.shape[2], np.inf)
    return np.array([float(arviz.rhat(chain[:, :, j].T)) for j in range(chain.shape[2])])


def _moves(name: str) -> Any:
    import emcee
    if name == "de":
        return [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]
    if name == "de-snooker":
        return emcee.moves.DESnookerMove()
    return None


def run_emcee(fn: Callable[[np.ndarray], np.ndarray], priors: PriorSet,
              options: dict[str, Any], seed: int, checkpoint: Path, resume: bool = False,
              stop: StopFlag | None = None,
              draw: Callable[[np.random.Generator, int], np.ndarray] | None = None
              ) -> SamplerResult:
    """Run (or resume) emcee on the vectorised log-posterior ``fn``; walkers start at
    ``draw(rng, nwalkers)`` (parameter space; default prior draws), see
    :func:`initial_positions`.

    ``options`` are the resolved ``sampler`` section of the config (docs/fitting.md).
    """
    import emcee

    stop = stop if stop is not None else StopFlag()
    nwalkers, ndim = int(options["nwalkers"]), priors.ndim
    reader = None
    if resume and Path(checkpoint).is_file():
        reader = read_checkpoint(Path(checkpoint), nwalkers, ndim)
    backend = _memory_backend(reader, nwalkers, ndim)
    start = backend.iteration
    out = ChainFile(Path(checkpoint))
    try:
        if start > 0:
            out.open_existing()
            state = backend.get_last_sample()
            log.info("resuming from step %d of %s", start, checkpoint)
        else:
            out.open_new(nwalkers, ndim)
            rng = np.random.default_rng(seed)
            p0 = initial_positions(fn, priors, rng, nwalkers, draw=draw,
                                   oversample=int(options.get("start_oversample", 1)))
            random_state = np.random.RandomState(int(rng.integers(2**32))).get_state()
            state = emcee.State(p0, random_state=random_state)
        sampler = emcee.EnsembleSampler(nwalkers, ndim, fn, vectorize=True, backend=backend,
                                        moves=_moves(options.get("moves", "stretch")))
        return _run(sampler, backend, out, state, priors, options, checkpoint, start, stop)
    finally:
        out.close()


def _run(sampler: Any, backend: Any, out: ChainFile, state: Any, priors: PriorSet,
         options: dict[str, Any], checkpoint: Path, start: int,
         stop: StopFlag) -> SamplerResult:
    nwalkers, ndim = int(options["nwalkers"]), priors.ndim
    max_steps = int(options["max_steps"])
    autocorr = options.get("stop", "autocorr") == "autocorr"
    check_every = int(options.get("check_every", 200))
    tau_factor = float(options.get("tau_factor", 50.0))
    tau_old = None
    stop_tau, stop_rhat = None, None     # tau and max split R-hat of the check that stopped
    tau = np.full(ndim, np.nan)
    converged = False
    t0 = time.time()
    t_checks = 0.0                       # wall time (s) of the stopping rule's checks
    remaining = max_steps - start
    # sized to the real stopping rule: the autocorrelation rule has no known step count,
    # so its bar counts steps and shows tau and N / (tau_factor tau)
    total = None if autocorr else remaining
    with sampler_progress(options, total, "emcee", "step") as bar:
        if autocorr:
            bar.set_status(f"tau: first estimate at step {check_every}")
        if remaining > 0 and not stop:
            out.reserve(remaining)
            for state in sampler.sample(state, iterations=remaining, store=True):
                out.append(state.coords, state.log_prob, backend.accepted, state.random_state)
                it = backend.iteration
                bar.update(1)
                if stop:
                    out.flush()
                    log.warning("signal %s: checkpoint at step %d saved in %s", stop.signum,
                                it, checkpoint)
                    break
                if autocorr and it % check_every == 0:
                    t_check = time.perf_counter()
                    tau = chain_autocorr_time(backend, autocorr_thin(tau_old))
                    burn = options["burn_factor"] * np.max(tau)
                    ess = nwalkers * (it - burn) / np.max(tau)
                    bar.set_status(f"tau {np.max(tau):.1f}, N/({tau_factor:g} tau) "
                                   f"{it / (tau_factor * np.max(tau)):.2f}, "
                                   f"ESS {ess:.0f}/{options['min_ess']:g}")
                    converged = bool(
                        np.all(np.isfinite(tau))
                        and it > tau_factor * np.max(tau)
                        and tau_old is not None
                        and np.all(np.abs(tau_old - tau) < options["tau_rtol"] * tau)
                        and ess >= options["min_ess"])
                    tau_old = tau
                    if converged:
                        stop_tau = tau
                    if converged and options.get("max_rhat") is not None:
                        rhat = split_rhat(backend, tau, options)
                        stop_rhat = float(np.max(rhat))
                        converged = bool(np.all(rhat < options["max_rhat"]))
                        if not converged:
                            log.info("step %d: tau criteria met, R-hat %.4f not yet < %g", it,
                                     float(np.max(rhat)), options["max_rhat"])
                    t_checks += time.perf_counter() - t_check
                    if converged:
                        log.info("converged at step %d (max tau %.1f)", it, np.max(tau))
                        break
    n_steps = backend.iteration
    completed = not stop
    tau = chain_autocorr_time(backend) if n_steps > 1 else np.full(ndim, np.nan)
    finite_tau = tau[np.isfinite(tau)]
    if autocorr and converged:
        # the burn-in and thinning of the check that stopped the run, so that the output is
        # exactly the chain whose R-hat that check tested (the final tau, unthinned, differs
        # slightly from the check's thinned estimate)
        burn, thin = burn_thin(stop_tau, n_steps, options)
    elif autocorr and finite_tau.size:
        burn, thin = burn_thin(finite_tau, n_steps, options)
    else:   # fixed-length runs, and a run stopped before tau could be estimated
        burn, thin = n_steps // 4, 1
    chain = backend.get_chain(discard=burn, thin=thin)          # (draw, walker, ndim)
    samples = priors.from_sampling(np.ascontiguousarray(np.swapaxes(chain, 0, 1)))
    stats = {
        "sampler": "emcee",
        "n_walkers": nwalkers,
        "n_steps": int(n_steps),
        "resumed_from_step": int(start),
        "burn_in": int(burn),
        "thin": int(thin),
        "autocorr_time": [float(t) for t in tau],
        "converged_autocorr": bool(converged) if autocorr else None,
        "stop_max_rhat": stop_rhat if autocorr and converged else None,
        "acceptance_fraction": float(np.mean(backend.accepted / max(n_steps, 1))),
        "wall_time_sampling_s": time.time() - t0,
        "wall_time_checks_s": t_checks,
    }
    criterion = (f"N > {tau_factor:g} max tau, tau stable to {100 * options['tau_rtol']:g} % "
                 f"between checks every {check_every} steps, n_walkers (N - burn) / max tau "
                 f">= {options['min_ess']:g}"
                 + (f", split R-hat < {options['max_rhat']:g}"
                    if options.get("max_rhat") is not None else "")
                 if autocorr else f"fixed length of {max_steps} steps (stop: fixed), no stopping rule")
    return SamplerResult(
        kind="mcmc", samples=samples, stats=stats, completed=completed,
        converged=bool(converged) if autocorr else None, criterion=criterion,
        chain_stats={"acceptance_fraction": backend.accepted / max(n_steps, 1)},
        parameter_stats={"autocorr_time": np.asarray(tau, dtype=float)})


#: bytes of memory a chain (``nwalkers x max_steps x ndim`` doubles) may take at most:
#: half the physical memory where the OS reports it, else 8 GiB
def _memory_cap() -> float:
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8.0 * 2**30


class EmceeSampler(Sampler):
    """emcee's affine-invariant ensemble sampler with the autocorrelation stopping rule
    (module docstring); every walker of a step is evaluated in one vectorised call."""
    name = "emcee"
    citation = "Foreman-Mackey et al., PASP 125 (2013) 306, arXiv:1202.3665"
    checkpoint_name = "checkpoint.h5"
    resume_keys = ("nwalkers", "moves")
    options = (
        Option("nwalkers", (int, type(None)), None, low=2, high=10**6,
               doc="walkers: even, >= 2 ndim (default max(32, 4 ndim))"),
        Option("max_steps", (int,), 20000, low=1, high=10**9, doc="step cap"),
        Option("stop", (str,), "autocorr", choices=("autocorr", "fixed"),
               doc="autocorr (rule above) or fixed (exactly max_steps)"),
        Option("check_every", (int,), 200, low=1, high=10**9,
               doc="steps between convergence checks"),
        Option("tau_factor", (int, float), 50.0, low=1.0, high=1e6,
               doc="need N > tau_factor x max tau"),
        Option("tau_rtol", (int, float), 0.01, low=1e-9, high=1.0,
               doc="need relative change of every tau < tau_rtol"),
        Option("min_ess", (int, float), 1000.0, low=0.0, high=1e12,
               doc="need n_walkers (N - burn) / max tau >= min_ess"),
        Option("max_rhat", (int, float, type(None)), 1.01, low=1.0, high=10.0,
               doc="need split R-hat < max_rhat; null to skip"),
        Option("burn_factor", (int, float), 3.0, low=0.0, high=1e4,
               doc="burn-in = burn_factor x max tau"),
        Option("thin_factor", (int, float), 0.5, low=0.0, high=1e4,
               doc="thinning = thin_factor x min tau (> 0)"),
        Option("moves", (str,), "de", choices=("stretch", "de", "de-snooker"),
               doc="proposal moves"),
        Option("start_oversample", (int,), 8, low=1, high=1000,
               doc="walkers start at the best 1/k of k x nwalkers prior draws (1: plain draws)"),
    )

    @classmethod
    def check_options(cls, options: dict[str, Any], ndim: int, where: str) -> dict[str, Any]:
        options = dict(options)
        if options["nwalkers"] is None:
            options["nwalkers"] = max(32, 4 * ndim)
        nwalkers = options["nwalkers"]
        if nwalkers < 2 * ndim:
            raise ConfigError(f"{where}.nwalkers: needs at least 2 x {ndim} = {2 * ndim} "
                              f"walkers, found {nwalkers}")
        if nwalkers % 2:
            raise ConfigError(f"{where}.nwalkers: must be even, found {nwalkers}")
        if not options["thin_factor"] > 0:
            raise ConfigError(f"{where}.thin_factor: must be > 0, found "
                              f"{short_repr(options['thin_factor'])}")
        need = 8.0 * nwalkers * options["max_steps"] * (ndim + 1)   # chain + log-prob
        cap = _memory_cap()
        if need > cap:
            raise ConfigError(f"{where}.nwalkers: a chain of {nwalkers} walkers x "
                              f"{options['max_steps']} steps x {ndim} parameters needs "
                              f"{need / 2**30:.3g} GiB, more than {cap / 2**30:.3g} GiB; "
                              "lower nwalkers or max_steps")
        return options

    def run(self, posterior: Any, options: dict[str, Any], checkpoint: Path, resume: bool,
            seed: int, pool: Any, stop: StopFlag) -> SamplerResult:
        fn = ChunkedFunction(handle(posterior, "log_posterior_sampling"), pool)
        result = run_emcee(fn, posterior.priors, options, seed, checkpoint, resume, stop,
                           draw=posterior.start_points)
        result.rejections = dict(fn.counts)
        # where the sampling time went: the log-posterior calls (pool round trips included;
        # also the walkers' start, 8 x nwalkers points, ~0.02 s in the full-systematics fit),
        # the stopping rule's checks, and the rest (emcee's moves, the checkpoint)
        st = result.stats
        st["wall_time_likelihood_s"] = fn.wall_time_s
        log.info("emcee: sampling %.1f s = log-posterior calls %.1f s + convergence checks "
                 "%.1f s + moves and checkpoint %.1f s", st["wall_time_sampling_s"],
                 fn.wall_time_s, st["wall_time_checks_s"],
                 st["wall_time_sampling_s"] - fn.wall_time_s - st["wall_time_checks_s"])
        return result
