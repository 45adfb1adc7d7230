"""The dark transition-moment model: symmetries, limits, normalisations, vectorisation."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from globalfit import constants as C
from globalfit.errors import ConfigError, ParameterError
from globalfit.model import REGISTRY, get_model, model_class
from globalfit.model.dark_sector import DarkTransitionMomentModel, solar_mass_weights
from globalfit.model.pmns import pmns_matrix
from globalfit.observables import OBSERVABLES

VEC = dict(m_aprime_gev=0.15, eps=1e-4, g_d=0.3, m_n_gev=0.1, m_s_gev=0.3, dm_s_gev=0.1,
           theta=0.6, y_e=0.3, y_mu=-0.2, y_tau=0.5, yp_e=0.1, yp_mu=0.4, yp_tau=-0.25)
"""A generic point of the "vectors" parametrisation (seed benchmark masses)."""

ANGLE = dict(m_aprime_gev=0.15, eps=1e-4, g_d=0.3, m_n_gev=0.1, m_s_gev=0.3, dm_s_gev=0.1,
             theta=0.6, y0=0.4, alpha=0.9)


@pytest.fixture(scope="module")
def vec_model() -> DarkTransitionMomentModel:
    return DarkTransitionMomentModel(yukawa_parametrisation="vectors")


@pytest.fixture(scope="module")
def angle_model() -> DarkTransitionMomentModel:
    return get_model("dark_tmm")


def _with(point: dict, **changes) -> dict:
    out = dict(point)
    out.update(changes)
    return out


def _quad_g(r: float) -> float:
    """G(r) by direct quadrature (independent of globalfit.model.loops)."""
    return quad(lambda x: x * (1 - x) / (x + r * (1 - x)), 0, 1, epsabs=0, epsrel=1e-13)[0]


def _quad_f(x: float) -> float:
    return quad(lambda t: t**2 * (1 - t) / (1 - t + x * t), 0, 1, epsabs=0, epsrel=1e-13)[0]


def _quad_flip(x: float) -> float:
    return quad(lambda t: t**2 / (1 - t + x * t), 0, 1, epsabs=0, epsrel=1e-13)[0]


# ---- registry and interface ----------------------------------------------------------------
def test_registered_and_interface(angle_model):
    assert REGISTRY["dark_tmm"].endswith(":DarkTransitionMomentModel")
    assert model_class("dark_tmm") is DarkTransitionMomentModel
    obs, valid = angle_model.observables(ANGLE)
    assert set(obs) == set(angle_model.provides)
    assert set(angle_model.provides) <= set(OBSERVABLES)
    assert valid.shape == (1,) and valid.dtype == bool
    for spec in angle_model.parameters:
        assert spec.low <= ANGLE[spec.name] <= spec.high
    names = [s.name for s in DarkTransitionMomentModel(right_handed=True).parameters]
    assert "kappa_r" in names and "y0" in names


def test_bad_options_and_missing_parameters(angle_model):
    with pytest.raises(ConfigError, match="yukawa_parametrisation"):
        DarkTransitionMomentModel(yukawa_parametrisation="vector")
    with pytest.raises(ConfigError, match="unit vector"):
        DarkTransitionMomentModel(n=(1.0, 1.0, 0.0))
    with pytest.raises(ConfigError, match="orthogonal"):
        DarkTransitionMomentModel(m=(1.0, 0.0, 0.0))
    with pytest.raises(ParameterError, match="alpha"):
        angle_model.observables({k: v for k, v in ANGLE.items() if k != "alpha"})


# ---- the dipole matrix -------------------------------------------------------------------
def test_dipole_antisymmetric_with_zero_diagonal(vec_model):
    lam = vec_model.dipole_matrix_flavour(VEC)
    assert lam.shape == (1, 3, 3)
    np.testing.assert_array_equal(lam, -np.swapaxes(lam, 1, 2))
    assert np.all(np.diagonal(lam, axis1=1, axis2=2) == 0.0)
    assert np.abs(lam).max() > 0
    lam_m = vec_model.dipole_matrix_mass(VEC)
    np.testing.assert_allclose(lam_m, -np.swapaxes(lam_m, 1, 2), atol=1e-15 * np.abs(lam).max())


def test_dipole_against_independent_formula(vec_model):
    """lambda_{e mu} from MODEL.md section 2 with G by direct quadrature."""
    p = VEC
    m1, m2 = p["m_s_gev"], p["m_s_gev"] + p["dm_s_gev"]
    bracket = (_quad_g(p["m_n_gev"]**2 / m1**2) / m1**2
               - _quad_g(p["m_n_gev"]**2 / m2**2) / m2**2)
    expected = (p["g_d"] * p["m_n_gev"] / (16 * math.pi**2) * math.sin(2 * p["theta"]) / 2
                * (p["y_e"] * p["yp_mu"] - p["y_mu"] * p["yp_e"]) * bracket)
    lam = vec_model.dipole_matrix_flavour(VEC)[0]
    assert lam[0, 1] == pytest.approx(expected, rel=1e-11)


def test_dipole_vanishes_gim_mixing_alignment(vec_model, angle_model):
    ref = np.abs(vec_model.dipole_matrix_flavour(VEC)).max()
    assert np.all(vec_model.dipole_matrix_flavour(_with(VEC, dm_s_gev=0.0)) == 0.0)
    assert np.all(vec_model.dipole_matrix_flavour(_with(VEC, theta=0.0)) == 0.0)
    aligned = _with(VEC, yp_e=-1.7 * VEC["y_e"], yp_mu=-1.7 * VEC["y_mu"],
                    yp_tau=-1.7 * VEC["y_tau"])
    assert np.abs(vec_model.dipole_matrix_flavour(aligned)).max() < 1e-15 * ref
    assert np.all(angle_model.dipole_matrix_flavour(_with(ANGLE, alpha=0.0)) == 0.0)
    # approach to zero is linear in dM_S and in theta
    small = [vec_model.dipole_matrix_flavour(_with(VEC, dm_s_gev=d))[0, 0, 1]
             for d in (1e-5, 1e-6)]
    assert small[0] / small[1] == pytest.approx(10.0, rel=1e-4)
    small = [vec_model.dipole_matrix_flavour(_with(VEC, theta=t))[0, 0, 1] for t in (1e-5, 1e-6)]
    assert small[0] / small[1] == pytest.approx(10.0, rel=1e-8)


def test_dipole_linear_in_gd_and_proportional_to_mn(vec_model):
    lam = vec_model.dipole_matrix_flavour(VEC)
    np.testing.assert_allclose(vec_model.dipole_matrix_flavour(_with(VEC, g_d=3 * VEC["g_d"])),
                               3 * lam, rtol=1e-14)
    light = [vec_model.dipole_matrix_flavour(_with(VEC, m_n_gev=m))[0, 0, 1]
             for m in (1e-5, 1e-6)]
    assert light[0] / light[1] == pytest.approx(10.0, rel=1e-5)   # chirality flip on m_N
    assert np.all(vec_model.dipole_matrix_flavour(_with(VEC, m_n_gev=0.0)) == 0.0)


def test_scale_angle_equals_vectors():
    n, m = np.array([0.0, 0.6, 0.8]), np.array([1.0, 0.0, 0.0])
    model = DarkTransitionMomentModel(n=n, m=m)
    y0, alpha = 0.7, 1.1
    vec = _with(VEC, **{f"y_{f}": y0 * n[i] for i, f in enumerate(("e", "mu", "tau"))},
                **{f"yp_{f}": y0 * (math.cos(alpha) * n[i] + math.sin(alpha) * m[i])
                   for i, f in enumerate(("e", "mu", "tau"))})
    ang = _with({k: VEC[k] for k in ANGLE if k in VEC}, y0=y0, alpha=alpha)
    obs_a, _ = model.observables(ang)
    obs_v, _ = DarkTransitionMomentModel(yukawa_parametrisation="vectors").observables(vec)
    for key in obs_a:
        np.testing.assert_allclose(obs_a[key], obs_v[key], rtol=1e-13, atol=0, err_msg=key)


# ---- mass basis and solar weights --------------------------------------------------------
def test_pmns_unitary_and_standard_entries():
    u = pmns_matrix()
    np.testing.assert_allclose(u @ u.conj().T, np.eye(3), atol=1e-15)
    s12, s13, s23 = C.SIN2_THETA12, C.SIN2_THETA13, C.SIN2_THETA23
    assert abs(u[0, 1])**2 == pytest.approx((1 - s13) * s12, rel=1e-14)
    assert abs(u[0, 2])**2 == pytest.approx(s13, rel=1e-14)
    assert abs(u[1, 2])**2 == pytest.approx((1 - s13) * s23, rel=1e-14)
    # Jarlskog invariant Im(U_e1 U_mu2 U*_e2 U*_mu1) = c12 s12 c23 s23 c13^2 s13 sin(delta)
    jarlskog = np.imag(u[0, 0] * u[1, 1] * np.conj(u[0, 1]) * np.conj(u[1, 0]))
    c = math.sqrt
    expected = (c(s12 * (1 - s12)) * c(s23 * (1 - s23)) * (1 - s13) * c(s13)
                * math.sin(math.radians(C.DELTA_CP_DEG)))
    assert jarlskog == pytest.approx(expected, rel=1e-12)
    u_maj = pmns_matrix(majorana_phases_rad=(0.4, -1.3))
    np.testing.assert_allclose(np.abs(u_maj), np.abs(u), rtol=1e-15)
    with pytest.raises(ParameterError, match="sin2_theta12"):
        pmns_matrix(sin2_theta12=1.2)


def test_lambda_k_match_mass_basis_matrix(vec_model):
    obs, _ = vec_model.observables(VEC)
    lam_m = vec_model.dipole_matrix_mass(VEC)[0]
    scale = VEC["eps"]**2 / C.MU_BOHR_PER_GEV**2
    for k, (i, j) in enumerate(((1, 2), (2, 0), (0, 1))):
        assert obs[f"lam2_{k + 1}_mub2"][0] == pytest.approx(scale * abs(lam_m[i, j])**2,
                                                             rel=1e-12)
    # unitarity: sum_k |Lambda_k|^2 equals the flavour-basis sum
    lam_f = vec_model.dipole_matrix_flavour(VEC)[0]
    total = sum(obs[f"lam2_{k}_mub2"][0] for k in (1, 2, 3))
    assert total == pytest.approx(scale * (lam_f[0, 1]**2 + lam_f[1, 2]**2 + lam_f[2, 0]**2),
                                  rel=1e-13)


def test_majorana_phases_do_not_change_solar_observables(vec_model):
    other = DarkTransitionMomentModel(yukawa_parametrisation="vectors",
                                      majorana_phases_rad=(1.1, -2.3))
    a, _ = vec_model.observables(VEC)
    b, _ = other.observables(VEC)
    for key in ("lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2", "mu_eff_mub"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-12)


def test_solar_mass_weights_and_mu_eff(vec_model):
    w = solar_mass_weights(np.array([0.3, 0.69]), 0.022)
    assert w.shape == (3, 2)
    np.testing.assert_allclose(w.sum(axis=0), 2.0, rtol=1e-15)
    np.testing.assert_allclose(solar_mass_weights(1.0, 0.0), [0.0, 1.0, 1.0])
    # mu_eff^2 = sum_k P_k sum_j |lambda_jk|^2 with vacuum P_k (written out by hand)
    s12, s13 = C.SIN2_THETA12, C.SIN2_THETA13
    p1, p2, p3 = (1 - s13) * (1 - s12), (1 - s13) * s12, s13
    obs, _ = vec_model.observables(VEC)
    l1, l2, l3 = (obs[f"lam2_{k}_mub2"][0] for k in (1, 2, 3))
    expected = p1 * (l2 + l3) + p2 * (l1 + l3) + p3 * (l1 + l2)
    assert obs["mu_eff_mub"][0] ** 2 == pytest.approx(expected, rel=1e-13)
    assert obs["mu_eff2_mub2"][0] == pytest.approx(expected, rel=1e-13)
    with pytest.raises(ParameterError, match="p_e1_2nu"):
        solar_mass_weights(1.5, 0.02)


def test_canas_one_at_a_time_limits_scale_like_inverse_sqrt_weights():
    """Canas et al. (PLB 753 (2016) 191) quote Lambda_1,2,3 < 5.6, 4.0, 3.1 x 1e-11 mu_B from
    mu_eff < 3.1e-11 mu_B. With the vacuum weights (P_e1 = cos^2 theta12) the one-at-a-time
    limits 3.1e-11/sqrt(w_k) reproduce their ratios to 10 % (their analysis averages P_e1
    over the 7Be/pp spectrum and uses older mixing angles, hence not better)."""
    w = solar_mass_weights(1 - C.SIN2_THETA12, C.SIN2_THETA13)
    limits = 3.1 / np.sqrt(w)
    np.testing.assert_allclose(limits / limits[2], np.array([5.6, 4.0, 3.1]) / 3.1, rtol=0.1)
    assert limits[2] == pytest.approx(3.1, rel=0.02)


# ---- charged-lepton flavour violation ------------------------------------------------------
def _couplings(p: dict) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([p["y_e"], p["y_mu"], p["y_tau"]])
    yp = np.array([p["yp_e"], p["yp_mu"], p["yp_tau"]])
    c, s = math.cos(p["theta"]), math.sin(p["theta"])
    return y * c - yp * s, y * s + yp * c


def test_mu_e_gamma_general_dipole_normalisation(vec_model):
    """BR = 48 pi^3 alpha (|A_L|^2 + |A_R|^2)/G_F^2 with, for left-handed couplings,
    A_R = sum_k C^e_k C^mu_k / (2 (4 pi)^2 M_k^2) int_0^1 t^2(1-t)/(1-t+x_k t) dt, A_L = 0;
    and the same number from MODEL.md's 3 alpha/(64 pi G_F^2) |sum_k C C f/M^2|^2."""
    c1, c2 = _couplings(VEC)
    masses = (VEC["m_s_gev"], VEC["m_s_gev"] + VEC["dm_s_gev"])
    f = [_quad_f(VEC["m_n_gev"]**2 / m**2) for m in masses]
    a_r = sum(ck[0] * ck[1] * fk / (2 * (4 * math.pi)**2 * m**2)
              for ck, fk, m in zip((c1, c2), f, masses))
    br_general = 48 * math.pi**3 * C.ALPHA_EM * a_r**2 / C.G_FERMI_GEV2**2
    br_model_md = (3 * C.ALPHA_EM / (64 * math.pi * C.G_FERMI_GEV2**2)
                   * sum(ck[0] * ck[1] * fk / m**2 for ck, fk, m in zip((c1, c2), f, masses))**2)
    obs, _ = vec_model.observables(VEC)
    assert obs["br_mu_e_gamma"][0] == pytest.approx(br_general, rel=1e-11)
    assert br_model_md == pytest.approx(br_general, rel=1e-12)


