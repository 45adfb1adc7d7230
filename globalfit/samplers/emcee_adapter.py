"""emcee (affine-invariant ensemble MCMC) with an autocorrelation-time stopping rule.

Foreman-Mackey et al., PASP 125 (2013) 306, arXiv:1202.3665; stopping rule after the
emcee documentation ("Saving & monitoring progress"): stop when the chain is longer than
``tau_factor`` integrated autocorrelation times (Sokal's windowed estimator,
``emcee.autocorr.integrated_time``) and the estimate changed by less than ``tau_rtol``
since the previous check; here additionally the effective sample count
``n_walkers (N - burn) / tau`` must reach ``min_ess`` and the rank-normalised split R-hat
of every parameter (walkers as chains) must be below ``max_rhat``. Burn-in is
``burn_factor * max tau`` and thinning ``thin_factor * min tau``.

All walkers are evaluated in one vectorised call (``vectorize=True``); the chain and the
random state are stored after every step in an ``emcee.backends.HDFBackend``, so a resumed
run continues exactly where the checkpoint ends. ``fn`` acts on the sampler coordinates of
:meth:`globalfit.priors.PriorSet.to_sampling` (ln x for log-uniform parameters); the chain
in the checkpoint is in those coordinates, the returned samples are parameters.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..priors import PriorSet
from . import SamplerResult, StopFlag

log = logging.getLogger("globalfit.emcee")


def initial_positions(fn: Callable[[np.ndarray], np.ndarray], priors: PriorSet,
                      rng: np.random.Generator, nwalkers: int,
                      max_rounds: int = 200) -> np.ndarray:
    """``(nwalkers, ndim)`` prior draws, in sampler coordinates, where ``fn`` is finite
    (redrawn until so)."""
    p0 = priors.to_sampling(priors.sample(rng, nwalkers))
    bad = ~np.isfinite(fn(p0))
    for _ in range(max_rounds):
        if not bad.any():
            return p0
        p0[bad] = priors.to_sampling(priors.sample(rng, int(bad.sum())))
        bad[bad] = ~np.isfinite(fn(p0[bad]))
    raise RuntimeError(f"no finite posterior for {int(bad.sum())} of {nwalkers} walkers after "
                       f"{max_rounds} prior draws; is the prior inside the model's domain?")


class _KeepOpen:
    """Context manager handing out an open h5py file without closing it on exit; flushes
    to disk on exit when the file was opened for writing."""

    def __init__(self, f: Any, write: bool) -> None:
        self.f, self.write = f, write

    def __enter__(self) -> Any:
        return self.f

    def __exit__(self, *exc: object) -> None:
        if self.write:
            self.f.flush()


def _backend(path: Path) -> Any:
    """An ``emcee.backends.HDFBackend`` that keeps its file open between steps and flushes
    after each write (emcee's own backend reopens the file at every step, which costs more
    than a cheap likelihood evaluation). The file content is the same as emcee's: every
    step (coordinates, log-probabilities, acceptance counts, random state, iteration) is
    written and flushed before the next one starts; only the per-step metadata reads
    (iteration, shape, blob flag) are served from memory, and the dataset handles are kept."""
    import emcee
    import h5py

    class Backend(emcee.backends.HDFBackend):
        _file: Any = None
        _meta: dict | None = None

        def open(self, mode: str = "r") -> Any:
            if self._file is None:
                self._file = h5py.File(self.filename, "a")
            return _KeepOpen(self._file, mode != "r")

        def close(self) -> None:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._meta = None

        def _metadata(self) -> dict:
            """Cached group handle, datasets and attributes read at every step."""
            if self._meta is None:
                with self.open() as f:
                    g = f[self.name]
                    self._meta = {
                        "group": g, "chain": g["chain"], "log_prob": g["log_prob"],
                        "accepted_ds": g["accepted"], "accepted": g["accepted"][...],
                        "iteration": int(g.attrs["iteration"]),
                        "has_blobs": bool(g.attrs["has_blobs"]),
                        "shape": (g.attrs["nwalkers"], g.attrs["ndim"]),
                    }
            return self._meta

        def reset(self, nwalkers: int, ndim: int) -> None:
            self._meta = None
            super().reset(nwalkers, ndim)

        def grow(self, ngrow: int, blobs: Any) -> None:
            self._meta = None
            super().grow(ngrow, blobs)
            self._meta = None

        def has_blobs(self) -> bool:
            return self._metadata()["has_blobs"]

        @property
        def iteration(self) -> int:
            return self._metadata()["iteration"]

        @property
        def shape(self) -> tuple[int, int]:
            return self._metadata()["shape"]

        def save_step(self, state: Any, accepted: np.ndarray) -> None:
            self._check(state, accepted)
            meta = self._metadata()
            g, it = meta["group"], meta["iteration"]
            with self.open("a"):
                meta["chain"][it, :, :] = state.coords
                meta["log_prob"][it, :] = state.log_prob
                if state.blobs is not None:
                    g["blobs"][it, :] = state.blobs
                meta["accepted"] += accepted
                meta["accepted_ds"][:] = meta["accepted"]
                for i, v in enumerate(state.random_state):
                    g.attrs[f"random_state_{i}"] = v
                g.attrs["iteration"] = it + 1
            meta["iteration"] = it + 1

    return Backend(str(path), name="mcmc")


def split_rhat(backend: Any, tau: np.ndarray, options: dict[str, Any]) -> np.ndarray:
    """Rank-normalised split R-hat (Vehtari et al., Bayesian Analysis 16 (2021) 667) of each
    coordinate, walkers taken as chains, after the burn-in and thinning of the final output."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz
    burn = int(options["burn_factor"] * np.max(tau))
    thin = max(1, int(options["thin_factor"] * np.min(tau)))
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
              stop: StopFlag | None = None) -> SamplerResult:
    """Run (or resume) emcee on the vectorised log-posterior ``fn``.

    ``options`` are the resolved ``sampler`` section of the config (docs/fitting.md).
    """
    import emcee

    stop = stop if stop is not None else StopFlag()
    backend = _backend(Path(checkpoint))
    try:
        return _run(emcee, backend, fn, priors, options, seed, checkpoint, resume, stop)
    finally:
        backend.close()


