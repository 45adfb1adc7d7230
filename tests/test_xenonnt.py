"""XENONnT SR0 electron-recoil likelihood: data, signal rate, response, statistics, contract."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from globalfit import constants
from globalfit.errors import ConfigError, DataFileError
from likelihoods import likelihood_class
from likelihoods.solar import flux
from likelihoods.xenonnt import XENONnTLikelihood, data, response, templates
from likelihoods.moment_limits import upper_limit_mub
from likelihoods.xenonnt.profile import profile_beta


@pytest.fixture(scope="module")
def fast() -> XENONnTLikelihood:
    return XENONnTLikelihood(mode="fast")


@pytest.fixture(scope="module")
def direct() -> XENONnTLikelihood:
    return XENONnTLikelihood(mode="direct")


def _obs(mu: np.ndarray, m: np.ndarray) -> dict[str, np.ndarray]:
    return {"mu_eff2_mub2": np.asarray(mu) ** 2, "m_aprime_gev": np.asarray(m, dtype=float)}


# ------------------------------------------------------------------------------------ data
def test_release_files_match_provenance():
    rel = data.release()
    assert rel.events_kev.size == 433
    assert 1.0 < rel.events_kev.min() < 1.8 and 29.9 < rel.events_kev.max() < 30.0
    b_ev, n_b = response.background_expectation()
    # B0 x 0.1 keV x 1.16 t yr over (1, 30) keV (PROVENANCE.md: 426.5 events)
    assert n_b == pytest.approx(426.5, abs=0.05)
    assert np.all(b_ev > 0)               # every event has a non-zero background density
    for name in ("events_1to30kev.csv", "background_b0.csv", "efficiency.csv", "binned_1kev.csv"):
        head = (data.data_file(data.FOLDER, name).read_text().split("\n", 12))
        assert any("PRL 129 (2022) 161805" in ln or "Phys. Rev. Lett. 129 (2022) 161805" in ln
                   for ln in head), name
    assert data.value("exposure", "t x yr") == 1.16


def test_measurements_unit_check_names_key():
    with pytest.raises(DataFileError, match="exposure.unit"):
        data.value("exposure", "kg x day")
    with pytest.raises(DataFileError, match="missing key"):
        data.value("nonexistent.key", "keV")


def test_xenon_target_counts():
    sh = data.xenon_shells()
    assert sum(sh.electrons) == 54
    # atoms per tonne from the molar mass: 1e6 / 131.293 x N_A
    assert data.atoms_per_tonne() == pytest.approx(4.5867e27, rel=1e-4)
    tgt = templates.target(binding=True)
    # Z_eff/Z: below the M shells (< 0.676 keV) only N and O (18 + 8); between M and L 44;
    # above L3 48; above L1 52; above K 54
    for t_kev, z_eff in ((0.5, 26), (1.5, 44), (5.0, 48), (6.0, 52), (40.0, 54)):
        assert float(tgt.active_fraction(np.array([t_kev * 1e-3]))[0]) == pytest.approx(z_eff / 54)


# ------------------------------------------------------------------------- signal rate
def _quad_rate(t_kev: float, m_gev: float) -> float:
    """Independent quadrature: N_Xe Z_eff(T) sum_s Phi_s int dE lambda_s(E) dsigma/dT P(T)^2,
    events/(s t keV) per mu_B^2 (universal moment), with dsigma/dT = pi alpha^2/m_e^2 (1/T - 1/E)."""
    me_mev = constants.M_E_GEV * 1e3
    sigma0 = math.pi * constants.ALPHA_EM**2 / constants.M_E_GEV**2 * constants.GEV2_TO_CM2
    t = t_kev * 1e-3
    e_min = 0.5 * (t + math.sqrt(t * t + 2 * me_mev * t))
    sh = data.xenon_shells()
    z_eff = sum(n for b, n in zip(sh.binding_kev, sh.electrons) if b < t_kev)
    total = 0.0
    for group in templates.GROUPS:
        for src in flux.GROUP_SOURCES[group]:
            phi = flux.ssm_flux_cm2_s(src, "GS98")
            if src in flux.LINES:
                total += phi * sum(br * (1 / t - 1 / e) for e, br in flux.LINES[src] if e > e_min)
                continue
            e_tab, _ = flux.spectrum_table(src)
            lo = max(e_min, e_tab[0])
            if lo >= e_tab[-1]:
                continue
            pts = e_tab[(e_tab > lo) & (e_tab < e_tab[-1])]
            val, _ = integrate.quad(lambda e: flux.spectrum_shape_per_mev(src, e) * (1 / t - 1 / e),
                                    lo, e_tab[-1], points=pts[:40] if pts.size else None,
                                    limit=400, epsrel=1e-9)
            total += phi * val
    q2 = 2 * me_mev * t
    p2 = 1.0 if m_gev == 0 else (q2 / (q2 + (m_gev * 1e3) ** 2)) ** 2
    return data.atoms_per_tonne() * z_eff * sigma0 * total * p2 * 1e-3


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("t_kev", [1.5, 4.0, 5.3, 12.0, 25.0])
@pytest.mark.parametrize("m_gev", [0.0, 3e-5, 3e-4])
def test_signal_rate_against_quadrature(t_kev, m_gev):
    spec = templates.true_spectra(np.array([t_kev]))[0, 0]
    p2 = templates.propagator_squared(np.array([t_kev]), np.array([m_gev]))[0, 0]
    assert spec * p2 == pytest.approx(_quad_rate(t_kev, m_gev), rel=2e-4)


def test_binding_suppresses_low_energy_rate():
    t = np.array([2.0, 40.0])
    bound = templates.true_spectra(t, binding=True)[0]
    free = templates.true_spectra(t, binding=False)[0]
    assert bound[0] / free[0] == pytest.approx(44 / 54, rel=1e-9)
    assert bound[1] == pytest.approx(free[1], rel=1e-9)


def test_response_kernel_normalisation():
    """sum_j nu_j K(E_j, T) / eff = Gaussian probability of landing in (1, 30) keV (to 1e-4 of
    the unit-normalised kernel: far below the 433-event statistical precision)."""
    e, nu = response.e_grid()
    t = np.array([0.5, 2.0, 10.0, 29.0])
    sig = response.resolution_sigma_kev(t)
    k = response.kernel(e, t) / np.maximum(response.efficiency(e), 1e-300)[:, None]
    p = stats.norm.cdf((30 - t) / sig) - stats.norm.cdf((1 - t) / sig)
    assert nu @ k == pytest.approx(p, rel=2e-3, abs=1e-4)


# -------------------------------------------------------------------------- statistics
def test_profile_beta_matches_numerical_maximum():
    rng = np.random.default_rng(3)
    b = rng.uniform(1, 20, 50)
    s = rng.uniform(0, 5, (50, 3))
    n_s = np.array([3.0, 10.0, 40.0])
    for sigma in (None, 0.1):
        lnl, beta = profile_beta(s, n_s, b, 45.0, sigma)
        for j in range(3):
            def neg(x):
                pen = 0.0 if sigma is None else 0.5 * ((x - 1) / sigma) ** 2
                return -(-(x * 45.0 + n_s[j]) + np.sum(np.log(x * b + s[:, j])) - pen)
            res = optimize.minimize_scalar(neg, bounds=(1e-9, 5), method="bounded",
                                           options={"xatol": 1e-12})
            assert beta[j] == pytest.approx(res.x, rel=1e-6)
            assert lnl[j] == pytest.approx(-res.fun, abs=1e-8)


def test_massless_limit_reproduces_published(fast):
    published = data.value("published_limits.mu_eff_90_mub", "mu_B")
    limit = upper_limit_mub(fast, 0.0)
    assert 0.7 <= limit / published <= 1.4


def test_limit_scaling_with_mass(fast):
    """Once m^2 >> 2 m_e T_max (~0.03 MeV^2 at 30 keV), P^2 ~ (2 m_e T / m^2)^2 and the limit
    grows like m^2: local slope d ln mu / d ln m = 2 +- 0.1 at 1-3 MeV and 3-10 MeV, while at
    10-30 keV (m^2 < 2 m_e T) it is far below 2."""
    lim = {m: upper_limit_mub(fast, m) for m in (1e-5, 3e-5, 1e-3, 3e-3, 1e-2)}
    for a, b in ((1e-3, 3e-3), (3e-3, 1e-2)):
        slope = math.log(lim[b] / lim[a]) / math.log(b / a)
        assert slope == pytest.approx(2.0, abs=0.1)
    assert math.log(lim[3e-5] / lim[1e-5]) / math.log(3.0) < 1.0
    masses = np.geomspace(1e-6, 1e-1, 11)
    curve = np.array([upper_limit_mub(fast, m) for m in masses])
    assert np.all(np.diff(curve) > 0)


def test_fast_matches_direct(fast, direct):
    rng = np.random.default_rng(11)
    n = 1500
    m = 10 ** rng.uniform(-7.5, 0.3, n)
    m[:50] = 0.0
    mu = 10 ** rng.uniform(-12.5, -9.5, n) * np.maximum(1.0, m / 2e-4)
    a = fast.loglike(_obs(mu, m))
    b = direct.loglike(_obs(mu, m))
    near = b > -20
    assert near.sum() > 300
    assert np.max(np.abs(a - b)[near]) < 0.05
    q = np.zeros((n, 4))
    q[:, 0] = mu**2
    u = np.sqrt(fast.fast.n_signal(q, m) / fast.fast.n0[0]) / 1e-11
    far = ~near & (u < 8)
    assert np.max(np.abs(a - b)[far] / np.abs(b[far])) < 3e-3


def test_mass_weights_collapse(fast):
    lk_f = XENONnTLikelihood(weights="mass", mode="fast")
    lk_d = XENONnTLikelihood(weights="mass", mode="direct")
    rng = np.random.default_rng(5)
    n = 400
    lam = rng.dirichlet(np.ones(3), n) * (10 ** rng.uniform(-12, -10.7, n))[:, None] ** 2
    m = 10 ** rng.uniform(-7, -2, n)
    obs = {"lam2_1_mub2": lam[:, 0], "lam2_2_mub2": lam[:, 1], "lam2_3_mub2": lam[:, 2],
           "m_aprime_gev": m}
    a, b = lk_f.loglike(obs), lk_d.loglike(obs)
    near = b > -20
    assert np.max(np.abs(a - b)[near]) < 0.05
    assert lk_f.requires == ("lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2", "m_aprime_gev")


def test_monotone_beyond_the_grid(fast):
    for m in (0.0, 1e-4, 1e-3, 3.0):
        top = 8.0 * 1e-11 * math.sqrt(fast.fast.n0[0] / max(
            fast.fast.n_signal(np.array([[1.0, 0, 0, 0]]), np.array([m]))[0], 1e-300))
        mu = top * np.geomspace(0.5, 50.0, 200)
        vals = fast.loglike(_obs(mu, np.full(mu.size, m)))
        assert np.all(np.isfinite(vals)) and np.all(np.diff(vals) < 0)


def test_batch_invariance_and_never_nan(fast, direct):
    rng = np.random.default_rng(7)
    n = 600
    mu = 10 ** rng.uniform(-14, -6, n)
    m = 10 ** rng.uniform(-9, 2, n)
    mu[::37], m[::41] = np.nan, np.nan
    mu[5::53], m[7::59] = -1e-12, -1.0
    mu[9::61], m[11::67] = np.inf, np.inf
    m[13::71] = 0.0
    obs = {"mu_eff2_mub2": np.where(np.isnan(mu), np.nan, mu * np.abs(mu)), "m_aprime_gev": m}
    for lk in (fast, direct):
        whole = lk.loglike(obs)
        assert whole.shape == (n,) and not np.any(np.isnan(whole))
        bad = ~np.isfinite(obs["mu_eff2_mub2"]) | ~np.isfinite(m) | (obs["mu_eff2_mub2"] < 0) | (m < 0)
        assert np.all(whole[bad] == -np.inf) and np.all(np.isfinite(whole[~bad]))
        perm = rng.permutation(n)
        pieces = np.concatenate([lk.loglike({k: v[perm][i:i + 97] for k, v in obs.items()})
                                 for i in range(0, n, 97)])
        np.testing.assert_array_equal(pieces, whole[perm])


# ---------------------------------------------------------------------------- contract
def test_contract_and_registry():
    cls = likelihood_class("xenonnt")
    assert cls is XENONnTLikelihood
    lk = cls.from_options({"background": "published_rate"})
    assert lk.requires == ("mu_eff2_mub2", "m_aprime_gev")
    assert lk.nuisances == ()
    assert set(lk.domain) == set(lk.requires)
    assert "161805" in lk.citation
    with pytest.raises(ConfigError, match="backgrund"):
        cls.from_options({"backgrund": "free"})
    with pytest.raises(ConfigError, match="resolution_scale"):
        cls.from_options({"resolution_scale": 5.0})
    with pytest.raises(ConfigError):
        XENONnTLikelihood(mode="fats")


def test_background_constraint_and_binding_move_the_limit_the_right_way(fast):
    """A constrained B0 normalisation cannot absorb signal (limit not weaker); free electrons
    (no binding) give more signal per mu^2 (limit stronger)."""
    ref = upper_limit_mub(fast, 0.0)
    constrained = upper_limit_mub(XENONnTLikelihood(background="published_rate"), 0.0)
    free_e = upper_limit_mub(XENONnTLikelihood(binding=False), 0.0)
    assert constrained <= ref * (1 + 1e-6)
    assert free_e < ref
