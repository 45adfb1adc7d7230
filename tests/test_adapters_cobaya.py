"""The framework-neutral bridge (likelihoods.adapters) and the Cobaya adapter.

Physics checks: short seeded Cobaya MCMC runs through the adapter classes recover the MEG II
90 % limit on BR(mu -> e gamma) (1.5e-13, arXiv:2504.15711) and the published NA64 90 % limit on
eps at m_A' = 10 MeV (PRL 131 (2023) 161801; flat prior in eps^2) within 10 %; the joint class
recovers both at once. The bridge's joint value is checked against direct sums of the
likelihoods and against globalfit.joint.JointPosterior built independently.
"""
from __future__ import annotations

import numpy as np
import pytest

from globalfit.errors import ConfigError, ParameterError
from likelihoods.adapters import (EXPERIMENTS, LikelihoodBridge, experiment_bridge, joint_bridge,
                                  nuisance_parameter_name)
from likelihoods.babar import BaBarLikelihood
from likelihoods.base import Nuisance
from likelihoods.meg import MEGLikelihood
from likelihoods.na64 import NA64Likelihood, eps90_published

from conftest import weighted_quantile

M_TEST_GEV = 0.01      # NA64 test mass (10 MeV)
# Cobaya 3.6 with pandas >= 2.3 warns about its own progress table; not ours
pytestmark = pytest.mark.filterwarnings("ignore:Setting a value on a DataFrame",
                                        "ignore::DeprecationWarning")


# --------------------------------------------------------------------------------------
# bridge (no framework needed)
# --------------------------------------------------------------------------------------
def test_bridge_inputs_follow_requires_and_fixed():
    b = experiment_bridge("NA64")
    assert b.parameters == NA64Likelihood().requires
    b = experiment_bridge("NA64", fixed={"br_inv": 1.0})
    assert b.parameters == ("m_aprime_gev", "eps")
    assert [p.unit for p in b.inputs] == ["GeV", "1"]
    b = experiment_bridge("MEG")
    assert b.parameters == ("br_mu_e_gamma",)
    with pytest.raises(ConfigError, match="gamma_total_gev"):
        experiment_bridge("NA64", fixed={"gamma_total_gev": 1.0})


def test_bridge_joint_is_sum_of_direct_loglikes_vectorised():
    rng = np.random.default_rng(1)
    n = 200
    pts = {"m_aprime_gev": rng.uniform(0.002, 1.0, n), "eps": 10 ** rng.uniform(-6, -3, n),
           "br_inv": rng.uniform(0, 1, n), "br_mu_e_gamma": rng.uniform(0, 5e-13, n)}
    j = joint_bridge({"na64": {}, "babar": {}, "meg": {"dataset": "meg2_2023"}})
    assert set(j.parameters) == set(pts)
    obs3 = {k: pts[k] for k in ("m_aprime_gev", "eps", "br_inv")}
    expect = (NA64Likelihood().loglike(obs3) + BaBarLikelihood().loglike(obs3)
              + MEGLikelihood("meg2_2023").loglike({"br_mu_e_gamma": pts["br_mu_e_gamma"]}))
    got = j.loglike(pts)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, expect, rtol=1e-13, atol=0)
    # one point at a time gives the same numbers
    for i in (0, 17, 199):
        assert j.loglike_point({k: v[i] for k, v in pts.items()}) == pytest.approx(got[i],
                                                                                    rel=1e-13)
    terms = j.terms(pts)
    np.testing.assert_allclose(sum(terms.values()), got, rtol=1e-13)