def test_tau_branching_ratios_scale_with_leptonic_br_and_masses():
    """Same couplings for mu and tau: left-handed only, BR(tau -> e gamma) = BR(mu -> e gamma)
    BR(tau -> e nu nu); with right-handed couplings the chirally enhanced term goes as
    m_E/m_1, so the ratio follows from A(m_1) written out with quadrature loop functions."""
    p = _with(VEC, y_tau=VEC["y_mu"], yp_tau=VEC["yp_mu"])
    obs, _ = DarkTransitionMomentModel(yukawa_parametrisation="vectors").observables(p)
    assert obs["br_tau_e_gamma"][0] == pytest.approx(obs["br_mu_e_gamma"][0] * C.BR_TAU_E_NU_NU,
                                                     rel=1e-13)
    kappa, m_n = 0.7, 1.5
    q = _with(p, kappa_r=kappa, m_n_gev=m_n)
    obs_rh, _ = DarkTransitionMomentModel(yukawa_parametrisation="vectors",
                                          right_handed=True).observables(q)
    c1, c2 = _couplings(q)
    masses = (q["m_s_gev"], q["m_s_gev"] + q["dm_s_gev"])
    terms = []
    for ck, m in zip((c1, c2), masses):
        x = m_n**2 / m**2
        pair = ck[0] * ck[1]
        terms.append((pair * _quad_f(x) / (32 * math.pi**2 * m**2),
                      pair * m_n * _quad_flip(x) / (16 * math.pi**2 * m**2)))

    def amp2(m1: float) -> float:
        a_r = sum(f0 + kappa * f1 / m1 for f0, f1 in terms)
        a_l = sum(kappa**2 * f0 + kappa * f1 / m1 for f0, f1 in terms)
        return a_r**2 + a_l**2

    ratio = obs_rh["br_tau_e_gamma"][0] / obs_rh["br_mu_e_gamma"][0]
    assert ratio == pytest.approx(C.BR_TAU_E_NU_NU * amp2(C.M_TAU_GEV) / amp2(C.M_MU_GEV),
                                  rel=1e-10)
    prefactor = 48 * math.pi**3 * C.ALPHA_EM / C.G_FERMI_GEV2**2
    assert obs_rh["br_mu_e_gamma"][0] == pytest.approx(prefactor * amp2(C.M_MU_GEV), rel=1e-10)
    # chirally enhanced: with m_E >> m_mu the right-handed couplings raise BR(mu -> e gamma)
    obs_lh, _ = DarkTransitionMomentModel(yukawa_parametrisation="vectors").observables(q)
    assert obs_rh["br_mu_e_gamma"][0] > 100 * obs_lh["br_mu_e_gamma"][0]
    # kappa_r = 0 reproduces the left-handed model exactly
    obs_0, _ = DarkTransitionMomentModel(yukawa_parametrisation="vectors",
                                         right_handed=True).observables(_with(q, kappa_r=0.0))
    for key in ("br_mu_e_gamma", "br_tau_e_gamma", "br_tau_mu_gamma"):
        np.testing.assert_allclose(obs_0[key], obs_lh[key], rtol=1e-15)


