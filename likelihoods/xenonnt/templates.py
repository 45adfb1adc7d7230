"""Magnetic-moment signal templates for XENONnT: solar neutrinos on xenon, folded with the response.

For strengths q_w (w = universal mu_eff^2, or |eps Lambda_k|^2 for the mass states k = 1, 2, 3;
mu_B^2) and dark-photon mass m, the expected signal density at reconstructed energy E is

    S(E; q, m) = X int dT K(E, T) sum_w q_w M_w(T) P(T, m)^2,
    M_w(T) = N_Xe sum_s Phi_s int dE_nu lambda_s(E_nu) u_w(E_nu) dsigma_mm/dT Z_eff(T)/Z

(EXPERIMENTS.md sec. 4b; MODEL.md sec. 3), with X the exposure, K the response
(``response.kernel``: resolution x efficiency), P = 2 m_e T/(2 m_e T + m^2) the dark-photon
propagator factor, u_w = 1 (universal) or the MSW mass-state weight w_k(E_nu), Z_eff(T) the number
of xenon electrons with binding energy below T (stepping approximation; shells from
``measurements.yaml``). M_w comes from the shared solar layer (``likelihoods.solar.spectra``:
B16 fluxes of pp, 7Be, pep, CNO and 8B; 7Be and pep lines; dsigma_mm/dT = (pi alpha^2/m_e^2)
(1/T - 1/E_nu), Vogel & Engel PRD 39 (1989) 3378). hep is ignored (1e-4 of 8B).

Arrays (per unit strength, mu_B^2):

* ``a_events`` (4, n_events, n_T): X K(E_i, T_t) omega_t M_w(T_t), events/keV; the signal at the
  events is sum_w q_w a_events[w] @ P^2(T, m).
* ``n_window`` (4, n_T): X sum_j nu_j K(E_j, T_t) omega_t M_w(T_t), events; the expected window
  counts are sum_w q_w n_window[w] @ P^2(T, m).

omega_t, nu_j are trapezoid weights on the true (``response.t_nodes``) and reconstructed
(``response.e_grid``) grids.
"""
from __future__ import annotations

import numpy as np

from ..solar import fold, spectra
from ..solar.target import AtomicTarget, FreeElectrons
from . import data, response

WEIGHTS = ("universal", 1, 2, 3)
GROUPS = ("pp", "be7", "pep", "cno", "b8")


def target(binding: bool = True) -> AtomicTarget | FreeElectrons:
    """One tonne of xenon: with binding the stepping approximation, otherwise 54 free electrons per atom."""
    shells = data.xenon_shells()
    atoms = data.atoms_per_tonne()
    if binding:
        return AtomicTarget(shells.binding_kev, shells.electrons, atoms)
    return FreeElectrons(atoms * sum(shells.electrons))


def true_spectra(t_kev: np.ndarray, binding: bool = True, flux_model: str = "GS98") -> np.ndarray:
    """M_w(T): moment spectra per mu_B^2 summed over the solar groups, (4, n_T), in
    events/(s t keV) for a massless mediator."""
    tgt = target(binding)
    t_mev = np.asarray(t_kev, dtype=float) * 1e-3
    out = np.zeros((len(WEIGHTS), t_mev.size))
    for i, w in enumerate(WEIGHTS):
        for g in GROUPS:
            out[i] += spectra.mm_rate_density(g, t_mev, tgt, weight=w, flux_model=flux_model)
    return out * 1e-3          # per MeV -> per keV


def propagator_squared(t_kev: np.ndarray, m_gev: np.ndarray) -> np.ndarray:
    """P(T, m)^2 on (n_T, n_m); T in keV, m in GeV, m >= 0 (the shared layer's formula,
    ``likelihoods.solar.fold.propagator_squared``: P = 2 m_e T/(2 m_e T + m^2), 1 at m = 0)."""
    return fold.propagator_squared(np.asarray(t_kev, dtype=float) * 1e-3, m_gev)


def build(binding: bool = True, resolution_scale: float = 1.0,
          flux_model: str = "GS98") -> dict[str, np.ndarray]:
    """The template arrays (module docstring) for the options."""
    t = response.t_nodes(data.xenon_shells().binding_kev)
    omega = response.trapezoid_weights(t)
    exposure = data.exposure_t_s()
    m_w = true_spectra(t, binding, flux_model) * omega[None, :] * exposure      # (4, n_T)
    ev = data.release().events_kev
    e, nu = response.e_grid()
    k_ev = response.kernel(ev, t, resolution_scale)                            # (n_ev, n_T)
    row = nu @ response.kernel(e, t, resolution_scale)                         # (n_T,)
    a_events = k_ev[None, :, :] * m_w[:, None, :]
    n_window = row[None, :] * m_w
    return {"t_kev": t, "a_events": a_events, "n_window": n_window}