def _run(emcee: Any, backend: Any, fn: Callable, priors: PriorSet, options: dict[str, Any],
         seed: int, checkpoint: Path, resume: bool, stop: StopFlag) -> SamplerResult:
    nwalkers, ndim = int(options["nwalkers"]), priors.ndim
    start = 0
    if resume and Path(checkpoint).is_file() and backend.initialized:
        if backend.shape != (nwalkers, ndim):
            raise RuntimeError(f"{checkpoint}: checkpoint has shape {backend.shape}, "
                               f"config needs {(nwalkers, ndim)}")
        start = backend.iteration
    sampler = emcee.EnsembleSampler(nwalkers, ndim, fn, vectorize=True, backend=backend,
                                    moves=_moves(options.get("moves", "stretch")))
    if start > 0:
        state = sampler.get_last_sample()
        log.info("resuming from step %d of %s", start, checkpoint)
    else:
        backend.reset(nwalkers, ndim)
        rng = np.random.default_rng(seed)
        p0 = initial_positions(fn, priors, rng, nwalkers)
        random_state = np.random.RandomState(int(rng.integers(2**32))).get_state()
        state = emcee.State(p0, random_state=random_state)

    max_steps = int(options["max_steps"])
    autocorr = options.get("stop", "autocorr") == "autocorr"
    check_every = int(options.get("check_every", 200))
    progress = options.get("progress", "auto")
    progress = sys.stderr.isatty() if progress == "auto" else bool(progress)
    log_every = float(options.get("log_every_s", 30.0))
    tau_old = None
    tau = np.full(ndim, np.nan)
    converged = False
    t0 = last_log = time.time()
    remaining = max_steps - start
    if remaining > 0 and not stop:
        for _ in sampler.sample(state, iterations=remaining, progress=progress, store=True):
            it = backend.iteration
            if stop:
                log.warning("signal %s: checkpoint at step %d saved in %s", stop.signum, it,
                            checkpoint)
                break
            if not progress and time.time() - last_log > log_every:
                last_log = time.time()
                log.info("step %d/%d, acceptance %.2f, max tau %.1f", it, max_steps,
                         float(np.mean(backend.accepted / it)), float(np.nanmax(tau))
                         if np.isfinite(tau).any() else float("nan"))
            if autocorr and it % check_every == 0:
                tau = backend.get_autocorr_time(tol=0)
                burn = options["burn_factor"] * np.max(tau)
                ess = nwalkers * (it - burn) / np.max(tau)
                converged = bool(
                    np.all(np.isfinite(tau))
                    and it > options["tau_factor"] * np.max(tau)
                    and tau_old is not None
                    and np.all(np.abs(tau_old - tau) < options["tau_rtol"] * tau)
                    and ess >= options["min_ess"])
                tau_old = tau
                if converged and options.get("max_rhat") is not None:
                    rhat = split_rhat(backend, tau, options)
                    converged = bool(np.all(rhat < options["max_rhat"]))
                    if not converged:
                        log.info("step %d: tau criteria met, R-hat %.4f not yet < %g", it,
                                 float(np.max(rhat)), options["max_rhat"])
                if converged:
                    log.info("converged at step %d (max tau %.1f)", it, np.max(tau))
                    break
    n_steps = backend.iteration
    completed = not stop
    tau = backend.get_autocorr_time(tol=0) if n_steps > 1 else np.full(ndim, np.nan)
    if autocorr:
        burn = int(min(options["burn_factor"] * np.nanmax(tau), n_steps // 2))
        thin = max(1, int(options["thin_factor"] * np.nanmin(tau)))
    else:
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
        "acceptance_fraction": float(np.mean(backend.accepted / max(n_steps, 1))),
        "wall_time_sampling_s": time.time() - t0,
    }
    return SamplerResult(kind="mcmc", samples=samples, stats=stats, completed=completed)
