"""The nautilus adapter on the analytic problems of test_samplers.py: evidence and moments of
a truncated Gaussian, seeding, stop-and-resume (identical to an uninterrupted run), and a CLI
run stopped by SIGTERM and resumed, whose outputs have the layout of a dynesty run."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from conftest import cli_command, subprocess_env, toy_config, write_config
from globalfit.cli import main
from globalfit.output import _arviz
from globalfit.samplers import StopFlag
from globalfit.samplers.nautilus_adapter import run_nautilus
from globalfit.samplers.pool import SerialPool
from test_samplers import CX, SX, CY, SY, exact_logz, options, posterior, truncated_moments

pytest.importorskip("nautilus")

#: a small run (few networks, small live set) for the tests that compare runs
TINY = dict(n_live=60, n_networks=1, n_eff=300.0)


class StopAfter:
    """The test posterior, setting ``stop`` (as SIGTERM would) at the ``n``-th likelihood
    call."""

    def __init__(self, stop: StopFlag, n: int) -> None:
        self.post, self.stop, self.n, self.calls = posterior(), stop, n, 0
        self.ndim, self.priors, self.rejections = self.post.ndim, self.post.priors, {}

    def log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls >= self.n:
            self.stop.signum = signal.SIGTERM
        return self.post.log_likelihood(theta)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):
    return run_nautilus(posterior(), options("nautilus", **TINY), 3,
                        tmp_path_factory.mktemp("naut") / "straight.h5")


def test_nautilus_recovers_analytic_evidence_and_moments(tmp_path: Path) -> None:
    res = run_nautilus(posterior(), options("nautilus", n_live=200, n_networks=1,
                                            n_eff=2000.0), 7, tmp_path / "n.h5")
    st = res.stats
    logz, err = st["logz"], st["logzerr"]
    assert st["converged"] and st["n_eff"] >= 2000
    assert err == pytest.approx(1 / np.sqrt(st["n_eff"]))
    assert abs(logz - exact_logz()) < 3 * err
    nest = res.nested
    w = np.exp(nest["log_weight"])
    assert w.sum() == pytest.approx(1.0, rel=1e-9)
    assert nest["logz"] == logz and nest["samples"].shape == (len(w), 2)
    for j, (c, s) in enumerate(((CX, SX), (CY, SY))):
        mean, sd = truncated_moments(c, s)
        wm = float(np.sum(w * nest["samples"][:, j]))
        wsd = float(np.sqrt(np.sum(w * (nest["samples"][:, j] - wm) ** 2)))
        assert abs(wm - mean) < 5 * sd / np.sqrt(st["n_eff"])
        assert wsd == pytest.approx(sd, rel=0.1)
        flat = res.samples.reshape(-1, 2)[:, j]          # the equal-weight draws
        assert abs(flat.mean() - mean) < 5 * sd / np.sqrt(len(flat))
        assert flat.std() == pytest.approx(sd, rel=0.1)
    assert res.samples.shape[0] == 4
    assert res.samples.shape[0] * res.samples.shape[1] == st["n_equal_weight_samples"]
    assert st["n_equal_weight_samples"] <= st["n_eff"]
    assert (tmp_path / "n.h5").is_file()


def test_nautilus_other_seed_other_samples(tiny_run, tmp_path: Path) -> None:
    """(The same seed giving the same samples is shown by the stop-and-resume test: a run
    from seed 3, stopped and resumed, equals the uninterrupted run from seed 3.)"""
    other = run_nautilus(posterior(), options("nautilus", **TINY), 4, tmp_path / "b.h5")
    assert other.stats["logz"] != tiny_run.stats["logz"]
    assert not np.array_equal(other.nested["samples"][:50], tiny_run.nested["samples"][:50])


def test_nautilus_stop_then_resume_equals_uninterrupted_run(tiny_run, tmp_path: Path) -> None:
    stop = StopFlag()
    target = StopAfter(stop, 12)
    chk = tmp_path / "chk.h5"
    first = run_nautilus(target, options("nautilus", **TINY), 3, chk, stop=stop)
    assert not first.completed and chk.is_file()
    assert target.calls == 12           # stopped at the flagged call, no call after it
    resumed = run_nautilus(posterior(), options("nautilus", **TINY), 3, chk, resume=True)
    assert resumed.completed and resumed.stats["resumed"]
    assert 0 < resumed.stats["n_calls_this_run"] < resumed.stats["n_calls"]
    np.testing.assert_array_equal(resumed.samples, tiny_run.samples)
    np.testing.assert_array_equal(resumed.nested["log_weight"], tiny_run.nested["log_weight"])
    assert resumed.stats["logz"] == tiny_run.stats["logz"]


def test_nautilus_cli_sigterm_resume_writes_nested_outputs(tmp_path: Path) -> None:
    cfg = toy_config(name="naut", sampler={"name": "nautilus", **TINY})
    write_config(tmp_path, cfg)
    run = tmp_path / "chains" / "naut"
    checkpoint = run / "checkpoint.nautilus.h5"
    proc = subprocess.Popen(cli_command("--config", "fit.yaml"), cwd=tmp_path,
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "checkpoint saved" in err and "Traceback" not in err
    assert checkpoint.is_file() and not (run / "manifest.json").exists()

    assert main(["fit", "--config", str(tmp_path / "fit.yaml"), "--resume", "--quiet"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    st = manifest["sampler"]
    assert manifest["resumed"] and manifest["status"] == "complete" and st["resumed"]
    # toy config: x ~ U(-5, 5) measured 1 +- 0.5, y ~ U(-5, 5) measured -1 +- 1
    exact = sum(np.log((special.ndtr((5 - c) / s) - special.ndtr((-5 - c) / s)) / 10)
                for c, s in ((1.0, 0.5), (-1.0, 1.0)))
    assert abs(st["logz"] - exact) < 4 * st["logzerr"]
    idata = _arviz().from_netcdf(run / "posterior.nc")
    assert {"posterior", "sample_stats", "log_likelihood", "log_prior",
            "nested_samples"} <= set(idata.groups())
    nested = idata.nested_samples
    assert nested.attrs["logz"] == pytest.approx(st["logz"])
    assert idata.sample_stats.attrs["logzerr"] == pytest.approx(st["logzerr"])
    assert idata.sample_stats.attrs["sampler"] == "nautilus"
    w = np.exp(nested["log_weight"].values)
    assert w.sum() == pytest.approx(1.0, rel=1e-6)
    assert abs(float(np.sum(w * nested["x"].values)) - 1.0) < 0.15
    lp = idata.sample_stats["lp"].values
    total = sum(idata.log_likelihood[k].values for k in ("a", "b")) + \
        idata.log_prior["log_prior"].values
    np.testing.assert_allclose(total, lp)


class CountingPool(SerialPool):
    """Two evaluators in this process (size 2), recording what nautilus maps over it."""
    size = 2
    min_task_seconds = 0.0

    def __init__(self) -> None:
        self.names: list[str] = []

    def map(self, fn, items):
        self.names.append(getattr(getattr(fn, "func", fn), "__name__", type(fn).__name__))
        return super().map(fn, items)


def test_nautilus_trains_its_networks_on_the_pool(tmp_path: Path) -> None:
    """On a pool of more than one process nautilus' own work goes to the pool too: each
    bound's networks are trained as pool tasks (nautilus.neural.train_network) and its points
    drawn in pool tasks, besides the likelihood blocks; the evidence is still the exact one."""
    pool = CountingPool()
    res = run_nautilus(posterior(), options("nautilus", n_live=200, n_networks=2,
                                            n_eff=2000.0), 7, tmp_path / "n.h5", pool=pool)
    assert "train_network" in pool.names and "_reset_and_sample" in pool.names
    assert "Uncounted" in pool.names                     # the likelihood blocks
    st = res.stats
    assert st["converged"] and abs(st["logz"] - exact_logz()) < 3 * st["logzerr"]
