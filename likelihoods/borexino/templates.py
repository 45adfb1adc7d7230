"""Folded templates of every spectral component in the Phase-II N_h bins (built once, cached).

Expected counts in N_h bin i (EXPERIMENTS.md sec. 1):

    nu_i = Exposure { sum_s f_s [S_si + sum_w q_w M_swi(m_A')] + sum_b R_b B_bi }

* ``S_si``: SM nu-e recoil spectrum of solar group s (part-1 ``recoil.sm_rate_density``) folded
  with the response; stored per unit total rate (counts per cpd/100 t), so the amplitude of a
  solar component is its rate R_s in cpd/100 t and f_s = R_s / ``ssm_total_rate_cpd100t(s)``.
* ``M_swi(m)``: magnetic-moment spectrum per mu_B^2 (``recoil.mm_rate_density``, weight w =
  universal or mass state k) times the dark-photon factor P(T, m)^2, folded:
  ``M(m) = R @ (M(T) P(T, m)^2)`` (the product with P^2 is ``likelihoods.solar.fold``). The
  m-dependence is one matrix product per batch of points.
  To make that product cheap it is done in a reduced basis: U (n_bins, r) spans all folded
  signal spectra (SVD of the family over groups, weights, Taylor terms and 61 masses, relative
  truncation 1e-9), so ``R_k @ v = U @ (W_k @ v)`` with ``W_k = U^T R_k`` (r, n_t): exact up to
  the truncation, which a test checks against the direct product.
* ``B_bi``: backgrounds (``backgrounds`` module), per cpd/100 t; the pile-up uses the shape of
  Borexino's fitted pile-up curve (its rate = the curve's integral over N_h 93-950).

All templates carry the second-order Taylor basis in the energy-scale (ds) and resolution (dr)
nuisances (``response.taylor_basis``).
"""
from __future__ import annotations

import numpy as np

from likelihoods.solar import fold, spectra
from likelihoods.solar.grid import RecoilGrid

from . import recoil
from .backgrounds import c14_density, c14_t_grid
from .response import (ResponseParams, gaussian_bin_matrix, mc_fine_points, phase2_mean_sigma,
                       response_matrix_e3, response_matrix_t, taylor_basis)
from .spectrum import EXPOSURE_DAY_100T, load_mc_pdfs, load_phase2

SOLAR = ("pp", "be7", "pep", "cno", "b8")
MC_BACKGROUNDS = ("kr85", "bi210", "c11", "ext_k40", "ext_bi214", "ext_tl208")
LINEAR = SOLAR + ("c14", "pileup") + MC_BACKGROUNDS
"""Components entering linearly (amplitude = rate in cpd/100 t); 210Po is added separately."""
SIGNAL_WEIGHTS = spectra.WEIGHTS
SIGNAL_MASSES_GEV = np.concatenate([[0.0], np.geomspace(1e-7, 1.0, 60)])


def signal_t_grid() -> RecoilGrid:
    """Recoil grid of the signal fold (MeV, trapezoid weights; unpacks as ``t, w``): 3 keV
    steps 0.05-1.6 MeV, 20 keV steps to 3.2 MeV (the moment signal is ~1/T; above 1.6 MeV only
    8B contributes, 1e-3 of it), plus a node at every line's recoil edge T_max and at
    T_max + 1 eV (``recoil.line_edge_nodes_mev``), so the step of the 7Be and pep moment
    spectra at their edges falls between two nodes instead of inside a 3 keV panel."""
    base = np.concatenate([np.arange(0.05, 1.6, 0.003), np.arange(1.6, 3.2001, 0.02)])
    return RecoilGrid.trapezoid(np.unique(np.concatenate([base, recoil.line_edge_nodes_mev()])))


def solar_t_fold_inputs(flux_model: str) -> tuple[np.ndarray, np.ndarray]:
    """(T grid, (5, n_t) counts per cpd/100 t of each solar group times quadrature weights)."""
    t, w = recoil.t_grid()
    dens = np.stack([recoil.sm_rate_density(s, t, flux_model=flux_model)
                     / recoil.ssm_total_rate_cpd100t(s, flux_model=flux_model) for s in SOLAR])
    return t, dens * w * EXPOSURE_DAY_100T


def mm_inputs(flux_model: str) -> tuple[np.ndarray, np.ndarray]:
    """(signal T grid, (5, 4, n_t) counts per mu_B^2 at SSM flux times weights) for the weights
    universal, 1, 2, 3."""
    t, w = signal_t_grid()
    mm = np.stack([np.stack([recoil.mm_rate_density(s, t, weight=k, flux_model=flux_model)
                             for k in SIGNAL_WEIGHTS]) for s in SOLAR])
    return t, mm * w * EXPOSURE_DAY_100T


