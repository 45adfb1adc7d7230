"""Borexino detector response: true electron recoil energy T -> reconstructed energy -> N_h bins.

Model (every step vectorised over energies):

1. Ionisation quenching (Birks' law, J. B. Birks, Proc. Phys. Soc. A 64 (1951) 874):
   quenched energy E_q(T) = int_0^T dE / (1 + kB dE/dx(E)), kB ~ 0.011 cm/MeV for the Borexino
   scintillator (Borexino, Astropart. Phys. 88 (2017) 86 / EXPERIMENTS.md sec. 1).
   dE/dx: collision stopping power of electrons (Bethe formula for electrons, F. Rohrlich and
   B. C. Carlson, Phys. Rev. 93 (1954) 38, as in ICRU Report 37 (1984) eq. 2.3, no density effect)
   in pseudocumene C9H12 (Z/A = 0.5491, rho = 0.878 g/cm^3, mean excitation I = 60 eV).
2. Phase-III energy estimator (the keV scale of Borexino's MC PDFs):
   E3 = light_yield_kev_per_mev * E_q(T) (keV), Gaussian resolution sigma3^2 = a E3 + b E3^2 + c.
3. Phase-II map (calibrated against the Phase-II data): mean mu = (offset + scale E3) (1 + ds),
   sigma^2 = (scale^2 sigma3^2 + smear^2 mu / 1000 keV) (1 + dr)^2, with smear in keV/sqrt(MeV);
   ds (relative energy scale) and dr (relative resolution) are the nuisance parameters.
4. keV -> N_h: the energy_kev column of the Phase-II data gives each N_h bin's energy; bin
   edges are the mid-points (``spectrum.Phase2Spectrum.edges_kev``).

A response matrix ``R[i, j]`` is the probability that a point j (true T, or E3 of an MC
histogram) lands in bin i; spectra are folded as ``R @ (density * quadrature weights)``.
Nuisance dependence is kept as a second-order Taylor basis (``taylor_basis``) so that a shift
is a linear combination of six precomputed arrays.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np
from scipy.special import ndtr

from globalfit.errors import ParameterError

# --- stopping power and quenching --------------------------------------------------------
M_E_MEV = 0.51099895069
K_BETHE_MEV_CM2_G = 0.307075 / 2.0
"""2 pi N_A r_e^2 m_e c^2 = K/2 with K = 0.307075 MeV cm^2/mol (PDG 2024, Passage of particles)."""
PC_Z_OVER_A = 66.0 / 120.195
PC_DENSITY_G_CM3 = 0.878
PC_I_MEV = 60e-6


def electron_stopping_power_mev_cm(t_mev: np.ndarray) -> np.ndarray:
    """Collision stopping power -dE/dx of electrons in pseudocumene, MeV/cm, shape of ``t_mev``.

    Rohrlich-Carlson / ICRU 37 eq. 2.3 without density effect (negligible below 3 MeV):
    dE/dx = (K/2) rho (Z/A) / beta^2 [ln(tau^2 (tau+2) / (2 (I/m)^2)) + F(tau)],
    F = 1 - beta^2 + (tau^2/8 - (2 tau + 1) ln 2) / (tau + 1)^2, tau = T/m_e.
    """
    t = np.maximum(np.asarray(t_mev, dtype=float), 1e-4)
    tau = t / M_E_MEV
    beta2 = tau * (tau + 2.0) / (tau + 1.0) ** 2
    f = 1.0 - beta2 + (tau**2 / 8.0 - (2.0 * tau + 1.0) * np.log(2.0)) / (tau + 1.0) ** 2
    log_term = np.log(tau**2 * (tau + 2.0) / (2.0 * (PC_I_MEV / M_E_MEV) ** 2))
    return K_BETHE_MEV_CM2_G * PC_DENSITY_G_CM3 * PC_Z_OVER_A / beta2 * (log_term + f)


_QGRID = np.geomspace(1e-4, 30.0, 4000)


def quenched_energy_mev(t_mev: np.ndarray, kb_cm_per_mev: float) -> np.ndarray:
    """Birks-quenched energy E_q(T) = int_0^T dE/(1 + kB dE/dx), MeV (same shape as ``t_mev``).

    Integrated by the trapezoid rule on a log grid from 0.1 keV (below it E_q = T/(1+kB dE/dx)
    linearly, a < 1e-4 MeV effect) and interpolated.
    """
    if not kb_cm_per_mev >= 0:
        raise ParameterError(f"kb_cm_per_mev: must be >= 0, got {kb_cm_per_mev}")
    g = 1.0 / (1.0 + kb_cm_per_mev * electron_stopping_power_mev_cm(_QGRID))
    cum = np.concatenate([[_QGRID[0] * g[0]],
                          _QGRID[0] * g[0] + np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(_QGRID))])
    t = np.asarray(t_mev, dtype=float)
    return np.interp(t, _QGRID, cum, left=0.0) + np.where(t < _QGRID[0], t * g[0], 0.0)


# --- response parameters ----------------------------------------------------------------
@dataclass(frozen=True)
class ResponseParams:
    """Parameters of the response (see module docstring); energies in keV, kB in cm/MeV."""
    light_yield_kev_per_mev: float = 1000.0
    kb_cm_per_mev: float = 0.011
    a_kev: float = 1.0
    b: float = 0.0
    c_kev2: float = 0.0
    scale: float = 1.0
    offset_kev: float = 0.0
    smear_kev_sqrt_mev: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def phase3(self) -> "ResponseParams":
        """The same response on the Phase-III keV scale (no Phase-II map)."""
        return replace(self, scale=1.0, offset_kev=0.0, smear_kev_sqrt_mev=0.0)


def e3_kev(t_mev: np.ndarray, p: ResponseParams) -> np.ndarray:
    """Phase-III-scale reconstructed mean energy E3(T) in keV (Birks-quenched light)."""
    return p.light_yield_kev_per_mev * quenched_energy_mev(t_mev, p.kb_cm_per_mev)


def sigma3_kev(e3: np.ndarray, p: ResponseParams) -> np.ndarray:
    """Phase-III resolution sqrt(a E + b E^2 + c) in keV (E in keV), floored at 0.1 keV."""
    var = p.a_kev * e3 + p.b * e3**2 + p.c_kev2
    return np.sqrt(np.maximum(var, 0.01))


def phase2_mean_sigma(e3: np.ndarray, p: ResponseParams, ds: float = 0.0,
                      dr: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Phase-II mean and total resolution (keV) of points with Phase-III energy ``e3`` (keV)."""
    mu = (p.offset_kev + p.scale * e3) * (1.0 + ds)
    var = p.scale**2 * sigma3_kev(e3, p) ** 2 + p.smear_kev_sqrt_mev**2 * np.maximum(mu, 0) / 1e3
    return mu, np.sqrt(var) * (1.0 + dr)


