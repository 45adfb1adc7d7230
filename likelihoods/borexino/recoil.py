"""True electron-recoil spectra of solar neutrinos in Borexino (before detector response).

What to use when
----------------
* ``default_t_grid_mev`` / ``t_grid_weights``: the true kinetic-energy grid T on which every
  spectrum here is tabulated, and its trapezoid weights (a response matrix is built on it).
* ``sm_rate_density(group, t)``: Standard-Model dR/dT at the SSM flux with MSW-LMA.
* ``ssm_total_rate_cpd100t(group)``: total interaction rate (no threshold) at the SSM flux; a fit
  parameter R_s (cpd/100 t, Borexino's unit) scales the spectrum by f_s = R_s / this.
* ``mm_rate_density(group, t, weight)``: magnetic-moment dR/dT per mu_B^2 for a massless
  mediator (multiply by P(T)^2 of ``xsec.propagator_factor`` for a dark photon).

Units: T in MeV; rate densities in counts / (day x 100 t x MeV); rates in cpd/100 t
(counts per day per 100 t). Target: N_e = 3.307e31 electrons per 100 t of Borexino scintillator
(EXPERIMENTS.md sec. 1; Borexino, Nature 562 (2018) 505).

Method. For a continuum source with normalised spectrum lambda(E) and a flavour/mass weight
u(E), every cross-section here is a short sum  sum_k a_k(T) E^-k  (k = 0, 1, 2), so

    dR/dT = N_e Phi sum_k a_k(T) I_k[u](E_min(T)),   I_k[u](x) = int_x^E_end lambda u E^-k dE,

with E_min(T) = (T + sqrt(T^2 + 2 m_e T))/2. The I_k are cumulative integrals computed once
(Gauss-Legendre, 6 nodes on every interval of the tabulated spectrum, on which lambda is
linear, so the quadrature is exact to ~1e-10 for the smooth u E^-k) and completed inside the
interval containing E_min(T) by the same rule: no Python loop over T, and no interpolation
error. Lines (7Be, pep) are evaluated directly. hep is ignored (no group; ~1e-4 of 8B).
The SM cross-section uses ``xsec.DEFAULT_SCHEME`` ("effective": SM couplings with one-loop
electroweak corrections, PDG 2024); with it the SSM rates are within ~2 % of Borexino's
expectations (Nature 562 (2018) 505, Table 1), with "tree" ~3.5 % above them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from globalfit import constants
from globalfit.errors import ParameterError
from likelihoods.borexino import solar, xsec

ELECTRONS_PER_100T: Final[float] = 3.307e31
"""Target electrons per 100 t of Borexino scintillator (EXPERIMENTS.md sec. 1)."""

SECONDS_PER_DAY: Final[float] = 86400.0

_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)
_T_MIN_MEV: Final[float] = 0.010
_T_MAX_MEV: Final[float] = 3.200
_T_STEP_MEV: Final[float] = 0.001
_EDGE_OFFSET_MEV: Final[float] = 1e-6


# ------------------------------------------------------------------------------- T grid
@functools.cache
def _default_grid() -> np.ndarray:
    base = np.linspace(_T_MIN_MEV, _T_MAX_MEV, int(round((_T_MAX_MEV - _T_MIN_MEV) / _T_STEP_MEV)) + 1)
    edges = [float(xsec.t_max_mev(e)) for lines in solar.LINES.values() for e, _ in lines]
    grid = np.unique(np.concatenate([base, edges, np.add(edges, _EDGE_OFFSET_MEV)]))
    grid.setflags(write=False)
    return grid


def default_t_grid_mev() -> np.ndarray:
    """True electron kinetic-energy grid, MeV, shape (n_T,) with n_T = 3197: uniform 1 keV steps
    from 0.010 to 3.200 MeV plus, for each line (7Be 0.3843 and 0.8613, pep 1.442 MeV), the
    Compton-like edge T_max and T_max + 1 eV, so that the step of a line spectrum at its edge
    is resolved exactly by the trapezoid rule. Integrals over T with ``t_grid_weights`` are
    accurate to < 1e-4 for the solar spectra (checked in the tests). A fresh copy."""
    return _default_grid().copy()


def t_grid_weights(t_mev: ArrayLike) -> np.ndarray:
    """Trapezoid weights of a grid: sum_i w_i f(t_i) ~ int f dT over [t_0, t_-1].
    w_0 = (t_1 - t_0)/2, w_i = (t_{i+1} - t_{i-1})/2, w_-1 = (t_-1 - t_-2)/2; MeV, shape (n_T,)."""
    t = np.asarray(t_mev, dtype=float)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ParameterError("t_mev: expected a strictly increasing 1-D grid of at least 2 points")
    w = np.zeros_like(t)
    dt = np.diff(t)
    w[:-1] += dt / 2.0
    w[1:] += dt / 2.0
    return w


def _check_t(t_mev: ArrayLike) -> np.ndarray:
    t = np.asarray(t_mev, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0.0):
        raise ParameterError("t_mev: recoil energies must be finite and >= 0")
    return t


def _check_group(group: str) -> tuple[str, ...]:
    try:
        return solar.GROUP_SOURCES[group]
    except KeyError:
        raise ParameterError(f"group: unknown solar group {group!r} (use one of {', '.join(solar.GROUPS)})") from None


# ------------------------------------------------------------------------------- E integrals
WeightFn = Callable[[np.ndarray], np.ndarray]


def _weight_functions(source: str, flux_model: str) -> dict[str, WeightFn]:
    """u(E) functions: one, P_ee, and the mass-basis weights w_1, w_2, w_3."""
    return {
        "one": lambda e: np.ones_like(e),
        "pee": lambda e: solar.p_ee(e, source, flux_model),
        "w1": lambda e: solar.mass_weights(e, source, flux_model)[0],
        "w2": lambda e: solar.mass_weights(e, source, flux_model)[1],
        "w3": lambda e: solar.mass_weights(e, source, flux_model)[2],
    }


def _gl_nodes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [a, b] (broadcast): shapes a.shape + (6,)."""
    half = (b - a)[..., None] / 2.0
    mid = (b + a)[..., None] / 2.0
    return mid + half * _GL_X, half * _GL_W


