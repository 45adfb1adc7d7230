"""End-to-end runs of the command line on toy configs: outputs, ArviZ file, terms adding up,
refusal/--force/--resume, signals, the console-script entry point."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import cli_command, subprocess_env, toy_config, write_config
from globalfit.cli import main
from globalfit.output import _arviz

az = _arviz()


@pytest.fixture(scope="module")
def emcee_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli")
    cfg = toy_config(name="emcee_toy", sampler={"max_steps": 120},
                     output={"name": "emcee_toy", "plots": True})
    cfg["likelihoods"]["a"]["mode"] = "full"
    cfg["parameters"]["a.rate"] = {"prior": "fixed", "value": 1.0}
    assert main(["fit", "--config", str(write_config(directory, cfg)), "--quiet"]) == 0
    return directory / "chains" / "emcee_toy"


def test_run_directory_contents(emcee_run: Path) -> None:
    names = {p.name for p in emcee_run.iterdir()}
    assert {"posterior.nc", "config.yaml", "manifest.json", "summary.csv", "summary.md",
            "corner.png", "corner_physics.png", "trace.png", "checkpoint.h5",
            "emcee_toy.txt", "emcee_toy.paramnames", "emcee_toy.ranges"} <= names
    for png in ("corner.png", "corner_physics.png", "trace.png"):
        assert (emcee_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((emcee_run / "manifest.json").read_text())
    # a fixed-length run: complete, exit 0, and no convergence claim
    assert manifest["status"] == "complete" and manifest["seed"] == 7
    assert manifest["convergence"]["verdict"] == "no claim"
    assert manifest["convergence"]["sampler_rule_met"] is None
    assert manifest["sampler"]["n_steps"] == 120 and manifest["sampler"]["n_walkers"] == 8
    assert manifest["packages"]["emcee"] and manifest["wall_time_s"] > 0
    assert manifest["parameters"] == ["x", "y", "a.shift"]
    summary = (emcee_run / "summary.csv").read_text().splitlines()
    assert summary[0] == ",mean,sd,q5,q50,q95,r_hat,ess_bulk,ess_tail"


def test_netcdf_groups_and_terms_add_up(emcee_run: Path) -> None:
    idata = az.from_netcdf(emcee_run / "posterior.nc")
    for group in ("posterior", "sample_stats", "log_likelihood", "log_prior"):
        assert group in idata.groups()
    post = idata.posterior
    assert post["x"].shape == (8, 90)              # 8 walkers, 120 - 120 // 4 steps
    for name in ("x", "y", "a.shift", "toy_x", "toy_r2", "a_expected_signal_events"):
        assert name in post
    # derived quantities recomputed at every draw
    np.testing.assert_allclose(post["toy_r2"], post["x"] ** 2 + post["y"] ** 2)
    np.testing.assert_allclose(post["a_expected_signal_events"], 10 * post["x"] ** 2)
    ll = idata.log_likelihood
    assert set(ll.data_vars) == {"a", "b"}
    x, y, s = (post[k].values for k in ("x", "y", "a.shift"))
    np.testing.assert_allclose(ll["b"], -0.5 * (y + 1.0) ** 2 - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(
        ll["a"], -0.5 * ((x + s - 1.0) / 0.5) ** 2 - np.log(0.5 * np.sqrt(2 * np.pi)))
    total = ll["a"] + ll["b"] + idata.log_prior["log_prior"]
    np.testing.assert_allclose(total, idata.sample_stats["lp"], rtol=1e-12)


def test_existing_run_needs_flag_and_force_replaces(tmp_path: Path) -> None:
    path = write_config(tmp_path, toy_config(sampler={"max_steps": 20}))
    assert main(["fit", "--config", str(path), "--quiet"]) == 0
    run = tmp_path / "chains" / "toy"
    first = (run / "manifest.json").read_text()
    assert main(["fit", "--config", str(path), "--quiet"]) == 2
    assert (run / "manifest.json").read_text() == first
    # --resume of a complete run with an unchanged config does nothing
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 0
    assert (run / "manifest.json").read_text() == first
    # --resume with an incompatible change is refused, naming the key
    changed = toy_config(sampler={"max_steps": 20, "nwalkers": 10})
    write_config(tmp_path, changed)
    assert main(["fit", "--config", str(path), "--resume", "--quiet"]) == 2
    (run / "marker").write_text("old")
    assert main(["fit", "--config", str(path), "--force", "--quiet"]) == 0
    assert not (run / "marker").exists()
    assert json.loads((run / "manifest.json").read_text())["sampler"]["n_walkers"] == 10


def test_resume_and_force_are_exclusive(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--resume", "--force"])
    assert exc.value.code == 2


def test_console_script_declared() -> None:
    import tomllib
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml")
                              .read_text())
    assert pyproject["project"]["scripts"]["globalfit"] == "globalfit.cli:main"


def test_dynesty_run_writes_nested_group(tmp_path: Path) -> None:
    cfg = toy_config(name="nest", sampler={"name": "dynesty", "nlive": 80, "dlogz": 0.5})
    assert main(["fit", "--config", str(write_config(tmp_path, cfg)), "--quiet"]) == 0
    run = tmp_path / "chains" / "nest"
    idata = az.from_netcdf(run / "posterior.nc")
    nested = idata["nested_samples"]
    w = np.exp(nested["log_weight"].values)
    assert w.sum() == pytest.approx(1.0, rel=1e-6)
    manifest = json.loads((run / "manifest.json").read_text())
    # dynesty's dlogz rule was met, but 80 live points give fewer than 1000 effective draws:
    # complete (resuming would not help), exit 0, with the failing parameters recorded
    conv = manifest["convergence"]
    assert manifest["status"] == "complete" and conv["verdict"] == "criteria not met"
    assert conv["sampler_rule_met"] and all(v["ess_bulk"] < 1000 for v in conv["failing"].values())
    assert nested.attrs["logz"] == pytest.approx(manifest["sampler"]["logz"])
    assert idata.sample_stats.attrs["logzerr"] == pytest.approx(manifest["sampler"]["logzerr"])
    assert idata.posterior["x"].shape[0] == 4          # equal-weight draws split in 4 chains
    # the weighted mean of the nested samples equals the equal-weight mean within noise
    wm = np.sum(w * nested["x"].values)
    assert abs(wm - float(idata.posterior["x"].mean())) < 0.1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_writes_checkpoint_and_exits_cleanly(tmp_path: Path, signum: int) -> None:
    cfg = toy_config(sampler={"max_steps": 200000, "log_every_s": 0.5})
    write_config(tmp_path, cfg)
    checkpoint = tmp_path / "chains" / "toy" / "checkpoint.h5"
    proc = subprocess.Popen(cli_command("--config", "fit.yaml"), cwd=tmp_path,
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "checkpoint saved" in err and "Traceback" not in err
    import h5py
    with h5py.File(checkpoint, "r") as f:
        assert 0 < f["mcmc"].attrs["iteration"] < 200000
    assert not (tmp_path / "chains" / "toy" / "manifest.json").exists()


@pytest.mark.slow
def test_default_fit_converges(tmp_path: Path) -> None:
    """The README main command's fit (fit.yaml, unchanged but for the output folder):
    R-hat < 1.01 and bulk ESS >= 1000 for every sampled parameter."""
    import yaml
    from globalfit.config import load_config
    repo = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((repo / "fit.yaml").read_text())
    raw["output"]["directory"] = str(tmp_path / "chains")
    path = write_config(tmp_path, raw)
    load_config(path)
    t0 = time.time()
    assert main(["fit", "--config", str(path), "--quiet"]) == 0
    run = tmp_path / "chains" / raw["output"]["name"]
    manifest = json.loads((run / "manifest.json").read_text())
    conv = manifest["convergence"]
    assert conv["max_r_hat"] < 1.01 and conv["min_ess_bulk"] >= 1000, conv
    assert manifest["sampler"]["converged_autocorr"]
    idata = az.from_netcdf(run / "posterior.nc")
    for name in ("mu_eff_mub", "lam2_1_mub2", "br_mu_e_gamma", "br_inv",
                 "na64_expected_signal"):
        assert name in idata.posterior, name
    assert set(idata.log_likelihood.data_vars) == {"borexino", "na64", "babar", "meg"}
    print(f"default fit: {time.time() - t0:.1f} s, {manifest['sampler']['n_steps']} steps, "
          f"max R-hat {conv['max_r_hat']:.4f}, min ESS {conv['min_ess_bulk']:.0f}")


def test_dynesty_sigterm_saves_checkpoint_and_resumes(tmp_path: Path) -> None:
    cfg = toy_config(name="nsig", sampler={"name": "dynesty", "nlive": 100, "dlogz": 0.5,
                                           "checkpoint_every_s": 1000.0})
    cfg["likelihoods"]["b"]["delay_s"] = 0.002
    write_config(tmp_path, cfg)
    run = tmp_path / "chains" / "nsig"
    proc = subprocess.Popen(cli_command("--config", "fit.yaml"), cwd=tmp_path,
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run / "config.yaml").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    # the periodic checkpoint is far away (1000 s): this file was written on the signal
    assert (run / "checkpoint.dynesty").is_file()
    assert main(["fit", "--config", str(tmp_path / "fit.yaml"), "--resume", "--quiet"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["resumed"] and manifest["status"] == "complete"
