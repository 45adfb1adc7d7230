"""Joint posterior: sum of terms, -inf (never NaN) outside prior or model domain, nuisance
parameters sampled under "<likelihood>.<nuisance>", batch invariance."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import GaussLikelihood, GaussLikelihoodB, ToyModel
from globalfit.joint import JointPosterior, nuisance_prior, sampled_nuisances
from globalfit.priors import Prior, PriorSet


def make_posterior(mode: str = "fast", x_invalid_below: float = -np.inf) -> JointPosterior:
    model = ToyModel(x_invalid_below=x_invalid_below)
    likes = {"a": GaussLikelihood("toy_x", 1.0, 0.5, mode=mode),
             "b": GaussLikelihoodB("toy_y", -1.0, 2.0)}
    priors = [Prior("x", "uniform", low=-5, high=5), Prior("y", "uniform", low=-5, high=5),
              Prior("m_gev", "fixed", value=0.3)]
    priors += [nuisance_prior(label, nu) if nu.name != "rate" else
               Prior(f"{label}.rate", "uniform", low=0.0, high=10.0)
               for label, like in likes.items() for nu in sampled_nuisances(like)]
    return JointPosterior(model, likes, PriorSet(priors))


def normal_logpdf(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd * np.sqrt(2 * np.pi))


def test_joint_is_sum_of_terms_and_terms_are_kept() -> None:
    post = make_posterior()
    rng = np.random.default_rng(3)
    theta = rng.uniform(-4, 4, size=(50, 2))
    ev = post.evaluate(theta)
    np.testing.assert_allclose(ev.terms["a"], normal_logpdf(theta[:, 0], 1.0, 0.5))
    np.testing.assert_allclose(ev.terms["b"], normal_logpdf(theta[:, 1], -1.0, 2.0))
    np.testing.assert_allclose(ev.log_like, ev.terms["a"] + ev.terms["b"])
    np.testing.assert_allclose(ev.log_post, ev.log_like - 2 * np.log(10.0))
    np.testing.assert_allclose(post(theta), ev.log_post)


def test_outside_prior_and_model_domain_give_minus_inf_never_nan() -> None:
    post = make_posterior(x_invalid_below=0.0)
    theta = np.array([[1.0, 0.0], [6.0, 0.0], [-1.0, 0.0], [np.nan, 0.0], [0.5, np.inf]])
    lp = post(theta)
    assert not np.isnan(lp).any()
    assert np.isfinite(lp[0])
    assert np.all(lp[1:] == -np.inf)
    assert post.rejections["prior"] == 3 and post.rejections["model_domain"] == 1


def test_nan_from_a_likelihood_is_counted_and_rejected() -> None:
    class NaNLike(GaussLikelihood):
        def loglike(self, observables: Mapping[str, np.ndarray], nuisances=None) -> np.ndarray:
            out = super().loglike(observables, nuisances)
            return np.where(observables["toy_x"] > 2, np.nan, out)

    post = make_posterior()
    post.likelihoods = {"a": NaNLike("toy_x"), "b": post.likelihoods["b"]}
    with pytest.warns(RuntimeWarning, match="'a' returned NaN"):
        lp = post(np.array([[3.0, 0.0], [1.0, 0.0]]))
    assert lp[0] == -np.inf and np.isfinite(lp[1])
    assert post.rejections["nan_a"] == 1


def test_nuisances_are_sampled_with_their_priors() -> None:
    assert make_posterior(mode="fast").names == ("x", "y")      # fast mode profiles them
    post = make_posterior(mode="full")
    assert post.names == ("x", "y", "a.shift", "a.rate")
    prior = post.priors["a.shift"]
    assert (prior.kind, prior.mean, prior.sd) == ("gaussian", 0.0, 0.5)
    theta = np.array([[1.0, 0.0, 0.2, 1.0], [1.0, 0.0, -0.4, 2.0]])
    ev = post.evaluate(theta)
    np.testing.assert_allclose(ev.terms["a"], normal_logpdf(1.0 + theta[:, 2], 1.0, 0.5))
    np.testing.assert_allclose(ev.log_prior, -3 * np.log(10) + normal_logpdf(theta[:, 2], 0, 0.5))


def test_missing_prior_or_observable_is_refused() -> None:
    with pytest.raises(ValueError, match="m_gev"):
        JointPosterior(ToyModel(), {}, PriorSet([Prior("x", "uniform", low=0, high=1),
                                                 Prior("y", "uniform", low=0, high=1)]))
    with pytest.raises(ValueError, match="nope"):
        JointPosterior(ToyModel(), {"a": GaussLikelihood("nope")},
                       make_posterior().priors)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-6, 6), st.floats(-6, 6)), min_size=1, max_size=12))
def test_batch_invariance(points: list[tuple[float, float]]) -> None:
    post = make_posterior(x_invalid_below=-1.0)
    theta = np.array(points, dtype=float)
    together = post(theta)
    one_by_one = np.array([post(theta[i:i + 1])[0] for i in range(len(theta))])
    np.testing.assert_array_equal(together, one_by_one)
    assert not np.isnan(together).any()
