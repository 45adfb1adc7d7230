"""90 % C.L. upper limits on a moment from any electron-recoil likelihood.

``upper_limit_mub(lk, m_gev, direction=...)`` works for every likelihood whose ``requires`` are
moment strengths (mu_B^2) and ``m_aprime_gev`` (XENONnT, Borexino; any ``weights`` option): the
point at moment mu has the observables ``{name: c * mu^2 for name, c in direction}``, by default
``{"mu_eff2_mub2": 1}`` (a flavour-universal moment); ``FLAVOUR_DIRECTIONS`` gives mu_e, mu_mu or
mu_tau alone for ``weights: flavour``. Both experiments' limits come from the same solver: ``likelihoods._stats.profile_upper_limit`` (one-sided, Delta chi^2 = 2.71
above the maximum at mu >= 0) or ``bayesian_upper_limit`` (prior flat in mu^2 >= 0), on the
variable x = mu / scale with the scale found first on a log grid (the solvers then work on
O(1) numbers). PDG 2024 Sec. 40.4.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from globalfit.errors import ParameterError

from . import _stats
from .base import Likelihood

METHODS = ("profile", "bayes")
UNIVERSAL: Mapping[str, float] = {"mu_eff2_mub2": 1.0}
FLAVOUR_DIRECTIONS: Mapping[str, Mapping[str, float]] = {
    flavour: {f"mu_{other}2_mub2": float(other == flavour) for other in ("e", "mu", "tau")}
    for flavour in ("e", "mu", "tau")}
"""mu_e, mu_mu or mu_tau alone (the others 0), for likelihoods with ``weights: flavour``."""


def _moment_loglike(lk: Likelihood, m_gev: float, direction: Mapping[str, float]):
    missing = [k for k in lk.requires if k != "m_aprime_gev" and k not in direction]
    if missing:
        raise ParameterError(f"direction: {lk.name} requires {', '.join(missing)}")

    def f(mu: np.ndarray) -> np.ndarray:
        mu = np.maximum(np.atleast_1d(np.asarray(mu, dtype=float)), 0.0)
        obs = {k: c * mu * mu for k, c in direction.items()}
        return lk.loglike({**obs, "m_aprime_gev": np.full(mu.shape, m_gev)})
    return f


def _scale(f, drop: float = 3.0) -> float:
    """Smallest mu on a log grid 1e-14 .. 1e-2 mu_B where ln L is ``drop`` below its maximum."""
    grid = np.geomspace(1e-14, 1e-2, 481)
    ll = f(grid)
    ref = max(float(f(np.zeros(1))[0]), float(np.max(ll)))
    k = int(np.argmax(ll))
    below = np.nonzero((ll < ref - drop) & (np.arange(grid.size) >= k))[0]
    if below.size == 0:
        raise ParameterError("mu: the likelihood does not fall below its maximum up to 1e-2 mu_B")
    return float(grid[below[0]])


def upper_limit_mub(lk: Likelihood, m_gev: float, method: str = "profile",
                    direction: Mapping[str, float] = UNIVERSAL) -> float:
    """One-sided 90 % C.L. upper limit on mu (mu_B) at dark-photon mass ``m_gev`` (GeV), the
    observables of ``lk`` being ``c * mu^2`` for ``(name, c)`` in ``direction``."""
    if method not in METHODS:
        raise ParameterError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    f = _moment_loglike(lk, m_gev, direction)
    scale = _scale(f)
    if method == "profile":
        return scale * _stats.profile_upper_limit(lambda z: f(np.asarray(z) * scale), 1.0)
    x_up = _stats.bayesian_upper_limit(lambda x: f(np.sqrt(np.maximum(x, 0.0)) * scale), 1.0)
    return scale * math.sqrt(x_up)
