"""The NA64 missing-energy counting model as a HistFactory JSON workspace (pyhf format).

One channel, one bin (the NA64 signal box), ``n_obs`` observed events (0 for 2016-2022)::

    n ~ Poisson(mu * s_ref + b),   b = b0 + sigma_b * alpha,   alpha ~ N(0, 1)

- ``signal``: s_ref = N_EOT Y(m_A') eps_ref^2 BR_inv, the expected events of
  ``likelihoods.na64.NA64Likelihood.expected_signal`` at the reference mixing ``eps_ref``,
  scaled by the parameter of interest ``mu`` (a ``normfactor``), so ``mu = (eps / eps_ref)^2``
  (times BR_inv / BR_inv,ref) and ``eps_up = eps_ref * sqrt(mu_up)``.
- ``background``: b0 +- sigma_b from ``data/accelerator/na64_datasets.yaml`` (NA64, PRL 131
  (2023) 161801: 0.43 +- 0.16) as a ``histosys`` with lo/hi = b0 -+ sigma_b: linear in alpha
  (interpolation code 0) with a unit Gaussian constraint, i.e. the additive Gaussian background
  of ``likelihoods._stats.profiled_poisson_loglike``. (pyhf bounds alpha to [-5, 5]; ours keeps
  b >= 0; for these numbers neither bound is reached by any fit below.)

Format: L. Heinrich, M. Feickert, G. Stark, K. Cranmer, JOSS 6 (2021) 2823 (pyhf) and
ROOT-CERN-TR-2012-016 (HistFactory); schema version 1.0.0.

Our CL_s on the same model
--------------------------
:func:`cls_asymptotic` computes the CL_s of this counting model from the project's own closed
form profile likelihood (``_stats.profiled_poisson_loglike``) with the test statistic
q~_mu and its asymptotic distributions (G. Cowan, K. Cranmer, E. Gross, O. Vitells, EPJC 71
(2011) 1554, arXiv:1007.1727, Eqs. 16, 65-66), the Asimov data set being the background-only
expectation with the background fitted to the observed data (as pyhf builds it). This is the
number to compare with pyhf's ``upper_limit`` (asymptotic calculator, q~_mu).

It is *not* NA64's published limit: with 0 observed events the exact CL_s is e^{-s} for any
background (A. L. Read, J. Phys. G 28 (2002) 2693), giving s_90 = 2.303 events -- the value
``NA64Likelihood`` is built on (:func:`cls_exact_zero_events`). The asymptotic formulae are
not accurate for n = 0: :func:`mu_upper_limit` returns both, and the docs quote their ratio.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, special

from globalfit.errors import ParameterError

from .. import _stats
from ..na64 import NA64Likelihood

SCHEMA_VERSION = "1.0.0"
CHANNEL = "na64_signal_region"
POI = "mu"
BACKGROUND_MODIFIER = "na64_background_uncertainty"


def reference_signal(m_aprime_gev: float, eps_ref: float = 1e-4, br_inv: float = 1.0,
                     likelihood: NA64Likelihood | None = None) -> float:
    """s_ref: expected NA64 signal events at ``m_aprime_gev`` (GeV), ``eps_ref``, ``br_inv``."""
    like = NA64Likelihood() if likelihood is None else likelihood
    if not (np.isfinite(eps_ref) and eps_ref > 0):
        raise ParameterError(f"eps_ref: expected a positive number, found {eps_ref!r}")
    obs = {"m_aprime_gev": np.array([float(m_aprime_gev)]), "eps": np.array([float(eps_ref)]),
           "br_inv": np.array([float(br_inv)])}
    s = float(like.expected_signal(obs)[0])
    if not (np.isfinite(s) and s > 0):
        raise ParameterError(f"m_aprime_gev, br_inv: no NA64 signal at m = {m_aprime_gev} GeV, "
                             f"BR_inv = {br_inv}")
    return s


def na64_workspace(m_aprime_gev: float, eps_ref: float = 1e-4, br_inv: float = 1.0,
                   likelihood: NA64Likelihood | None = None,
                   poi_max: float | None = None) -> dict[str, Any]:
    """HistFactory JSON workspace (a dict) of the NA64 counting model at one mass.

    ``likelihood``: the NA64Likelihood whose data set (EOT, n_obs, b0, sigma_b) and yield are
    used (default ``NA64Likelihood()``, 2016-2022); ``poi_max``: upper bound of ``mu``
    (default 20 x 2.303 / s_ref, far above any 90 % limit).
    """
    like = NA64Likelihood() if likelihood is None else likelihood
    s_ref = reference_signal(m_aprime_gev, eps_ref, br_inv, like)
    b0, sigma_b = like.b0, like.sigma_b
    mu_90 = float(-np.log(0.1)) / s_ref            # exact 90 % CL_s limit for n = 0
    if poi_max is None:
        poi_max = 20.0 * mu_90
    background: dict[str, Any] = {"name": "background", "data": [b0], "modifiers": []}
    if sigma_b > 0:
        background["modifiers"].append(
            {"name": BACKGROUND_MODIFIER, "type": "histosys",
             "data": {"hi_data": [b0 + sigma_b], "lo_data": [b0 - sigma_b]}})
    return {
        "channels": [{"name": CHANNEL, "samples": [
            {"name": "signal", "data": [s_ref],
             "modifiers": [{"name": POI, "type": "normfactor", "data": None}]},
            background]}],
        "observations": [{"name": CHANNEL, "data": [float(like.n_obs)]}],
        "measurements": [{"name": f"na64_{like.dataset}_m{m_aprime_gev:.6g}GeV_eps{eps_ref:.3g}",
                          "config": {"poi": POI, "parameters": [
                              {"name": POI, "bounds": [[0.0, float(poi_max)]],
                               "inits": [min(mu_90, 0.5 * float(poi_max))]}]}}],
        "version": SCHEMA_VERSION,
    }


def write_workspace(path: str | Path, m_aprime_gev: float, **kwargs: Any) -> Path:
    """Write :func:`na64_workspace` as JSON to ``path``; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(na64_workspace(m_aprime_gev, **kwargs), indent=2) + "\n",
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------
# our CL_s of the same counting model
# --------------------------------------------------------------------------------------
def _q_tilde(mu: np.ndarray, s_ref: float, n: float, b_aux: float, sigma_b: float
             ) -> np.ndarray:
    """q~_mu (Cowan et al. 2011, Eq. 16) of one bin with an additive Gaussian background whose
    auxiliary measurement is ``b_aux``: the MLE is mu_hat = max(0, (n - b_aux)/s_ref)."""
    mu = np.asarray(mu, dtype=float)
    mu_hat = max(0.0, (n - b_aux) / s_ref)
    ll_mu = _stats.profiled_poisson_loglike(n, mu * s_ref, b_aux, sigma_b)
    ll_hat = _stats.profiled_poisson_loglike(n, np.array([mu_hat * s_ref]), b_aux, sigma_b)[0]
    return np.where(mu_hat > mu, 0.0, np.maximum(-2.0 * (ll_mu - ll_hat), 0.0))


