"""Limits on eps*lambda^D: physical behaviour of the curves, the construction through the model,
and the files written. Borexino enters through the published-limit rate recast (fast, no
templates); the spectral likelihood is checked against it where its cache exists."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import yaml

from globalfit.errors import ConfigError
from globalfit.limits import (BorexinoRateTerm, IndirectProbes, LimitCalculator, from_mapping,
                              main, run_limits, upper_limit)
from globalfit.model.dark_sector import DarkTransitionMomentModel

ROOT = Path(__file__).resolve().parents[1]


def fit_config(limits: dict | None = None, **top: object) -> dict:
    """configs/limits.yaml (the fit dialect) with its limits: section replaced."""
    raw = yaml.safe_load((ROOT / "configs" / "limits.yaml").read_text())
    raw["limits"] = {**{k: raw["limits"][k] for k in ("likelihoods",) if k in raw["limits"]},
                     **(limits or {})}
    raw.update(top)
    return raw


def parse_limits_config(limits: dict):
    return from_mapping(fit_config(limits), ROOT / "configs" / "limits.yaml")[1]


def setup(n_eps: int = 801, eps: tuple[float, float] = (1e-8, 1.0)):
    """The benchmark of the seed paper (M_S = 300, dM_S = 100, m_N = 100 MeV, theta = pi/4,
    alpha = pi/2) with eps in [1e-8, 1] (the construction's defaults before the config)."""
    return parse_limits_config({"eps": {"low": eps[0], "high": eps[1],
                                        "n_points": n_eps}}).setup


@pytest.fixture(scope="module")
def rate_term() -> BorexinoRateTerm:
    return BorexinoRateTerm()


def test_upper_limit_closed_forms() -> None:
    """Half-Gaussian in mu^2 (sigma): profile and flat-in-mu^2 Bayes both give
    mu^2 = 1.6449 sigma; Gaussian in mu: profile gives sqrt(2.7055) sigma."""
    sig = 3e-12
    ll = lambda mu: -0.5 * (np.asarray(mu) ** 2 / sig) ** 2
    for method in ("profile", "bayes"):
        assert upper_limit(ll, method) == pytest.approx(math.sqrt(1.6448536 * sig), rel=1e-6)
    s = 2e-14
    assert upper_limit(lambda mu: -0.5 * (np.asarray(mu) / s) ** 2, "profile") == \
        pytest.approx(math.sqrt(2.7055435) * s, rel=1e-6)


def test_rate_term_massless_and_large_mass_scaling(rate_term: BorexinoRateTerm) -> None:
    """m -> 0 returns the published 2.8e-11; for m^2 >> 2 m_e T the limit grows as m^2."""
    assert upper_limit(lambda mu: rate_term.loglike(mu, 0.0), "profile") == \
        pytest.approx(2.8e-11, rel=1e-6)
    l1 = upper_limit(lambda mu: rate_term.loglike(mu, 0.1), "profile")
    l2 = upper_limit(lambda mu: rate_term.loglike(mu, 0.4), "profile")
    assert l2 / l1 == pytest.approx(16.0, rel=1e-3)


def test_indirect_scaling_through_model() -> None:
    """K and B from the model: mu is linear in eps*y0^2 and BR quadratic in y0^2 (y0 = 0.01
    checked against a direct model evaluation)."""
    ind = IndirectProbes(0.3, 0.3, setup(n_eps=100))
    model = DarkTransitionMomentModel()
    obs, _ = model.observables({"m_aprime_gev": 0.3, "eps": 1e-3, "g_d": 0.3, "m_n_gev": 0.1,
                                "m_s_gev": 0.3, "dm_s_gev": 0.1, "theta": math.pi / 4,
                                "y0": 0.01, "alpha": math.pi / 2})
    assert obs["mu_eff_mub"][0] == pytest.approx(ind.k_mub * 1e-3 * 1e-4, rel=1e-12)
    br1 = ind.unit_observables["br_mu_e_gamma"][-1]
    assert obs["br_mu_e_gamma"][0] == pytest.approx(br1 * 1e-8, rel=1e-12)


def test_indirect_weakens_below_two_m_n() -> None:
    """BR_inv = 0 below 2 m_N = 200 MeV: NA64/BaBar bound nothing, the limit comes from MEG
    with eps at its cap and is much weaker than above threshold."""
    b = setup()
    below = IndirectProbes(0.15, 0.3, b)
    above = IndirectProbes(0.3, 0.3, b)
    # above 2 m_N, A' -> N Nbar (invisible) and A' -> E+E- (visible, m_E = m_N) open together
    assert below.br_inv.max() == 0.0 and 0.49 < above.br_inv[0] <= 0.5
    lim_below = upper_limit(lambda mu: below.loglike(mu), "profile")
    lim_above = upper_limit(lambda mu: above.loglike(mu), "profile")
    assert lim_below > 100 * lim_above
    # without accelerator constraint: mu_90 = eps_max * K * y0_90^2, y0_90^4 B = 1.2816.. sigma
    # of MEG (profile: -2 Delta lnL = (BR/sigma)^2 = 2.71)
    (_, lk), br1 = below.scaled[0], below.unit_observables["br_mu_e_gamma"][-1]
    y0_sq = math.sqrt(math.sqrt(2.7055435) * lk.sigma / br1)
    assert lim_below == pytest.approx(below.eps[-1] * below.k_mub * y0_sq, rel=1e-4)


def test_indirect_scales_with_g_d_and_bayes_defined() -> None:
    """Below threshold the moment (and the limit on mu) is linear in g_D; both methods finite."""
    b = setup()
    l1 = upper_limit(lambda mu: IndirectProbes(0.05, 0.1, b).loglike(mu), "profile")
    l5 = upper_limit(lambda mu: IndirectProbes(0.05, 0.5, b).loglike(mu), "profile")
    assert l5 / l1 == pytest.approx(5.0, rel=1e-6)
    lb = upper_limit(lambda mu: IndirectProbes(0.05, 0.1, b).loglike(mu, "bayes"), "bayes")
    assert 0.1 < lb / l1 < 10.0


def test_combined_not_weaker_than_each(rate_term: BorexinoRateTerm, tmp_path: Path) -> None:
    cfg = parse_limits_config({"m_aprime": {"low": "1 keV", "high": "1 GeV", "n_points": 5},
                               "g_d": [0.1, 0.5], "methods": ["profile", "bayes"],
                               "eps": {"low": 1e-8, "high": 1.0, "n_points": 201}})
    calc = LimitCalculator(cfg, borexino=rate_term)
    for i in range(len(cfg.masses_gev)):
        r = calc.at_mass(i)
        for g in cfg.g_d:
            for meth in ("profile", "bayes"):
                comb = r[f"combined/{g:g}/{meth}"]
                assert comb <= r[f"indirect/{g:g}/{meth}"] * (1 + 1e-6)
                assert comb <= r[f"borexino/{meth}"] * (1 + 1e-6)


def test_run_writes_csv_and_figure(rate_term: BorexinoRateTerm, tmp_path: Path) -> None:
    cfg = parse_limits_config({"m_aprime": {"low": "1 MeV", "high": "1 GeV", "n_points": 4},
                               "g_d": [0.3], "methods": ["profile"],
                               "eps": {"low": 1e-8, "high": 1.0, "n_points": 201},
                               "pool": {"kind": "serial"}})
    out = tmp_path / "run"
    curves = run_limits(cfg, out, borexino=rate_term)
    for name in ("borexino_profile.csv", "indirect_gd0.3_profile.csv",
                 "combined_gd0.3_profile.csv", "limits.png", "limits.pdf", "summary.json"):
        assert (out / name).stat().st_size > 0
    with open(out / "combined_gd0.3_profile.csv") as fh:
        rows = [r for r in csv.reader(line for line in fh if not line.startswith("#"))]
    assert rows[0] == ["m_aprime_gev", "mu_90_mub"] and len(rows) == 5
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], curves["combined/0.3/profile"])
    with pytest.raises(ConfigError, match="exists"):
        run_limits(cfg, out, borexino=rate_term)
    run_limits(cfg, out, force=True, borexino=rate_term)


