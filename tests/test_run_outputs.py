"""What a finished run leaves for a physicist: the physics summary (terminal and summary.md),
a self-describing posterior.nc, the GetDist text chain, the plots, and honest convergence
reporting (exit 3 and ``"status": "not converged"`` at the step cap, resumable).

The toy runs: x ~ log-uniform(0.01, 5) measured as 1 +- 0.2 (constrained by the data),
y ~ U(-5, 5) measured as -1 +- 4 (prior-dominated: the measurement is wider than the box's
sd 10 / sqrt(12) = 2.89), m fixed at 300 MeV."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from conftest import cli_command, subprocess_env, toy_config, write_config
from globalfit.cli import main
from globalfit.output import _arviz

az = _arviz()


def run_config(name: str, sampler: dict | None = None, plots: bool = True) -> dict:
    cfg = toy_config(name=name, sampler=sampler, output={"name": name, "plots": plots})
    cfg["parameters"]["x"] = {"prior": "log-uniform", "low": 0.01, "high": 5, "latex": "x"}
    cfg["likelihoods"]["a"]["width"] = 0.2
    cfg["likelihoods"]["b"]["width"] = 4.0
    return cfg


@pytest.fixture(scope="module")
def fixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fixed-length emcee run through the command line (subprocess: its terminal output)."""
    directory = tmp_path_factory.mktemp("outputs")
    write_config(directory, run_config("toyrun", {"max_steps": 400, "nwalkers": 16}))
    proc = subprocess.run(cli_command("--config", "fit.yaml"), cwd=directory,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return directory / "chains" / "toyrun", proc.stderr


def _md_row(text: str, name: str) -> list[str]:
    """The cells of the summary.md table row of quantity ``name``."""
    for line in text.splitlines():
        if f"(`{name}`)" in line:
            return [c.strip() for c in line.strip().strip("|").split("|")]
    raise AssertionError(f"no row for {name}")


# ---- the physics summary ----------------------------------------------------------------------
def test_summary_numbers_are_the_draws_quantiles(fixed_run: tuple[Path, str]) -> None:
    run, _ = fixed_run
    post = az.from_netcdf(run / "posterior.nc").posterior
    text = (run / "summary.md").read_text()
    # x has a log-uniform prior: summarised in log10
    lx = np.log10(np.asarray(post["x"]).ravel())
    cells = _md_row(text, "x")
    assert cells[1] == "log10"
    lo, hi, u90, u95 = np.percentile(lx, [16, 84, 90, 95])
    assert cells[2] == f"[{lo:.3f}, {hi:.3f}]"                   # measured well: an interval
    assert cells[3] == f"{u90:.3f}" and cells[4] == f"{u95:.3f}"
    assert float(cells[5]) == pytest.approx(10 ** u95, rel=2e-3)  # the bound as a value
    # y: a measurement 4 wide in a box of sd 2.89 -> prior-dominated, no interval
    y = np.asarray(post["y"]).ravel()
    cells = _md_row(text, "y")
    assert cells[1] == "linear" and cells[2] == "prior-dominated"
    assert cells[4] == f"{np.percentile(y, 95):.4g}"
    assert float(cells[8]) == pytest.approx(np.std(y, ddof=1) / (10 / np.sqrt(12)), abs=0.006)
    assert float(cells[8]) > 1 / np.sqrt(2)
    assert float(_md_row(text, "x")[8]) < 1 / np.sqrt(2)
    line = next(ln for ln in text.splitlines() if ln.startswith("prior-dominated"))
    assert "posterior sd > 1/sqrt(2) = 0.707 x prior sd" in line
    named = set(line.rsplit(": ", 1)[1].split(", "))
    assert {"y", "toy_y"} <= named and not {"x", "toy_x"} & named


def test_summary_drops_constants_and_never_prints_nan(fixed_run: tuple[Path, str]) -> None:
    run, stderr = fixed_run
    text = (run / "summary.md").read_text()
    assert "(`toy_m_gev`)" not in text                         # identical at every draw
    assert "identical at every draw (left out): toy_m_gev = 0.3 GeV" in text
    assert "nan" not in text.lower()
    # the terminal shows the same summary, through logging
    assert "physics summary of run toyrun" in stderr
    assert "identical at every draw (left out): toy_m_gev = 0.3 GeV" in stderr
    assert "nan" not in stderr.lower()
    # a fixed-length run reports its diagnostics and claims nothing
    assert "no convergence claim: fixed length of 400 steps" in text
    assert "no convergence claim" in stderr and "WARNING" not in stderr


def test_summary_best_fit_is_the_highest_posterior_draw(fixed_run: tuple[Path, str]) -> None:
    run, _ = fixed_run
    idata = az.from_netcdf(run / "posterior.nc")
    lp = np.asarray(idata.sample_stats["lp"])
    idx = np.unravel_index(np.argmax(lp), lp.shape)
    manifest = json.loads((run / "manifest.json").read_text())
    best = manifest["summary"]["best_fit"]
    assert best["draw"] == [int(i) for i in idx]
    assert best["ln_posterior"] == pytest.approx(lp[idx])
    for label in ("a", "b"):
        assert best["ln_l"][label] == pytest.approx(float(idata.log_likelihood[label][idx]))
    # the toy likelihoods have no no-signal value (toy_x is no signal strength)
    assert best["ln_l_no_signal"] == {}
    assert "| a | toy |" in (run / "summary.md").read_text()


def test_quiet_silences_the_summary(tmp_path: Path) -> None:
    write_config(tmp_path, run_config("quiet", {"max_steps": 40}, plots=False))
    proc = subprocess.run(cli_command("--config", "fit.yaml", "--quiet"), cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "physics summary" not in proc.stderr
    assert "physics summary of run quiet" in (tmp_path / "chains/quiet/summary.md").read_text()


def test_summary_csv_constant_rows(fixed_run: tuple[Path, str]) -> None:
    import pandas as pd
    table = pd.read_csv(fixed_run[0] / "summary.csv", index_col=0)
    row = table.loc["toy_m_gev"]
    assert row["mean"] == 0.3 and row["sd"] == 0.0 and row["q5"] == row["q95"] == 0.3
    assert np.isnan(row["r_hat"]) and np.isnan(row["ess_bulk"]) and np.isnan(row["ess_tail"])
    assert np.isfinite(table.loc["x", "r_hat"])


# ---- posterior.nc describes itself ------------------------------------------------------------
def _check_attrs(post, constant, stats, root, run: Path) -> None:
    x = post["x"].attrs
    assert (x["units"], x["prior"], x["scale"], x["latex"], x["role"]) == (
        "1", "log-uniform", "log10", "x", "sampled")
    assert float(x["prior_low"]) == 0.01 and float(x["prior_high"]) == 5.0
    assert post["y"].attrs["prior"] == "uniform" and post["y"].attrs["scale"] == "linear"
    r2 = post["toy_r2"].attrs
    assert r2["prior"] == "derived" and r2["role"] == "observable"
    assert post["a_expected_signal_events"].attrs["units"] == "events"
    assert float(constant["m_gev"]) == 0.3 and constant["m_gev"].attrs["units"] == "GeV"
    assert constant["m_gev"].attrs["prior"] == "fixed"
    manifest = json.loads((run / "manifest.json").read_text())
    np.testing.assert_allclose(np.asarray(stats["autocorr_time"]),
                               manifest["sampler"]["autocorr_time"])
    acc = np.asarray(stats["acceptance_fraction"])
    assert acc.shape == (16,) and np.all((acc > 0) & (acc < 1))
    assert np.mean(acc) == pytest.approx(manifest["sampler"]["acceptance_fraction"])
    assert list(np.asarray(stats["parameter"])) == ["x", "y"]
    assert root["status"] == "complete" and root["git_commit"] == manifest["git_commit"]
    assert root["config_sha256"] == hashlib.sha256((run / "config.yaml").read_bytes()
                                                   ).hexdigest()
    assert json.loads(root["packages"]) == manifest["packages"]
    assert json.loads(root["convergence"])["verdict"] == "no claim"


def test_posterior_nc_round_trips_with_attributes(fixed_run: tuple[Path, str]) -> None:
    run, _ = fixed_run
    path = run / "posterior.nc"
    idata = az.from_netcdf(path)
    _check_attrs(idata.posterior, idata.constant_data, idata.sample_stats, idata.attrs, run)
    tree = xr.open_datatree(path, engine="h5netcdf")
    _check_attrs(tree["posterior"], tree["constant_data"], tree["sample_stats"], tree.attrs,
                 run)
    plain = {g: xr.open_dataset(path, group=g, engine="h5netcdf")
             for g in ("posterior", "constant_data", "sample_stats")}
    with xr.open_dataset(path, engine="h5netcdf") as root:
        _check_attrs(plain["posterior"], plain["constant_data"], plain["sample_stats"],
                     root.attrs, run)
    for ds in plain.values():
        ds.close()


# ---- GetDist ----------------------------------------------------------------------------------
def test_getdist_reads_the_text_chain(fixed_run: tuple[Path, str]) -> None:
    getdist = pytest.importorskip("getdist")
    run, _ = fixed_run
    samples = getdist.loadMCSamples(str(run / "toyrun"), no_cache=True)
    post = az.from_netcdf(run / "posterior.nc").posterior
    x = np.asarray(post["x"]).ravel()
    assert samples.numrows == x.size and np.all(samples.weights == 1.0)
    # the text keeps 13 significant digits
    assert samples.mean("x") == pytest.approx(np.mean(x), rel=1e-11)
    assert samples.confidence("x", 0.05, upper=True) == pytest.approx(
        np.quantile(x, 0.95, method="inverted_cdf"), rel=1e-11)
    assert samples.mean("log10_x") == pytest.approx(np.mean(np.log10(x)), rel=1e-11)
    names = samples.getParamNames()
    assert not names.parWithName("x").isDerived and names.parWithName("toy_r2").isDerived
    assert names.parWithName("log10_x").isDerived
    assert names.parWithName("toy_m_gev") is None                 # constant: left out
    assert samples.ranges.getLower("x") == 0.01 and samples.ranges.getUpper("x") == 5.0
    assert samples.ranges.getLower("log10_x") == pytest.approx(-2.0)
    lp = np.asarray(az.from_netcdf(run / "posterior.nc").sample_stats["lp"]).ravel()
    np.testing.assert_allclose(samples.loglikes, -lp, rtol=1e-11)


# ---- plots ------------------------------------------------------------------------------------
def test_plots_written(fixed_run: tuple[Path, str]) -> None:
    run, _ = fixed_run
    for png in ("corner.png", "corner_physics.png", "trace.png"):
        data = (run / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000, png


def test_axis_labels_carry_units() -> None:
    from globalfit.priors import Prior
    from globalfit.quantities import Quantity, axis_label, text_label
    m = Quantity("m_aprime_gev", "sampled", "GeV", "m_{A'}", "dark-photon mass",
                 Prior("m_aprime_gev", "log-uniform", 1e-3, 1.0), "log10")
    assert axis_label(m) == r"$\log_{10}(m_{A'}/\mathrm{GeV})$"
    assert text_label(m) == "log10(m_aprime_gev / GeV)"
    alpha = Quantity("alpha", "sampled", "rad", r"\alpha", "angle", None, "linear")
    assert axis_label(alpha) == r"$\alpha$ [$\mathrm{rad}$]"
    eps = Quantity("eps", "sampled", "1", r"\varepsilon", "mixing", None, "log10")
    assert axis_label(eps) == r"$\log_{10}\varepsilon$"


# ---- convergence honesty -----------------------------------------------------------------------
def _chain(run: Path) -> np.ndarray:
    import h5py
    with h5py.File(run / "checkpoint.h5", "r") as f:
        return np.array(f["mcmc"]["chain"][:int(f["mcmc"].attrs["iteration"])])


def test_unconverged_run_exits_3_and_resume_continues(tmp_path: Path) -> None:
    sampler = {"max_steps": 60, "stop": "autocorr", "check_every": 20, "nwalkers": 16}
    path = write_config(tmp_path, run_config("cap", sampler, plots=False))
    proc = subprocess.run(cli_command("--config", "fit.yaml"), cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert len(warnings) == 1 and "NOT CONVERGED" in warnings[0], warnings
    run = tmp_path / "chains" / "cap"
    manifest = json.loads((run / "manifest.json").read_text())
    conv = manifest["convergence"]
    assert manifest["status"] == "not converged" and conv["verdict"] == "not converged"
    assert conv["sampler_rule_met"] is False and set(conv["failing"]) == {"x", "y"}
    for name, v in conv["failing"].items():          # named with their R-hat and ESS
        assert re.search(rf"{name} \(R-hat {v['r_hat']:.4f}, bulk ESS {v['ess_bulk']:.0f}\)",
                         warnings[0])
    attrs = az.from_netcdf(run / "posterior.nc").attrs
    assert attrs["status"] == "not converged"
    assert json.loads(attrs["failing_parameters"]) == ["x", "y"]
    assert "NOT CONVERGED" in (run / "summary.md").read_text()
    first = _chain(run)
    assert first.shape[0] == 60

    # --resume with the same cap: nothing to add, still not converged
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 3
    assert _chain(run).shape[0] == 60
    # --resume with a larger cap continues the chain where it stopped
    sampler["max_steps"] = 120
    write_config(tmp_path, run_config("cap", sampler, plots=False))
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 3
    longer = _chain(run)
    assert longer.shape[0] == 120
    np.testing.assert_array_equal(longer[:60], first)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["resumed"] and manifest["sampler"]["resumed_from_step"] == 60
    assert manifest["sampler"]["n_steps"] == 120
    post = az.from_netcdf(run / "posterior.nc").posterior
    st = manifest["sampler"]                          # burn-in and thinning from tau
    # emcee's get_chain(discard=b, thin=t) keeps the steps b + t - 1, b + 2t - 1, ...
    assert post.sizes["draw"] == len(range(st["burn_in"] + st["thin"] - 1, 120, st["thin"]))

    # and with room to converge it converges: status complete, exit 0
    sampler["max_steps"] = 4000
    write_config(tmp_path, run_config("cap", sampler, plots=False))
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["convergence"]["verdict"] == "converged"
    assert manifest["convergence"]["failing"] == {}
    np.testing.assert_array_equal(_chain(run)[:120], longer)
    # a converged run is complete: --resume does nothing
    before = (run / "manifest.json").read_bytes()
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 0
    assert (run / "manifest.json").read_bytes() == before


def test_dynesty_maxiter_cap_then_resume_equals_a_straight_run(tmp_path: Path) -> None:
    def run(directory: Path, maxiter: int | None, resume: bool = False) -> int:
        cfg = run_config("dcap", {"name": "dynesty", "nlive": 60, "dlogz": 0.5,
                                  "maxiter": maxiter}, plots=False)
        return main(["fit", "--config", str(write_config(directory, cfg)), "--quiet"]
                    + (["--resume"] if resume else []))

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert run(tmp_path / "a", 100) == 3
    manifest = json.loads((tmp_path / "a/chains/dcap/manifest.json").read_text())
    assert manifest["status"] == "not converged"
    assert manifest["sampler"]["stopped_at_maxiter"] and manifest["sampler"]["n_iterations"] == 101
    assert run(tmp_path / "a", 150, resume=True) == 3          # still at a cap
    assert run(tmp_path / "b", 150) == 3
    resumed = json.loads((tmp_path / "a/chains/dcap/manifest.json").read_text())["sampler"]
    straight = json.loads((tmp_path / "b/chains/dcap/manifest.json").read_text())["sampler"]
    assert resumed["n_iterations"] == straight["n_iterations"] == 151
    assert resumed["logz"] == straight["logz"]
    a = az.from_netcdf(tmp_path / "a/chains/dcap/posterior.nc")["nested_samples"]
    b = az.from_netcdf(tmp_path / "b/chains/dcap/posterior.nc")["nested_samples"]
    np.testing.assert_array_equal(np.asarray(a["x"]), np.asarray(b["x"]))
    # without the cap the run completes (the dlogz rule); exit 0
    assert run(tmp_path / "a", None, resume=True) == 0
    final = json.loads((tmp_path / "a/chains/dcap/manifest.json").read_text())
    assert final["sampler"]["n_iterations"] > 151 and not final["sampler"]["stopped_at_maxiter"]


# ---- evidence and the no-signal model ----------------------------------------------------------
def test_no_signal_values_of_the_shipped_likelihoods() -> None:
    from globalfit.evidence import no_signal_lnl
    from likelihoods import likelihood_class
    likes = {name: likelihood_class(name).from_options({})
             for name in ("na64", "babar", "meg", "tau_e_gamma", "lep")}
    # spectators: masses, BR_inv, widths at which the signal would not vanish by itself
    rng = np.random.default_rng(3)
    spectators = {"m_aprime_gev": 10 ** rng.uniform(-2.9, 0, 16),
                  "br_inv": rng.uniform(0, 1, 16), "gamma_total_gev": 10 ** rng.uniform(-9, -3, 16)}
    ns = no_signal_lnl(likes, spectators)
    # each is defined as a ratio to no signal: exactly 0 there (LEP: the SM, heavy E)
    assert ns.values == {"na64": 0.0, "babar": 0.0, "meg": 0.0, "tau_e_gamma": 0.0, "lep": 0.0}
    assert ns.total == 0.0 and ns.undefined == {}


def test_no_signal_is_not_invented() -> None:
    from globalfit.evidence import bayes_factor, no_signal_lnl
    from conftest import GaussLikelihood
    from likelihoods import likelihood_class
    sampled = likelihood_class("na64").from_options({"background": "sampled"})
    toy = GaussLikelihood(observable="toy_x", center=1.0, width=0.5)
    ns = no_signal_lnl({"na64": sampled, "toy": toy, "meg": likelihood_class("meg")()},
                       {"m_aprime_gev": np.full(4, 0.05), "br_inv": np.ones(4),
                        "toy_x": np.array([0.0, 1.0, 2.0, 3.0])})
    assert ns.values == {"meg": 0.0} and ns.total is None
    assert "sampled" in ns.undefined["na64"]                    # free nuisance: no value
    assert "depends on toy_x" in ns.undefined["toy"]            # not a signal strength
    bf = bayes_factor(-3.0, 0.1, ns)
    assert bf["ln_b"] is None and set(bf["undefined"]) == {"na64", "toy"}


def test_nested_run_reports_evidence_and_bayes_factor(tmp_path: Path) -> None:
    """dynesty on the default fit's likelihoods with eps and y0 sampled: ln Z_0 is
    Borexino's profiled SM ln L (NA64, BaBar, MEG are 0 at no signal) and ln B = ln Z - ln Z_0."""
    import yaml
    from globalfit.config import load_config
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "fit.yaml").read_text())
    raw["parameters"].update({"m_aprime_gev": "20 MeV", "g_d": 0.1, "alpha": 1.0})
    raw["sampler"] = {"name": "dynesty", "nlive": 60, "dlogz": 1.0, "progress": False,
                      "pool": "serial"}
    raw["output"] = {"name": "nest", "directory": "chains", "plots": False}
    raw.pop("limits")
    path = write_config(tmp_path, raw)
    assert main(["fit", "--config", str(path), "--quiet"]) == 0
    run = tmp_path / "chains" / "nest"
    manifest = json.loads((run / "manifest.json").read_text())
    ev = manifest["summary"]["evidence"]
    lnl_sm = load_config(path).likelihoods["borexino"].fast.lnl_sm
    assert ev["logz"] == manifest["sampler"]["logz"] and ev["ln_z0"] == pytest.approx(lnl_sm)
    assert ev["ln_b"] == pytest.approx(ev["logz"] - lnl_sm) and ev["undefined"] == {}
    text = (run / "summary.md").read_text()
    assert f"ln Z = {ev['logz']:.3f} +- {ev['logzerr']:.3f}" in text
    assert f"ln B = {ev['ln_b']:.3f} +- {ev['logzerr']:.3f}" in text
    # the GetDist chain holds the weighted nested samples
    getdist = pytest.importorskip("getdist")
    samples = getdist.loadMCSamples(str(run / "nest"), no_cache=True)
    nested = az.from_netcdf(run / "posterior.nc")["nested_samples"]
    w = np.exp(np.asarray(nested["log_weight"]))
    assert samples.weights.sum() == pytest.approx(1.0, rel=1e-9)
    assert samples.mean("eps") == pytest.approx(np.average(np.asarray(nested["eps"]),
                                                           weights=w), rel=1e-9)


def test_nautilus_maxcall_cap_then_resume_completes(tmp_path: Path) -> None:
    pytest.importorskip("nautilus")
    tiny = {"name": "nautilus", "n_live": 60, "n_networks": 1, "n_eff": 300.0}
    cfg = run_config("ncap", {**tiny, "maxcall": 200}, plots=False)
    path = write_config(tmp_path, cfg)
    assert main(["fit", "--config", str(path), "--quiet"]) == 3
    run = tmp_path / "chains" / "ncap"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "not converged" and not manifest["sampler"]["converged"]
    calls = manifest["sampler"]["n_calls"]
    write_config(tmp_path, run_config("ncap", {**tiny, "maxcall": None}, plots=False))
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["sampler"]["converged"] and manifest["status"] == "complete"
    assert manifest["sampler"]["n_calls"] > calls and manifest["sampler"]["resumed"]