def linear_templates(p: ResponseParams, flux_model: str, taylor: bool = True) -> np.ndarray:
    """Templates of ``LINEAR`` in all N_h bins, counts per cpd/100 t: (6, n_lin, n_bins) with the
    Taylor basis in (ds, dr), or (1, n_lin, n_bins) without."""
    edges = load_phase2().edges_kev
    t_sol, sol = solar_t_fold_inputs(flux_model)
    t_c, w_c = c14_t_grid()
    c14 = c14_density(t_c) * w_c * EXPOSURE_DAY_100T
    sp = load_phase2()
    pu_curve = sp.components["pileup"] / sp.components["pileup"].sum() * EXPOSURE_DAY_100T
    pdfs = load_mc_pdfs()
    fine = [mc_fine_points(pdfs.edges_kev, pdfs.shapes[b]) for b in MC_BACKGROUNDS]

    def t_based(ds: float, dr: float) -> np.ndarray:
        rows = [(response_matrix_t(t_sol, edges, p, ds, dr) @ sol.T).T,
                (response_matrix_t(t_c, edges, p, ds, dr) @ c14)[None]]
        return np.concatenate(rows)

    def smeared(ds: float, dr: float) -> np.ndarray:
        rows = [curve_matrix(sp.energy_kev, edges, p, ds, dr) @ pu_curve]
        rows += [response_matrix_e3(x, edges, p, ds, dr) @ w * EXPOSURE_DAY_100T for x, w in fine]
        return np.stack(rows)

    if not taylor:
        return np.concatenate([t_based(0.0, 0.0), smeared(0.0, 0.0)])[None]
    return np.concatenate([taylor_basis(t_based), taylor_basis(smeared, forward_r=True)], axis=1)


def curve_matrix(e_kev: np.ndarray, edges: np.ndarray, p: ResponseParams, ds: float,
                 dr: float) -> np.ndarray:
    """Response of points already on the Phase-II keV scale with the full resolution applied
    (an extracted component curve): energy shift (1 + ds) and the extra variance
    ((1 + dr)^2 - 1) sigma_II^2 (floored at (0.3 keV)^2; use dr >= 0, forward differences)."""
    e3 = (e_kev - p.offset_kev) / p.scale
    _, sig = phase2_mean_sigma(e3, p)
    extra = ((1.0 + dr) ** 2 - 1.0) * sig**2
    return gaussian_bin_matrix(e_kev * (1.0 + ds), np.sqrt(np.maximum(extra, 0.09)), edges)


def signal_basis(p: ResponseParams, flux_model: str,
                 rel_tol: float = 1e-9) -> dict[str, np.ndarray]:
    """Reduced-basis signal fold: ``U`` (n_bins, r), ``W`` (6, r, n_t) with W_k = U^T R_k, the
    signal T grid ``t_sig`` and the inputs ``mm`` (5, 4, n_t) (see module docstring)."""
    edges = load_phase2().edges_kev
    t, mm = mm_inputs(flux_model)
    r_k = taylor_basis(lambda ds, dr: response_matrix_t(t, edges, p, ds, dr))   # (6, nb, nt)
    vec = fold.propagated(mm.reshape(-1, len(t)), t, SIGNAL_MASSES_GEV)          # (20, nt, nm)
    nk, nb, nt = r_k.shape
    # one BLAS product (6 nb, nt) @ (nt, 20 nm) instead of an einsum: same sums, ~50x faster
    fam = (r_k.reshape(nk * nb, nt) @ vec.reshape(-1, nt, vec.shape[-1]).transpose(1, 0, 2)
           .reshape(nt, -1)).reshape(nk, nb, -1).transpose(1, 0, 2).reshape(nb, -1)
    norms = np.linalg.norm(fam, axis=0)
    fam = fam[:, norms > 0] / norms[norms > 0]
    u, sv, _ = np.linalg.svd(fam, full_matrices=False)
    rank = int(np.sum(sv > rel_tol * sv[0]))
    u = u[:, :rank]
    w = np.ascontiguousarray((u.T @ r_k.transpose(1, 0, 2).reshape(nb, -1))
                             .reshape(-1, nk, nt).transpose(1, 0, 2))
    return {"U": u, "W": w, "t_sig": t, "mm": mm}
