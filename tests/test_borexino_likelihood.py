"""Borexino spectral likelihood: statistics kernel, signal folding, modes, interface."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import poisson

from globalfit.errors import ConfigError, ParameterError
from likelihoods import get_likelihood
from likelihoods.base import Likelihood
from likelihoods.borexino import BorexinoLikelihood, recoil
from likelihoods.borexino.likelihood import PARAMS, baker_cousins_deviance
from likelihoods.borexino.response import response_matrix_t
from likelihoods.borexino.spectrum import load_phase2
from likelihoods.borexino.templates import SOLAR, signal_t_grid
from likelihoods.solar.xsec import propagator_factor


@pytest.fixture(scope="module")
def lk_full():
    return BorexinoLikelihood(variant="radiochemical", mode="full")


@pytest.fixture(scope="module")
def lk_fast():
    return BorexinoLikelihood(variant="radiochemical", mode="fast")


def test_baker_cousins_equals_saturated_poisson_ratio():
    rng = np.random.default_rng(1)
    n = rng.poisson(5.0, size=200).astype(float)
    nu = rng.uniform(0.5, 10.0, size=200)
    expected = 2 * np.sum(poisson.logpmf(n, np.maximum(n, 1e-300)) - poisson.logpmf(n, nu))
    assert baker_cousins_deviance(nu, n) == pytest.approx(expected, rel=1e-10)
    assert baker_cousins_deviance(n + (n == 0), n + (n == 0)) == pytest.approx(0.0, abs=1e-9)
    assert baker_cousins_deviance(np.array([0.0, 1.0]), np.array([1.0, 1.0])) == np.inf
    # no empty bin (the unmasked path): a row with nu <= 0, NaN or inf anywhere is +inf, the
    # other rows are untouched; with an empty bin nu = 0 there is allowed
    ones = np.ones(2)
    rows = np.array([[1.0, 1.0], [-1e-300, 1.0], [np.nan, 1.0], [np.inf, 1.0], [-0.0, 2.0]])
    d = baker_cousins_deviance(rows, ones)
    assert d[0] == pytest.approx(0.0, abs=1e-12) and np.all(d[1:] == np.inf)
    assert np.isfinite(baker_cousins_deviance(np.array([0.0, 1.0]), np.array([0.0, 1.0])))


def test_interface_and_registry(lk_full):
    assert isinstance(lk_full, Likelihood) and lk_full.name == "borexino"
    assert set(lk_full.requires) == {"mu_eff2_mub2", "m_aprime_gev"}
    assert [n.name for n in lk_full.nuisances] == list(PARAMS)
    priors = {n.name: n for n in lk_full.nuisances if n.prior == "gaussian"}
    assert priors["cno"].center == pytest.approx(4.92) and priors["cno"].width == 0.55
    mass = get_likelihood("borexino", weights="mass", mode="full")
    assert set(mass.requires) == {"lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2", "m_aprime_gev"}
    with pytest.raises(ConfigError, match="variant"):
        BorexinoLikelihood(variant="gallium")
    with pytest.raises(ConfigError, match="fit_window_nh"):
        BorexinoLikelihood(fit_window_nh=(50, 900))
    with pytest.raises(ParameterError, match="m_aprime_gev"):
        lk_full.loglike({"mu_eff2_mub2": np.zeros(2)}, {})


def test_reduced_signal_basis_equals_direct_fold(lk_full):
    """U (W_k v) must equal R_k v (the direct matrix product) for any mass."""
    model = lk_full.model
    t, _ = signal_t_grid()
    edges = load_phase2().edges_kev
    r0 = response_matrix_t(t, edges, lk_full.response)[model.mask]
    mm = model.sig["mm"]
    for m in (0.0, 3.7e-4, 2.2e-3, 0.05, 3.0):
        v = mm[0, 0] * propagator_factor(t, m) ** 2
        direct = r0 @ v
        reduced = model.sig["U"] @ (model.sig["W"][0] @ v)
        assert np.max(np.abs(reduced - direct)) < 1e-6 * np.max(np.abs(direct))


def test_signal_propagator_limits(lk_full):
    """m -> 0 gives the massless signal; m^2 >> 2 m_e T gives the (2 m_e T / m^2)^2 fall-off."""
    model = lk_full.model
    th = np.repeat(lk_full.sm_fit[1][None], 3, axis=0)
    q = np.zeros((3, 4))
    q[:, 0] = 1e-21
    s = model.signal_counts(th, q, np.array([0.0, 1e-7, 0.3]))
    assert np.allclose(s[1], s[0], rtol=1e-6)     # m^2 / (2 m_e T) < 1e-7 in the window
    s2 = model.signal_counts(th[:1], q[:1], np.array([0.6]))
    assert s2.sum() / s[2].sum() == pytest.approx(0.5**4, rel=1e-3)


def _points_near_sm(lk, n: int, seed: int, spread: float) -> tuple[dict, dict]:
    """(observables, nuisances) of n points: nuisances scattered by ``spread`` (relative)
    around the SM best fit, moments and masses spread over the signal's range."""
    rng = np.random.default_rng(seed)
    th = lk.sm_fit[1]
    nuis = {k: th[i] * (1 + spread * rng.standard_normal(n)) for i, k in enumerate(PARAMS)}
    nuis["energy_scale"] = 0.003 * rng.standard_normal(n)
    nuis["resolution"] = 0.03 * rng.standard_normal(n)
    obs = {"mu_eff2_mub2": rng.uniform(0, 2e-21, n), "m_aprime_gev": 10 ** rng.uniform(-7, 0, n)}
    return obs, nuis


