"""emcee (affine-invariant ensemble MCMC) with an autocorrelation-time stopping rule.

Foreman-Mackey et al., PASP 125 (2013) 306, arXiv:1202.3665; stopping rule after the
emcee documentation ("Saving & monitoring progress"): stop when the chain is longer than
``tau_factor`` integrated autocorrelation times (Sokal's windowed estimator,
``emcee.autocorr.integrated_time``) and the estimate changed by less than ``tau_rtol``
since the previous check; here additionally the effective sample count
``n_walkers (N - burn) / tau`` must reach ``min_ess``. Burn-in is ``burn_factor * max tau``
and thinning ``thin_factor * min tau``.

All walkers are evaluated in one vectorised call (``vectorize=True``); the chain and the
random state are stored after every step in an ``emcee.backends.HDFBackend``, so a resumed
run continues exactly where the checkpoint ends.
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
    """``(nwalkers, ndim)`` draws from the prior with a finite posterior (redrawn until so)."""
    p0 = priors.sample(rng, nwalkers)
    bad = ~np.isfinite(fn(p0))
    for _ in range(max_rounds):
        if not bad.any():
            return p0
        p0[bad] = priors.sample(rng, int(bad.sum()))
        bad[bad] = ~np.isfinite(fn(p0[bad]))
    raise RuntimeError(f"no finite posterior for {int(bad.sum())} of {nwalkers} walkers after "
                       f"{max_rounds} prior draws; is the prior inside the model's domain?")


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
    nwalkers, ndim = int(options["nwalkers"]), priors.ndim
    backend = emcee.backends.HDFBackend(str(checkpoint), name="mcmc")
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
    samples = np.ascontiguousarray(np.swapaxes(chain, 0, 1))    # (walker, draw, ndim)
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
