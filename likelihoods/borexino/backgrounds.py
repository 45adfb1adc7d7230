"""Background spectral shapes for the Borexino Phase-II fit.

Which shape is used for what, and why:

* 14C (beta-, Q = 156.476 keV, AME2020: M. Wang et al., Chin. Phys. C 45 (2021) 030003):
  physics shape. Allowed beta spectrum N(T) ~ F(Z=7, T) p W (Q - T)^2 (Fermi function in the
  non-relativistic form F = 2 pi eta / (1 - exp(-2 pi eta)), eta = alpha Z W / p; E. Fermi,
  Z. Phys. 88 (1934) 161), folded with the response. No MC PDF exists for it.
* 14C pile-up: the shape of Borexino's own fitted pile-up component (column ``pileup`` of
  data/borexino/phase2_spectrum.csv, Phys. Rev. D 100 (2019) 082004, Fig. 6a) with Borexino's
  2 % rate constraint, smeared by the resolution nuisance (``templates.linear_templates``). A
  14C+14C self-convolution alone came out 2.5x too low (other pile-up pairs and Borexino's
  data-driven construction, Nature 512 (2014) 383, are missing), so it is not used.
* 210Po (alpha, 5.3 MeV, strongly quenched to ~0.4 MeV electron-equivalent): a peak in
  reconstructed keV with free position, width, skewness and kurtosis (Gram-Charlier type A,
  ``likelihood.py``); a pure Gaussian fits the Phase-II data worse (deviance 1123 against 1013).
* 85Kr, 210Bi, 11C, external gammas (40K, 214Bi, 208Tl): Borexino's own MC PDFs (their shapes
  carry the forbidden beta shape factors, the positron annihilation and the gamma transport that a
  simple physics shape would miss), mapped from the Phase-III to the Phase-II keV scale.
"""
from __future__ import annotations

import numpy as np

from globalfit.constants import ALPHA_EM
from likelihoods.solar.grid import RecoilGrid


C14_Q_MEV: float = 0.156476
M_E_MEV = 0.51099895069


def beta_spectrum_allowed(t_mev: np.ndarray, q_mev: float, z_daughter: int) -> np.ndarray:
    """Allowed beta- spectrum dN/dT (unnormalised) at kinetic energy ``t_mev`` (MeV); zero
    outside 0 < T < Q. Fermi function in the non-relativistic approximation (see module doc)."""
    t = np.asarray(t_mev, dtype=float)
    inside = (t > 0) & (t < q_mev)
    tt = np.where(inside, t, 0.5 * q_mev)
    w = tt + M_E_MEV
    p = np.sqrt(w**2 - M_E_MEV**2)
    eta = ALPHA_EM * z_daughter * w / p
    fermi = 2 * np.pi * eta / (-np.expm1(-2 * np.pi * eta))
    return np.where(inside, fermi * p * w * (q_mev - tt) ** 2, 0.0)


def c14_t_grid() -> RecoilGrid:
    """Recoil grid (T in MeV, trapezoid weights) over the 14C spectrum, 0.25 keV steps;
    unpacks as ``t, w``."""
    return RecoilGrid.trapezoid(np.linspace(0.0, C14_Q_MEV, 627))


def c14_density(t_mev: np.ndarray) -> np.ndarray:
    """14C beta spectrum normalised to unit integral over T (per MeV)."""
    t, w = c14_t_grid()
    norm = np.sum(beta_spectrum_allowed(t, C14_Q_MEV, 7) * w)
    return beta_spectrum_allowed(t_mev, C14_Q_MEV, 7) / norm
