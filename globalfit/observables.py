"""The shared vocabulary between models and likelihoods: observable name -> unit, LaTeX, meaning.

A leaf module. A model *provides* observables by these names; a likelihood *requires* them.
Every observable is a numpy array of shape ``(n_points,)``. Adding a model or a likelihood
means using (or adding) names here, never importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observable:
    name: str
    unit: str
    latex: str
    description: str


_TABLE: tuple[Observable, ...] = (
    Observable("m_aprime_gev", "GeV", r"m_{A'}", "dark-photon mass"),
    Observable("eps", "1", r"\varepsilon", "kinetic mixing (photon-basis convention)"),
    Observable("br_inv", "1", r"\mathrm{BR}_\mathrm{inv}", "BR(A' -> invisible)"),
    Observable("gamma_total_gev", "GeV", r"\Gamma_{A'}", "total A' width"),
    Observable("gamma_inv_gev", "GeV", r"\Gamma_\mathrm{inv}", "invisible A' width"),
    Observable("gamma_vis_gev", "GeV", r"\Gamma_\mathrm{vis}", "visible (SM) A' width"),
    Observable("lam2_1_mub2", "mu_B^2", r"|\varepsilon\Lambda_1|^2",
               "|eps * Lambda_1|^2, mass-basis transition moment (nu_2-nu_3) seen by an electron "
               "through the dark photon at m_A' -> 0, in mu_B^2"),
    Observable("lam2_2_mub2", "mu_B^2", r"|\varepsilon\Lambda_2|^2",
               "|eps * Lambda_2|^2 (nu_3-nu_1), mu_B^2"),
    Observable("lam2_3_mub2", "mu_B^2", r"|\varepsilon\Lambda_3|^2",
               "|eps * Lambda_3|^2 (nu_1-nu_2), mu_B^2"),
    Observable("mu_eff2_mub2", "mu_B^2", r"\mu_\mathrm{eff}^2",
               "flavour-universal (energy-independent) effective moment squared at m_A' -> 0, "
               "mu_B^2"),
    Observable("mu_eff_mub", "mu_B", r"\mu_\mathrm{eff}",
               "effective moment for solar neutrinos at m_A' -> 0 with vacuum mass-state "
               "weights (the fits give the likelihoods lam2_k instead), mu_B"),
    Observable("mu_e2_mub2", "mu_B^2", r"\mu_e^2",
               "flavour moment of nu_e squared, sum_b |eps lambda_eb|^2 at m_A' -> 0, mu_B^2"),
    Observable("mu_mu2_mub2", "mu_B^2", r"\mu_\mu^2",
               "flavour moment of nu_mu squared, sum_b |eps lambda_mu b|^2 at m_A' -> 0, mu_B^2"),
    Observable("mu_tau2_mub2", "mu_B^2", r"\mu_\tau^2",
               "flavour moment of nu_tau squared, sum_b |eps lambda_tau b|^2 at m_A' -> 0, mu_B^2"),
    Observable("br_mu_e_gamma", "1", r"\mathrm{BR}(\mu\to e\gamma)", "BR(mu -> e gamma)"),
    Observable("br_tau_e_gamma", "1", r"\mathrm{BR}(\tau\to e\gamma)", "BR(tau -> e gamma)"),
    Observable("br_tau_mu_gamma", "1", r"\mathrm{BR}(\tau\to\mu\gamma)", "BR(tau -> mu gamma)"),
    Observable("m_n_gev", "GeV", r"m_N", "mass of the vector-like doublet's neutral member N"),
    Observable("m_e_charged_gev", "GeV", r"m_E",
               "mass of the vector-like doublet's charged member E"),
    Observable("delta_n_nu", "1", r"\Delta N_\nu",
               "extra neutrino species in the invisible Z width from Z -> N Nbar"),
)

OBSERVABLES: dict[str, Observable] = {o.name: o for o in _TABLE}


def describe(name: str) -> Observable:
    """Return the table entry for ``name``; KeyError with the known names otherwise."""
    try:
        return OBSERVABLES[name]
    except KeyError:
        raise KeyError(f"unknown observable {name!r}; known: {', '.join(OBSERVABLES)}") from None