# ---- dark-photon widths through the model ------------------------------------------------
def test_br_inv_at_seed_benchmark(angle_model):
    m = np.array([0.0, 0.05, 0.15, 0.199, 0.25, 0.9])
    obs, valid = angle_model.observables(_with(ANGLE, m_aprime_gev=m))
    assert valid.all()
    np.testing.assert_array_equal(obs["br_inv"][:4], 0.0)    # below 2 m_N = 200 MeV
    # A' -> E+ E- (visible, m_E = m_N, same U(1)_D charge) opens with N Nbar and takes half of
    # the dark width (MODEL.md section 5): BR_inv just below 1/2 until the scalars open at
    # 2 M_S = 600 MeV, above 1/2 after.
    assert np.all((obs["br_inv"][4:5] > 0.49) & (obs["br_inv"][4:5] < 0.5))
    assert 0.5 < obs["br_inv"][5] < 0.99
    np.testing.assert_allclose(obs["gamma_total_gev"],
                               obs["gamma_inv_gev"] + obs["gamma_vis_gev"], rtol=1e-15)
    # With E decoupled (m_E = 200 GeV) the A' decays invisibly again above 2 m_N.
    heavy_e = DarkTransitionMomentModel(charged_mass="parameter")
    obs_h, valid_h = heavy_e.observables(_with(ANGLE, m_aprime_gev=m, m_e_charged_gev=200.0))
    assert valid_h.all()
    np.testing.assert_array_equal(obs_h["br_inv"][:4], 0.0)
    assert np.all(obs_h["br_inv"][4:] > 0.99)


