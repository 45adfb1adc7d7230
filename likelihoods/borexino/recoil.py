"""True electron-recoil spectra of solar neutrinos in Borexino (before detector response).

Borexino is the free-electron target of ``likelihoods.solar`` (binding energies of the carbon
and hydrogen electrons, < 0.3 keV, are negligible at the > 50 keV recoils of the fit) with
N_e = ``electrons_per_100t`` of ``data/borexino/measurements.yaml`` (3.307e31 per 100 t,
Borexino, Nature 562 (2018) 505). This module only sets the target, the recoil grid and the
unit (counts per day per 100 t, Borexino's cpd/100 t); the physics is in ``likelihoods.solar``.

What to use when
----------------
* ``t_grid()`` (``default_t_grid_mev`` / ``t_grid_weights``): the true kinetic-energy grid T
  on which every spectrum here is tabulated, with its trapezoid weights.
* ``sm_rate_density(group, t)``: Standard-Model dR/dT at the SSM flux with MSW-LMA.
* ``ssm_total_rate_cpd100t(group)``: total interaction rate (no threshold) at the SSM flux; a fit
  parameter R_s (cpd/100 t) scales the spectrum by f_s = R_s / this.
* ``mm_rate_density(group, t, weight)``: magnetic-moment dR/dT per mu_B^2 for a massless
  mediator (``likelihoods.solar.fold`` applies P(T)^2 for a dark photon).

Units: T in MeV; rate densities in counts / (day x 100 t x MeV); rates in cpd/100 t.
"""
from __future__ import annotations

import functools
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from likelihoods.solar import flux as solar
from likelihoods.solar import spectra, xsec
from likelihoods.solar.grid import RecoilGrid, trapezoid_weights
from likelihoods.solar.target import FreeElectrons

from . import measurements

SECONDS_PER_DAY: Final[float] = 86400.0
_T_MIN_MEV: Final[float] = 0.010
_T_MAX_MEV: Final[float] = 3.200
_T_STEP_MEV: Final[float] = 0.001
_EDGE_OFFSET_MEV: Final[float] = 1e-6


@functools.cache
def target() -> FreeElectrons:
    """Borexino's scintillator: free electrons per 100 t (measurements.yaml)."""
    return FreeElectrons(measurements.value("electrons_per_100t", "electrons / 100 t"))


def __getattr__(name: str) -> float:
    if name == "ELECTRONS_PER_100T":    # read from the data file on first use
        return target().electrons
    raise AttributeError(name)


def line_edge_nodes_mev() -> np.ndarray:
    """Recoil edges T_max of every solar line (7Be 0.3843 and 0.8613 MeV, pep 1.442 MeV) and
    T_max + 1 eV, MeV, sorted: the nodes a grid needs to resolve the step of a line spectrum."""
    edges = np.array([float(xsec.t_max_mev(e)) for lines in solar.LINES.values() for e, _ in lines])
    return np.sort(np.concatenate([edges, edges + _EDGE_OFFSET_MEV]))


@functools.cache
def t_grid() -> RecoilGrid:
    """True electron kinetic-energy grid, MeV, n_T = 3197 nodes: uniform 1 keV steps from
    0.010 to 3.200 MeV plus, for each line (7Be 0.3843 and 0.8613, pep 1.442 MeV), the
    Compton-like edge T_max and T_max + 1 eV, so that the step of a line spectrum at its edge
    is resolved exactly by the trapezoid rule. Integrals over T with its weights are accurate
    to < 1e-4 for the solar spectra (checked in the tests)."""
    n = int(round((_T_MAX_MEV - _T_MIN_MEV) / _T_STEP_MEV)) + 1
    base = np.linspace(_T_MIN_MEV, _T_MAX_MEV, n)
    return RecoilGrid.trapezoid(np.unique(np.concatenate([base, line_edge_nodes_mev()])))


def default_t_grid_mev() -> np.ndarray:
    """Nodes of ``t_grid()`` (MeV), a fresh copy."""
    return t_grid().nodes.copy()


def t_grid_weights(t_mev: ArrayLike) -> np.ndarray:
    """Trapezoid weights of a grid (MeV, shape (n_T,)): ``likelihoods.solar.grid``."""
    return trapezoid_weights(t_mev)


def _is_default_grid(t: np.ndarray) -> bool:
    grid = t_grid().nodes
    return t.shape == grid.shape and bool(np.array_equal(t, grid))


@functools.cache
def _sm_default(group: str, flux_model: str) -> np.ndarray:
    out = _sm(group, t_grid().nodes, flux_model)
    out.setflags(write=False)
    return out


def _sm(group: str, t: np.ndarray, flux_model: str) -> np.ndarray:
    return SECONDS_PER_DAY * spectra.sm_rate_density(group, t, target(), flux_model)


def sm_rate_density(group: str, t_mev: ArrayLike, flux_model: str = "GS98") -> np.ndarray:
    """SM elastic-scattering spectrum dR/dT of solar ``group`` (pp, be7, pep, cno, b8) at the
    B16 ``flux_model`` flux with MSW-LMA, counts/(day x 100 t x MeV); shape of ``t_mev``.
    Exactly zero above T_max of the group's highest neutrino energy. Cached on the default grid."""
    t = spectra.check_t(t_mev)
    spectra.group_sources(group)
    solar.ssm_flux_cm2_s("pp", flux_model)  # validates flux_model
    if _is_default_grid(t):
        return _sm_default(group, flux_model).copy()
    return _sm(group, t, flux_model)


@functools.cache
def ssm_total_rate_cpd100t(group: str, flux_model: str = "GS98") -> float:
    """Total nu-e interaction rate of ``group`` at the B16 flux with MSW (no threshold),
    cpd/100 t (``likelihoods.solar.spectra.ssm_total_rate``)."""
    return SECONDS_PER_DAY * spectra.ssm_total_rate(group, target(), flux_model)


@functools.cache
def _mm_default(group: str, weight: str | int, flux_model: str) -> np.ndarray:
    out = _mm(group, t_grid().nodes, weight, flux_model)
    out.setflags(write=False)
    return out


def _mm(group: str, t: np.ndarray, weight: str | int, flux_model: str) -> np.ndarray:
    return SECONDS_PER_DAY * spectra.mm_rate_density(group, t, target(), weight, flux_model)


def mm_rate_density(group: str, t_mev: ArrayLike, weight: str | int = "universal",
                    flux_model: str = "GS98") -> np.ndarray:
    """Magnetic-moment spectrum dR/dT of ``group`` per mu_B^2 at the SSM flux, massless
    mediator, counts/(day x 100 t x MeV) / mu_B^2; shape of ``t_mev``.

    weight "universal": an energy-independent effective moment (w = 1), so the signal is
    mu_eff^2 x this; weight k = 1, 2, 3: the mass-basis weight w_k(E) of
    ``likelihoods.solar.flux.mass_weights``, so the signal is sum_k |Lambda_k|^2 x template_k.
    For a dark photon of mass m multiply by ``propagator_factor(T, m)**2``. Cached on the
    default grid."""
    spectra.weight_name(weight)
    t = spectra.check_t(t_mev)
    spectra.group_sources(group)
    solar.ssm_flux_cm2_s("pp", flux_model)
    if _is_default_grid(t):
        return _mm_default(group, weight, flux_model).copy()
    return _mm(group, t, weight, flux_model)
