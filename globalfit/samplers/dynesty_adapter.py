"""dynesty nested sampling (static or dynamic) with checkpoints and evidence.

Skilling, Bayesian Analysis 1 (2006) 833 (nested sampling); Higson et al., Stat. Comput. 29
(2019) 891 (dynamic nested sampling); Speagle, MNRAS 493 (2020) 3132 (dynesty). The prior
transform is the config's unit-cube transform (globalfit.priors). The evidence ``ln Z`` and
its error are those of dynesty's final run; the posterior is returned as equal-weight samples
(dynesty.utils.resample_equal) and the weighted samples are kept.

The likelihood and prior transform are passed as :class:`~globalfit.samplers.pool.Ref`
handles to the posterior registered in every process, so checkpoints and pool tasks stay
small. On SIGTERM/SIGINT a static run saves a checkpoint at the next iteration and stops;
a dynamic run stops and keeps its last periodic checkpoint (``checkpoint_every_s``).
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import SamplerResult, StopFlag

log = logging.getLogger("globalfit.dynesty")


class _Interrupted(Exception):
    """Raised from the progress callback to leave dynesty's loop on a signal."""


def run_dynesty(loglike: Callable, prior_transform: Callable, ndim: int,
                options: dict[str, Any], seed: int, checkpoint: Path, resume: bool = False,
                stop: StopFlag | None = None, pool: Any = None) -> SamplerResult:
    """Run (or resume) dynesty; ``loglike(x) -> float`` and ``prior_transform(u) -> x`` act
    on one point of ``ndim`` coordinates. ``pool`` (``map`` and ``size``) is optional."""
    import dynesty
    from dynesty.utils import resample_equal

    stop = stop if stop is not None else StopFlag()
    dynamic = bool(options.get("dynamic", False))
    cls = dynesty.DynamicNestedSampler if dynamic else dynesty.NestedSampler
    use_pool = pool if pool is not None and getattr(pool, "size", 1) > 1 else None
    restored = resume and Path(checkpoint).is_file()
    if restored:
        sampler = cls.restore(str(checkpoint), pool=use_pool)
        log.info("resuming nested sampling from %s", checkpoint)
    else:
        kwargs = dict(bound=options.get("bound", "multi"), sample=options.get("sample", "auto"),
                      rstate=np.random.default_rng(seed))
        if use_pool is not None:
            kwargs.update(pool=use_pool, queue_size=use_pool.size)
        if dynamic:
            sampler = cls(loglike, prior_transform, ndim, **kwargs)
        else:
            sampler = cls(loglike, prior_transform, ndim, nlive=int(options["nlive"]), **kwargs)

    progress = options.get("progress", "auto")
    progress = sys.stderr.isatty() if progress == "auto" else bool(progress)
    log_every = float(options.get("log_every_s", 30.0))
    last = [time.time()]

    def report(results: Any, niter: int, ncall: int, *args: Any, **kwargs: Any) -> None:
        if stop:
            if not dynamic:
                sampler.save(str(checkpoint))
            raise _Interrupted
        now = time.time()
        if progress or now - last[0] > log_every:
            last[0] = now
            logz = getattr(results, "logz", float("nan"))
            msg = f"iter {niter}  ncall {ncall}  logz {float(logz):.3f}"
            if progress:
                sys.stderr.write("\r" + msg)
                sys.stderr.flush()
            else:
                log.info(msg)

    t0 = time.time()
    completed = True
    run_kwargs: dict[str, Any] = dict(checkpoint_file=str(checkpoint),
                                      checkpoint_every=float(options["checkpoint_every_s"]),
                                      print_progress=True, print_func=report, resume=restored)
    try:
        if dynamic:
            sampler.run_nested(nlive_init=int(options["nlive"]), dlogz_init=options["dlogz"],
                               nlive_batch=int(options["nlive_batch"]),
                               maxbatch=int(options["maxbatch"]),
                               wt_kwargs={"pfrac": float(options["pfrac"])},
                               maxiter=options.get("maxiter"), **run_kwargs)
        else:
            sampler.run_nested(dlogz=options["dlogz"], maxiter=options.get("maxiter"),
                               **run_kwargs)
    except _Interrupted:
        completed = False
        log.warning("signal %s: nested-sampling checkpoint in %s", stop.signum, checkpoint)
    if progress:
        sys.stderr.write("\n")
    if not completed:
        return SamplerResult(kind="nested", samples=np.empty((1, 0, ndim)), completed=False)

    res = sampler.results
    weights = res.importance_weights()
    rng = np.random.default_rng([seed, 1])
    equal = rng.permutation(resample_equal(res.samples, weights, rstate=rng))
    n_chains = int(options.get("n_chains", 4))
    n_draw = len(equal) // n_chains
    chains = equal[:n_chains * n_draw].reshape(n_chains, n_draw, ndim)
    logz, logzerr = float(res.logz[-1]), float(res.logzerr[-1])
    nested = {
        "samples": np.asarray(res.samples),
        "log_weight": np.asarray(res.logwt) - logz,
        "log_likelihood": np.asarray(res.logl),
        "logz": logz,
        "logzerr": logzerr,
    }
    stats = {
        "sampler": "dynesty",
        "dynamic": dynamic,
        "logz": logz,
        "logzerr": logzerr,
        "n_iterations": int(res.niter),
        "n_calls": int(np.sum(res.ncall)),
        "n_weighted_samples": int(len(res.samples)),
        "n_equal_weight_samples": int(len(equal)),
        "information_nats": float(res.information[-1]),
        "efficiency_percent": float(res.eff),
        "wall_time_sampling_s": time.time() - t0,
    }
    log.info("ln Z = %.3f +- %.3f", logz, logzerr)
    # Equal-weight draws are (nearly) independent; split into chains so that ArviZ's
    # split R-hat and ESS can be computed as for MCMC.
    return SamplerResult(kind="nested", samples=chains, stats=stats, nested=nested)
