"""Dark-photon widths, BR_inv and decay length: limits, thresholds, hand calculations."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from globalfit import constants as C
from globalfit.errors import ParameterError
from globalfit.model.decays import WIDTH_KEYS, aprime_widths, decay_length_cm, r_ratio

# Seed benchmark: m_N = 100 MeV, M_S = 300 MeV, dM_S = 100 MeV
BENCH = dict(m_n_gev=0.1, m_s1_gev=0.3, m_s2_gev=0.4)


def test_keys_and_shapes():
    m = np.linspace(0.0, 3.0, 7)
    w = aprime_widths(m, 1e-3, 0.3, **BENCH)
    assert set(w) == set(WIDTH_KEYS)
    for value in w.values():
        assert value.shape == m.shape and np.all(np.isfinite(value)) and np.all(value >= 0)
    np.testing.assert_allclose(w["gamma_vis"], w["gamma_ee"] + w["gamma_mumu"]
                               + w["gamma_tautau"] + w["gamma_had"], rtol=1e-15)
    np.testing.assert_allclose(w["gamma_total"], w["gamma_vis"] + w["gamma_inv"], rtol=1e-15)


def test_br_inv_exactly_zero_below_invisible_thresholds():
    """Between 2 m_e and 2 m_N (< 2 M_S) the A' can only decay visibly."""
    m = np.concatenate([np.linspace(2 * C.M_E_GEV, 2 * BENCH["m_n_gev"], 2001)[1:],
                        [np.nextafter(2 * BENCH["m_n_gev"], 0)]])
    w = aprime_widths(m, 1e-4, 0.5, **BENCH)
    assert np.all(w["gamma_vis"] > 0)
    assert np.all(w["gamma_inv"] == 0.0) and np.all(w["br_inv"] == 0.0)
    # just above 2 m_N the invisible channel opens and dominates (g_D >> eps e)
    above = aprime_widths(np.nextafter(2 * BENCH["m_n_gev"], 1) * 1.001, 1e-4, 0.5, **BENCH)
    assert above["br_inv"] > 0.99


def test_stable_aprime_below_2me_has_zero_width_and_br():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = np.array([0.0, 1e-4, 2 * C.M_E_GEV])
        w = aprime_widths(m, 1e-3, 1.0, **BENCH)
        assert np.all(w["gamma_total"] == 0.0) and np.all(w["br_inv"] == 0.0)
        assert np.all(decay_length_cm(w["gamma_total"][1:], m[1:], 1.0) == np.inf)


def test_extreme_masses_finite_without_warnings():
    """Subnormal / tiny / huge A' masses and massless dark states: no overflow, NaN or
    warning (a massless N makes the invisible channel open at any m_A' > 0)."""
    m = np.array([5e-324, 1e-300, 3.6e-158, 1e-9, 1e3])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        for m_n in (0.0, 0.1):
            w = aprime_widths(m, 1.0, 3.5, m_n, 0.0, 1e3)
            for value in w.values():
                assert np.all(np.isfinite(value)) and np.all(value >= 0)
        w = aprime_widths(m[1:], 1e-3, 0.5, 0.0, 0.3, 0.4)
        np.testing.assert_allclose(w["gamma_nn"], 0.5**2 / (4 * math.pi) * m[1:] / 3,
                                   rtol=1e-15)


def test_far_above_thresholds_br_inv_by_hand():
    """m_A' >> all masses: Gamma_inv = alpha_D m (1/3 + 2/12), Gamma_vis = alpha eps^2 m/3 *
    (3 leptons + R), R -> N_c sum_q Q_q^2 = 11/3 for u, d, s, c, b (quark counting)."""
    m, eps, g_d = 60.0, 3e-2, 0.05
    w = aprime_widths(m, eps, g_d, **BENCH)
    alpha_d = g_d**2 / (4 * math.pi)
    gamma_inv = alpha_d * m * (1 / 3 + 2 / 12)
    gamma_vis = C.ALPHA_EM * eps**2 * m / 3 * (3 + 11 / 3)
    assert w["gamma_inv"] == pytest.approx(gamma_inv, rel=1e-4)    # (m_N/m)^2 ~ 3e-6
    # tau and b-threshold factors at 60 GeV: O(1e-3)
    assert w["gamma_vis"] == pytest.approx(gamma_vis, rel=2e-3)
    assert w["br_inv"] == pytest.approx(gamma_inv / (gamma_inv + gamma_vis), rel=2e-3)