def test_main_rate_mode_and_bad_config(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "l.yaml"
    raw = fit_config({"m_aprime": {"n_points": 3, "low": "10 MeV"}, "g_d": [0.5],
                      "eps": {"n_points": 101}, "direct": "published_rate",
                      "pool": {"kind": "serial"}})
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(cfg), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "limits.png").is_file()
    raw["limits"] = {"g_dd": [0.5]}
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(cfg)]) == 2
    assert "did you mean 'g_d'" in capsys.readouterr().err


def test_spectrum_term_limit_and_propagator_bracket() -> None:
    """The spectral Borexino limit at m = 0 lies within 0.7-1.4 of the published 2.8e-11. At
    m_A' = 10 MeV every signal bin is suppressed by P(T)^2 with T between the lowest true recoil
    energy that feeds the fit window (0.1 MeV, three resolution widths below N_h = 93) and the
    top of the spectrum (3 MeV), so the limit must grow by a factor between 1/P(3 MeV) and
    1/P(0.1 MeV); the rate recast (which ignores the spectral shape) is only reported beside it.
    Uses the fast grid (cached by the Borexino tests earlier in the run, else built here)."""
    from globalfit.limits import BorexinoSpectrumTerm
    from likelihoods.solar.xsec import propagator_factor
    term = BorexinoSpectrumTerm()
    l0 = upper_limit(lambda mu: term.loglike(mu, 0.0), "profile")
    assert 0.7 < l0 / 2.8e-11 < 1.4
    ratio_spec = upper_limit(lambda mu: term.loglike(mu, 0.01), "profile") / l0
    p_lo = float(propagator_factor(np.array([0.1]), 0.01)[0])
    p_hi = float(propagator_factor(np.array([3.0]), 0.01)[0])
    assert 1.0 / p_hi < ratio_spec < 1.0 / p_lo
    ratio_rate = upper_limit(lambda mu: BorexinoRateTerm().loglike(mu, 0.01), "profile") / 2.8e-11
    assert 1.0 / p_hi < ratio_rate < 1.0 / p_lo


