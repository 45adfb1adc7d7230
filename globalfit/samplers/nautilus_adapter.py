"""nautilus: importance nested sampling with neural-network-boosted bounds, with evidence.

Lange, MNRAS 525 (2023) 3181, arXiv:2306.16923 (nautilus). The unit cube is mapped to the
parameters by the config's prior transform (globalfit.priors); the likelihood is evaluated
for a whole batch of points in one vectorised call (``vectorized=True``), split over the pool
in row blocks (:class:`~globalfit.samplers.pool.ChunkedFunction`), so serial, multi-process
and MPI runs share one code path. On a pool of more than one process, nautilus' own work
goes to the pool too (its ``pool=(likelihood pool, sampler pool)`` argument, sampler pool
only): the ``n_networks`` networks of each new bound are trained in parallel and new points
are drawn from the bound in parallel, which is where most of its wall time goes at
``n_live`` in the thousands (benchmarks/README.md, "MPI").

Evidence: ``ln Z`` is nautilus' importance-sampling estimate; its error is the statistical
scatter ``1 / sqrt(N_eff)`` that the nautilus paper (Sect. 4) finds for repeated runs, with
``N_eff`` the Kish effective sample size of the importance weights. With
``discard_exploration: true`` (the default here) the points of the exploration phase are
dropped, which the paper requires for an unbiased posterior and evidence.

Checkpoint: nautilus' own HDF5 file (``filepath``), written after every batch of likelihood
calls together with the random state; ``resume`` continues from it. A signal is noticed at
the next likelihood call: the batch in flight is dropped (the file holds the previous one)
and the run returns ``completed=False``. The posterior is returned as ``N_eff`` equal-weight
draws (systematic resampling) split into ``n_chains`` chains; the weighted samples are kept.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..options import Option
from . import SamplerResult, StopFlag
from .base import Sampler, corrupt_checkpoint, equal_weight_chains, sampler_progress
from .pool import ChunkedFunction, Uncounted, handle

log = logging.getLogger("globalfit.nautilus")

#: seconds between progress updates (nautilus' run is called in slices this long)
POLL_S = 2.0
#: attributes of nautilus' checkpoint group that a resumable file must hold
_REQUIRED_ATTRS = ("n_dim", "n_like", "explored", "shell_n", "rng_state", "rng_inc")


class _Interrupted(Exception):
    """Raised from the likelihood to leave nautilus' loop on a signal."""


