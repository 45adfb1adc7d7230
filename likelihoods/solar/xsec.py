"""Neutrino-electron elastic scattering cross-sections for solar neutrinos (MeV units).

What to use when
----------------
* ``dsigma_dt_sm_cm2_per_mev``: Standard-Model nu_e-e and nu_mu,tau-e scattering (tree level).
* ``sigma_sm_total_cm2``: its analytic integral over 0 < T < T_max (cross-check, Ga-free rates).
* ``dsigma_dt_mm_cm2_per_mev``: the magnetic-moment cross-section per mu_B^2 (massless photon).
* ``propagator_factor``: the dark-photon factor P(T) that multiplies the moment (MODEL.md sec. 3);
  the cross-section picks up P(T)^2.

Conventions: T is the electron recoil kinetic energy and E the neutrino energy, both in MeV;
cross-sections are in cm^2 (differential ones in cm^2/MeV). Every function broadcasts its
arguments with numpy rules and is exactly zero outside the kinematic range 0 < T < T_max(E).

References
----------
* G. 't Hooft, Phys. Lett. B 37 (1971) 195 (tree-level nu-e scattering);
  P. Vogel and J. Engel, Phys. Rev. D 39 (1989) 3378 (SM and magnetic-moment cross-sections);
  the same forms are in EXPERIMENTS.md sec. 1 and MODEL.md sec. 3.
* Coupling schemes (argument ``scheme``):
  - "effective" (default): the low-energy effective nu_mu-e couplings of the SM including the
    one-loop electroweak corrections (rho, kappa, the neutrino charge radius), PDG 2024
    electroweak review (J. Erler and A. Freitas), g_V^{nu e} = -0.0397, g_A^{nu e} = -0.5064,
    so g_L = (g_V + g_A)/2 = -0.2731, g_R = (g_V - g_A)/2 = 0.2334; for nu_e the charged
    current adds +1 to g_L. This lowers the 7Be nu_e cross-section by 3 % and the Borexino
    rates by ~2 % relative to "tree"; the remaining T-dependent QED corrections of
    J. N. Bahcall, M. Kamionkowski, A. Sirlin, Phys. Rev. D 51 (1995) 6146 (~1 %) are not applied.
  - "tree": g_L = +-1/2 + sW^2, g_R = sW^2 with the low-energy MS-bar sW^2(0) = 0.2386.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from globalfit import constants as c
from globalfit.errors import ParameterError

M_E_MEV: float = c.M_E_GEV * 1e3
"""Electron mass, MeV (CODATA 2022)."""

G_F_MEV2: float = c.G_FERMI_GEV2 * 1e-6
"""Fermi constant, MeV^-2 (PDG 2024)."""

HBARC_MEV_CM: float = c.HBARC_GEV_CM * 1e3
"""hbar c, MeV cm."""

SIGMA0_CM2_PER_MEV: float = 2.0 * G_F_MEV2**2 * M_E_MEV / np.pi * HBARC_MEV_CM**2
"""2 G_F^2 m_e / pi in cm^2/MeV (about 1.72e-44 cm^2/MeV): normalisation of the SM dsigma/dT."""

SIN2_THETA_W: float = c.SIN2_THETA_W_LOW_ENERGY

G_V_NUMU_E_EFFECTIVE: float = -0.0397
"""SM low-energy effective vector coupling of nu_mu-e scattering (PDG 2024, EW review)."""
G_A_NUMU_E_EFFECTIVE: float = -0.5064
"""SM low-energy effective axial coupling of nu_mu-e scattering (PDG 2024, EW review)."""

_GL_EFF = 0.5 * (G_V_NUMU_E_EFFECTIVE + G_A_NUMU_E_EFFECTIVE)
_GR_EFF = 0.5 * (G_V_NUMU_E_EFFECTIVE - G_A_NUMU_E_EFFECTIVE)

#: scheme -> flavour -> (g_L, g_R); nu_e has the CC (W-exchange) contribution +1 in g_L.
COUPLINGS: dict[str, dict[str, tuple[float, float]]] = {
    "tree": {
        "e": (0.5 + SIN2_THETA_W, SIN2_THETA_W),
        "mu": (-0.5 + SIN2_THETA_W, SIN2_THETA_W),
        "tau": (-0.5 + SIN2_THETA_W, SIN2_THETA_W),
    },
    "effective": {
        "e": (1.0 + _GL_EFF, _GR_EFF),
        "mu": (_GL_EFF, _GR_EFF),
        "tau": (_GL_EFF, _GR_EFF),
    },
}
DEFAULT_SCHEME: str = "effective"


def couplings(flavour: str, scheme: str = DEFAULT_SCHEME) -> tuple[float, float]:
    """(g_L, g_R) of nu_flavour-e scattering in coupling ``scheme`` ("effective" or "tree")."""
    if scheme not in COUPLINGS:
        raise ParameterError(f"scheme: unknown coupling scheme {scheme!r} (use one of {', '.join(COUPLINGS)})")
    try:
        return COUPLINGS[scheme][flavour]
    except KeyError:
        raise ParameterError(
            f"flavour: unknown neutrino flavour {flavour!r} (use one of {', '.join(COUPLINGS[scheme])})"
        ) from None


def t_max_mev(e_nu_mev: ArrayLike) -> np.ndarray:
    """Maximum electron recoil kinetic energy T_max = 2 E^2 / (m_e + 2 E), MeV."""
    e = np.asarray(e_nu_mev, dtype=float)
    return 2.0 * e**2 / (M_E_MEV + 2.0 * e)


def e_min_mev(t_mev: ArrayLike) -> np.ndarray:
    """Smallest neutrino energy that can give recoil T: E_min = (T + sqrt(T^2 + 2 m_e T)) / 2,
    MeV (the inverse of ``t_max_mev``)."""
    t = np.asarray(t_mev, dtype=float)
    return 0.5 * (t + np.sqrt(t**2 + 2.0 * M_E_MEV * t))


def _physical(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Mask of the kinematically allowed region 0 < T <= T_max(E)."""
    return (t > 0.0) & (e > 0.0) & (t <= t_max_mev(e))


