"""LEP: the invisible Z width from the vector-like N, the heavy-charged-lepton cut, A' -> E+E-."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from globalfit import constants as C
from globalfit.model import get_model
from globalfit.model.dark_sector import DarkTransitionMomentModel
from globalfit.model.decays import aprime_widths
from globalfit.model.electroweak import z_partial_width_ratio, z_to_vectorlike_neutral
from likelihoods.lep import LEPLikelihood, lep_measurements

SEED = {"m_aprime_gev": 0.5, "eps": 1e-4, "g_d": 0.1, "y0": 1e-3, "alpha": 1.0,
        "theta": math.pi / 4, "m_n_gev": 0.1, "m_s_gev": 0.3, "dm_s_gev": 0.1}


def _z_width_mp(m_f: float, g_v: float, g_a: float) -> mp.mpf:
    """Gamma(Z -> f fbar) in GeV at 50 digits, from the tree-level formula written with the
    chiral couplings g_L = (g_V + g_A)/2, g_R = (g_V - g_A)/2 (an independent rearrangement:
    Gamma = G_F m_Z^3/(3 sqrt2 pi) beta [(g_L^2 + g_R^2)(1 - x) + 6 x g_L g_R], x = m^2/m_Z^2)."""
    mp.mp.dps = 50
    mz, gf = mp.mpf(C.M_Z_GEV), mp.mpf(C.G_FERMI_GEV2)
    x = (mp.mpf(m_f) / mz) ** 2
    if 4 * x >= 1:
        return mp.mpf(0)
    beta = mp.sqrt(1 - 4 * x)
    g_l, g_r = (mp.mpf(g_v) + g_a) / 2, (mp.mpf(g_v) - g_a) / 2
    return gf * mz**3 / (3 * mp.sqrt(2) * mp.pi) * beta * (
        (g_l**2 + g_r**2) * (1 - x) + 6 * x * g_l * g_r)


def test_delta_n_nu_against_independent_form_and_limits():
    nu = _z_width_mp(0.0, 0.5, 0.5)
    for m in (0.0, 0.1, 10.0, 30.0, 45.0, 45.59):
        ref = _z_width_mp(m, 1.0, 0.0) / nu
        assert float(z_to_vectorlike_neutral(m)) == pytest.approx(float(ref), rel=1e-12)
        # a massive SM-like chiral fermion, too (g_V = g_A = 1/2)
        assert float(z_partial_width_ratio(m, 0.5, 0.5)) == pytest.approx(
            float(_z_width_mp(m, 0.5, 0.5) / nu), rel=1e-12)
    assert float(z_to_vectorlike_neutral(0.0)) == 2.0                 # two extra species
    assert float(z_to_vectorlike_neutral(C.M_Z_GEV / 2)) == 0.0        # closed at m_Z / 2
    assert np.all(np.diff(z_to_vectorlike_neutral(np.linspace(0, 50, 101))) <= 0)


def test_lep_likelihood_sm_zero_and_benchmark_excluded():
    lep = LEPLikelihood()
    data = lep_measurements()
    assert (data["n_nu"], data["n_nu_error"]) == (2.9840, 0.0082)
    obs = {"delta_n_nu": np.array([0.0, 2.0, 0.0, 0.0]),
           "m_e_charged_gev": np.array([500.0, 500.0, 0.1, 100.9])}
    ll = lep.loglike(obs)
    assert ll[0] == 0.0                                                 # SM: ratio 1
    # 3 + 2 species against 2.984 +- 0.0082: Delta chi^2 = (2.016^2 - 0.016^2) / 0.0082^2
    assert -2 * ll[1] == pytest.approx((2.016**2 - 0.016**2) / 0.0082**2, rel=1e-9)
    assert ll[2] == -np.inf and np.isfinite(ll[3])                      # m_E cut at 100.8 GeV
    off = LEPLikelihood(charged_lepton_limit="none", z_width=False).loglike(obs)
    np.testing.assert_array_equal(off, 0.0)


def test_seed_benchmark_is_excluded_through_the_model():
    model = get_model("dark_tmm")
    obs, valid = model.observables({k: np.array([v]) for k, v in SEED.items()})
    assert valid.all()
    assert obs["delta_n_nu"][0] == pytest.approx(2.0, rel=1e-5)        # m_N = 100 MeV << m_Z
    ll = LEPLikelihood().loglike({k: obs[k] for k in LEPLikelihood().requires})
    assert ll[0] == -np.inf                                             # m_E = m_N = 0.1 GeV
    ll_z = LEPLikelihood(charged_lepton_limit="none").loglike(
        {k: obs[k] for k in LEPLikelihood().requires})
    assert -2 * ll_z[0] > 5e4                                           # ~245 sigma


def test_aprime_to_charged_pair_widths():
    """A' -> E+E-: the Dirac formula with alpha_D, visible, 0 below 2 m_E; with m_E = m_N it
    equals Gamma(N Nbar) and roughly halves BR_inv (MODEL.md section 5)."""
    m = np.array([0.15, 0.25, 0.5, 60.0])
    base = aprime_widths(m, 1e-4, 0.1, 0.1, 0.3, 0.4)
    with_e = aprime_widths(m, 1e-4, 0.1, 0.1, 0.3, 0.4, m_e_charged_gev=0.1)
    np.testing.assert_array_equal(base["gamma_ech"], 0.0)
    assert with_e["gamma_ech"][0] == 0.0                               # below threshold
    np.testing.assert_allclose(with_e["gamma_ech"], with_e["gamma_nn"], rtol=1e-15)
    for key in ("gamma_ee", "gamma_mumu", "gamma_tautau", "gamma_had"):
        np.testing.assert_array_equal(with_e[key], base[key])
    np.testing.assert_allclose(with_e["gamma_vis"], base["gamma_vis"] + with_e["gamma_ech"],
                               rtol=1e-15)
    np.testing.assert_allclose(with_e["gamma_inv"], base["gamma_inv"], rtol=1e-15)
    # far above threshold: Gamma_EE -> alpha_D m / 3
    assert with_e["gamma_ech"][3] == pytest.approx(0.1**2 / (4 * math.pi) * 60.0 / 3, rel=1e-5)
    # between 2 m_N and 2 M_S only N Nbar is invisible: BR_inv = G_NN / (2 G_NN + G_SM)
    g_nn, g_sm = with_e["gamma_nn"][1], base["gamma_vis"][1]
    assert with_e["br_inv"][1] == pytest.approx(g_nn / (2 * g_nn + g_sm), rel=1e-14)
    assert 0.49 < with_e["br_inv"][1] < 0.5
    # heavy E: no change
    heavy = aprime_widths(m, 1e-4, 0.1, 0.1, 0.3, 0.4, m_e_charged_gev=100.0)
    np.testing.assert_allclose(heavy["br_inv"], base["br_inv"], rtol=1e-15)


def test_charged_mass_parameter_moves_the_lfv_loop_only():
    """m_E enters l -> l' gamma (the fermion in the loop) and A' -> E+E-, not the dipole."""
    free = DarkTransitionMomentModel(charged_mass="parameter")
    pts = {k: np.array([v, v]) for k, v in SEED.items()}
    pts["m_e_charged_gev"] = np.array([0.1, 0.2])
    obs, valid = free.observables(pts)
    ref, _ = get_model("dark_tmm").observables({k: np.array([v]) for k, v in SEED.items()})
    assert valid.all()
    for key in ("lam2_1_mub2", "mu_eff_mub", "br_mu_e_gamma", "br_inv", "delta_n_nu"):
        assert obs[key][0] == pytest.approx(ref[key][0], rel=1e-13)
    assert obs["mu_eff_mub"][1] == pytest.approx(ref["mu_eff_mub"][0], rel=1e-13)
    assert obs["br_mu_e_gamma"][1] != pytest.approx(ref["br_mu_e_gamma"][0], rel=1e-3)
    np.testing.assert_array_equal(obs["m_e_charged_gev"], [0.1, 0.2])
