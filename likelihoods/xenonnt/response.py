"""XENONnT SR0 detector response for electronic recoils: resolution, efficiency, background shape.

Model (choices documented in docs/xenonnt.md):

* Reconstructed energy E given true recoil energy T: Gaussian with mean T and
  sigma(T) = s (a sqrt(T) + b T), T in keV, a = 0.31 sqrt(keV), b = 0.0037 (XENON1T,
  PRD 102 (2020) 072004, arXiv:2006.09721, Eq. 1; the XENONnT PRL 129 (2022) 161805 gives no
  closed form, so XENON1T's is the documented fallback); ``s`` = ``resolution_scale`` option.
* Efficiency: the released total efficiency, a function of *reconstructed* energy (release
  readme: "the first column is the reconstructed recoil energy"), linear interpolation,
  0 below the first point, the last value above the last point (29.9 keV -> 30 keV).
* Background: B0 of the release, events/(t yr keV) in reconstructed energy (efficiency and
  resolution already in it), read as a histogram of 0.1 keV bins (the file's bin centres), so
  the window holds exactly sum(B0) x 0.1 keV x 1.16 t yr = 426.5 events.

Grids (trapezoid weights of the shared layer, ``likelihoods.solar.grid``): true T on a
geometric grid 0.15 - 45 keV (``t_nodes``) with extra nodes on both sides of
every shell binding energy, so the trapezoid rule integrates the stepping function's jumps
exactly; reconstructed E on a uniform 0.01 keV grid over the (1, 30) keV window (``e_grid``).
Below T = 0.15 keV the signal cannot reach E > 1 keV (sigma(0.15) = 0.12 keV: > 7 sigma) and
above 45 keV it cannot reach E < 30 keV (> 7 sigma).
"""
from __future__ import annotations

import numpy as np

from ..solar.grid import trapezoid_weights
from . import data

T_MIN_KEV, T_MAX_KEV, N_T = 0.15, 45.0, 700
DE_KEV = 0.01


def resolution_sigma_kev(t_kev: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """sigma(T) = scale (a sqrt(T) + b T) in keV for true energies T (keV)."""
    a = data.value("resolution.a", "sqrt(keV)")
    b = data.value("resolution.b", "dimensionless")
    t = np.maximum(np.asarray(t_kev, dtype=float), 0.0)
    return scale * (a * np.sqrt(t) + b * t)


def efficiency(e_kev: np.ndarray) -> np.ndarray:
    """Total efficiency at reconstructed energies E (keV), in [0, 1]."""
    rel = data.release()
    e = np.asarray(e_kev, dtype=float)
    return np.interp(e, rel.eff_kev, rel.eff, left=0.0, right=float(rel.eff[-1]))


def background_density(e_kev: np.ndarray) -> np.ndarray:
    """B0 at reconstructed energies E (keV), events/(t yr keV): the release's 0.1 keV bins read as
    a histogram (value of the bin containing E; bin edges half-way between the centres);
    0 outside the tabulated range."""
    rel = data.release()
    c = rel.b0_kev
    half = 0.5 * (c[1] - c[0])
    edges = np.concatenate([[c[0] - half], 0.5 * (c[1:] + c[:-1]), [c[-1] + half]])
    e = np.asarray(e_kev, dtype=float)
    i = np.searchsorted(edges, e, side="right") - 1
    inside = (i >= 0) & (i < len(c))
    return np.where(inside, rel.b0_rate[np.clip(i, 0, len(c) - 1)], 0.0)


def t_nodes(binding_kev: tuple[float, ...]) -> np.ndarray:
    """True-energy nodes (keV): geometric grid plus B (1 -+ 1e-7) for every binding energy B."""
    t = np.geomspace(T_MIN_KEV, T_MAX_KEV, N_T)
    extra = [b * f for b in binding_kev if T_MIN_KEV < b < T_MAX_KEV for f in (1 - 1e-7, 1 + 1e-7)]
    return np.unique(np.concatenate([t, extra]))


def e_grid() -> tuple[np.ndarray, np.ndarray]:
    """Reconstructed-energy nodes over the window (keV) and their trapezoid weights."""
    lo, hi = data.window_kev()
    e = np.linspace(lo, hi, int(round((hi - lo) / DE_KEV)) + 1)
    return e, trapezoid_weights(e)


def kernel(e_kev: np.ndarray, t_kev: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Response density K(E, T) = eff(E) N(E; T, sigma(T)) per keV of E, shape (n_E, n_T)."""
    sig = resolution_sigma_kev(t_kev, scale)[None, :]
    z = (np.asarray(e_kev)[:, None] - np.asarray(t_kev)[None, :]) / sig
    gauss = np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * sig)
    return efficiency(e_kev)[:, None] * gauss


def background_expectation() -> tuple[np.ndarray, float]:
    """(B_i at the events in events/keV, expected B0 events N_B in the window) for the exposure."""
    exposure = data.value("exposure", "t x yr")
    rel = data.release()
    lo, hi = data.window_kev()
    width = rel.b0_kev[1] - rel.b0_kev[0]
    inside = (rel.b0_kev > lo) & (rel.b0_kev < hi)
    b_events = exposure * background_density(rel.events_kev)
    return b_events, float(exposure * width * np.sum(rel.b0_rate[inside]))