def test_bridge_nuisances_named_and_passed():
    nu = Nuisance("cno", "cpd/100t", "gaussian", 4.9, 0.5)
    assert nuisance_parameter_name("borexino", nu, "_") == "borexino_cno"
    nu = Nuisance("na64_background", "events", "gaussian", 0.43, 0.16)
    assert nuisance_parameter_name("na64", nu, "_") == "na64_background"
    b = experiment_bridge("NA64", options={"background": "sampled"}, fixed={"br_inv": 1.0})
    assert b.parameters == ("m_aprime_gev", "eps", "na64_background")
    prior = b.nuisance_priors()["na64_background"]
    assert (prior.center, prior.width, prior.low) == (0.43, 0.16, 0.0)
    # with n = 0 and a sampled b, ln L(s) - ln P(0 | b0) = -s - (b - b0)
    like = NA64Likelihood()
    obs = {"m_aprime_gev": np.array([M_TEST_GEV]), "eps": np.array([2e-5]),
           "br_inv": np.array([1.0])}
    s = float(like.expected_signal(obs)[0])
    val = b.loglike_point({"m_aprime_gev": M_TEST_GEV, "eps": 2e-5, "na64_background": 0.6})
    assert val == pytest.approx(-s - (0.6 - 0.43), rel=1e-12)


def test_bridge_errors_name_the_parameter():
    b = experiment_bridge("NA64", fixed={"br_inv": 1.0})
    with pytest.raises(ParameterError, match="'eps'"):
        b.loglike({"m_aprime_gev": 0.01})
    with pytest.raises(ParameterError, match="lengths"):
        b.loglike({"m_aprime_gev": np.ones(3) * 0.01, "eps": np.ones(2) * 1e-5})
    with pytest.raises(ConfigError, match="likelihoods.x"):
        LikelihoodBridge({"x": 3.0})
    with pytest.raises(KeyError, match="unknown likelihood"):
        experiment_bridge("nosuch")
    with pytest.raises(ConfigError, match="model.class"):
        joint_bridge({"meg": {}}, model={"class": "globalfit.model:NoSuchModel"})
    with pytest.raises(ConfigError, match="does not provide"):
        joint_bridge({"toy": MEGLikelihood()}, model=_NoBRModel())


class _NoBRModel:
    """A model that provides no branching ratio (MEG cannot be attached)."""
    name = "no_br"
    provides = ("m_aprime_gev",)
    parameters = ()

    def observables(self, params):
        raise AssertionError("not called")


def test_model_space_joint_equals_joint_posterior():
    from globalfit.joint import JointPosterior
    from globalfit.model import get_model
    from globalfit.priors import Prior, PriorSet

    model = get_model("dark_tmm")
    liks = {"na64": NA64Likelihood(out_of_range="flat"), "meg": MEGLikelihood()}
    bridge = joint_bridge(liks, model=model)
    assert bridge.parameters == tuple(p.name for p in model.parameters)
    by_name = joint_bridge({"na64": {"out_of_range": "flat"}, "meg": {}}, model={
        "class": "globalfit.model.dark_sector:DarkTransitionMomentModel"})
    rng = np.random.default_rng(4)
    n = 50
    pts = {"m_aprime_gev": rng.uniform(0.01, 1.0, n), "eps": 10 ** rng.uniform(-6, -3, n),
           "g_d": rng.uniform(0.01, 1.0, n), "m_n_gev": rng.uniform(0.01, 0.3, n),
           "m_s_gev": rng.uniform(0.2, 0.6, n), "dm_s_gev": rng.uniform(0.01, 0.2, n),
           "theta": rng.uniform(-1, 1, n), "y0": rng.uniform(0.01, 1.0, n),
           "alpha": rng.uniform(-3, 3, n)}
    # independent reference: the posterior the config layer would build, with wide priors
    ref = JointPosterior(model, liks, PriorSet([Prior(s.name, "uniform", low=s.low, high=s.high)
                                                for s in model.parameters]))
    theta = np.stack([pts[s.name] for s in model.parameters], axis=1)
    expect = ref.evaluate(theta)
    got = bridge.loglike(pts)
    np.testing.assert_allclose(got, expect.log_like, rtol=1e-13)
    np.testing.assert_allclose(by_name.loglike(pts), got, rtol=1e-13)
    assert 0 < np.isfinite(got).sum()
    # outside the declared domain of a parameter: -inf, as in the joint posterior
    out = dict(pts, eps=np.full(n, 2.0))
    assert np.all(bridge.loglike(out) == -np.inf)
    # the MEG term is the half-Gaussian of the model's BR(mu -> e gamma)
    br = expect.observables["br_mu_e_gamma"]
    ok = expect.valid
    np.testing.assert_allclose(bridge.terms(pts)["meg"][ok],
                               MEGLikelihood().loglike({"br_mu_e_gamma": br[ok]}), rtol=1e-13)