def dsigma_dt_sm_cm2_per_mev(t_mev: ArrayLike, e_nu_mev: ArrayLike, flavour: str = "e",
                             scheme: str = DEFAULT_SCHEME) -> np.ndarray:
    """SM elastic nu_flavour-e cross-section dsigma/dT, cm^2/MeV (tree level).

    dsigma/dT = (2 G_F^2 m_e / pi) [g_L^2 + g_R^2 (1 - T/E)^2 - g_L g_R m_e T / E^2]
    with g_L = +1/2 + sW^2 (nu_e), -1/2 + sW^2 (nu_mu, nu_tau), g_R = sW^2 at tree level
    ('t Hooft 1971; Vogel & Engel 1989), or the effective couplings of ``scheme``
    (module docstring). Broadcasts ``t_mev`` against ``e_nu_mev``;
    zero outside 0 < T <= T_max(E).
    """
    g_l, g_r = couplings(flavour, scheme)
    t, e = np.broadcast_arrays(np.asarray(t_mev, dtype=float), np.asarray(e_nu_mev, dtype=float))
    ok = _physical(t, e)
    e_safe = np.where(ok, e, 1.0)
    y = np.where(ok, t / e_safe, 0.0)
    value = SIGMA0_CM2_PER_MEV * (
        g_l**2 + g_r**2 * (1.0 - y) ** 2 - g_l * g_r * M_E_MEV * np.where(ok, t, 0.0) / e_safe**2
    )
    return np.where(ok, value, 0.0)


def sigma_sm_total_cm2(e_nu_mev: ArrayLike, flavour: str = "e", scheme: str = DEFAULT_SCHEME) -> np.ndarray:
    """Total SM cross-section, cm^2: the analytic integral of ``dsigma_dt_sm_cm2_per_mev``
    over 0 < T < T_max (term by term:
    sigma = (2 G_F^2 m_e/pi)[g_L^2 T_m + g_R^2 (E/3)(1 - (1 - T_m/E)^3) - g_L g_R m_e T_m^2/(2 E^2)])."""
    g_l, g_r = couplings(flavour, scheme)
    e = np.asarray(e_nu_mev, dtype=float)
    ok = e > 0.0
    e_safe = np.where(ok, e, 1.0)
    tm = t_max_mev(e_safe)
    value = SIGMA0_CM2_PER_MEV * (
        g_l**2 * tm
        + g_r**2 * e_safe / 3.0 * (1.0 - (1.0 - tm / e_safe) ** 3)
        - g_l * g_r * M_E_MEV * tm**2 / (2.0 * e_safe**2)
    )
    return np.where(ok, value, 0.0)


def dsigma_dt_mm_cm2_per_mev(t_mev: ArrayLike, e_nu_mev: ArrayLike) -> np.ndarray:
    """Magnetic-moment nu-e cross-section per mu_B^2, cm^2/MeV, for a massless mediator:

    dsigma/dT = (pi alpha^2 / m_e^2) (1/T - 1/E)     (Vogel & Engel 1989),

    with pi alpha^2/m_e^2 = ``constants.SIGMA_MU_PREFACTOR_CM2``. Multiply by (mu/mu_B)^2 and,
    for a massive dark photon, by ``propagator_factor(T, m)**2``. Zero outside 0 < T <= T_max(E).
    """
    t, e = np.broadcast_arrays(np.asarray(t_mev, dtype=float), np.asarray(e_nu_mev, dtype=float))
    ok = _physical(t, e)
    t_safe = np.where(ok, t, 1.0)
    e_safe = np.where(ok, e, 1.0)
    return np.where(ok, c.SIGMA_MU_PREFACTOR_CM2 * (1.0 / t_safe - 1.0 / e_safe), 0.0)


def propagator_factor(t_mev: ArrayLike, m_aprime_gev: ArrayLike) -> np.ndarray:
    """Dark-photon propagator factor P(T) = 2 m_e T / (2 m_e T + m_A'^2), dimensionless.

    MODEL.md sec. 3: the photon propagator 1/q^2 becomes 1/(q^2 - m_A'^2) with q^2 = -2 m_e T.
    Broadcasts with numpy rules (use ``t_mev[:, None]`` with ``m_aprime_gev[None, :]`` for a
    (n_T, n_m) table). Exactly 1 at m_A' = 0; ~ 2 m_e T / m_A'^2 for m_A'^2 >> 2 m_e T.
    ParameterError if a mass is negative or NaN.
    """
    t = np.asarray(t_mev, dtype=float)
    m_mev = np.asarray(m_aprime_gev, dtype=float) * 1e3
    if np.any(~(m_mev >= 0.0)):
        raise ParameterError("m_aprime_gev: dark-photon mass must be >= 0 and not NaN")
    if np.any(~(t >= 0.0)):
        raise ParameterError("t_mev: recoil energy must be >= 0 and not NaN")
    q2 = 2.0 * M_E_MEV * t
    m2 = m_mev**2
    den = q2 + m2
    if np.all(q2 > 0.0) and np.all(m2 > 0.0):        # the common case: two passes
        if isinstance(den, np.ndarray):               # (not a scalar): in place, one array
            return np.divide(q2, den, out=den)
        return q2 / den
    # at m = 0 the ratio is exactly 1 (also at T = 0, by continuity in m -> 0 first)
    return np.where(m2 == 0.0, 1.0, q2 / np.where(den > 0.0, den, 1.0))