def test_full_mode_vectorised_finite_and_batch_invariant(lk_full):
    n = 50
    th = lk_full.sm_fit[1]
    obs, nuis = _points_near_sm(lk_full, n, 3, 0.01)
    ll = lk_full.loglike(obs, nuis)
    assert ll.shape == (n,) and np.all(np.isfinite(ll))
    one = lk_full.loglike({k: v[7:8] for k, v in obs.items()}, {k: v[7:8] for k, v in nuis.items()})
    assert one[0] == pytest.approx(ll[7], rel=1e-12)
    bad = dict(obs, mu_eff2_mub2=-obs["mu_eff2_mub2"])
    assert np.all(lk_full.loglike(bad, nuis) == -np.inf)
    # a larger moment at fixed nuisances near the SM best fit lowers the likelihood
    base = {k: np.full(2, th[i]) for i, k in enumerate(PARAMS)}
    big = lk_full.loglike({"mu_eff2_mub2": np.array([0.0, 1e-20]), "m_aprime_gev": np.zeros(2)},
                          base)
    assert big[1] < big[0]


def test_full_mode_blocks_change_no_value(lk_full, monkeypatch):
    """The full mode evaluates a batch in blocks of FULL_BLOCK points; blocks of 16 (crossing
    the batch of 50 three times) give the values of one block to 1e-12."""
    from likelihoods.borexino import likelihood as module
    obs, nuis = _points_near_sm(lk_full, 50, 4, 0.02)
    monkeypatch.setattr(module, "FULL_BLOCK", 64)
    whole = lk_full.loglike(obs, nuis)
    monkeypatch.setattr(module, "FULL_BLOCK", 16)
    np.testing.assert_allclose(lk_full.loglike(obs, nuis), whole, rtol=1e-12)