# --------------------------------------------------------------------------------------
# Cobaya
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cobaya():
    return pytest.importorskip("cobaya")


def _run_mcmc(cobaya, info: dict) -> "object":
    from cobaya.run import run
    info = dict(info, stop_at_error=True)
    # proposal widths ~ 1.5 posterior sd (set per parameter below); R - 1 of the means of the
    # chain's quarters < 5e-4 (or 8000 accepted steps): quantile errors <= 2 % (seeds 11-13)
    info.setdefault("sampler", {"mcmc": {"max_samples": 8000, "seed": 11,
                                         "learn_proposal": False, "burn_in": 0,
                                         "Rminus1_stop": 0.0005}})
    _, sampler = run(info)
    sample = sampler.products()["sample"]
    n = len(sample)
    return sample[n // 10:]                         # drop the first 10 % as burn-in


def test_cobaya_classes_expose_the_likelihood_inputs(cobaya):
    from cobaya.model import get_model
    for cls_name, reg in EXPERIMENTS.items():
        if reg == "borexino":
            continue                                 # see test_cobaya_borexino_inputs
        like = MEGLikelihood if reg == "meg" else None
        bridge = experiment_bridge(cls_name)
        params = {p: {"prior": {"min": 0.0, "max": 1.0}} for p in bridge.parameters}
        model = get_model({"likelihood": {reg: {
            "class": f"likelihoods.adapters.cobaya.{cls_name}",
            "options": {"out_of_range": "flat"} if reg in ("na64", "babar") else {}}},
            "params": params})
        assert tuple(model.parameterization.sampled_params()) == bridge.parameters
        if like is not None:
            assert model.loglike({"br_mu_e_gamma": 2e-13}, return_derived=False) == \
                pytest.approx(float(like().loglike({"br_mu_e_gamma": np.array([2e-13])})[0]))


def test_cobaya_borexino_inputs(cobaya):
    from likelihoods.borexino import BorexinoLikelihood
    like = BorexinoLikelihood(variant="radiochemical", mode="fast")
    from cobaya.model import get_model
    model = get_model({"likelihood": {"borexino": {
        "class": "likelihoods.adapters.cobaya.Borexino",
        "options": {"variant": "radiochemical", "mode": "fast"}}},
        "params": {"mu_eff2_mub2": {"prior": {"min": 0.0, "max": 1e-20}},
                   "m_aprime_gev": 1e-3}})
    # fast mode profiles the nuisances: only the observables are inputs
    assert tuple(model.parameterization.sampled_params()) == ("mu_eff2_mub2",)
    assert set(like.requires) == {"mu_eff2_mub2", "m_aprime_gev"}


def test_cobaya_nuisance_params_truncated_gaussian(cobaya):
    from cobaya.model import get_model
    from scipy import stats

    from likelihoods.adapters.cobaya import NA64, nuisance_params
    bridge = experiment_bridge("NA64", options={"background": "sampled"}, fixed={"br_inv": 1.0})
    params = {"m_aprime_gev": M_TEST_GEV, "eps": {"prior": {"min": 0.0, "max": 1e-4}}}
    params.update(nuisance_params(bridge))
    model = get_model({"likelihood": {"na64": {"external": NA64,
                                               "options": {"background": "sampled"},
                                               "fixed": {"br_inv": 1.0}}},
                       "params": params})
    b = 0.3
    lp = model.logprior({"eps": 2e-5, "na64_background": b})
    # prior: uniform eps on [0, 1e-4] x Gaussian 0.43 +- 0.16 truncated to b >= 0
    expect = -np.log(1e-4) + stats.norm.logpdf(b, 0.43, 0.16) - np.log(stats.norm.sf(
        0.0, 0.43, 0.16))
    assert lp == pytest.approx(expect, rel=1e-10)
    ll = model.loglike({"eps": 2e-5, "na64_background": b}, return_derived=False)
    assert ll == pytest.approx(bridge.loglike_point(
        {"m_aprime_gev": M_TEST_GEV, "eps": 2e-5, "na64_background": b}), rel=1e-12)


def test_cobaya_mcmc_recovers_meg2_limit(cobaya):
    meg = MEGLikelihood()
    assert meg.upper_limit == pytest.approx(1.5e-13)           # MEG II 2025 with MEG
    sample = _run_mcmc(cobaya, {
        "likelihood": {"meg": {"class": "likelihoods.adapters.cobaya.MEG",
                               "options": {"dataset": "meg2_2025"}}},
        "params": {"br_mu_e_gamma": {"prior": {"min": 0.0, "max": 1e-12}, "ref": 5e-14,
                                     "proposal": 1.5e-13}}})
    ul = weighted_quantile(sample["br_mu_e_gamma"].to_numpy(), sample["weight"].to_numpy(),
                           0.90)
    assert ul == pytest.approx(meg.upper_limit, rel=0.10)


def test_cobaya_mcmc_recovers_na64_eps_limit(cobaya):
    # flat prior in eps^2 (the prior of NA64's Bayesian reading): sample eps2, feed eps
    eps90 = float(eps90_published(M_TEST_GEV))
    sample = _run_mcmc(cobaya, {
        "likelihood": {"na64": {"class": "likelihoods.adapters.cobaya.NA64",
                                "fixed": {"br_inv": 1.0}}},
        "params": {"m_aprime_gev": M_TEST_GEV,
                   "eps2": {"prior": {"min": 0.0, "max": 5 * eps90**2}, "ref": 0.3 * eps90**2,
                            "proposal": 0.6 * eps90**2, "drop": True},
                   "eps": {"value": "lambda eps2: np.sqrt(eps2)"}}})
    ul = weighted_quantile(sample["eps"].to_numpy(), sample["weight"].to_numpy(), 0.90)
    assert ul == pytest.approx(eps90, rel=0.10)


def test_cobaya_joint_recovers_both_limits(cobaya):
    eps90 = float(eps90_published(M_TEST_GEV))
    sample = _run_mcmc(cobaya, {
        "likelihood": {"joint": {"class": "likelihoods.adapters.cobaya.Joint",
                                 "likelihoods": {"na64": {}, "meg": {"type": "meg"}},
                                 "fixed": {"br_inv": 1.0}}},
        "params": {"m_aprime_gev": M_TEST_GEV,
                   "eps2": {"prior": {"min": 0.0, "max": 5 * eps90**2}, "ref": 0.3 * eps90**2,
                            "proposal": 0.6 * eps90**2, "drop": True},
                   "eps": {"value": "lambda eps2: np.sqrt(eps2)"},
                   "br_mu_e_gamma": {"prior": {"min": 0.0, "max": 1e-12}, "ref": 5e-14,
                                     "proposal": 1.5e-13}},
        "sampler": {"mcmc": {"max_samples": 10000, "seed": 5, "learn_proposal": False,
                             "burn_in": 0, "Rminus1_stop": 0.001}}})
    w = sample["weight"].to_numpy()
    assert weighted_quantile(sample["eps"].to_numpy(), w, 0.9) == pytest.approx(eps90, rel=0.1)
    assert weighted_quantile(sample["br_mu_e_gamma"].to_numpy(), w, 0.9) == pytest.approx(
        1.5e-13, rel=0.1)
