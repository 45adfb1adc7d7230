"""Background spectral shapes for the Borexino Phase-II fit.

Which shape is used for what, and why:

* 14C (beta-, Q = 156.476 keV, AME2020: M. Wang et al., Chin. Phys. C 45 (2021) 030003):
  physics shape. Allowed beta spectrum N(T) ~ F(Z=7, T) p W (Q - T)^2 (Fermi function in the
  non-relativistic form F = 2 pi eta / (1 - exp(-2 pi eta)), eta = alpha Z W / p; E. Fermi,
  Z. Phys. 88 (1934) 161), folded with the response. No MC PDF exists for it.
* 14C pile-up: physics shape. Two 14C decays in one trigger gate add their quenched light, so
  the pile-up spectrum is the self-convolution of the 14C quenched-energy spectrum, then folded
  with the response at the summed energy (Borexino, Nature 512 (2014) 383 builds it from data;
  the self-convolution is the dominant 14C+14C term).
* 210Po (alpha, 5.3 MeV, strongly quenched to ~0.4 MeV electron-equivalent): a Gaussian peak in
  reconstructed keV with free position and width (as in Phys. Rev. D 100 (2019) 082004).
* 85Kr, 210Bi, 11C, external gammas (40K, 214Bi, 208Tl): Borexino's own MC PDFs (their shapes
  carry the forbidden beta shape factors, the positron annihilation and the gamma transport that a
  simple physics shape would miss), mapped from the Phase-III to the Phase-II keV scale.
"""
from __future__ import annotations

import numpy as np

from globalfit.constants import ALPHA_EM

from .response import ResponseParams, e3_kev

C14_Q_MEV: float = 0.156476
M_E_MEV = 0.51099895069
C14_RATE_CPD100T: float = 40.0 * 86400.0
"""14C activity constraint used by Borexino: 40.0 +- 2.0 Bq/100 t (PRD 100 (2019) 082004)."""
C14_RATE_WIDTH_CPD100T: float = 2.0 * 86400.0


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


def c14_t_grid() -> tuple[np.ndarray, np.ndarray]:
    """Grid (T in MeV, trapezoid weights) over the 14C spectrum, 0.25 keV steps."""
    t = np.linspace(0.0, C14_Q_MEV, 627)
    w = np.full_like(t, t[1] - t[0])
    w[[0, -1]] *= 0.5
    return t, w


def c14_density(t_mev: np.ndarray) -> np.ndarray:
    """14C beta spectrum normalised to unit integral over T (per MeV)."""
    t, w = c14_t_grid()
    norm = np.sum(beta_spectrum_allowed(t, C14_Q_MEV, 7) * w)
    return beta_spectrum_allowed(t_mev, C14_Q_MEV, 7) / norm


def pileup_e3_points(p: ResponseParams, step_kev: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """14C+14C pile-up on the Phase-III keV scale *before* resolution: (E3 points, weights), the
    self-convolution of the 14C quenched-energy distribution, normalised to unit sum."""
    t, w = c14_t_grid()
    e = e3_kev(t, p)
    grid = np.arange(0.0, e[-1] + step_kev, step_kev)
    hist = np.bincount(np.clip(np.round(e / step_kev).astype(int), 0, len(grid) - 1),
                       weights=c14_density(t) * w, minlength=len(grid))
    conv = np.convolve(hist, hist)
    x = np.arange(len(conv)) * step_kev
    keep = conv > 1e-12 * conv.max()
    return x[keep], conv[keep] / conv[keep].sum()


def po210_template(centers_kev: np.ndarray, widths_kev: np.ndarray, mu_kev: np.ndarray,
                   sigma_kev: np.ndarray) -> np.ndarray:
    """Unit-area Gaussian 210Po peak per bin, (n, n_bins) for positions/widths of shape (n,)."""
    mu = np.asarray(mu_kev, dtype=float)[:, None]
    sg = np.asarray(sigma_kev, dtype=float)[:, None]
    z = (centers_kev[None, :] - mu) / sg
    return np.exp(-0.5 * z**2) / (np.sqrt(2 * np.pi) * sg) * widths_kev[None, :]
