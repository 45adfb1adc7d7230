"""Electroweak consequences of the vector-like doublet Psi = (N, E) (MODEL.md section 5b).

N is the neutral member of a vector-like SU(2)_L doublet (T_3 = +1/2 for both chiralities,
Q = 0), so it couples to the Z with a purely vector coupling. For a fermion f with
g_V = T_3^L + T_3^R - 2 Q sin^2 theta_W and g_A = T_3^L - T_3^R (colour factor 1),

    Gamma(Z -> f fbar) = G_F m_Z^3 / (6 sqrt(2) pi) * beta [ (3 - beta^2)/2 g_V^2 + beta^2 g_A^2 ],
    beta = sqrt(1 - 4 m_f^2 / m_Z^2)

(tree level; PDG 2024 review "Electroweak model and constraints on new physics", the Z partial
widths, with g_V = g_A = 1/2 for a SM neutrino). A SM neutrino gives
Gamma_nu = G_F m_Z^3 / (12 sqrt(2) pi); the vector-like N (g_V = 1, g_A = 0) gives

    Delta N_nu = Gamma(Z -> N Nbar) / Gamma_nu = beta (3 - beta^2),

i.e. 2 extra neutrino species for m_N << m_Z and 0 above m_Z / 2. LEP measured the number of
light-neutrino species from the invisible Z width, N_nu = 2.9840 +- 0.0082 (ALEPH, DELPHI, L3,
OPAL, SLD, Phys. Rept. 427 (2006) 257); ``likelihoods.lep`` compares 3 + Delta N_nu with it.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import constants as C

__all__ = ["z_partial_width_ratio", "z_to_vectorlike_neutral"]


def z_partial_width_ratio(m_f_gev: ArrayLike, g_v: float, g_a: float) -> np.ndarray:
    """Gamma(Z -> f fbar) / Gamma(Z -> nu nubar)_SM for a colourless fermion of mass m_f (GeV)
    with couplings g_V, g_A (module docstring); 0 at and above threshold m_f >= m_Z / 2."""
    m = np.asarray(m_f_gev, dtype=np.float64)
    x = np.minimum(2.0 * m / C.M_Z_GEV, 1.0)
    beta_sq = np.where(x < 1.0, (1.0 - x) * (1.0 + x), 0.0)
    beta = np.sqrt(beta_sq)
    # Gamma_nu corresponds to g_V = g_A = 1/2: [(3 - 1)/2 + 1] / 4 = 1/2.
    return beta * (0.5 * (3.0 - beta_sq) * g_v * g_v + beta_sq * g_a * g_a) / 0.5


def z_to_vectorlike_neutral(m_n_gev: ArrayLike) -> np.ndarray:
    """Delta N_nu = beta (3 - beta^2) of Z -> N Nbar for the doublet's neutral member N
    (g_V = 1, g_A = 0), dimensionless, same shape as ``m_n_gev`` (GeV)."""
    return z_partial_width_ratio(m_n_gev, 1.0, 0.0)
