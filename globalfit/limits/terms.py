"""Direct likelihoods of the effective moment: ln L(mu, m_A') with mu in mu_B.

* :class:`LikelihoodMomentTerm`: the sum of likelihoods that require only the
  flavour-universal moment ``mu_eff2_mub2`` and ``m_aprime_gev`` (Borexino in its profiled
  ``fast`` mode with ``weights: universal``), called through their declared ``loglike``.
* :class:`BorexinoSpectrumTerm`: that term for the Borexino Phase-II spectral likelihood built
  from its options (used by ``globalfit validate`` and the tests).
* :class:`BorexinoRateTerm`: the published Borexino limit
  (``data/borexino/measurements.yaml``, ``published_limits.mu_eff_90_mub``) recast to a
  massive mediator through the propagator-suppressed rate.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from ..errors import DataFileError
from .labels import citations, joined_labels

DIRECT_OBSERVABLES = frozenset({"mu_eff2_mub2", "m_aprime_gev"})
"""A likelihood requiring only these observables is a direct term of the moment."""


class MomentTerm(Protocol):
    """A likelihood of the effective moment: ``loglike(mu_mub (n,), m_aprime_gev) -> (n,)``
    with ``m_aprime_gev`` one mass or an array broadcasting with ``mu_mub`` (GeV);
    ``label`` names it in legends ("Borexino Phase II (2018)"), ``citation`` its data."""

    label: str
    citation: str

    def loglike(self, mu_mub: np.ndarray, m_aprime_gev: float | np.ndarray
                ) -> np.ndarray: ...


def published_limit(experiment: str, key: str = "mu_eff_90_mub") -> tuple[float, str]:
    """(mu_90 in mu_B, citation): an experiment's published 90 % C.L. limit on a moment
    (``data/<experiment>/measurements.yaml``, ``published_limits.<key>``; default the
    flavour-universal ``mu_eff_90_mub``: Borexino PRD 96 (2017) 091103, XENONnT PRL 129 (2022)
    161805; Borexino also has ``mu_e_90_mub``, ``mu_mu_90_mub``, ``mu_tau_90_mub``)."""
    import yaml

    from ..paths import data_file
    path = data_file(experiment, "measurements.yaml")
    try:
        entry = yaml.safe_load(path.read_text(encoding="utf-8"))["published_limits"][key]
        value, unit, citation = float(entry["value"]), str(entry["unit"]), str(entry["citation"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        raise DataFileError(f"{path}: published_limits.{key}: expected "
                            "{value, unit, citation}") from None
    if unit != "mu_B" or not 0 < value < 1:
        raise DataFileError(f"{path}: published_limits.{key}: expected a positive "
                            f"value in mu_B, found {value!r} {unit}")
    return value, citation


def published_borexino_limit() -> tuple[float, str]:
    """:func:`published_limit` of Borexino (the rate recast and ``validate`` use it)."""
    return published_limit("borexino")


class LikelihoodMomentTerm:
    """ln L(mu, m) = sum_j ln L_j({mu_eff2_mub2: mu^2, m_aprime_gev: m}) over likelihoods j
    whose ``requires`` lie in :data:`DIRECT_OBSERVABLES` (their nuisances profiled inside)."""

    def __init__(self, likelihoods: Sequence[Any], label: str | None = None) -> None:
        self.likelihoods = tuple(likelihoods)
        self.label = joined_labels(self.likelihoods) if label is None else label
        self.citation = "; ".join(citations(self.likelihoods))

    def loglike(self, mu_mub: np.ndarray, m_aprime_gev: float | np.ndarray) -> np.ndarray:
        """ln L (n,) at moments ``mu_mub`` (mu_B) and masses ``m_aprime_gev`` (GeV, one or
        one per moment)."""
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        m = np.broadcast_to(np.asarray(m_aprime_gev, dtype=float), mu.shape).copy()
        obs = {"mu_eff2_mub2": mu * mu, "m_aprime_gev": m}
        out = np.zeros(len(mu))
        with np.errstate(over="ignore"):
            for lk in self.likelihoods:
                out = out + np.asarray(lk.loglike({k: obs[k] for k in lk.requires}), float)
        return np.where(np.isfinite(out), out, -np.inf)


class BorexinoSpectrumTerm(LikelihoodMomentTerm):
    """Borexino Phase-II spectral likelihood of a flavour-universal moment with the dark-photon
    propagator, all nuisances profiled (``likelihoods.borexino`` fast grid, cached on disk):
    ln L(mu, m) = ln L_max(mu_eff2 = mu^2, m)."""

    def __init__(self, variant: str = "radiochemical", flux_model: str = "GS98",
                 **options: Any) -> None:
        from likelihoods.borexino import BorexinoLikelihood
        lk = BorexinoLikelihood(variant=variant, flux_model=flux_model,
                                **{**options, "mode": "fast", "weights": "universal"})
        super().__init__([lk])


class BorexinoRateTerm:
    """The published Borexino limit recast to a massive mediator through the signal rate.

    Half-Gaussian in the signal strength s = mu^2 S(m) (flat prior on s >= 0 returns the
    published limit at m = 0, the GAMBIT/flavio convention used for MEG):
    ln L = -s^2 / (2 sigma^2), sigma = UL^2 / Phi^{-1}(0.95), UL = 2.8e-11 mu_B
    (Borexino, PRD 96 (2017) 091103; read from ``data/borexino/measurements.yaml``).
    S(m) = int_{T > T_th} R_mu(T) P(T, m)^2 dT / int_{T > T_th} R_mu(T) dT, with R_mu the
    magnetic-moment recoil spectrum of all solar sources and P the propagator factor (MODEL.md
    section 3); T_th = 0.2 MeV approximates the fit window (N_h >= 93, 214 keV visible). A
    rate-only approximation: it ignores the change of spectral shape.
    """

    label = "Borexino (2017), published limit recast"

    def __init__(self, upper_limit_mub: float | None = None,
                 threshold_mev: float = 0.2) -> None:
        from likelihoods import _stats
        from likelihoods.borexino import recoil
        from likelihoods.borexino.templates import SOLAR
        published, citation = published_borexino_limit()
        self.citation = f"{citation} (published limit, recast to a massive mediator)"
        if upper_limit_mub is None:
            upper_limit_mub = published
        t = recoil.default_t_grid_mev()
        w = recoil.t_grid_weights(t) * (t >= threshold_mev)
        self._t = t
        self._density = w * sum(recoil.mm_rate_density(g, t, "universal") for g in SOLAR)
        self._norm = float(np.sum(self._density))
        self.sigma = _stats.half_gaussian_sigma_from_ul(upper_limit_mub**2)

    def suppression(self, m_aprime_gev: float | np.ndarray) -> float | np.ndarray:
        """S(m) in (0, 1]: the rate above threshold relative to a massless mediator (a float
        for one mass, else the shape of ``m_aprime_gev``; each distinct mass computed once)."""
        from likelihoods.solar.xsec import propagator_factor
        m = np.asarray(m_aprime_gev, dtype=float)
        unique, inverse = np.unique(m.ravel(), return_inverse=True)
        p2 = propagator_factor(self._t[None, :], unique[:, None]) ** 2
        s = (p2 @ self._density / self._norm)[inverse]
        return float(s[0]) if m.ndim == 0 else s.reshape(m.shape)

    def loglike(self, mu_mub: np.ndarray, m_aprime_gev: float | np.ndarray) -> np.ndarray:
        """ln L (n,) at moments ``mu_mub`` (mu_B) and masses ``m_aprime_gev`` (GeV, one or
        one per moment)."""
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        s = mu * mu * self.suppression(np.broadcast_to(np.asarray(m_aprime_gev, float),
                                                       mu.shape))
        return np.where(mu < 0, -np.inf, -0.5 * (s / self.sigma) ** 2)


def is_direct(lk: Any) -> bool:
    """True when a likelihood's declared ``requires`` lie in :data:`DIRECT_OBSERVABLES`."""
    return set(lk.requires) <= DIRECT_OBSERVABLES


__all__ = ["BorexinoRateTerm", "BorexinoSpectrumTerm", "DIRECT_OBSERVABLES",
           "LikelihoodMomentTerm", "MomentTerm", "is_direct",
           "published_borexino_limit", "published_limit"]