def test_gamma_ee_massless_limit():
    m = np.array([0.5, 1.0, 5.0])
    eps = 1e-3
    w = aprime_widths(m, eps, 0.1, **BENCH)
    np.testing.assert_allclose(w["gamma_ee"], C.ALPHA_EM * eps**2 * m / 3, rtol=5e-6)
    # all three leptons agree far above the tau threshold (lepton universality)
    w_far = aprime_widths(500.0, eps, 0.1, **BENCH)
    assert w_far["gamma_tautau"] == pytest.approx(w_far["gamma_ee"], rel=1e-4)


def test_threshold_behaviour_fermions_beta_scalars_beta_cubed():
    """Near threshold Gamma_NN ~ (3/2) beta (Dirac fermions, s-wave) and Gamma_phiphi ~ beta^3
    (scalars, p-wave)."""
    g_d, m_n = 0.3, 0.1
    alpha_d = g_d**2 / (4 * math.pi)
    for beta in (1e-3, 1e-2):
        m = 2 * m_n / math.sqrt(1 - beta**2)
        w = aprime_widths(m, 0.0, g_d, m_n, 10.0, 10.0)
        assert w["gamma_nn"] == pytest.approx(alpha_d * m / 3 * (1.5 - 0.5 * beta**2) * beta,
                                              rel=1e-9)
        w = aprime_widths(m, 0.0, g_d, 10.0, m_n, 10.0)
        assert w["gamma_ss"] == pytest.approx(alpha_d * m / 12 * beta**3, rel=1e-9)


def test_charges_and_couplings_scale_widths():
    base = aprime_widths(2.0, 1e-3, 0.2, **BENCH)
    double = aprime_widths(2.0, 2e-3, 0.4, **BENCH, q_n=2.0, q_s=3.0)
    assert double["gamma_vis"] == pytest.approx(4 * base["gamma_vis"], rel=1e-14)
    assert double["gamma_nn"] == pytest.approx(16 * base["gamma_nn"], rel=1e-14)
    assert double["gamma_ss"] == pytest.approx(36 * base["gamma_ss"], rel=1e-14)


def test_hadronic_width_zero_below_two_pions_and_r_ratio_sanity():
    m = np.array([0.0, 0.2, 2 * C.M_PI_CHARGED_GEV])
    assert np.all(r_ratio(m) == 0.0)
    w = aprime_widths(m, 1e-3, 0.1, **BENCH)
    assert np.all(w["gamma_had"] == 0.0)
    # Narrow-resonance peaks: R(M_V) ~ 9 Gamma_ee / (alpha^2 Gamma) (PDG widths), e.g.
    # phi(1020): 9 * 1.266e-6 / (alpha^2 * 4.249e-3) ~ 50.
    assert r_ratio(1.019461) == pytest.approx(9 * 2.979e-4 / C.ALPHA_EM**2, rel=0.05)
    # Continuum vs the measured R ~ 2.2 at 2-3 GeV (BES, PRL 88 (2002) 101802) and ~3.6 at
    # 6-9 GeV: tree-level quark counting is ~10 % low (no alpha_s/pi), stated in the docstring.
    for m_gev, measured in ((2.0, 2.2), (3.0, 2.2), (8.0, 3.6)):
        assert r_ratio(m_gev) == pytest.approx(measured, rel=0.15)
    assert r_ratio(30.0) == pytest.approx(11 / 3, rel=0.01)


def test_decay_length_against_lifetime():
    """L = beta gamma c tau with tau = hbar / Gamma (independent constants hbar [GeV s], c)."""
    m, e, gamma = 0.2, 5.0, 1e-12
    tau_s = C.HBAR_GEV_S / gamma
    beta_gamma = math.sqrt(e**2 - m**2) / m
    assert decay_length_cm(gamma, m, e) == pytest.approx(beta_gamma * C.C_CM_PER_S * tau_s,
                                                         rel=1e-9)
    assert decay_length_cm(gamma, m, m) == 0.0
    out = decay_length_cm(np.array([1e-12, 2e-12]), m, np.array([[5.0], [10.0]]))
    assert out.shape == (2, 2)


@pytest.mark.parametrize("kwargs, name", [
    (dict(m_aprime_gev=-1.0), "m_aprime_gev"),
    (dict(m_aprime_gev=np.nan), "m_aprime_gev"),
    (dict(eps=np.inf), "eps"),
    (dict(m_n_gev=-0.1), "m_n_gev"),
])
def test_bad_inputs_name_the_parameter(kwargs, name):
    args = dict(m_aprime_gev=0.5, eps=1e-3, g_d=0.1, **BENCH)
    args.update(kwargs)
    with pytest.raises(ParameterError, match=name):
        aprime_widths(**args)
    with pytest.raises(ParameterError, match="e_aprime_gev"):
        decay_length_cm(1e-10, 0.5, 0.4)
