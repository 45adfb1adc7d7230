"""The Bilby adapter: short seeded dynesty runs through the adapter classes.

Physics checks: the MEG II 90 % limit on BR(mu -> e gamma) (1.5e-13, arXiv:2504.15711) and the
published NA64 90 % limit on eps at m_A' = 10 MeV (PRL 131 (2023) 161801, flat prior in eps^2,
i.e. p(eps) ~ eps) are recovered within 10 % from the weighted nested samples; the joint class
recovers both at once. Nuisance priors and log-likelihood values are checked against scipy and
the likelihood classes called directly.
"""
from __future__ import annotations

import numpy as np
import pytest

from likelihoods.adapters import EXPERIMENTS, experiment_bridge
from likelihoods.meg import MEGLikelihood
from likelihoods.na64 import NA64Likelihood, eps90_published

from conftest import weighted_quantile

bilby = pytest.importorskip("bilby")

M_TEST_GEV = 0.01
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning",
                                        "ignore::DeprecationWarning")


def _run(likelihood, priors: dict, tmp_path, label: str, seed: int, nlive: int = 200):
    bilby.core.utils.logger.setLevel("WARNING")
    bilby.core.utils.random.seed(seed)
    result = bilby.run_sampler(
        likelihood, bilby.core.prior.PriorDict(priors), sampler="dynesty", nlive=nlive,
        sample="unif", rstate=np.random.default_rng(seed), outdir=str(tmp_path), label=label,
        save=False, plot=False, check_point=False, print_progress=False)
    ns = result.nested_samples
    return ns, ns["weights"].to_numpy()


def test_bilby_classes_expose_inputs_and_values():
    from likelihoods.adapters import bilby as adapters
    for cls_name, reg in EXPERIMENTS.items():
        if reg == "borexino":
            continue
        like = getattr(adapters, cls_name)()
        assert like.input_names == experiment_bridge(cls_name).parameters
    like = adapters.NA64(options={"background": "profiled"}, fixed={"br_inv": 1.0})
    ref = NA64Likelihood(background="profiled")
    for eps in (0.0, 1e-5, 3e-5):
        expect = ref.loglike({"m_aprime_gev": np.array([M_TEST_GEV]), "eps": np.array([eps]),
                              "br_inv": np.array([1.0])})[0]
        got = like.log_likelihood({"m_aprime_gev": M_TEST_GEV, "eps": eps, "extra": 1.0})
        assert got == pytest.approx(expect, rel=1e-13, abs=1e-300)


def test_bilby_nuisance_priors_truncated_gaussian():
    from scipy import stats

    from likelihoods.adapters.bilby import NA64, nuisance_priors
    like = NA64(options={"background": "sampled"}, fixed={"br_inv": 1.0})
    priors = nuisance_priors(like.bridge)
    assert set(priors) == {"na64_background"}
    p = priors["na64_background"]
    for b in (0.05, 0.43, 0.9):
        expect = stats.norm.logpdf(b, 0.43, 0.16) - np.log(stats.norm.sf(0.0, 0.43, 0.16))
        assert p.ln_prob(b) == pytest.approx(expect, rel=1e-10)
    assert p.ln_prob(-0.01) == -np.inf


def test_bilby_dynesty_recovers_meg2_limit(tmp_path):
    from likelihoods.adapters.bilby import MEG
    meg = MEGLikelihood()
    assert meg.upper_limit == pytest.approx(1.5e-13)
    ns, w = _run(MEG(options={"dataset": "meg2_2025"}),
                 {"br_mu_e_gamma": bilby.core.prior.Uniform(0.0, 1e-12)}, tmp_path, "meg", 5)
    ul = weighted_quantile(ns["br_mu_e_gamma"].to_numpy(), w, 0.90)
    assert ul == pytest.approx(meg.upper_limit, rel=0.10)


def test_bilby_dynesty_recovers_na64_eps_limit(tmp_path):
    from likelihoods.adapters.bilby import NA64
    eps90 = float(eps90_published(M_TEST_GEV))
    priors = {"m_aprime_gev": bilby.core.prior.DeltaFunction(M_TEST_GEV),
              "eps": bilby.core.prior.PowerLaw(alpha=1, minimum=0.0, maximum=3 * eps90)}
    ns, w = _run(NA64(fixed={"br_inv": 1.0}), priors, tmp_path, "na64", 6)
    ul = weighted_quantile(ns["eps"].to_numpy(), w, 0.90)
    assert ul == pytest.approx(eps90, rel=0.10)


def test_bilby_joint_recovers_both_limits(tmp_path):
    from likelihoods.adapters.bilby import Joint
    eps90 = float(eps90_published(M_TEST_GEV))
    like = Joint({"na64": {}, "meg": {"type": "meg", "dataset": "meg2_2025"}},
                 fixed={"br_inv": 1.0})
    assert set(like.input_names) == {"m_aprime_gev", "eps", "br_mu_e_gamma"}
    priors = {"m_aprime_gev": bilby.core.prior.DeltaFunction(M_TEST_GEV),
              "eps": bilby.core.prior.PowerLaw(alpha=1, minimum=0.0, maximum=3 * eps90),
              "br_mu_e_gamma": bilby.core.prior.Uniform(0.0, 1e-12)}
    ns, w = _run(like, priors, tmp_path, "joint", 7)
    assert weighted_quantile(ns["eps"].to_numpy(), w, 0.9) == pytest.approx(eps90, rel=0.1)
    assert weighted_quantile(ns["br_mu_e_gamma"].to_numpy(), w, 0.9) == pytest.approx(
        1.5e-13, rel=0.1)
