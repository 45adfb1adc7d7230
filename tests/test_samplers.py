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
from globalfit.samplers.base import default_options
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
    lnx = np.log(res.samples[..., 0][:, ::4].ravel())       # about one draw per tau
    assert lnx.min() >= np.log(1e-3) and lnx.max() <= np.log(10.0)
    assert stats.kstest(lnx, stats.uniform(np.log(1e-3), np.log(1e4)).cdf).pvalue > 1e-3
