"""Helpers shared by the sampler adapters (progress of a sampling loop, equal-weight draws
from weighted samples); the interface itself (:class:`Sampler`), the registry and the
checkpoint error are defined in :mod:`globalfit.sampling` and re-exported here."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from ..sampling import (COMMON_OPTIONS, DEFAULT_SAMPLER, ENTRY_POINT_GROUP, REGISTRY,
                        CheckpointError, Sampler, available, corrupt_checkpoint,
                        default_options, load)


@contextlib.contextmanager
def sampler_progress(options: dict[str, Any], total: int | None, desc: str,
                     unit: str) -> Iterator[Any]:
    """:func:`globalfit.progress.progress` for a sampling loop: a bar on a terminal unless
    ``progress: false`` (then plain log lines every ``log_every_s`` seconds)."""
    from .. import progress as pg
    pg.set_plain(options.get("progress", "auto") is False,
                 float(options.get("log_every_s", 30.0)))
    try:
        with pg.progress(total, desc, unit=unit) as bar:
            yield bar
    finally:
        pg.set_plain(False)


def equal_weight_chains(samples: np.ndarray, log_weight: np.ndarray, n_draws: int,
                        n_chains: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_chains, n_draws // n_chains, ndim)`` equal-weight draws from weighted samples.

    Systematic resampling (Kitagawa, J. Comput. Graph. Stat. 5 (1996) 1): ``n_draws``
    positions ``(r + i) / n_draws`` on the cumulative weights, one uniform ``r``; the draws
    are shuffled and split into chains, so ArviZ's R-hat and ESS can be computed as for MCMC.
    """
    w = np.exp(log_weight - np.max(log_weight))
    cdf = np.cumsum(w) / np.sum(w)
    positions = (rng.random() + np.arange(n_draws)) / n_draws
    idx = np.minimum(np.searchsorted(cdf, positions), len(cdf) - 1)
    draws = rng.permutation(samples[idx])
    per_chain = n_draws // n_chains
    return draws[:n_chains * per_chain].reshape(n_chains, per_chain, samples.shape[1])


__all__ = ["COMMON_OPTIONS", "CheckpointError", "DEFAULT_SAMPLER", "ENTRY_POINT_GROUP",
           "REGISTRY", "Sampler", "available", "corrupt_checkpoint", "default_options",
           "equal_weight_chains", "load", "sampler_progress"]