def cls_asymptotic(mu: np.ndarray | float, s_ref: float, n_obs: int, b0: float,
                   sigma_b: float) -> np.ndarray:
    """Asymptotic CL_s(mu) with q~_mu (Cowan et al. 2011, Eqs. 65-66), vectorised over mu > 0.

    CL_{s+b} = 1 - Phi(sqrt q) and CL_b = Phi(sqrt q_A - sqrt q) for q <= q_A;
    CL_{s+b} = 1 - Phi((q + q_A)/(2 sqrt q_A)), CL_b = 1 - Phi((q - q_A)/(2 sqrt q_A)) above;
    q_A from the Asimov data set n_A = b_aux,A = b_hat(mu = 0; observed data).
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    q = _q_tilde(mu, s_ref, float(n_obs), b0, sigma_b)
    b_asimov = float(_stats.profiled_background(float(n_obs), 0.0, b0, sigma_b))
    q_a = _q_tilde(mu, s_ref, b_asimov, b_asimov, sigma_b)
    sq, sqa = np.sqrt(q), np.sqrt(q_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = q > q_a
        clsb = np.where(above, special.ndtr(-(q + q_a) / (2.0 * sqa)), special.ndtr(-sq))
        clb = np.where(above, special.ndtr(-(q - q_a) / (2.0 * sqa)), special.ndtr(sqa - sq))
    return np.where(mu <= 0, 1.0, clsb / clb)


def cls_exact_zero_events(mu: np.ndarray | float, s_ref: float) -> np.ndarray:
    """Exact CL_s = e^{-mu s_ref} of a counting experiment with 0 observed events (Read 2002);
    independent of the background."""
    return np.exp(-np.asarray(mu, dtype=float) * s_ref)


def mu_upper_limit(m_aprime_gev: float, eps_ref: float = 1e-4, br_inv: float = 1.0,
                   cl: float = 0.90, likelihood: NA64Likelihood | None = None
                   ) -> dict[str, float]:
    """CL_s upper limits on ``mu`` at confidence ``cl`` (CL_s = 1 - cl): ``"asymptotic"``
    (:func:`cls_asymptotic`, comparable to pyhf) and, for 0 observed events, ``"exact"``
    (e^{-s}: NA64's own limit); ``"s_ref"`` the reference signal; and the eps limits
    ``eps_ref * sqrt(mu_up)`` as ``"eps_asymptotic"``, ``"eps_exact"``."""
    like = NA64Likelihood() if likelihood is None else likelihood
    if not 0.0 < cl < 1.0:
        raise ParameterError(f"cl: expected 0 < cl < 1, found {cl!r}")
    s_ref = reference_signal(m_aprime_gev, eps_ref, br_inv, like)
    alpha = 1.0 - cl

    def f(log_mu: float) -> float:
        return float(cls_asymptotic(np.exp(log_mu), s_ref, like.n_obs, like.b0,
                                    like.sigma_b)[0]) - alpha

    lo, hi = np.log(1e-3 / s_ref), np.log(1e3 / s_ref)
    mu_asym = float(np.exp(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)))
    out = {"s_ref": s_ref, "asymptotic": mu_asym,
           "eps_asymptotic": float(eps_ref * np.sqrt(mu_asym))}
    if like.n_obs == 0:
        mu_exact = float(-np.log(alpha) / s_ref)
        out.update(exact=mu_exact, eps_exact=float(eps_ref * np.sqrt(mu_exact)))
    return out