# ---- the fit dialect: the same config as `globalfit fit`, validated the same way -----------
def test_fit_yaml_is_a_limits_config() -> None:
    """fit.yaml gives the documented default grid, with the parameters the fit fixes taken
    from its parameters block and alpha from its limits: section."""
    from globalfit.limits import load
    fit, cfg = load(ROOT / "fit.yaml")
    assert cfg.setup.fixed == pytest.approx({"m_n_gev": 0.1, "m_s_gev": 0.3, "dm_s_gev": 0.1,
                                             "theta": math.pi / 4, "alpha": math.pi / 2})
    assert cfg.setup.scale_ref == {"y0": 1.0}
    assert cfg.setup.s_max == pytest.approx(math.sqrt(4 * math.pi))
    assert len(cfg.masses_gev) == 61 and cfg.masses_gev[0] == pytest.approx(1e-6)
    assert cfg.g_d == (0.1, 0.3, 0.5) and cfg.methods == ("profile", "bayes")
    assert list(cfg.direct_likelihoods) == ["borexino"]
    assert list(cfg.setup.likelihoods) == ["na64", "babar", "meg"]
    assert cfg.out_dir.name == "benchmark_limits"


@pytest.mark.parametrize("limits, key", [
    ({}, "limits.fixed.alpha"),                                  # sampled in the fit
    ({"fixed": {"alpha": 1.5}, "g_dd": [0.1]}, "limits.g_dd"),
    ({"fixed": {"alpha": 1.5}, "methods": ["profil"]}, "limits.methods"),
    ({"fixed": {"alpha": 1.5, "eps": 1e-3}}, "limits.fixed.eps"),
    ({"fixed": {"alpha": 1.5}, "likelihoods": {"na46": {}}}, "limits.likelihoods.na46"),
    ({"fixed": {"alpha": 1.5}, "eps": {"low": float("nan")}}, "limits.eps.low"),
])
def test_bad_limits_section_is_one_line_exit_2(tmp_path: Path, capsys, limits: dict,
                                               key: str) -> None:
    raw = yaml.safe_load((ROOT / "fit.yaml").read_text())
    raw["limits"] = limits
    cfg = tmp_path / "fit.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0]
    assert not (tmp_path / "o").exists()