def test_po210_peak_is_the_gram_charlier_series(lk_full):
    """The 210Po peak: po210 against an independent evaluation of the Gram-Charlier series
    (numpy's probabilists' Hermite series He_n) times phi(z)/sigma; the counts of the fast
    path (Horner form, expected()) equal theta_po210 * po210 to 1e-13; the peak has unit area
    in rate, so summed over the window bins it gives the exposure (day x 100 t) per cpd/100 t
    when the window holds the whole peak."""
    from numpy.polynomial import hermite_e
    from likelihoods.borexino.parameters import I_H3, I_H4, I_MU, I_PO, I_SG
    from likelihoods.borexino.spectrum import EXPOSURE_DAY_100T
    model = lk_full.model
    rng = np.random.default_rng(5)
    theta = np.repeat(lk_full.sm_fit[1][None], 40, axis=0)
    theta[:, I_MU] = rng.uniform(300.0, 600.0, 40)
    theta[:, I_SG] = rng.uniform(10.0, 80.0, 40)
    theta[:, I_H3] = rng.uniform(-0.5, 0.5, 40)
    theta[:, I_H4] = rng.uniform(-0.5, 0.5, 40)
    sl = slice(3, 500)
    ref = np.empty((40, 497))
    for j, th in enumerate(theta):
        z = (model.centers[sl] - th[I_MU]) / th[I_SG]
        series = hermite_e.hermeval(z, [1.0, 0.0, 0.0, th[I_H3] / 6.0, th[I_H4] / 24.0])
        ref[j] = (np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi) / th[I_SG] * series
                  * model.widths_exposure[sl])
    peak = model.po210(theta, sl=sl)
    np.testing.assert_allclose(peak, ref, rtol=1e-12, atol=1e-14 * np.max(np.abs(ref)))
    fast = model.po210_counts(theta, sl)
    np.testing.assert_allclose(fast, theta[:, I_PO, None] * peak, rtol=1e-13,
                               atol=1e-15 * np.max(np.abs(fast)))
    # bins of <= 3.3 keV: the midpoint sum of a peak of width sigma >= 25 keV is off by at
    # most ~(3.3 / 25)^2 / 24 = 7e-4
    inside = (theta[:, I_MU] - 8 * theta[:, I_SG] > model.centers[0]) & (
        theta[:, I_MU] + 8 * theta[:, I_SG] < model.centers[-1]) & (theta[:, I_SG] >= 25.0)
    assert inside.sum() >= 5
    area = model.po210(theta[inside]).sum(axis=1) / EXPOSURE_DAY_100T
    np.testing.assert_allclose(area, 1.0, rtol=2e-3)


def test_full_loglike_at_best_fit_matches_profile(lk_full):
    th = lk_full.sm_fit[1]
    obs = {"mu_eff2_mub2": np.zeros(1), "m_aprime_gev": np.zeros(1)}
    nuis = {k: np.array([th[i]]) for i, k in enumerate(PARAMS)}
    full = lk_full.loglike(obs, nuis)[0]
    prior = -0.5 * lk_full.model.prior.chi2(th)
    assert full + prior == pytest.approx(-0.5 * lk_full.sm_fit[0], abs=1e-6)


def test_radiochemical_term_is_the_gallium_rate(lk_full):
    from likelihoods.solar.gallium import gallium_rate_coefficients_snu
    c = gallium_rate_coefficients_snu()
    th = np.zeros(len(PARAMS))
    for s, r in zip(SOLAR, lk_full.ssm_rates):
        th[PARAMS.index(s)] = r          # every flux at its SSM value
    ga = sum(c.values())
    assert lk_full.model.constraint.chi2(th[None])[0] == pytest.approx(((ga - 66.1) / 3.1) ** 2)


def test_mass_state_templates_have_the_universal_shape(lk_full):
    """Collapsing Lambda_1,2,3 into one strength in fast mode needs equal folded shapes:
    normalised shapes agree within 6 % of the peak bin everywhere in the window (measured:
    w_1 5.0 %, w_2 3.0 %: pp and 7Be have different mass-state mixtures); the effect on ln L
    at a strength near the limit is checked in ``test_fast_mode_mass_basis_collapse``."""
    model = lk_full.model
    th = np.repeat(lk_full.sm_fit[1][None], 4, axis=0)
    q = np.eye(4) * 1e-21
    s = model.signal_counts(th, q, np.zeros(4))
    shapes = s / s.sum(axis=1, keepdims=True)
    dev = np.max(np.abs(shapes[1:] - shapes[0]), axis=1) / shapes[0].max()
    assert np.all(dev < 0.06)


