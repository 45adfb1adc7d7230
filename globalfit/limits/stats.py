"""One-sided 90 % C.L. upper limits of a 1-D likelihood ln L(mu), mu >= 0 (mu_B).

Profile: -2 [ln L(mu) - ln L(mu_hat)] = 2.71 above the maximum mu_hat >= 0; Bayes: the 90 %
quantile of the posterior with a prior flat in mu^2 >= 0 (PDG 2024, Sec. 40.4). The solvers
are ``likelihoods._stats.profile_upper_limit`` and ``bayesian_upper_limit``.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import ConfigError, ParameterError

METHODS = ("profile", "bayes")
#: Gauss-Legendre panels of the Bayesian integral (x 20 nodes). 100 panels reproduce the
#: closed forms of tests/test_stats.py to 1e-9 like the solver's default 400; on the indirect
#: curves, whose integrand in mu^2 is a staircase (the perturbativity cut s <= s_max falls at a
#: different mu for each of the n_eps values of eps), the default limits grid moves by
#: <= 4e-4 (relative) against 400 panels, a discretisation effect of the eps grid, at a quarter
#: of the cost (the Bayesian curves were ~80 % of the grid's time).
N_PANELS = 100


def limit_scale(loglike: Callable[[np.ndarray], np.ndarray], drop: float,
                lo: float = 1e-30, hi: float = 1e3) -> float:
    """The smallest mu on a log grid [lo, hi] where ln L has fallen by ``drop`` below its
    maximum over the grid and mu = 0: the size of the limit (to condition the solvers)."""
    grid = np.geomspace(lo, hi, 331)
    ll = np.asarray(loglike(grid), dtype=float)
    ll0 = float(np.asarray(loglike(np.zeros(1)))[0])
    ref = max(ll0, float(np.max(np.where(np.isfinite(ll), ll, -np.inf))))
    k = int(np.argmax(np.where(np.isfinite(ll), ll, -np.inf)))
    below = np.nonzero((ll < ref - drop) & (np.arange(len(grid)) >= k))[0]
    if len(below) == 0:
        raise ParameterError(f"mu: likelihood does not fall by {drop} up to {hi:g} mu_B; "
                             "no upper limit")
    return float(grid[below[0]])


def upper_limit(loglike: Callable[[np.ndarray], np.ndarray], method: str) -> float:
    """One-sided 90 % C.L. upper limit on mu >= 0 (mu_B) from a vectorised ln L(mu).

    ``profile``: -2 [ln L(mu) - ln L(mu_hat)] = 2.71 above the maximum mu_hat >= 0
    (``likelihoods._stats.profile_upper_limit``). ``bayes``: 90 % quantile of the posterior
    with a prior flat in mu^2 >= 0 (``likelihoods._stats.bayesian_upper_limit`` in x = mu^2).
    The likelihood is rescaled internally so both solvers work on O(1) numbers.
    """
    from likelihoods import _stats
    if method not in METHODS:
        raise ConfigError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    scale = limit_scale(loglike, 1.0)
    if method == "profile":
        def f(z: np.ndarray) -> np.ndarray:
            return np.asarray(loglike(np.maximum(np.asarray(z, float), 0.0) * scale), float)
        return scale * _stats.profile_upper_limit(f, 1.0)

    def g(x: np.ndarray) -> np.ndarray:
        return np.asarray(loglike(np.sqrt(np.maximum(np.asarray(x, float), 0.0)) * scale),
                          float)
    return scale * math.sqrt(_stats.bayesian_upper_limit(g, 1.0, n_panels=N_PANELS))


__all__ = ["METHODS", "limit_scale", "upper_limit"]