def test_empty_config_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.yaml").write_text("")
    assert main(["--config", str(tmp_path / "empty.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "empty config" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_other_parametrisation_same_limit() -> None:
    """Model-generic: the 'vectors' parametrisation with y = (1, 0, 0), y' = (0, 1, 0) scaled
    together is the scale_angle benchmark at alpha = pi/2; K and the limit agree."""
    raw = fit_config({"eps": {"low": 1e-8, "high": 1.0, "n_points": 201},
                      "coupling_scale": ["y_e", "y_mu", "y_tau", "yp_e", "yp_mu", "yp_tau"]})
    raw["model"]["options"]["yukawa_parametrisation"] = "vectors"
    for k in ("y0", "alpha"):
        raw["parameters"].pop(k)
    raw["parameters"].update({f"{p}_{f}": {"prior": "fixed", "value": v}
                              for p, vals in (("y", (1.0, 0.0, 0.0)), ("yp", (0.0, 1.0, 0.0)))
                              for f, v in zip(("e", "mu", "tau"), vals)})
    vec = from_mapping(raw, ROOT / "configs" / "limits.yaml")[1].setup
    ref = setup(n_eps=201)
    for m in (0.05, 0.3):
        a, b = IndirectProbes(m, 0.3, vec), IndirectProbes(m, 0.3, ref)
        assert a.k_mub == pytest.approx(b.k_mub, rel=1e-9)
        assert upper_limit(a.loglike, "profile") == pytest.approx(
            upper_limit(b.loglike, "profile"), rel=1e-9)


def test_model_without_the_scaling_is_refused() -> None:
    """theta is not a coupling scale (mu ~ sin 2 theta): the construction says so."""
    raw = fit_config({"coupling_scale": "theta"})
    raw["parameters"]["y0"] = {"prior": "fixed", "value": 0.1}
    cfg = from_mapping(raw, ROOT / "configs" / "limits.yaml")[1]
    with pytest.raises(ConfigError, match="mu_eff_mub = eps"):
        IndirectProbes(0.3, 0.3, cfg.setup)


def test_force_replaces_only_a_limits_output(rate_term: BorexinoRateTerm, tmp_path: Path) -> None:
    """--force refuses a directory this command did not write and leaves it untouched."""
    cfg = parse_limits_config({"m_aprime": {"n_points": 2}, "g_d": [0.3]})
    other = tmp_path / "data"
    other.mkdir()
    (other / "keep.csv").write_text("1,2\n")
    with pytest.raises(ConfigError, match="not a limits output"):
        run_limits(cfg, other, force=True, borexino=rate_term)
    assert (other / "keep.csv").read_text() == "1,2\n"


def test_log_weighted_mean_equals_scipy_logsumexp():
    """The limits' eps marginalisation: ln sum_j w_j exp(ll_ij), equal to scipy's logsumexp
    with weights (rows of -inf give -inf, rows mixing -inf and finite values stay finite)."""
    from scipy import special

    from globalfit.limits.indirect import log_weighted_mean
    rng = np.random.default_rng(0)
    ll = rng.normal(size=(20, 801)) * 30.0 - 500.0
    ll[3] = -np.inf
    ll[5, :400] = -np.inf
    w = np.full(801, 1.0)
    w[[0, -1]] = 0.5
    w /= w.sum()
    ref = special.logsumexp(ll, b=w[None, :], axis=1)
    got = log_weighted_mean(ll, w)
    assert got[3] == -np.inf and np.isfinite(got[5])
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-13)
