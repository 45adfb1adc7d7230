"""Indirect probes through the model: ln L(mu) of the likelihoods that see the model's
couplings (NA64, BaBar, MEG II, ...) for one dark-photon mass and gauge coupling.

What the construction needs from a model (checked, one ConfigError line otherwise)
--------------------------------------------------------------------------------
* parameters ``m_aprime_gev``, ``eps``, ``g_d`` (the grid axis, the free direction, the
  curve label) and the *coupling scale*: one or more parameters (``limits.coupling_scale``,
  e.g. the Yukawa scale ``y0``) scaled together by a factor s from reference values;
* the observable ``mu_eff_mub`` with mu = eps * s^2 * K (K independent of eps and s);
* every observable an indirect likelihood requires scales as s^p, p in 0..4 (accelerator
  observables: p = 0; BR(l -> l' gamma): p = 4), checked by evaluating the model at s = 1
  and s = 1/2.

For fixed mu the free direction is eps (s^2 = mu / (eps K)):

    ln L_ind(mu) = max_eps  sum_j ln L_j(obs(eps, s))                                 profile
    ln L_ind(mu) = ln int dln(eps) / ln(eps_max/eps_min) exp[sum_j ln L_j]           Bayes

with eps in [eps_min, eps_max] and s <= s_max (the parameters' domain, e.g. perturbativity
y0 <= sqrt(4 pi)); -inf above. Seed model: H. Zhang, arXiv:2603.25704.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, ParameterError
from .stats import METHODS

MAX_POWER = 4
_RTOL = 1e-9
#: moments per block of the (moments x eps) grid: 128 x 801 doubles = 0.8 MB per temporary
ROWS_PER_BLOCK = 128


@dataclass
class ModelSetup:
    """What :class:`IndirectProbes` needs, derived from a validated fit config.

    ``fixed``: value of every model parameter other than the axes and the coupling scale;
    ``scale_ref``: reference values of the coupling-scale parameters (s = 1);
    ``s_max``: largest s inside the parameters' domain; ``likelihoods``: label -> the
    indirect likelihoods (built by the config)."""
    model: Any
    fixed: dict[str, float]
    scale_ref: dict[str, float]
    s_max: float
    likelihoods: dict[str, Any]
    eps_range: tuple[float, float] = (1e-8, 1.0)
    n_eps: int = 801
    display: str = "config"


def _power(unit: np.ndarray, half: np.ndarray) -> int | None:
    """The integer p in 0..MAX_POWER with half = 2^-p unit (None if there is none)."""
    for p in range(MAX_POWER + 1):
        if np.allclose(half, unit * 0.5**p, rtol=_RTOL, atol=0.0):
            return p
    return None


def log_weighted_mean(ll: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ln sum_j w_j exp(ll_ij) per row i (n,), stable (the row maximum is factored out; -inf
    rows give -inf): what ``scipy.special.logsumexp(ll, b=w, axis=1)`` computes, without
    its per-call overhead (~10 ms on small arrays, which dominated the limits grid)."""
    top = np.max(ll, axis=1)
    shift = np.where(np.isfinite(top), top, 0.0)
    d = ll - shift[:, None]
    # terms below e^-700 of the row maximum (together < 801 e^-700 ~ 1e-301 of the sum) are
    # left at 0 instead of exponentiated: exp of very negative numbers and of -inf takes
    # ~3x the time of exp near 0, and most of the (moments, eps) grid is there
    keep = d > -700.0
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        return shift + np.log(np.exp(d, out=np.zeros_like(d), where=keep) @ w)


