"""The calibrated Borexino response against numbers that were not used to fit it, the recoil
grids at the line edges, and the profile likelihood behind the fast grid (smooth in the signal
strength; equal to the fast grid along the whole m_A' range, both flux-constraint variants).

Tolerances: each bound is stated with the measured value next to it (docs/borexino.md,
"Response validation")."""
from __future__ import annotations

import json

import numpy as np
import pytest

from globalfit.paths import data_file
from likelihoods.borexino import BorexinoLikelihood, checks, recoil
from likelihoods.borexino.fast import upper_limits
from likelihoods.borexino.parameters import PARAMS
from likelihoods.borexino.response import response_matrix_t
from likelihoods.borexino.spectrum import load_phase2
from likelihoods.borexino.templates import signal_t_grid
from likelihoods.solar.grid import RecoilGrid


@pytest.fixture(scope="module")
def lk_full():
    return BorexinoLikelihood(variant="radiochemical", mode="full")


def test_line_edges_are_nodes_of_both_recoil_grids():
    edges = recoil.line_edge_nodes_mev()
    assert len(edges) == 6                              # 7Be (2 lines) and pep: T_max, T_max + 1 eV
    for grid in (recoil.t_grid(), signal_t_grid()):
        assert np.all(np.isin(edges, grid.nodes))


def test_folded_be7_edge_equals_a_fine_grid_fold():
    """Folded 7Be SM spectrum per N_h bin on the shipped grid (1 keV + edge nodes) against a
    0.1 keV grid over the 7Be shoulder (600-850 keV): measured max difference 4e-6 of the
    shoulder height (relative 3e-4 only in the far tail, where the content is 0.5 % of it)."""
    from likelihoods.borexino.likelihood import load_calibration
    p = load_calibration()
    sp = load_phase2()
    sel = (sp.energy_kev > 600) & (sp.energy_kev < 850)
    edges = sp.edges_kev[np.concatenate([sel, [False]]) | np.concatenate([[False], sel])]
    coarse = recoil.t_grid()
    fine = RecoilGrid.trapezoid(np.unique(np.concatenate(
        [np.linspace(0.3, 1.0, 7001), recoil.line_edge_nodes_mev()])))
    part = coarse.nodes >= 0.3
    a = response_matrix_t(coarse.nodes[part], edges, p) @ coarse.weighted(
        recoil.sm_rate_density("be7", coarse.nodes))[part]
    b = response_matrix_t(fine.nodes, edges, p) @ fine.weighted(
        recoil.sm_rate_density("be7", fine.nodes))
    assert np.max(np.abs(a - b)) / b.max() < 2e-5


def test_calibration_was_fitted_with_the_final_background_model():
    """Step 2's recorded deviance is the SM fit of today's spectrum_only model at the shipped
    response (ds, dr fixed there; free here, so at most equal and, at the calibrated optimum,
    lower by < 0.5: measured 0.05)."""
    rec = json.loads(data_file("borexino", "response_calibration.json").read_text())
    assert "Gram-Charlier" in rec["background_model"]
    lk = BorexinoLikelihood(variant="spectrum_only", mode="full")
    chi2 = lk.sm_fit[0]
    assert rec["step2"]["profiled_chi2"] - 0.5 < chi2 <= rec["step2"]["profiled_chi2"] + 1e-6


def test_response_against_borexino_numbers_not_fitted(lk_full):
    """Measured: sigma/E(1 MeV) = 6.64 % (Borexino quotes ~5 %: not reproduced, see the docs);
    210Po peak 188.9 / 15.25 N_h against 188.7 / 15.27 on Borexino's fitted curve; 85Kr, 210Bi,
    11C template shapes at Kolmogorov distances 0.003, 0.006, 0.013 from Borexino's curves."""
    _, th = lk_full.sm_fit
    res = checks.resolution_relative(lk_full.response, 1000.0, float(th[-1]))
    assert 0.060 < res < 0.072
    mu, sg = checks.fitted_po210_nh(lk_full)
    sp = load_phase2()
    bmu, bsg = checks.peak_moments_nh(sp.n_h, sp.components["po210"])
    assert abs(mu - bmu) < 1.0 and abs(sg - bsg) < 0.5
    shapes = checks.component_shapes(lk_full)
    for name, r in shapes.items():
        assert r["ks"] < 0.02, name
        assert abs(r["mean_nh"] - r["mean_nh_borexino"]) < 3.0, name
    assert len(checks.response_table(lk_full)) == 3 + 2 * len(shapes)


