"""The dark-photon propagator applied to recoil spectra: P(T, m)^2 x signal basis, once.

MODEL.md sec. 3: a dark photon of mass m replaces the photon propagator 1/q^2 by
1/(q^2 - m^2), q^2 = -2 m_e T, so the magnetic-moment spectrum of every source and weight
picks up P(T, m)^2 with P = 2 m_e T / (2 m_e T + m^2) (``xsec.propagator_factor``). Every
detector that folds a moment spectrum with its response goes through these two functions:

* ``propagated(basis, t, m)``: every spectrum at every mass, (K, n_t, n_m).
* ``propagated_sum(basis, coef, t, m)``: the strength-weighted sum per point,
  sum_K coef[K, j] basis[K, :] P(T, m_j)^2, shape (n_t, n) for n points (q_w f_s combinations).

``basis`` (K, n_t) holds spectra per unit strength on the recoil nodes ``t`` (MeV), usually
already multiplied by quadrature weights; ``m`` is in GeV.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .xsec import propagator_factor


def propagator_squared(t_mev: ArrayLike, m_gev: ArrayLike) -> np.ndarray:
    """P(T, m)^2 on the table (n_t, n_m) of recoil energies t (MeV) x masses m (GeV)."""
    t = np.asarray(t_mev, dtype=float)
    m = np.atleast_1d(np.asarray(m_gev, dtype=float))
    p = propagator_factor(t[:, None], m[None, :])      # a new (n_t, n_m) array
    return np.square(p, out=p)                         # in place: no second table


def propagated(basis: np.ndarray, t_mev: ArrayLike, m_gev: ArrayLike) -> np.ndarray:
    """basis[K, t] P(t, m)^2 for every mass: (K, n_t, n_m)."""
    return np.asarray(basis)[:, :, None] * propagator_squared(t_mev, m_gev)[None]


def propagated_sum(basis: np.ndarray, coef: np.ndarray, t_mev: ArrayLike,
                   m_gev: ArrayLike) -> np.ndarray:
    """sum_K coef[K, j] basis[K, t] P(t, m_j)^2 for points j: (n_t, n). ``coef`` (K, n),
    ``m_gev`` (n,) or a scalar (one mass for every point)."""
    m = np.asarray(m_gev, dtype=float)
    out = np.asarray(basis).T @ coef
    out *= propagator_squared(t_mev, m.reshape(-1))    # in place: one (n_t, n) temporary
    return out
