"""True electron-recoil spectra of solar neutrinos on a target (before any detector response).

What to use when
----------------
* ``sm_rate_density(group, t, target)``: Standard-Model dR/dT at the SSM flux with MSW-LMA.
* ``mm_rate_density(group, t, target, weight)``: magnetic-moment dR/dT per mu_B^2 for a
  massless mediator, per mass-eigenstate weight (multiply by P(T)^2, ``fold``, for a dark photon).
* ``ssm_total_rate(group, target)``: total nu-e interaction rate at the SSM flux (no threshold,
  free electrons): the unit in which a detector's flux scalings are expressed.

Units: T in MeV; rate densities in counts / (s x detector unit x MeV), rates in counts/(s x
unit), where the unit is the one of ``target.electrons`` (e.g. 100 t of scintillator).
A target with binding (``target.AtomicTarget``) multiplies dR/dT by Z_eff(T)/Z (stepping
approximation); ``FreeElectrons`` does not.

Method. For a continuum source with normalised spectrum lambda(E) and a flavour/mass weight
u(E), every cross-section here is a short sum  sum_k a_k(T) E^-k  (k = 0, 1, 2), so

    dR/dT = N_e Phi sum_k a_k(T) I_k[u](E_min(T)),   I_k[u](x) = int_x^E_end lambda u E^-k dE,

with E_min(T) = (T + sqrt(T^2 + 2 m_e T))/2. The I_k are cumulative integrals computed once
(Gauss-Legendre, 6 nodes on every interval of the tabulated spectrum, on which lambda is
linear, so the quadrature is exact to ~1e-10 for the smooth u E^-k) and completed inside the
interval containing E_min(T) by the same rule: no Python loop over T, and no interpolation
error. Lines (7Be, pep) are evaluated directly. hep is ignored (no group; ~1e-4 of 8B).
The SM cross-section uses ``xsec.DEFAULT_SCHEME`` ("effective": SM couplings with one-loop
electroweak corrections, PDG 2024); with it the SSM rates in Borexino are within ~2 % of the
collaboration's expectations (Nature 562 (2018) 505, Table 1), with "tree" ~3.5 % above them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from globalfit import constants
from globalfit.errors import ParameterError

from . import flux as solar
from . import xsec
from .target import Target

_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)

WEIGHTS: Final = ("universal", 1, 2, 3)
"""Signal weights: an energy-independent effective moment, or the mass-basis weight w_k(E)."""
_U_NAMES: Final[dict[object, str]] = {"universal": "one", 1: "w1", 2: "w2", 3: "w3"}

WeightFn = Callable[[np.ndarray], np.ndarray]


def check_t(t_mev: ArrayLike) -> np.ndarray:
    """Recoil energies as an array; ParameterError if any is negative or not finite."""
    t = np.asarray(t_mev, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0.0):
        raise ParameterError("t_mev: recoil energies must be finite and >= 0")
    return t


def group_sources(group: str) -> tuple[str, ...]:
    """Sources of a solar group; ParameterError naming the group if unknown."""
    try:
        return solar.GROUP_SOURCES[group]
    except (KeyError, TypeError):
        raise ParameterError(f"group: unknown solar group {group!r} "
                             f"(use one of {', '.join(solar.GROUPS)})") from None


def weight_name(weight: str | int) -> str:
    """Internal name of a signal weight; ParameterError if it is not one of ``WEIGHTS``."""
    if isinstance(weight, bool) or weight not in _U_NAMES:
        raise ParameterError(f"weight: expected 'universal', 1, 2 or 3, found {weight!r}")
    return _U_NAMES[weight]


# ------------------------------------------------------------------------------- E integrals
def _weight_functions(source: str, flux_model: str) -> dict[str, WeightFn]:
    """u(E) functions: one, P_ee, and the mass-basis weights w_1, w_2, w_3."""
    return {
        "one": lambda e: np.ones_like(e),
        "pee": lambda e: solar.p_ee(e, source, flux_model),
        "w1": lambda e: solar.mass_weights(e, source, flux_model)[0],
        "w2": lambda e: solar.mass_weights(e, source, flux_model)[1],
        "w3": lambda e: solar.mass_weights(e, source, flux_model)[2],
    }


def gl_nodes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """6-point Gauss-Legendre nodes and weights on [a, b] (broadcast): a.shape + (6,)."""
    half = (b - a)[..., None] / 2.0
    mid = (b + a)[..., None] / 2.0
    return mid + half * _GL_X, half * _GL_W


@functools.cache
def _cumulative(source: str, flux_model: str, u_name: str) -> np.ndarray:
    """C[k, i] = int_{E_i}^{E_end} lambda u E^-k dE at the table nodes E_i, k = 0, 1, 2."""
    e_tab, _ = solar.spectrum_table(source)
    u = _weight_functions(source, flux_model)[u_name]
    x, w = gl_nodes(e_tab[:-1], e_tab[1:])
    g = solar.spectrum_shape_per_mev(source, x) * u(x) * w
    per_interval = np.stack([(g * x**-k).sum(axis=-1) for k in range(3)])
    cum = np.zeros((3, e_tab.size))
    cum[:, :-1] = np.cumsum(per_interval[:, ::-1], axis=1)[:, ::-1]
    cum.setflags(write=False)
    return cum


def _tail_integrals(source: str, flux_model: str, u_name: str, e_low: np.ndarray) -> np.ndarray:
    """I_k(x) = int_x^E_end lambda u E^-k dE for every x in ``e_low``; shape (3,) + e_low.shape."""
    e_tab, _ = solar.spectrum_table(source)
    cum = _cumulative(source, flux_model, u_name)
    x0 = np.clip(e_low, e_tab[0], e_tab[-1])
    i = np.clip(np.searchsorted(e_tab, x0, side="right") - 1, 0, e_tab.size - 2)
    x, w = gl_nodes(x0, e_tab[i + 1])
    u = _weight_functions(source, flux_model)[u_name]
    g = solar.spectrum_shape_per_mev(source, x) * u(x) * w
    out = np.stack([cum[k, i + 1] + (g * x**-k).sum(axis=-1) for k in range(3)])
    return np.where(e_low >= e_tab[-1], 0.0, out)


def _binding(target: Target, t: np.ndarray, density: np.ndarray) -> np.ndarray:
    return density * target.active_fraction(t) if target.binding else density


def _sm_source_density(source: str, t: np.ndarray, flux_model: str) -> np.ndarray:
    """dR/dT of one source at SSM flux per target electron, counts/(s MeV)."""
    g_le, g_r = xsec.couplings("e")
    g_lm, _ = xsec.couplings("mu")
    me = xsec.M_E_MEV
    norm = solar.ssm_flux_cm2_s(source, flux_model)
    if source in solar.LINES:
        total = np.zeros_like(t)
        for e_line, branching in solar.LINES[source]:
            pee = float(solar.p_ee(e_line, source, flux_model))
            total += branching * (pee * xsec.dsigma_dt_sm_cm2_per_mev(t, e_line, "e")
                                  + (1.0 - pee) * xsec.dsigma_dt_sm_cm2_per_mev(t, e_line, "mu"))
        return norm * total
    e_min = xsec.e_min_mev(t)
    i_pee = _tail_integrals(source, flux_model, "pee", e_min)
    i_one = _tail_integrals(source, flux_model, "one", e_min)
    i_mu = i_one - i_pee

    def coefficients(g_l: float) -> tuple[float, np.ndarray, np.ndarray]:
        return g_l**2 + g_r**2, -2.0 * g_r**2 * t, g_r**2 * t**2 - g_l * g_r * me * t

    a_e = coefficients(g_le)
    a_m = coefficients(g_lm)
    value = sum(a_e[k] * i_pee[k] + a_m[k] * i_mu[k] for k in range(3))
    return np.where(t > 0.0, norm * xsec.SIGMA0_CM2_PER_MEV * value, 0.0)


def _mm_source_density(source: str, t: np.ndarray, u_name: str, flux_model: str) -> np.ndarray:
    """Magnetic-moment dR/dT per mu_B^2 of one source at SSM flux per target electron."""
    norm = solar.ssm_flux_cm2_s(source, flux_model)
    u = _weight_functions(source, flux_model)[u_name]
    if source in solar.LINES:
        total = np.zeros_like(t)
        for e_line, branching in solar.LINES[source]:
            total += (branching * float(u(np.asarray(e_line)))
                      * xsec.dsigma_dt_mm_cm2_per_mev(t, e_line))
        return norm * total
    t_safe = np.where(t > 0.0, t, 1.0)
    i_k = _tail_integrals(source, flux_model, u_name, xsec.e_min_mev(t))
    value = constants.SIGMA_MU_PREFACTOR_CM2 * (i_k[0] / t_safe - i_k[1])
    return np.where(t > 0.0, norm * value, 0.0)


# ------------------------------------------------------------------------------- public API
def sm_rate_density(group: str, t_mev: ArrayLike, target: Target,
                    flux_model: str = "GS98") -> np.ndarray:
    """SM elastic-scattering spectrum dR/dT of solar ``group`` (pp, be7, pep, cno, b8) at the
    B16 ``flux_model`` flux with MSW-LMA on ``target``, counts/(s x unit x MeV); shape of
    ``t_mev``. Exactly zero above T_max of the group's highest neutrino energy."""
    t = check_t(t_mev)
    sources = group_sources(group)
    solar.ssm_flux_cm2_s("pp", flux_model)  # validates flux_model
    per_e = sum(_sm_source_density(s, t, flux_model) for s in sources)
    return _binding(target, t, target.electrons * per_e)