def test_fit_to_borexinos_best_fit_curve_recovers_its_7be(lk_full):
    """Fitted to Borexino's best-fit model of the spectrum (column ``total``, no noise) instead of
    the data, the response and shapes give 7Be within 1.5 sigma of Borexino's 48.3 +- 1.1
    (measured 49.5) and pp within 2 sigma of 134 +- 10 (measured 147): the +3 of the data fit is
    the spectrum-only resolution of the 7Be-85Kr-210Bi degeneracy, not the response."""
    from likelihoods.borexino.spectrum import EXPOSURE_DAY_100T
    from likelihoods.borexino.templates import linear_templates
    lin = linear_templates(lk_full.response, lk_full.flux_model)
    model = lk_full.make_model(lin, None)
    model.n = load_phase2().total_fit[model.mask] * EXPOSURE_DAY_100T
    _, th = model.fit(lk_full.start_theta())
    _, th = model.fit(th)
    fit = dict(zip(PARAMS, th))
    assert abs(fit["be7"] - 48.3) < 1.5 * 1.1
    assert abs(fit["pp"] - 134.0) < 20.0


def test_peak_moments_of_a_gaussian():
    n = np.arange(93, 951).astype(float)
    mean, sd = checks.peak_moments_nh(n, 5.0 * np.exp(-0.5 * ((n - 190.3) / 15.0) ** 2))
    assert mean == pytest.approx(190.3, abs=1e-3) and sd == pytest.approx(15.0, rel=2e-3)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["spectrum_only", "radiochemical"])
def test_direct_profile_is_smooth_in_the_strength(variant):
    """Delta chi^2 of the direct profile at m_A' = 1 keV on 25 strengths up to 6e-11 mu_B is
    convex to optimiser precision: every second difference > -0.02 (optimiser noise of the
    size an audit once saw, 1.3 between neighbours, would give second differences near -1).
    Measured: smallest second difference +0.013; the step up from 0.02 to 0.19 near 4.3e-11
    is a parameter reaching its bound (a kink, not noise)."""
    lk = BorexinoLikelihood(variant=variant, mode="full")
    mu = np.linspace(0.0, 6e-11, 25)
    q = np.zeros((len(mu), 4))
    q[:, 0] = mu**2
    chi, _ = lk.profile_chi2(q, np.full(len(mu), 1e-6))
    d = chi - lk.sm_fit[0]
    assert d[0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(d) > 0)
    assert np.min(np.diff(d, 2)) > -0.02


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["spectrum_only", "radiochemical"])
def test_fast_grid_equals_direct_profile_along_the_mass_range(variant):
    """At 1 keV - 100 MeV (grid nodes and off-node masses) and at 0.5, 1 and 1.5 x the local
    90 % limit, the fast grid's ln L equals the direct profile within 0.05 (measured: see
    docs/borexino.md, "Fast mode")."""
    lk = BorexinoLikelihood(variant=variant, mode="fast")
    masses = np.array([1e-6, 3e-5, 2.4e-4, 1e-3, 1.7e-3, 4.1e-3, 2.2e-2, 0.1])
    lim = upper_limits(lk.fast, masses)["profile"]
    mu = (lim[None, :] * np.array([0.5, 1.0, 1.5])[:, None]).ravel()
    m = np.tile(masses, 3)
    obs = {"mu_eff2_mub2": mu**2, "m_aprime_gev": m}
    diff = lk.loglike(obs) - lk.profile(obs)
    assert np.max(np.abs(diff)) < 0.05