def test_fast_mode_agrees_with_full_profile_off_grid(lk_fast):
    """Fast mode within 0.05 in ln L of the full profile at 72 points off the (u, m) nodes:
    masses across 10 keV - 100 MeV, dense where the propagator moves the signal shape through
    the window (0.3 - 3 MeV), strengths up to u = 3: absolute agreement where Delta ln L > -20,
    relative (1e-3) further out (down to about -110)."""
    from likelihoods.borexino.fast import U_REF_MUB
    grid = lk_fast.fast
    lms = np.array([-4.75, -3.97, -3.53, -3.22, -3.09, -2.97, -2.84, -2.66, -2.41, -2.03,
                    -1.6, -1.1])
    us = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    m, u = (a.ravel() for a in np.meshgrid(10.0**lms, us, indexing="ij"))
    n_m = grid.n_signal(np.tile([1.0, 0, 0, 0], (len(m), 1)), m)
    obs = {"mu_eff2_mub2": (u * U_REF_MUB) ** 2 * grid.n0[0] / n_m, "m_aprime_gev": m}
    fast = lk_fast.loglike(obs)
    prof = lk_fast.profile(obs)
    relevant = prof - grid.lnl_sm > -20.0        # every limit and posterior lives here
    assert relevant.sum() >= 50
    assert np.max(np.abs(fast - prof)[relevant]) < 0.05
    assert np.all(np.abs(fast - prof) < 1e-3 * np.abs(prof - grid.lnl_sm) + 0.05)


def test_fast_mode_mass_basis_collapse(lk_fast):
    """A mass-basis point and a universal point with the same in-window signal give the same
    fast ln L, and the full profile of the mass-basis point agrees within 0.05."""
    lk_mass = BorexinoLikelihood(variant="radiochemical", mode="fast", weights="mass")
    grid = lk_fast.fast
    lam = np.array([[4e-22, 0.0, 0.0]])
    obs_m = {"lam2_1_mub2": lam[:, 0], "lam2_2_mub2": lam[:, 1], "lam2_3_mub2": lam[:, 2],
             "m_aprime_gev": np.array([1e-4])}
    q = np.array([[0.0, 4e-22, 0.0, 0.0]])
    mu2 = grid.n_signal(q, obs_m["m_aprime_gev"]) / grid.n_signal(
        np.array([[1.0, 0, 0, 0]]), obs_m["m_aprime_gev"])
    fast_u = lk_fast.loglike({"mu_eff2_mub2": mu2, "m_aprime_gev": obs_m["m_aprime_gev"]})
    fast_m = lk_mass.loglike(obs_m)
    assert fast_m[0] == pytest.approx(fast_u[0], abs=1e-9)
    assert abs(lk_mass.profile(obs_m)[0] - fast_m[0]) < 0.05


def test_fast_mode_vectorised_never_nan(lk_fast):
    rng = np.random.default_rng(5)
    obs = {"mu_eff2_mub2": 10 ** rng.uniform(-26, -18, 1000),
           "m_aprime_gev": np.concatenate([[0.0, 1e-12, 5.0], 10 ** rng.uniform(-9, 1, 997)])}
    ll = lk_fast.loglike(obs)
    assert ll.shape == (1000,) and np.all(np.isfinite(ll))
    assert np.all(ll <= lk_fast.fast.lnl_sm + 1.0)
    obs["m_aprime_gev"][0] = np.nan
    assert lk_fast.loglike(obs)[0] == -np.inf


def test_cache_key_follows_data_code_and_options(tmp_path, monkeypatch):
    import shutil

    from globalfit.paths import data_dir
    from likelihoods import _cache as cache

    for sub in ("borexino", "solar"):
        shutil.copytree(data_dir() / sub, tmp_path / sub)
    monkeypatch.setenv("GLOBALFIT_DATA_DIR", str(tmp_path))
    key = cache.cache_key("x", {"a": 1})
    assert cache.cache_key("x", {"a": 1}) == key
    assert cache.cache_key("x", {"a": 2}) != key
    spec = tmp_path / "borexino" / "phase2_spectrum.csv"
    spec.write_text(spec.read_text().replace("16.4255", "16.4256", 1))
    assert cache.cache_key("x", {"a": 1}) != key
    # every computing module of the package is part of the fingerprint
    names = {p.name for p in cache.module_closure(["likelihoods.borexino.fast"]).values()}
    assert {"templates.py", "likelihood.py", "response.py", "fast.py", "recoil.py"} <= names