def mm_rate_density(group: str, t_mev: ArrayLike, target: Target,
                    weight: str | int = "universal", flux_model: str = "GS98") -> np.ndarray:
    """Magnetic-moment spectrum dR/dT of ``group`` per mu_B^2 at the SSM flux on ``target``,
    massless mediator, counts/(s x unit x MeV) / mu_B^2; shape of ``t_mev``.

    dsigma/dT = (pi alpha^2/m_e^2)(1/T - 1/E) (Vogel & Engel 1989) times the weight: "universal"
    an energy-independent effective moment (signal mu_eff^2 x this); k = 1, 2, 3 the mass-basis
    weight w_k(E) of ``flux.mass_weights`` (signal sum_k |Lambda_k|^2 x template_k)."""
    u_name = weight_name(weight)
    t = check_t(t_mev)
    sources = group_sources(group)
    solar.ssm_flux_cm2_s("pp", flux_model)
    per_e = sum(_mm_source_density(s, t, u_name, flux_model) for s in sources)
    return _binding(target, t, target.electrons * per_e)


def ssm_total_rate(group: str, target: Target, flux_model: str = "GS98") -> float:
    """Total nu-e interaction rate of ``group`` at the B16 flux with MSW (no threshold, every
    electron free), counts/(s x unit): N_e Phi int lambda(E) [P_ee sigma_e + (1 - P_ee)
    sigma_mu] dE with the analytic total cross-sections ``xsec.sigma_sm_total_cm2``."""
    total = 0.0
    for source in group_sources(group):
        norm = solar.ssm_flux_cm2_s(source, flux_model)
        if source in solar.LINES:
            e = np.array([line[0] for line in solar.LINES[source]])
            br = np.array([line[1] for line in solar.LINES[source]])
        else:
            e_tab, _ = solar.spectrum_table(source)
            e, w = gl_nodes(e_tab[:-1], e_tab[1:])
            br = solar.spectrum_shape_per_mev(source, e) * w
        pee = solar.p_ee(e, source, flux_model)
        sigma = (pee * xsec.sigma_sm_total_cm2(e, "e")
                 + (1.0 - pee) * xsec.sigma_sm_total_cm2(e, "mu"))
        total += norm * float(np.sum(br * sigma))
    return target.electrons * total
