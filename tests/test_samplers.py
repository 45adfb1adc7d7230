"""Sampler adapters calibrated on analytic Gaussians: posterior moments (emcee), evidence
(dynesty static and dynamic), autocorrelation stopping, seeding."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import special

from conftest import GaussLikelihood, GaussLikelihoodB, ToyModel
from globalfit.joint import JointPosterior
from globalfit.priors import Prior, PriorSet
from globalfit.sampling import default_options
from globalfit.samplers.emcee_adapter import run_emcee
from globalfit.samplers.dynesty_adapter import run_dynesty
from globalfit.samplers.pool import ChunkedFunction, SerialPool

# x ~ U(-5, 5) measured 1 +- 0.5; y ~ U(-5, 5) measured -1 +- 2
CX, SX, CY, SY, L = 1.0, 0.5, -1.0, 2.0, 5.0


def posterior() -> JointPosterior:
    return JointPosterior(
        ToyModel(),
        {"a": GaussLikelihood("toy_x", CX, SX), "b": GaussLikelihoodB("toy_y", CY, SY)},
        PriorSet([Prior("x", "uniform", low=-L, high=L), Prior("y", "uniform", low=-L, high=L),
                  Prior("m_gev", "fixed", value=0.3)]))


def exact_logz() -> float:
    """ln Z = sum_i ln[(Phi((L - c_i)/s_i) - Phi((-L - c_i)/s_i)) / 2L]."""
    total = 0.0
    for c, s in ((CX, SX), (CY, SY)):
        total += np.log((special.ndtr((L - c) / s) - special.ndtr((-L - c) / s)) / (2 * L))
    return float(total)


def truncated_moments(c: float, s: float) -> tuple[float, float]:
    from scipy import stats
    dist = stats.truncnorm((-L - c) / s, (L - c) / s, loc=c, scale=s)
    return float(dist.mean()), float(dist.std())


def options(name: str, **updates: object) -> dict:
    opts = default_options(name)
    opts.update(progress=False)
    opts.update(updates)
    return opts


def emcee_run(tmp_path: Path, seed: int, **updates: object):
    post = posterior()
    fn = ChunkedFunction(post.log_posterior_sampling, SerialPool())
    return run_emcee(fn, post.priors, options("emcee", **updates), seed,
                     tmp_path / f"chk_{seed}_{len(list(tmp_path.iterdir()))}.h5")


def test_emcee_autocorr_stop_recovers_gaussian_moments(tmp_path: Path) -> None:
    res = emcee_run(tmp_path, 11, nwalkers=16, max_steps=8000, check_every=100,
                    min_ess=600.0)
    st = res.stats
    tau = max(st["autocorr_time"])
    assert st["converged_autocorr"] and st["n_steps"] < 8000
    assert st["n_steps"] > 50 * tau
    assert st["burn_in"] == int(3 * tau)
    flat = res.samples.reshape(-1, 2)
    n_eff = 16 * (st["n_steps"] - st["burn_in"]) / tau
    for j, (c, s) in enumerate(((CX, SX), (CY, SY))):
        mean, sd = truncated_moments(c, s)
        assert abs(flat[:, j].mean() - mean) < 5 * sd / np.sqrt(n_eff)
        assert flat[:, j].std() == pytest.approx(sd, rel=0.12)
    assert 0.3 < st["acceptance_fraction"] < 0.9
    # the stopping rule's checks are timed apart from the rest of the sampling loop
    assert 0.0 < st["wall_time_checks_s"] < st["wall_time_sampling_s"]


def test_emcee_same_seed_same_samples_different_seed_different(tmp_path: Path) -> None:
    kw = dict(nwalkers=8, max_steps=80, stop="fixed")
    a = emcee_run(tmp_path, 5, **kw).samples
    b = emcee_run(tmp_path, 5, **kw).samples
    c = emcee_run(tmp_path, 6, **kw).samples
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_emcee_initialisation_avoids_invalid_region(tmp_path: Path) -> None:
    post = posterior()
    post.model = ToyModel(x_invalid_below=3.0)     # only 20 % of the prior is valid
    fn = ChunkedFunction(post.log_posterior_sampling, SerialPool())
    res = run_emcee(fn, post.priors, options("emcee", nwalkers=8, max_steps=20, stop="fixed"),
                    1, tmp_path / "c.h5")
    assert np.all(res.samples[..., 0] >= 3.0)
    assert fn.counts["model_domain"] > 0


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_dynesty_recovers_analytic_evidence(tmp_path: Path, dynamic: bool) -> None:
    post = posterior()
    res = run_dynesty(post.loglike_point, post.prior_transform_point, 2,
                      options("dynesty", nlive=300, dynamic=dynamic, nlive_batch=150,
                              maxbatch=1), seed=3, checkpoint=tmp_path / "nest.dynesty")
    logz, err = res.stats["logz"], res.stats["logzerr"]
    assert 0 < err < 0.5
    assert abs(logz - exact_logz()) < 3 * err
    flat = res.samples.reshape(-1, 2)
    mean, sd = truncated_moments(CX, SX)
    assert abs(flat[:, 0].mean() - mean) < 0.1
    assert flat[:, 0].std() == pytest.approx(sd, rel=0.15)
    w = np.exp(res.nested["log_weight"])
    assert w.sum() == pytest.approx(1.0, rel=1e-6)
    assert (tmp_path / "nest.dynesty").is_file()


def test_dynesty_queue_size_rule() -> None:
    """On a pool, about nlive/32 proposals per map, a multiple of the processes, at least
    one and at most QUEUE_PER_PROCESS per process; the option wins when set."""
    from globalfit.samplers.dynesty_adapter import QUEUE_PER_PROCESS, queue_size
    assert queue_size({"nlive": 1000, "queue_size": None}, 2) == 30
    assert queue_size({"nlive": 100, "queue_size": None}, 2) == 2
    assert queue_size({"nlive": 10, "queue_size": None}, 4) == 4
    assert queue_size({"nlive": 10**6, "queue_size": None}, 2) == 2 * QUEUE_PER_PROCESS
    assert queue_size({"nlive": 1000, "queue_size": 3}, 2) == 3


def test_dynesty_on_a_pool_with_a_queue_recovers_the_evidence(tmp_path: Path) -> None:
    """dynesty on 2 worker processes with several proposals per map (queue_size 6: each map
    evolves 6 live points from the same likelihood threshold) still gives the analytic
    evidence and moments."""
    from globalfit.samplers.pool import ProcessPool, Ref, register, unregister
    post = posterior()
    register("posterior", post)
    try:
        with ProcessPool(2) as pool:
            res = run_dynesty(Ref("posterior", "loglike_point"),
                              Ref("posterior", "prior_transform_point"), 2,
                              options("dynesty", nlive=300, sample="rslice", queue_size=6),
                              seed=3, checkpoint=tmp_path / "nest.dynesty", pool=pool)
    finally:
        unregister("posterior")
    logz, err = res.stats["logz"], res.stats["logzerr"]
    assert 0 < err < 0.5 and abs(logz - exact_logz()) < 3 * err
    mean, sd = truncated_moments(CX, SX)
    flat = res.samples.reshape(-1, 2)
    assert abs(flat[:, 0].mean() - mean) < 0.1
    assert flat[:, 0].std() == pytest.approx(sd, rel=0.15)


def test_dynesty_seeded(tmp_path: Path) -> None:
    post = posterior()
    opts = options("dynesty", nlive=60, dlogz=1.0)
    a = run_dynesty(post.loglike_point, post.prior_transform_point, 2, opts, 4, tmp_path / "a")
    b = run_dynesty(post.loglike_point, post.prior_transform_point, 2, opts, 4, tmp_path / "b")
    c = run_dynesty(post.loglike_point, post.prior_transform_point, 2, opts, 5, tmp_path / "c")
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.stats["logz"] == b.stats["logz"] != c.stats["logz"]


def test_process_pool_gives_the_serial_chain(tmp_path: Path) -> None:
    """One code path: blocks of the vectorised posterior evaluated in 2 worker processes
    give exactly the serial chain, and rejection counts are gathered from the workers."""
    from globalfit.samplers.pool import ProcessPool, Ref, register, unregister
    post = posterior()
    post.model = ToyModel(x_invalid_below=-2.0)
    register("posterior", post)
    try:
        opts = options("emcee", nwalkers=8, max_steps=40, stop="fixed")
        serial = ChunkedFunction(Ref("posterior", "log_posterior_sampling"), SerialPool())
        a = run_emcee(serial, post.priors, opts, 9, tmp_path / "s.h5")
        with ProcessPool(2) as pool:
            fn = ChunkedFunction(Ref("posterior", "log_posterior_sampling"), pool)
            b = run_emcee(fn, post.priors, opts, 9, tmp_path / "p.h5")
    finally:
        unregister("posterior")
    np.testing.assert_array_equal(a.samples, b.samples)
    assert fn.counts == serial.counts and fn.counts["model_domain"] > 0


def test_emcee_log_uniform_prior_recovered_through_log_coordinates(tmp_path: Path) -> None:
    """With an uninformative likelihood the posterior is the prior: a log-uniform x on
    [1e-3, 10] (sampled as ln x, Jacobian included) must give ln x uniform."""
    from scipy import stats
    post = JointPosterior(
        ToyModel(), {"a": GaussLikelihood("toy_x", 0.0, 1e6)},
        PriorSet([Prior("x", "log-uniform", low=1e-3, high=10.0),
                  Prior("y", "uniform", low=-1, high=1), Prior("m_gev", "fixed", value=1.0)]))
    fn = ChunkedFunction(post.log_posterior_sampling, SerialPool())
    res = run_emcee(fn, post.priors, options("emcee", nwalkers=16, max_steps=3000,
                                             check_every=100, min_ess=400.0), 2,
                    tmp_path / "l.h5")
    assert res.stats["converged_autocorr"]
    # the output is the chain whose R-hat the stopping check tested (same burn-in, thinning)
    import arviz
    # (in the sampler's coordinates, ln x and y: the folded half of ArviZ's rank R-hat is not
    # invariant under x -> ln x)
    z = post.priors.to_sampling(res.samples)
    rhat = max(float(arviz.rhat(z[..., j])) for j in range(2))
    assert rhat == pytest.approx(res.stats["stop_max_rhat"], rel=1e-12)
    lnx = np.log(res.samples[..., 0][:, ::4].ravel())       # about one draw per tau
    assert lnx.min() >= np.log(1e-3) and lnx.max() <= np.log(10.0)
    assert stats.kstest(lnx, stats.uniform(np.log(1e-3), np.log(1e4)).cdf).pvalue > 1e-3


# ---- the sampler interface and registry ------------------------------------------------

def test_every_registered_sampler_declares_its_interface() -> None:
    from globalfit.sampling import COMMON_OPTIONS, REGISTRY, Sampler, available, load
    assert {"emcee", "dynesty", "nautilus"} <= set(available())
    checkpoints = set()
    for name in REGISTRY:
        cls = load(name)
        assert issubclass(cls, Sampler) and cls.name == name and cls.citation
        assert 0 < cls.mpi_backoff_ms <= 10.0                # ms: idle MPI ranks poll
        names = [o.name for o in cls.schema()]
        assert len(names) == len(set(names))                 # no option declared twice
        assert set(cls.resume_keys) <= set(names)
        assert names[:len(COMMON_OPTIONS)] == [o.name for o in COMMON_OPTIONS]
        checkpoints.add(cls.checkpoint_name)
    assert len(checkpoints) == len(REGISTRY)                 # one checkpoint file each


def _plugin(tmp_path: Path, target: str) -> Path:
    """A minimal installed distribution registering ``target`` as the sampler ``toy_mc``
    in the entry-point group ``globalfit.samplers``."""
    site = tmp_path / "site"
    dist = site / "toy_sampler_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-sampler-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[globalfit.samplers]\ntoy_mc = {target}\n")
    (site / "toy_sampler_plugin.py").write_text(
        "from globalfit.samplers.emcee_adapter import EmceeSampler\n\n"
        "class ToyMC(EmceeSampler):\n"
        "    name = 'toy_mc'\n"
        "    checkpoint_name = 'checkpoint.toy_mc.h5'\n\n"
        "class NotASampler:\n"
        "    name = 'toy_mc'\n")
    return site


def test_entry_point_sampler_runs_a_fit(tmp_path: Path, monkeypatch) -> None:
    import json
    import sys
    from conftest import toy_config, write_config
    from globalfit.cli import main
    monkeypatch.syspath_prepend(str(_plugin(tmp_path, "toy_sampler_plugin:ToyMC")))
    cfg = toy_config(name="plug", sampler={"name": "toy_mc", "max_steps": 30, "stop": "fixed"})
    path = write_config(tmp_path, cfg)
    assert main(["fit", "--config", str(path), "--quiet"]) == 0
    run = tmp_path / "chains" / "plug"
    assert (run / "checkpoint.toy_mc.h5").is_file()
    assert json.loads((run / "manifest.json").read_text())["sampler"]["n_steps"] == 30
    sys.modules.pop("toy_sampler_plugin", None)


def test_entry_point_that_is_not_a_sampler_is_refused(tmp_path: Path, monkeypatch,
                                                       capsys) -> None:
    import sys
    from conftest import toy_config, write_config
    from globalfit.cli import main
    monkeypatch.syspath_prepend(str(_plugin(tmp_path, "toy_sampler_plugin:NotASampler")))
    path = write_config(tmp_path, toy_config(sampler={"name": "toy_mc"}))
    assert main(["fit", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "sampler.name" in err and "is not a globalfit.sampling.Sampler" in err
    assert not (tmp_path / "chains").exists()
    sys.modules.pop("toy_sampler_plugin", None)


def test_resume_compatibility_uses_the_declared_keys() -> None:
    from globalfit.config import compatible_for_resume
    base = {"model": 1, "parameters": 2, "likelihoods": 3, "seed": 0}
    naut = {**base, "sampler": default_options("nautilus")}
    changed = {**naut, "sampler": {**naut["sampler"], "n_live": 10, "n_eff": 5.0,
                                   "log_every_s": 1.0}}
    assert compatible_for_resume(naut, changed) == ["sampler.n_live"]
    emc = {**base, "sampler": default_options("emcee")}
    assert compatible_for_resume(emc, {**emc, "sampler": {**emc["sampler"], "moves": "stretch",
                                                          "max_steps": 5}}) == ["sampler.moves"]
    assert compatible_for_resume(emc, naut) == ["sampler.name"]


# ---- bad sampler options: one line naming sampler.<key>, exit 2 ----------------------------

BAD_OPTIONS = [
    ({"burn_factor": float("nan")}, "sampler.burn_factor", "finite"),
    ({"burn_factor": float("inf")}, "sampler.burn_factor", "finite"),
    ({"thin_factor": float("nan")}, "sampler.thin_factor", "finite"),
    ({"thin_factor": float("-inf")}, "sampler.thin_factor", "finite"),
    ({"thin_factor": 0.0}, "sampler.thin_factor", "> 0"),
    ({"max_rhat": float("nan")}, "sampler.max_rhat", "finite"),
    ({"max_rhat": 0.9}, "sampler.max_rhat", ">= 1"),
    ({"nwalkers": 2}, "sampler.nwalkers", "at least"),
    ({"nwalkers": 9}, "sampler.nwalkers", "even"),
    ({"nwalkers": 10**12}, "sampler.nwalkers", "<="),
    ({"nwalkers": 200000, "max_steps": 10**7}, "sampler.nwalkers", "GiB"),
    ({"tau_factor": float("nan")}, "sampler.tau_factor", "finite"),
    ({"name": "dynesty", "n_chains": 0}, "sampler.n_chains", ">= 1"),
    ({"name": "dynesty", "n_chains": 10**9}, "sampler.n_chains", "<="),
    ({"name": "dynesty", "nlive": 50, "n_chains": 100}, "sampler.n_chains", "live points"),
    ({"name": "dynesty", "dlogz": float("nan")}, "sampler.dlogz", "finite"),
    ({"name": "nautilus", "n_live": 0}, "sampler.n_live", ">= 10"),
    ({"name": "nautilus", "n_eff": float("inf")}, "sampler.n_eff", "finite"),
    ({"name": "nautilus", "nlive": 100}, "sampler.nlive", "did you mean 'n_live'"),
    ({"name": "nautilius"}, "sampler.name", "did you mean 'nautilus'"),
    ({"progress": "yes"}, "sampler.progress", "not one of"),
    ({"log_every_s": 0}, "sampler.log_every_s", ">="),
]


@pytest.mark.parametrize("sampler,key,text", BAD_OPTIONS,
                         ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(BAD_OPTIONS)])
def test_bad_sampler_option_is_one_line_naming_the_key(tmp_path: Path, sampler: dict, key: str,
                                                        text: str) -> None:
    from conftest import toy_config, write_config
    from globalfit.config import load_config
    from globalfit.errors import ConfigError
    path = write_config(tmp_path, toy_config(sampler=sampler))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert len(message.splitlines()) == 1 and len(message) < 300
    assert message.startswith(f"{path}: {key}: ") and text in message, message


def test_bad_sampler_option_exits_2_through_the_cli(tmp_path: Path) -> None:
    import subprocess
    from conftest import cli_command, subprocess_env, toy_config, write_config
    write_config(tmp_path, toy_config(sampler={"max_rhat": float("nan")}))
    proc = subprocess.run(cli_command("--config", "fit.yaml"), cwd=tmp_path, text=True,
                          capture_output=True, env=subprocess_env(), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "fit.yaml: sampler.max_rhat: must be a finite number, found nan"
    assert not (tmp_path / "chains").exists()


# ---- a corrupt checkpoint on --resume: one line naming it, exit 2, file untouched -----------

@pytest.mark.parametrize("name", ["emcee", "dynesty", "nautilus"])
@pytest.mark.parametrize("content", [b"", b"\x89HDF\r\n\x1a\n" + b"\x00" * 40,
                                     b"garbage " * 64], ids=["empty", "truncated", "garbage"])
def test_corrupt_checkpoint_on_resume_is_refused(tmp_path: Path, capsys, name: str,
                                                 content: bytes) -> None:
    import yaml
    from conftest import toy_config, write_config
    from globalfit.cli import main
    from globalfit.config import load_config
    from globalfit.sampling import load
    path = write_config(tmp_path, toy_config(sampler={"name": name}))
    cfg = load_config(path)
    cfg.run_dir.mkdir(parents=True)
    from globalfit.rundir import MARKER_NAME            # an earlier run of this tool
    (cfg.run_dir / MARKER_NAME).write_text('{"run_name": "toy"}\n')
    (cfg.run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.resolved, sort_keys=False))
    checkpoint = cfg.run_dir / load(name).checkpoint_name
    checkpoint.write_bytes(content)
    assert main(["fit", "--config", str(path), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"{checkpoint}: corrupt") and "--force" in err[0]
    assert checkpoint.read_bytes() == content
    assert sorted(p.name for p in cfg.run_dir.iterdir()) == sorted(["config.yaml", MARKER_NAME,
                                                                    checkpoint.name])


def test_emcee_checkpoint_of_another_shape_is_refused(tmp_path: Path) -> None:
    from globalfit.sampling import CheckpointError
    emcee_run(tmp_path, 1, nwalkers=8, max_steps=10, stop="fixed")
    chk = next(tmp_path.glob("chk_*.h5"))
    before = chk.read_bytes()
    post = posterior()
    fn = ChunkedFunction(post.log_posterior_sampling, SerialPool())
    with pytest.raises(CheckpointError, match="8 walkers"):
        run_emcee(fn, post.priors, options("emcee", nwalkers=10, max_steps=20), 1, chk,
                  resume=True)
    assert chk.read_bytes() == before


def test_emcee_checkpoint_is_read_by_emcee_and_progress_shows_the_stopping_rule(
        tmp_path: Path, caplog) -> None:
    """The checkpoint is emcee's HDF layout (read with emcee's own read-only backend, equal
    to the returned chain); the progress reports tau and N/(tau_factor tau), not a step
    count out of max_steps."""
    import logging
    import emcee
    from globalfit import progress
    progress.set_quiet(False)
    with caplog.at_level(logging.INFO, logger="globalfit"):
        res = emcee_run(tmp_path, 4, nwalkers=16, max_steps=5000, check_every=100,
                        min_ess=300.0, max_rhat=None, log_every_s=0.01)
    chk = next(tmp_path.glob("chk_*.h5"))
    reader = emcee.backends.HDFBackend(str(chk), name="mcmc", read_only=True)
    st = res.stats
    assert reader.iteration == st["n_steps"] and reader.shape == (16, 2)
    chain = reader.get_chain(discard=st["burn_in"], thin=st["thin"])
    post = posterior()
    np.testing.assert_array_equal(post.priors.from_sampling(np.swapaxes(chain, 0, 1)),
                                  res.samples)
    text = caplog.text
    assert "N/(50 tau)" in text and "/5000" not in text
    tau = max(st["autocorr_time"])
    assert f"tau {tau:.1f}" in text