class IndirectProbes:
    """ln L(mu) of the indirect likelihoods for one dark-photon mass and gauge coupling.

    Likelihoods whose observables do not depend on s (p = 0) are tabulated once on ``n_eps``
    log-spaced eps in [eps_min, eps_max]; the others are evaluated on the (n_mu, n_eps) grid
    with their observables rescaled by s^p. Attributes: ``eps`` (n_eps,), ``k_mub`` (mu per
    unit eps s^2, mu_B), ``br_inv`` (n_eps,) when the model provides it, ``unit_observables``
    (the observables at s = 1 on the eps grid), ``powers`` (observable -> p).
    """

    def __init__(self, m_aprime_gev: float, g_d: float, setup: ModelSetup) -> None:
        eps_min, eps_max = setup.eps_range
        self.m_aprime_gev, self.g_d = float(m_aprime_gev), float(g_d)
        self.eps = np.geomspace(eps_min, eps_max, int(setup.n_eps))
        self.log_prior_width = math.log(eps_max / eps_min)
        self.s_max = float(setup.s_max)
        model = setup.model
        unit = self._evaluate(setup, 1.0)
        half = self._evaluate(setup, 0.5)
        mu = unit["mu_eff_mub"]
        self.k_mub = float(mu[-1] / self.eps[-1])
        """mu per unit eps * s^2 (mu_B)."""
        if not self.k_mub > 0:
            raise ParameterError(f"{setup.display}: limits: the moment mu_eff_mub vanishes at "
                                 f"m_A' = {m_aprime_gev:g} GeV, g_D = {g_d:g} (a misalignment "
                                 "angle, mixing or mass splitting is zero)")
        if not (np.allclose(mu, self.k_mub * self.eps, rtol=1e-6, atol=0.0)
                and _power(mu, half["mu_eff_mub"]) == 2):
            raise ConfigError(f"{setup.display}: limits: model {model.name!r} does not give "
                              "mu_eff_mub = eps * s^2 * K under limits.coupling_scale")
        self.unit_observables = unit
        self.br_inv = unit["br_inv"] if "br_inv" in unit else None
        self.powers: dict[str, int] = {}
        for label, lk in setup.likelihoods.items():
            for name in lk.requires:
                p = _power(unit[name], half[name])
                if p is None:
                    raise ConfigError(f"{setup.display}: likelihoods.{label}: observable {name} "
                                      f"does not scale as a power s^0..s^{MAX_POWER} of "
                                      "limits.coupling_scale; the limits cannot use it")
                self.powers[name] = p
        self.ll_fixed = np.zeros(len(self.eps))
        self.scaled: list[tuple[str, Any]] = []
        for label, lk in setup.likelihoods.items():
            if all(self.powers[o] == 0 for o in lk.requires):
                obs = {o: unit[o] for o in lk.requires}
                self.ll_fixed = self.ll_fixed + np.asarray(lk.loglike(obs), dtype=float)
            else:
                self.scaled.append((label, lk))
        self.labels = list(setup.likelihoods)
        self._inv_eps_k = 1.0 / (self.eps * self.k_mub)

    def _evaluate(self, setup: ModelSetup, s: float) -> dict[str, np.ndarray]:
        params: dict[str, Any] = {"m_aprime_gev": self.m_aprime_gev, "eps": self.eps,
                                  "g_d": self.g_d, **setup.fixed}
        params.update({k: s * v for k, v in setup.scale_ref.items()})
        obs, valid = setup.model.observables(params)
        if not np.all(valid):
            raise ParameterError(f"{setup.display}: limits: m_A' = {self.m_aprime_gev:g} GeV, "
                                 f"g_D = {self.g_d:g} with the fixed parameters is outside "
                                 f"the domain of model {setup.model.name!r}")
        return {k: np.broadcast_to(np.asarray(v, dtype=float), self.eps.shape)
                for k, v in obs.items()}

    def _ll_grid(self, mu_mub: np.ndarray) -> np.ndarray:
        """ln L on the (n_mu, n_eps) grid (-inf where s > s_max)."""
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        s_sq = mu[:, None] * self._inv_eps_k[None, :]          # s^2 = mu / (eps K)
        ll = None
        for _, lk in self.scaled:
            obs = {}
            for o in lk.requires:
                p, x = self.powers[o], self.unit_observables[o][None, :]
                for _ in range(p // 2):
                    x = x * s_sq
                if p % 2:
                    x = x * np.sqrt(s_sq)
                obs[o] = np.broadcast_to(x, s_sq.shape).ravel()
            term = np.asarray(lk.loglike(obs), dtype=float).reshape(s_sq.shape)
            ll = term if ll is None else ll + term
        ll = (np.broadcast_to(self.ll_fixed, s_sq.shape).copy() if ll is None
              else ll + self.ll_fixed)
        ll[s_sq > self.s_max**2] = -np.inf
        return ll

    def loglike(self, mu_mub: np.ndarray, method: str = "profile") -> np.ndarray:
        """ln L_ind(mu) (n,): maximum over eps (``profile``) or the average over a log-uniform
        prior in eps (``bayes``; trapezoid rule in ln eps).

        Evaluated in blocks of ``ROWS_PER_BLOCK`` moments, so that the (block, n_eps)
        temporaries stay in the processor's cache (each row is independent of the others)."""
        if method not in METHODS:
            raise ConfigError(f"method: {method!r} is not one of {', '.join(METHODS)}")
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        out = np.empty(mu.shape)
        w = np.full(len(self.eps), 1.0)
        w[0] = w[-1] = 0.5
        w /= w.sum()
        for k in range(0, len(mu), ROWS_PER_BLOCK):
            ll = self._ll_grid(mu[k:k + ROWS_PER_BLOCK])
            out[k:k + ROWS_PER_BLOCK] = (np.max(ll, axis=1) if method == "profile"
                                         else log_weighted_mean(ll, w))
        return np.where(np.isfinite(out), out, -np.inf)


__all__ = ["IndirectProbes", "ModelSetup"]
