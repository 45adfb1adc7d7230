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

``maxiter`` caps the iterations over all resumptions: a static run that stopped at the cap
(``SamplerResult.converged`` False) continues on ``--resume`` with a larger ``maxiter`` and
gives the samples of an uninterrupted run with that cap. A dynamic run that reached its cap
is not extended (dynesty's dynamic sampler does not continue a finished run).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..options import Option
from . import SamplerResult, StopFlag
from .base import Sampler, corrupt_checkpoint, sampler_progress
from .pool import handle

log = logging.getLogger("globalfit.dynesty")


class _Interrupted(Exception):
    """Raised from the progress callback to leave dynesty's loop on a signal."""


def _restore(cls: Any, checkpoint: Path, pool: Any, dynamic: bool) -> Any:
    """dynesty's ``restore`` of a checkpoint; :class:`CheckpointError` naming the file when
    it is truncated, garbage or not a dynesty sampler of this kind (the file is left as
    it is). dynesty checkpoints are pickles: only this tool's own run directory is read."""
    try:
        sampler = cls.restore(str(checkpoint), pool=pool)
    except Exception as exc:      # unpickling garbage raises almost anything
        raise corrupt_checkpoint(checkpoint, f"not a dynesty checkpoint: "
                                             f"{type(exc).__name__}") from None
    import dynesty.dynamicsampler
    import dynesty.sampler
    expected = dynesty.dynamicsampler.DynamicSampler if dynamic else dynesty.sampler.Sampler
    if not isinstance(sampler, expected):
        raise corrupt_checkpoint(checkpoint, f"holds a {type(sampler).__name__}, "
                                             f"expected a {expected.__name__}")
    return sampler


def _estimate(value: Any, fmt: str) -> str:
    """A running estimate of dynesty for the progress line; dynesty reports +-1e300 until
    its live points carry enough weight (printed as ``n/a``, not as a 301-digit number)."""
    value = float(value)
    return format(value, fmt) if abs(value) < 1e250 else "n/a"


#: proposals per pool process and map at most (``queue_size: null``)
QUEUE_PER_PROCESS = 16
#: live points per queued proposal at least (``queue_size: null``)
LIVE_PER_PROPOSAL = 32


def queue_size(options: dict[str, Any], processes: int) -> int:
    """dynesty's ``queue_size`` on a pool of ``processes``: the option when set, else about
    ``nlive / LIVE_PER_PROPOSAL`` rounded down to a multiple of ``processes``, at least
    ``processes`` and at most ``QUEUE_PER_PROCESS * processes``.

    Each map of the pool evolves ``queue_size`` live points at once (one random-walk or slice
    chain each, tens of ms for the full-systematics posterior) and every process waits for
    the slowest chain of the map: with one chain per process that wait and the map's
    round trips cost a 2-rank run ~20 % (dynesty, 1000 live points, rslice:
    benchmarks/README.md, "MPI"); 16 chains per process share the end-of-map wait among
    16. The price is staleness: a queued proposal was drawn above the likelihood threshold
    of the map's start, and dynesty discards the ones that fall below the threshold by the
    time they are used, about ``queue_size / (2 nlive)`` of them (1.6 % at nlive/32)."""
    if options.get("queue_size") is not None:
        return int(options["queue_size"])
    n = int(options["nlive"]) // LIVE_PER_PROPOSAL
    n -= n % processes
    return int(min(max(n, processes), QUEUE_PER_PROCESS * processes))


def run_dynesty(loglike: Callable, prior_transform: Callable, ndim: int,
                options: dict[str, Any], seed: int, checkpoint: Path, resume: bool = False,
                stop: StopFlag | None = None, pool: Any = None) -> SamplerResult:
    """Run (or resume) dynesty; ``loglike(x) -> float`` and ``prior_transform(u) -> x`` act
    on one point of ``ndim`` coordinates. ``pool`` (``map`` and ``size``) is optional."""
    import dynesty
    from dynesty.utils import IteratorResult, resample_equal

    stop = stop if stop is not None else StopFlag()
    dynamic = bool(options.get("dynamic", False))
    cls = dynesty.DynamicNestedSampler if dynamic else dynesty.NestedSampler
    use_pool = pool if pool is not None and pool.size > 1 else None
    restored = resume and Path(checkpoint).is_file()
    maxiter = options.get("maxiter")
    if restored:
        sampler = _restore(cls, Path(checkpoint), use_pool, dynamic)
        log.info("resuming nested sampling from %s", checkpoint)
        if not dynamic:
            if sampler.added_live:
                # a static run that ended (at its cap: a converged run is never resumed) holds
                # its final live points as samples; take them out again so that the loop
                # continues (dynesty does the same when run_nested is called twice)
                sampler._remove_live_points()
            if maxiter is not None:
                # the cap counts over all resumptions; dynesty's maxiter counts per call
                maxiter = int(maxiter) - (sampler.it - 1)
    else:
        kwargs = dict(bound=options.get("bound", "multi"), sample=options.get("sample", "auto"),
                      rstate=np.random.default_rng(seed))
        if use_pool is not None:
            kwargs.update(pool=use_pool, queue_size=queue_size(options, use_pool.size))
        if dynamic:
            sampler = cls(loglike, prior_transform, ndim, **kwargs)
        else:
            sampler = cls(loglike, prior_transform, ndim, nlive=int(options["nlive"]), **kwargs)

    last = [0]

    def report(results: Any, niter: int, ncall: int, *args: Any, **kwargs: Any) -> None:
        if stop:
            if not dynamic:
                sampler.save(str(checkpoint))
            raise _Interrupted
        bar.update(max(0, niter - last[0]))
        last[0] = niter
        status = f"ncall {ncall}, remaining dlogz {_estimate(results.delta_logz, '.3g')}"
        if isinstance(results, IteratorResult):         # baseline run (not a batch)
            status = (f"ln Z {_estimate(results.logz, '.3f')}, {status} "
                      f"(stop < {options['dlogz']:g})")
        bar.set_status(status)

    t0 = time.time()
    completed = True
    run_kwargs: dict[str, Any] = dict(checkpoint_file=str(checkpoint),
                                      checkpoint_every=float(options["checkpoint_every_s"]),
                                      print_progress=True, print_func=report, resume=restored)
    if dynamic:
        run_kwargs.update(nlive_init=int(options["nlive"]), dlogz_init=options["dlogz"],
                          nlive_batch=int(options["nlive_batch"]),
                          maxbatch=int(options["maxbatch"]),
                          wt_kwargs={"pfrac": float(options["pfrac"])})
    else:
        run_kwargs.update(dlogz=options["dlogz"])
    try:
        with sampler_progress(options, None, "dynesty", "iter") as bar:
            sampler.run_nested(maxiter=maxiter, **run_kwargs)
    except _Interrupted:
        completed = False
        log.warning("signal %s: nested-sampling checkpoint in %s", stop.signum, checkpoint)
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
    cap = options.get("maxiter")
    # dynesty runs maxiter + 1 iterations of a static run before it stops at the cap
    at_cap = cap is not None and int(res.niter) >= int(cap) + (0 if dynamic else 1)
    stats["stopped_at_maxiter"] = bool(at_cap)
    criterion = (f"baseline run to remaining dlogz < {options['dlogz']:g}, then at most "
                 f"{options['maxbatch']} batches" if dynamic else
                 f"remaining evidence dlogz < {options['dlogz']:g}")
    if cap is not None:
        criterion += f", before the cap maxiter = {cap}"
    # Equal-weight draws are (nearly) independent; split into chains so that ArviZ's
    # split R-hat and ESS can be computed as for MCMC.
    return SamplerResult(kind="nested", samples=chains, stats=stats, nested=nested,
                         converged=not at_cap, criterion=criterion)


class DynestySampler(Sampler):
    """dynesty static or dynamic nested sampling (module docstring); dynesty's proposal
    tasks are mapped over the pool (:func:`queue_size` of them per map)."""
    name = "dynesty"
    citation = ("Speagle, MNRAS 493 (2020) 3132; Skilling, Bayesian Analysis 1 (2006) 833; "
                "Higson et al., Stat. Comput. 29 (2019) 891")
    checkpoint_name = "checkpoint.dynesty"
    resume_keys = ("nlive", "dynamic", "bound", "sample")
    options = (
        Option("dynamic", (bool,), False, doc="dynamic nested sampling"),
        Option("nlive", (int,), 500, low=1, high=10**7,
               doc="live points (dynamic: of the baseline run)"),
        Option("bound", (str,), "multi", choices=("none", "single", "multi", "balls", "cubes"),
               doc="dynesty's bounding method"),
        Option("sample", (str,), "auto", choices=("auto", "unif", "rwalk", "slice", "rslice"),
               doc="dynesty's sampling method"),
        Option("dlogz", (int, float), 0.1, low=1e-9, high=1e6,
               doc="stopping tolerance on the remaining evidence"),
        Option("maxiter", (int, type(None)), None, low=1, high=10**12, doc="iteration cap"),
        Option("nlive_batch", (int,), 250, low=1, high=10**7, doc="live points of a batch"),
        Option("maxbatch", (int,), 4, low=1, high=10**6, doc="batches at most"),
        Option("pfrac", (int, float), 1.0, low=0.0, high=1.0,
               doc="posterior (1) vs evidence (0) weight of the batches"),
        Option("queue_size", (int, type(None)), None, low=1, high=10**6,
               doc="live points evolved at once per pool map on 2 or more processes "
                   "(null: about nlive/32, at least one and at most 16 per process)"),
        Option("checkpoint_every_s", (int, float), 30.0, low=0.01, high=1e7, unit="s",
               doc="seconds between checkpoints"),
        Option("n_chains", (int,), 4, low=1, high=1000,
               doc="the equal-weight draws are split into this many chains"),
    )

    @classmethod
    def check_options(cls, options: dict[str, Any], ndim: int, where: str) -> dict[str, Any]:
        if options["n_chains"] > options["nlive"]:
            raise ConfigError(f"{where}.n_chains: {options['n_chains']} chains need at least "
                              f"as many live points (nlive {options['nlive']})")
        return options

    def run(self, posterior: Any, options: dict[str, Any], checkpoint: Path, resume: bool,
            seed: int, pool: Any, stop: StopFlag) -> SamplerResult:
        result = run_dynesty(handle(posterior, "loglike_point"),
                             handle(posterior, "prior_transform_point"), posterior.ndim,
                             options, seed, checkpoint, resume, stop, pool)
        result.rejections = dict(posterior.rejections)
        return result