# ---- invalid points, batches, never NaN ----------------------------------------------------
def test_invalid_points_masked_and_finite(angle_model):
    n = 6
    p = {k: np.full(n, v) for k, v in ANGLE.items()}
    p["m_n_gev"][0] = np.nan
    p["m_s_gev"][1] = -0.3
    p["eps"][2] = 2.0
    p["theta"][3] = 4.0
    p["m_aprime_gev"][4] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obs, valid = angle_model.observables(p)
    np.testing.assert_array_equal(valid, [False] * 5 + [True])
    single, _ = angle_model.observables(ANGLE)
    for key, value in obs.items():
        assert np.all(np.isfinite(value)), key
        assert value[5] == single[key][0]


def _point_strategy(valid_only: bool):
    def rng(lo, hi):
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    if valid_only:
        masses = {k: st.one_of(rng(0.0, 1e3), rng(1e-9, 1e-2)) for k in
                  ("m_aprime_gev", "m_n_gev", "dm_s_gev")}
        masses["m_s_gev"] = st.one_of(rng(1e-9, 1e3), rng(1e-3, 1.0))
        other = dict(eps=rng(0.0, 1.0), g_d=rng(0.0, 3.5), theta=rng(-1.57, 1.57),
                     y_e=rng(-3.5, 3.5), y_mu=rng(-3.5, 3.5), y_tau=rng(-3.5, 3.5),
                     yp_e=rng(-3.5, 3.5), yp_mu=rng(-3.5, 3.5), yp_tau=rng(-3.5, 3.5))
        return st.fixed_dictionaries({**masses, **other})
    anything = st.floats(allow_nan=True, allow_infinity=True)
    return st.fixed_dictionaries({k: anything for k in VEC})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_point_strategy(valid_only=True), min_size=1, max_size=6))
def test_batch_equals_one_by_one(points):
    model = DarkTransitionMomentModel(yukawa_parametrisation="vectors")
    batch = {k: np.array([p[k] for p in points]) for k in VEC}
    obs, valid = model.observables(batch)
    assert valid.all()
    for i, point in enumerate(points):
        single, valid_1 = model.observables(point)
        assert valid_1[0]
        for key in obs:
            np.testing.assert_allclose(obs[key][i], single[key][0], rtol=1e-13, atol=0,
                                       err_msg=key)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_point_strategy(valid_only=False), _point_strategy(valid_only=True)),
                min_size=1, max_size=6))
def test_never_nan_never_warns(points):
    model = DarkTransitionMomentModel(yukawa_parametrisation="vectors", right_handed=True)
    batch = {k: np.array([p[k] for p in points]) for k in VEC}
    batch["kappa_r"] = np.linspace(-10.0, 10.0, len(points))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obs, valid = model.observables(batch)
    for key, value in obs.items():
        assert value.shape == valid.shape
        assert np.all(np.isfinite(value)), key
        assert np.all(value[~valid] == 0.0)