@functools.cache
def _cumulative(source: str, flux_model: str, u_name: str) -> np.ndarray:
    """C[k, i] = int_{E_i}^{E_end} lambda u E^-k dE at the table nodes E_i, k = 0, 1, 2."""
    e_tab, _ = solar.spectrum_table(source)
    u = _weight_functions(source, flux_model)[u_name]
    x, w = _gl_nodes(e_tab[:-1], e_tab[1:])
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
    b = e_tab[i + 1]
    x, w = _gl_nodes(x0, b)
    u = _weight_functions(source, flux_model)[u_name]
    g = solar.spectrum_shape_per_mev(source, x) * u(x) * w
    out = np.stack([cum[k, i + 1] + (g * x**-k).sum(axis=-1) for k in range(3)])
    return np.where(e_low >= e_tab[-1], 0.0, out)


def _sm_source_density(source: str, t: np.ndarray, flux_model: str) -> np.ndarray:
    """dR/dT of one source at SSM flux, counts/(day 100 t MeV)."""
    g_le, g_r = xsec.couplings("e")
    g_lm, _ = xsec.couplings("mu")
    me = xsec.M_E_MEV
    norm = ELECTRONS_PER_100T * SECONDS_PER_DAY * solar.ssm_flux_cm2_s(source, flux_model)
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
    """Magnetic-moment dR/dT per mu_B^2 of one source at SSM flux."""
    norm = ELECTRONS_PER_100T * SECONDS_PER_DAY * solar.ssm_flux_cm2_s(source, flux_model)
    u = _weight_functions(source, flux_model)[u_name]
    if source in solar.LINES:
        total = np.zeros_like(t)
        for e_line, branching in solar.LINES[source]:
            total += branching * float(u(np.asarray(e_line))) * xsec.dsigma_dt_mm_cm2_per_mev(t, e_line)
        return norm * total
    t_safe = np.where(t > 0.0, t, 1.0)
    i_k = _tail_integrals(source, flux_model, u_name, xsec.e_min_mev(t))
    value = constants.SIGMA_MU_PREFACTOR_CM2 * (i_k[0] / t_safe - i_k[1])
    return np.where(t > 0.0, norm * value, 0.0)


# ------------------------------------------------------------------------------- public API
def _is_default_grid(t: np.ndarray) -> bool:
    grid = _default_grid()
    return t.shape == grid.shape and bool(np.array_equal(t, grid))