def _check_checkpoint(path: Path, ndim: int) -> None:
    """:class:`CheckpointError` (file named, left untouched) unless ``path`` is a nautilus
    checkpoint of ``ndim`` parameters."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            group = f["sampler"]
            missing = [k for k in _REQUIRED_ATTRS if k not in group.attrs]
            n_dim = int(group.attrs["n_dim"]) if not missing else -1
            n_shells = len(np.atleast_1d(group.attrs["shell_n"])) if not missing else 0
            bounds = all(f"bound_{i}" in f for i in range(n_shells))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise corrupt_checkpoint(path, f"not a nautilus file: {type(exc).__name__}") from None
    if missing:
        raise corrupt_checkpoint(path, f"missing {', '.join(missing)}")
    if n_dim != ndim:
        raise corrupt_checkpoint(path, f"{n_dim} parameters, the config has {ndim}")
    if not bounds:
        raise corrupt_checkpoint(path, "bounds missing (truncated file)")


class _Likelihood:
    """The vectorised log-likelihood nautilus calls; checks the stop flag first (nautilus
    offers no callback) and counts calls for the progress bar."""

    def __init__(self, fn: ChunkedFunction, stop: StopFlag, bar: Any) -> None:
        self.fn, self.stop, self.bar = fn, stop, bar

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        if self.stop:
            raise _Interrupted
        self.bar.update(len(theta))
        values = self.fn(theta)
        values[~np.isfinite(values)] = -np.inf
        return values


def _status(sampler: Any, options: dict[str, Any]) -> str:
    """What the stopping rule waits for (read between ``run`` calls, when consistent)."""
    if sampler.explored:
        text = f"sampling: N_eff {sampler.n_eff:.0f}/{options['n_eff']:g}"
    else:
        text = f"exploring: f_live {sampler.f_live:.3g} (stop < {options['f_live']:g})"
    if sampler.log_z is not None:
        text += f", ln Z {sampler.log_z:.3f}"
    return text


def run_nautilus(posterior: Any, options: dict[str, Any], seed: int, checkpoint: Path,
                 resume: bool = False, stop: StopFlag | None = None,
                 pool: Any = None) -> SamplerResult:
    """Run (or resume) nautilus on ``posterior`` (vectorised ``log_likelihood`` and
    ``priors.transform``); ``options`` are the resolved ``sampler`` section."""
    import nautilus

    from .pool import SerialPool
    stop = stop if stop is not None else StopFlag()
    pool = pool if pool is not None else SerialPool()
    ndim = posterior.ndim
    checkpoint = Path(checkpoint)
    restored = resume and checkpoint.is_file()
    if restored:
        _check_checkpoint(checkpoint, ndim)
        log.info("resuming nautilus from %s", checkpoint)
    fn = ChunkedFunction(Uncounted(handle(posterior, "log_likelihood")), pool)
    t0 = time.time()
    maxcall = options["maxcall"]
    with sampler_progress(options, None, "nautilus", "call") as bar:
        like = _Likelihood(fn, stop, bar)
        try:
            sampler = nautilus.Sampler(
                posterior.priors.transform, like, n_dim=ndim, n_live=options["n_live"],
                n_networks=options["n_networks"], n_batch=options["n_batch"],
                enlarge_per_dim=options["enlarge_per_dim"],
                split_threshold=options["split_threshold"], vectorized=True, pass_dict=False,
                seed=seed, filepath=checkpoint, resume=restored,
                pool=(None, pool if pool.size > 1 else None))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise corrupt_checkpoint(checkpoint, type(exc).__name__) from None
        start_calls = int(sampler.n_like)
        cap = np.inf if maxcall is None else maxcall
        try:
            # run() in slices of POLL_S seconds: the sampler state is the same as for one
            # call (run continues where it stopped), and between slices the progress status
            # is read while the state is consistent
            while True:
                success = sampler.run(f_live=options["f_live"], n_shell=options["n_shell"],
                                      n_eff=options["n_eff"], n_like_max=cap,
                                      discard_exploration=bool(options["discard_exploration"]),
                                      timeout=POLL_S)
                if sampler.n_like > 0:
                    bar.set_status(_status(sampler, options))
                if success or sampler.n_like >= cap:
                    break
        except _Interrupted:
            log.warning("signal %s: nautilus checkpoint in %s", stop.signum, checkpoint)
            return SamplerResult(kind="nested", samples=np.empty((1, 0, ndim)),
                                 completed=False)

    points, log_w, log_l = sampler.posterior()
    logz = float(sampler.log_z)
    n_eff = float(sampler.n_eff)
    logzerr = float(1.0 / np.sqrt(n_eff))
    rng = np.random.default_rng([seed, 1])
    chains = equal_weight_chains(points, log_w, max(int(n_eff), options["n_chains"]),
                                 options["n_chains"], rng)
    nested = {"samples": np.asarray(points), "log_weight": np.asarray(log_w),
              "log_likelihood": np.asarray(log_l), "logz": logz, "logzerr": logzerr}
    stats = {
        "sampler": "nautilus",
        "logz": logz,
        "logzerr": logzerr,
        "n_eff": n_eff,
        "converged": bool(success),
        "n_calls": int(sampler.n_like),
        "n_calls_this_run": int(sampler.n_like) - start_calls,
        "resumed": bool(restored),
        "n_shells": int(len(sampler.bounds)),
        "n_weighted_samples": int(len(points)),
        "n_equal_weight_samples": int(chains.shape[0] * chains.shape[1]),
        "efficiency": float(n_eff / max(sampler.n_like, 1)),
        "wall_time_sampling_s": time.time() - t0,
    }
    if not success:
        log.warning("nautilus stopped at maxcall = %d before N_eff reached %g (N_eff %.0f)",
                    sampler.n_like, options["n_eff"], n_eff)
    log.info("ln Z = %.3f +- %.3f (N_eff %.0f, %d calls)", logz, logzerr, n_eff,
             sampler.n_like)
    criterion = (f"effective sample size N_eff >= {options['n_eff']:g} after the exploration "
                 f"(f_live < {options['f_live']:g})")
    if maxcall is not None:
        criterion += f", before the cap maxcall = {maxcall}"
    return SamplerResult(kind="nested", samples=chains, stats=stats, nested=nested,
                         converged=bool(success), criterion=criterion)


class NautilusSampler(Sampler):
    """nautilus importance nested sampling (module docstring)."""
    name = "nautilus"
    citation = "Lange, MNRAS 525 (2023) 3181, arXiv:2306.16923"
    checkpoint_name = "checkpoint.nautilus.h5"
    resume_keys = ("n_live", "n_networks", "n_batch", "enlarge_per_dim", "split_threshold",
                   "discard_exploration")
    options = (
        Option("n_live", (int,), 2000, low=10, high=10**7,
               doc="live points that each new bound encloses"),
        Option("n_networks", (int,), 4, low=1, high=64,
               doc="neural networks of the likelihood-shell emulator"),
        Option("n_batch", (int, type(None)), None, low=1, high=10**7,
               doc="likelihood calls per batch (default: 100, rounded up to a multiple "
                   "of the pool size)"),
        Option("enlarge_per_dim", (int, float), 1.1, low=1.0, high=10.0,
               doc="enlargement of the ellipsoidal bounds per dimension"),
        Option("split_threshold", (int, float), 100.0, low=1.0, high=1e9,
               doc="volume ratio above which a bound's ellipsoid is split"),
        Option("f_live", (int, float), 0.01, low=1e-12, high=1.0,
               doc="exploration ends when the live set holds < f_live of the evidence"),
        Option("n_shell", (int,), 1, low=1, high=10**7, doc="points per shell at least"),
        Option("n_eff", (int, float), 10000.0, low=1.0, high=1e12,
               doc="stop at this effective sample size"),
        Option("discard_exploration", (bool,), True,
               doc="drop exploration-phase points (unbiased posterior and evidence)"),
        Option("maxcall", (int, type(None)), None, low=1, high=10**15,
               doc="cap on likelihood calls (over all resumptions)"),
        Option("n_chains", (int,), 4, low=1, high=1000,
               doc="the equal-weight draws are split into this many chains"),
    )

    @classmethod
    def check_options(cls, options: dict[str, Any], ndim: int, where: str) -> dict[str, Any]:
        if ndim < 2:
            raise ConfigError(f"{where}.name: nautilus needs at least 2 sampled parameters, "
                              f"the config has {ndim}")
        if options["n_chains"] > options["n_eff"]:
            raise ConfigError(f"{where}.n_chains: {options['n_chains']} chains need "
                              f"n_eff >= n_chains (n_eff {options['n_eff']:g})")
        return options

    def run(self, posterior: Any, options: dict[str, Any], checkpoint: Path, resume: bool,
            seed: int, pool: Any, stop: StopFlag) -> SamplerResult:
        result = run_nautilus(posterior, options, seed, checkpoint, resume, stop, pool)
        result.rejections = dict(posterior.rejections)
        return result
