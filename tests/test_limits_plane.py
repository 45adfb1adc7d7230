"""2-D exclusions (limits.plane): the boundaries against the 1-D limits of the same likelihoods,
the thresholds, the combination, the domain edge, the files and the config errors."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from globalfit.errors import ParameterError
from globalfit.limits import BorexinoRateTerm, LimitCalculator, from_mapping, main, run_limits
from globalfit.limits.contours import boundary, contour_lines, delta_chi2, delta_chi2_zero
from globalfit.limits.grids import m_eps_grid, m_mu_grid
from globalfit.limits.labels import legend_label
from globalfit.limits.planes import threshold
from globalfit.limits.settings import merged_likelihoods
from likelihoods import _stats

ROOT = Path(__file__).resolve().parents[1]
T1, T2 = 2.705543454095404, 4.605170185988091     # chi^2_1, chi^2_2 quantiles at 0.90


def config(limits: dict) -> dict:
    raw = yaml.safe_load((ROOT / "configs" / "limits.yaml").read_text())
    raw["limits"] = {"eps": {"low": 1e-8, "high": 1e-2, "n_points": 401}, **limits}
    return raw


def parse(limits: dict):
    return from_mapping(config(limits), ROOT / "configs" / "limits.yaml")[1]


@pytest.fixture(scope="module")
def rate_term() -> BorexinoRateTerm:
    return BorexinoRateTerm()


def bound(grid, curve: str, dof: int, level: float) -> np.ndarray:
    """The boundary read off the grid at each mass (first crossing above the best fit)."""
    return boundary(delta_chi2(grid, curve, dof), grid.x, level,
                    delta_chi2_zero(grid, curve, dof))


def interpolation_bound(f, x: float, h: float) -> float:
    """Bound on the error in ln x of the crossing found by linear interpolation of
    f(u) = ln Delta chi^2(e^u) between grid nodes h apart: h^2 |f''| / (8 |f'|) (f'' and f'
    by central differences at the crossing), times 2 for the change of f'' across a cell."""
    u, d = math.log(x), h / 4
    fm, f0, fp = (f(math.exp(u + k * d)) for k in (-1, 0, 1))
    return 2.0 * h * h * abs(fp - 2 * f0 + fm) / d**2 / (8.0 * abs(fp - fm) / (2 * d)) + 1e-9


def test_thresholds_are_the_chi2_quantiles() -> None:
    assert threshold(1) == pytest.approx(T1, rel=1e-12)
    assert threshold(2) == pytest.approx(T2, rel=1e-12)
    assert threshold(2) == pytest.approx(-2 * math.log(0.1), rel=1e-12)   # chi^2_2 closed form


@pytest.mark.parametrize("dof", [1, 2])
def test_na64_boundary_is_its_1d_eps_limit(dof: int) -> None:
    """(m_A', eps) at fixed g_D: the NA64-only boundary at each mass is the 1-D profile limit
    on eps of the same likelihood with the same threshold (NA64 saw 0 events, so its best fit
    is eps = 0 at every mass and the dof = 2 reference is the same point). Masses: on the
    island below 2 m_N (long-lived visible decays) and above it (invisible decays)."""
    cfg = parse({"plane": {"planes": ["m_eps"], "m_aprime": {"low": "2 MeV", "high": "1 GeV",
                                                             "n_points": 7},
                           "eps": {"low": 1e-7, "high": 1e-2, "n_points": 81},
                           "g_d": 0.3, "dof": dof}})
    ps, setup = cfg.plane, cfg.setup
    grid = m_eps_grid(ps, setup, {})
    found = bound(grid, "na64", dof, ps.threshold)
    na64, h = setup.likelihoods["na64"], math.log(grid.x[1] / grid.x[0])
    checked = 0
    for m, b in zip(ps.masses_gev, found):
        def ll(eps, m=m):
            e = np.atleast_1d(np.asarray(eps, float))
            obs, _ = setup.model.observables({"m_aprime_gev": m, "eps": e, "g_d": 0.3,
                                              **setup.fixed, "y0": 1.0})
            return na64.loglike({o: np.broadcast_to(obs[o], e.shape) for o in na64.requires})
        try:
            ref = _stats.profile_upper_limit(ll, 1e-4, delta_chi2=ps.threshold)
        except ParameterError:                   # NA64 never reaches the threshold here
            assert np.isnan(b)
            continue
        if not ps.eps[0] < ref < ps.eps[-1]:
            continue
        tol = interpolation_bound(lambda e: math.log(-2 * float(ll(np.array([e]))[0])), ref, h)
        assert b == pytest.approx(ref, rel=tol), (m, b, ref, tol)
        checked += 1
    assert checked >= 5


def test_moment_plane_direct_boundary_is_the_1d_curve(rate_term: BorexinoRateTerm) -> None:
    """(m_A', mu): the Borexino boundary at each mass equals the 1-D borexino curve. The rate
    recast is a half-Gaussian in mu^2: Delta chi^2 ~ mu^4, a power law, so the grid's
    log-log interpolation is exact up to the root finder (rtol 1e-13) and rounding."""
    lim = {"m_aprime": {"low": "1 keV", "high": "1 GeV", "n_points": 7}, "g_d": [0.3],
           "methods": ["profile"], "curves": ["borexino", "indirect", "combined"],
           "plane": {"planes": ["m_mu"], "m_aprime": {"n_points": 7}, "g_d": 0.3,
                     "mu": {"low": 1e-20, "high": 1e-2, "n_points": 73}}}
    cfg = parse(lim)
    calc = LimitCalculator(cfg, borexino=rate_term)
    grid = m_mu_grid(cfg.plane, cfg.setup, calc.direct)
    np.testing.assert_allclose(grid.masses_gev, cfg.masses_gev, rtol=1e-15)
    rows = [calc.at_mass(i) for i in range(len(cfg.masses_gev))]
    bx = bound(grid, "borexino", 1, T1)
    np.testing.assert_allclose(bx, [r["borexino/profile"] for r in rows], rtol=1e-9)
    # the combination: eps profiled on the same eps grid as the 1-D curve; its Delta chi^2
    # in mu is a power law only piecewise, so the bound is the interpolation bound
    comb = bound(grid, "combined", 1, T1)
    h = math.log(grid.x[1] / grid.x[0])
    for i, r in enumerate(rows):
        m, ind = cfg.masses_gev[i], calc.indirect(cfg.masses_gev[i], 0.3)

        def total(mu: np.ndarray, m=m, ind=ind) -> np.ndarray:
            return ind.loglike(mu) + calc.borexino.loglike(mu, m)
        best = float(np.max(total(np.concatenate([[0.0], grid.x]))))
        ref = r["combined/0.3/profile"]
        f = lambda mu, total=total, best=best: math.log(2 * (best - total(np.array([mu]))[0]))
        assert comb[i] == pytest.approx(ref, rel=interpolation_bound(f, ref, h))


def test_spectral_borexino_boundary_is_the_1d_curve() -> None:
    """The same with the Phase-II spectral likelihood (fast grid): not a pure power law, the
    tolerance is the interpolation bound at each crossing."""
    cfg = parse({"m_aprime": {"low": "1 keV", "high": "1 GeV", "n_points": 5},
                 "curves": ["borexino"], "methods": ["profile"],
                 "plane": {"planes": ["m_mu"], "m_aprime": {"n_points": 5},
                           "mu": {"low": 1e-13, "high": 1e-2, "n_points": 67}}})
    calc = LimitCalculator(cfg)
    grid = m_mu_grid(cfg.plane, cfg.setup, calc.direct)
    h = math.log(grid.x[1] / grid.x[0])
    found = bound(grid, "borexino", 1, T1)
    term = calc.direct["borexino"]
    for i, m in enumerate(cfg.masses_gev):
        ref = calc.at_mass(i)["borexino/profile"]
        ll0 = float(term.loglike(np.zeros(1), m)[0])   # best fit at mu = 0 (no excess)

        def f(mu, m=m, ll0=ll0):
            return math.log(2 * (ll0 - float(term.loglike(np.array([mu]), m)[0])))
        assert found[i] == pytest.approx(ref, rel=interpolation_bound(f, ref, h))


def test_combined_region_contains_each_probe(rate_term: BorexinoRateTerm) -> None:
    """Every grid point a single probe excludes, the combination excludes (both planes)."""
    cfg = parse({"direct": "published_rate",
                 "plane": {"m_aprime": {"n_points": 41}, "eps": {"n_points": 41},
                           "mu": {"n_points": 55}, "g_d": 0.5}})
    calc = LimitCalculator(cfg)
    for build in (m_eps_grid, m_mu_grid):
        grid = build(cfg.plane, cfg.setup, calc.direct)
        comb = delta_chi2(grid, "combined", 1) >= T1
        for curve in grid.chi2:
            alone = delta_chi2(grid, curve, 1) >= T1
            assert not np.any(alone & ~comb), (grid.plane, curve)
        assert comb.sum() > max((delta_chi2(grid, c, 1) >= T1).sum()
                                for c in grid.chi2 if c not in ("combined", "indirect"))


def test_dof2_is_relative_to_the_plane_best_fit() -> None:
    """dof = 2: Delta chi^2 = dof-1 value + (best fit at that mass - best fit of the plane);
    BaBar fits a positive eps^2 BR_inv at some masses, so the two references differ there."""
    cfg = parse({"plane": {"planes": ["m_eps"], "m_aprime": {"low": "250 MeV",
                                                             "n_points": 41}}})
    grid = m_eps_grid(cfg.plane, cfg.setup, {})
    d1, d2 = delta_chi2(grid, "babar", 1), delta_chi2(grid, "babar", 2)
    shift = d2 - d1
    assert np.all(shift >= -1e-9)
    np.testing.assert_allclose(shift, shift[:, :1] * np.ones_like(shift), atol=1e-9)
    assert shift.max() > 0.1


def test_meg_is_flat_in_the_eps_plane_and_the_domain_edge(rate_term) -> None:
    """At fixed y0 MEG II sees neither m_A' nor eps: Delta chi^2 = 0 everywhere, no line.
    In (m_A', mu) no model point lies above mu_max = eps_max y0_max^2 K(g_D): Delta chi^2 =
    inf there, and no contour line runs along that edge."""
    cfg = parse({"direct": "published_rate",
                 "plane": {"m_aprime": {"n_points": 21}, "eps": {"n_points": 31},
                           "mu": {"n_points": 55}}})
    calc = LimitCalculator(cfg)
    meps = m_eps_grid(cfg.plane, cfg.setup, calc.direct)
    assert np.all(delta_chi2(meps, "meg", 1) == 0.0)
    assert contour_lines(delta_chi2(meps, "meg", 1), meps.masses_gev, meps.x, T1) == []
    mmu = m_mu_grid(cfg.plane, cfg.setup, calc.direct)
    k = calc.indirect(1e-3, cfg.plane.g_d).k_mub
    np.testing.assert_allclose(mmu.x_max, 1e-2 * 4 * math.pi * k, rtol=1e-9)
    for curve in ("na64", "indirect", "combined"):
        d = delta_chi2(mmu, curve, 1)
        above = mmu.x[None, :] > mmu.x_max[:, None] * (1 + 1e-9)
        assert np.all(np.isinf(d[above]))
        for seg in contour_lines(d, mmu.masses_gev, mmu.x, T1):
            edge = np.interp(np.log(seg[:, 0]), np.log(mmu.masses_gev), mmu.x_max)
            assert np.all(seg[:, 1] <= edge * (1 + 1e-9))


def test_run_writes_plane_files(rate_term: BorexinoRateTerm, tmp_path: Path) -> None:
    """The grid CSV holds the Delta chi^2 of every curve at every point; the contour CSV
    the lines; the figures exist; --force replaces them."""
    cfg = parse({"m_aprime": {"low": "1 MeV", "high": "1 GeV", "n_points": 3}, "g_d": [0.3],
                 "methods": ["profile"], "pool": {"kind": "serial"},
                 "plane": {"m_aprime": {"n_points": 25}, "eps": {"n_points": 25},
                           "mu": {"n_points": 37}, "g_d": 0.3}})
    out = tmp_path / "run"
    run_limits(cfg, out, borexino=rate_term)
    grid = m_eps_grid(cfg.plane, cfg.setup, LimitCalculator(cfg, rate_term).direct)
    with open(out / "plane_m_eps_grid.csv") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    assert rows[0][:2] == ["m_aprime_gev", "eps"] and "dchi2_combined" in rows[0]
    assert len(rows) == 1 + 25 * 25
    col = rows[0].index("dchi2_na64")
    np.testing.assert_allclose([float(r[col]) for r in rows[1:]],
                               delta_chi2(grid, "na64", 1).ravel(), rtol=1e-8, atol=1e-300)
    with open(out / "plane_m_mu_contours.csv") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    assert rows[0] == ["curve", "segment", "m_aprime_gev", "mu_mub"]
    assert {"borexino", "combined", "meg"} <= {r[0] for r in rows[1:]}
    for name in ("exclusion_m_eps.png", "exclusion_m_eps.pdf", "exclusion_m_mu.png",
                 "exclusion_m_mu.pdf", "limits_figure.csv"):
        assert (out / name).stat().st_size > 0
    run_limits(cfg, out, force=True, borexino=rate_term)


def test_output_parts_on_two_processes_match_serial(rate_term: BorexinoRateTerm,
                                                    tmp_path: Path) -> None:
    """The output parts (1-D files, each plane) mapped over 2 worker processes write the same
    CSV files and summary as one process; a second run with --force over the serial output
    replaces it file for file."""
    plane = {"m_aprime": {"n_points": 9}, "eps": {"n_points": 9}, "mu": {"n_points": 13},
             "g_d": 0.3}
    base = {"m_aprime": {"low": "1 MeV", "high": "1 GeV", "n_points": 4}, "g_d": [0.3],
            "methods": ["profile"], "plane": plane}
    serial = parse({**base, "pool": {"kind": "serial"}})
    two = parse({**base, "pool": {"kind": "processes", "n_processes": 2}})
    run_limits(serial, tmp_path / "serial", borexino=rate_term)
    run_limits(two, tmp_path / "two", borexino=rate_term)
    names = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert "plane_m_mu_grid.csv" in names and "exclusion_m_eps.png" in names
    for name in names:
        if name.endswith((".csv", ".json")):
            assert (tmp_path / "serial" / name).read_text() == \
                (tmp_path / "two" / name).read_text(), name
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "serial").iterdir()}
    run_limits(two, tmp_path / "serial", force=True, borexino=rate_term)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "serial").iterdir()}
    assert after.keys() == before.keys() and all(after[k] > before[k] for k in before)


def test_failed_grid_leaves_the_earlier_output(rate_term: BorexinoRateTerm, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with --force that fails after the planes were written (into the run's own
    folder) leaves the earlier output byte for byte, and removes its folder."""
    plane = {"m_aprime": {"n_points": 9}, "eps": {"n_points": 9}, "mu": {"n_points": 13},
             "g_d": 0.3}
    cfg = parse({"m_aprime": {"low": "1 MeV", "high": "1 GeV", "n_points": 4}, "g_d": [0.3],
                 "methods": ["profile"], "plane": plane, "pool": {"kind": "serial"}})
    out = tmp_path / "out"
    run_limits(cfg, out, borexino=rate_term)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(self, i: int) -> dict:
        raise RuntimeError("stop")
    monkeypatch.setattr(LimitCalculator, "at_mass", fail)
    with pytest.raises(RuntimeError, match="stop"):
        run_limits(cfg, out, force=True, borexino=rate_term)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_pools_report_every_result_once(tmp_path: Path) -> None:
    """``map(..., on_result)`` returns the results in order and reports each index once, on
    one process and on 2 worker processes."""
    from globalfit.samplers.pool import ProcessPool, SerialPool
    for pool in (SerialPool(), ProcessPool(2)):
        seen: list[int] = []
        try:
            assert pool.map(math.sqrt, [0.0, 1.0, 4.0, 9.0, 16.0], on_result=seen.append) == \
                [0.0, 1.0, 2.0, 3.0, 4.0]
        finally:
            pool.close()
        assert sorted(seen) == [0, 1, 2, 3, 4]


def test_legend_names_are_experiment_and_year() -> None:
    """Legends name the experiment and the year of its publication, not config labels."""
    fit = from_mapping(config({}), ROOT / "configs" / "limits.yaml")[0]
    names = {k: legend_label(lk) for k, lk in fit.likelihoods.items()}
    assert names == {"borexino": "Borexino Phase II (2018)", "xenonnt": "XENONnT SR0 (2022)",
                     "na64": "NA64 (2023)", "babar": "BaBar (2017)", "meg": "MEG II (2025)"}
    from likelihoods.na64 import NA64Likelihood
    assert legend_label(NA64Likelihood(dataset="2016-2018")) == "NA64 (2019)"


def test_direct_likelihoods_are_forced_to_universal_weights() -> None:
    """A fit block with weights: mass still gives the direct curves (universal weights),
    unless limits.likelihoods asks for mass weights explicitly."""
    raw = config({})
    raw["likelihoods"]["borexino"]["weights"] = "mass"
    raw["likelihoods"]["xenonnt"]["weights"] = "mass"
    lim = {"likelihoods": {"na64": {}}}
    block = merged_likelihoods(raw, lim, "cfg")
    assert block["borexino"]["weights"] == block["xenonnt"]["weights"] == "universal"
    assert "weights" not in block["na64"] and block["borexino"]["mode"] == "fast"
    kept = merged_likelihoods(raw, {"likelihoods": {"borexino": {"weights": "mass"}}}, "cfg")
    assert kept["borexino"]["weights"] == "mass" and kept["xenonnt"]["weights"] == "universal"


@pytest.mark.parametrize("limits, key", [
    ({"plane": {"planes": ["m_epsilon"]}}, "limits.plane.planes"),
    ({"plane": {"dof": 3}}, "limits.plane.dof"),
    ({"plane": {"scale": 10.0}}, "limits.plane.scale"),
    ({"plane": {"mu": {"low": 1e-3, "high": 1e-5}}}, "limits.plane.mu"),
    ({"plane": {"eps": {"n_points": 2}}}, "limits.plane.eps.n_points"),
    ({"plane": {"m_aprime": {"low": "1 keV", "high": "2 TeV"}}}, "limits.plane.m_aprime"),
    ({"plane": {"g_d": 5.0}}, "limits.plane.g_d"),
    ({"plane": {"grid": 3}}, "limits.plane.grid"),
    ({"format": "root"}, "limits.format"),
])
def test_bad_plane_section_is_one_line_exit_2(tmp_path: Path, capsys, limits: dict,
                                              key: str) -> None:
    cfg = tmp_path / "l.yaml"
    cfg.write_text(yaml.safe_dump(config(limits)))
    assert main(["--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0], err
    assert not (tmp_path / "o").exists()