@functools.cache
def _sm_default(group: str, flux_model: str) -> np.ndarray:
    out = _sm_group(group, _default_grid(), flux_model)
    out.setflags(write=False)
    return out


def _sm_group(group: str, t: np.ndarray, flux_model: str) -> np.ndarray:
    return sum(_sm_source_density(s, t, flux_model) for s in _check_group(group))


def sm_rate_density(group: str, t_mev: ArrayLike, flux_model: str = "GS98") -> np.ndarray:
    """SM elastic-scattering spectrum dR/dT of solar ``group`` (pp, be7, pep, cno, b8) at the
    B16 ``flux_model`` flux with MSW-LMA, counts/(day x 100 t x MeV); shape of ``t_mev``.
    Exactly zero above T_max of the group's highest neutrino energy. Cached on the default grid."""
    t = _check_t(t_mev)
    _check_group(group)
    solar.ssm_flux_cm2_s("pp", flux_model)  # validates flux_model
    if _is_default_grid(t):
        return _sm_default(group, flux_model).copy()
    return _sm_group(group, t, flux_model)


@functools.cache
def ssm_total_rate_cpd100t(group: str, flux_model: str = "GS98") -> float:
    """Total nu-e interaction rate of ``group`` at the B16 flux with MSW (no threshold),
    cpd/100 t: N_e Phi int lambda(E) [P_ee sigma_e(E) + (1 - P_ee) sigma_mu(E)] dE with the
    analytic total cross-sections ``xsec.sigma_sm_total_cm2``."""
    total = 0.0
    for source in _check_group(group):
        norm = ELECTRONS_PER_100T * SECONDS_PER_DAY * solar.ssm_flux_cm2_s(source, flux_model)
        if source in solar.LINES:
            e = np.array([line[0] for line in solar.LINES[source]])
            br = np.array([line[1] for line in solar.LINES[source]])
        else:
            e_tab, _ = solar.spectrum_table(source)
            e, w = _gl_nodes(e_tab[:-1], e_tab[1:])
            br = solar.spectrum_shape_per_mev(source, e) * w
        pee = solar.p_ee(e, source, flux_model)
        sigma = pee * xsec.sigma_sm_total_cm2(e, "e") + (1.0 - pee) * xsec.sigma_sm_total_cm2(e, "mu")
        total += norm * float(np.sum(br * sigma))
    return total


_MM_WEIGHTS: Final[dict[object, str]] = {"universal": "one", 1: "w1", 2: "w2", 3: "w3"}


@functools.cache
def _mm_default(group: str, u_name: str, flux_model: str) -> np.ndarray:
    out = _mm_group(group, _default_grid(), u_name, flux_model)
    out.setflags(write=False)
    return out


def _mm_group(group: str, t: np.ndarray, u_name: str, flux_model: str) -> np.ndarray:
    return sum(_mm_source_density(s, t, u_name, flux_model) for s in _check_group(group))


def mm_rate_density(group: str, t_mev: ArrayLike, weight: str | int = "universal",
                    flux_model: str = "GS98") -> np.ndarray:
    """Magnetic-moment spectrum dR/dT of ``group`` per mu_B^2 at the SSM flux, massless
    mediator, counts/(day x 100 t x MeV) / mu_B^2; shape of ``t_mev``.

    weight "universal": an energy-independent effective moment (w = 1), so the signal is
    mu_eff^2 x this; weight k = 1, 2, 3: the mass-basis weight w_k(E) of ``solar.mass_weights``,
    so the signal is sum_k |Lambda_k|^2 x template_k. For a dark photon of mass m multiply by
    ``xsec.propagator_factor(T, m)**2``. Cached on the default grid."""
    if isinstance(weight, bool) or weight not in _MM_WEIGHTS:
        raise ParameterError(f"weight: expected 'universal', 1, 2 or 3, found {weight!r}")
    t = _check_t(t_mev)
    _check_group(group)
    solar.ssm_flux_cm2_s("pp", flux_model)
    u_name = _MM_WEIGHTS[weight]
    if _is_default_grid(t):
        return _mm_default(group, u_name, flux_model).copy()
    return _mm_group(group, t, u_name, flux_model)