def gaussian_bin_matrix(mu: np.ndarray, sigma: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """R[i, j] = P(E in [edges[i], edges[i+1]]) for a Gaussian(mu_j, sigma_j); (n_bins, n_points)."""
    z = (edges[:, None] - mu[None, :]) / sigma[None, :]
    cdf = ndtr(z)
    return cdf[1:] - cdf[:-1]


def response_matrix_t(t_mev: np.ndarray, edges_kev: np.ndarray, p: ResponseParams,
                      ds: float = 0.0, dr: float = 0.0, phase3: bool = False) -> np.ndarray:
    """Response of true recoil energies ``t_mev`` (n_t,) into bins ``edges_kev``: (n_bins, n_t).

    Multiply by the spectrum density times quadrature weights to fold. ``phase3`` uses the
    Phase-III keV scale (for the MC-PDF calibration)."""
    e3 = e3_kev(t_mev, p)
    if phase3:
        return gaussian_bin_matrix(e3, sigma3_kev(e3, p) * (1.0 + dr), edges_kev)
    mu, sig = phase2_mean_sigma(e3, p, ds, dr)
    return gaussian_bin_matrix(mu, sig, edges_kev)


def response_matrix_e3(e3: np.ndarray, edges_kev: np.ndarray, p: ResponseParams,
                       ds: float = 0.0, dr: float = 0.0) -> np.ndarray:
    """Response of points already on the Phase-III keV scale *with* its resolution applied
    (MC-PDF contents): only the Phase-II map and the extra variance are added. (n_bins, n_e3).

    Extra variance = sigma_II^2 (1+dr)^2 - scale^2 sigma3^2 (>= 0 for dr >= 0; floored at
    (0.3 keV)^2, a fraction of the narrowest bin, so use dr >= 0 with forward differences)."""
    mu, sig = phase2_mean_sigma(e3, p, ds, dr)
    extra = sig**2 - (p.scale * sigma3_kev(e3, p)) ** 2
    return gaussian_bin_matrix(mu, np.sqrt(np.maximum(extra, 0.09)), edges_kev)


def mc_fine_points(edges_kev: np.ndarray, content: np.ndarray,
                   step_kev: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Redistribute an MC histogram onto a fine grid (points, weights) with a shape-preserving
    (PCHIP) interpolation of its density, rescaled so every MC bin keeps its content."""
    from scipy.interpolate import PchipInterpolator

    widths = np.diff(edges_kev)
    centers = 0.5 * (edges_kev[1:] + edges_kev[:-1])
    dens = content / widths
    x = np.arange(edges_kev[0] + step_kev / 2, edges_kev[-1], step_kev)
    d = np.maximum(PchipInterpolator(centers, dens, extrapolate=True)(x), 0.0)
    idx = np.clip(np.searchsorted(edges_kev, x) - 1, 0, len(content) - 1)
    w = d * step_kev
    sums = np.bincount(idx, weights=w, minlength=len(content))
    ratio = np.divide(content, sums, out=np.zeros_like(content), where=sums > 0)
    return x, w * ratio[idx]


# --- Taylor basis in the nuisances (ds, dr) ----------------------------------------------
TAYLOR_TERMS = ("0", "s", "r", "ss", "rr", "sr")


def taylor_basis(fn: Callable[[float, float], np.ndarray], h_s: float = 2e-3,
                 h_r: float = 2e-2, forward_r: bool = False) -> np.ndarray:
    """Second-order Taylor basis of ``fn(ds, dr)`` at (0, 0): array (6, *fn.shape) with
    [f, df/dds, df/ddr, d2f/dds2, d2f/ddr2, d2f/dds ddr] by finite differences (central in ds;
    central or, with ``forward_r``, one-sided forward in dr)."""
    f0 = fn(0.0, 0.0)
    fp, fm = fn(h_s, 0.0), fn(-h_s, 0.0)
    fs = (fp - fm) / (2 * h_s)
    fss = (fp - 2 * f0 + fm) / h_s**2
    if forward_r:
        r1, r2 = fn(0.0, h_r), fn(0.0, 2 * h_r)
        fr = (-3 * f0 + 4 * r1 - r2) / (2 * h_r)
        frr = (f0 - 2 * r1 + r2) / h_r**2
        fsr = ((fn(h_s, h_r) - fn(-h_s, h_r)) - (fp - fm)) / (2 * h_s * h_r)
    else:
        r1, rm = fn(0.0, h_r), fn(0.0, -h_r)
        fr = (r1 - rm) / (2 * h_r)
        frr = (r1 - 2 * f0 + rm) / h_r**2
        fsr = (fn(h_s, h_r) - fn(h_s, -h_r) - fn(-h_s, h_r) + fn(-h_s, -h_r)) / (4 * h_s * h_r)
    return np.stack([f0, fs, fr, fss, frr, fsr])


def taylor_coefficients(ds: np.ndarray, dr: np.ndarray) -> np.ndarray:
    """Coefficients (6, n) multiplying the ``taylor_basis`` terms for shifts ds, dr (n,)."""
    ds = np.asarray(ds, dtype=float)
    dr = np.asarray(dr, dtype=float)
    one = np.ones_like(ds + dr)
    return np.stack([one, ds * one, dr * one, 0.5 * ds**2 * one, 0.5 * dr**2 * one, ds * dr])


def taylor_derivatives(ds: np.ndarray, dr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d/d(ds) and d/d(dr) of ``taylor_coefficients``, each (6, n): the derivatives of
    (1, ds, dr, ds^2/2, dr^2/2, ds dr)."""
    ds = np.asarray(ds, dtype=float)
    dr = np.asarray(dr, dtype=float)
    zero, one = np.zeros_like(ds + dr), np.ones_like(ds + dr)
    return (np.stack([zero, one, zero, ds * one, zero, dr * one]),
            np.stack([zero, zero, one, zero, dr * one, ds * one]))
