"""Priors: normalisation, inverse-CDF transforms against scipy.stats, and sampling."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from globalfit.priors import COLUMN_LOOP_MIN, Prior, PriorSet

PRIORS = [
    Prior("u", "uniform", low=-2.0, high=3.0),
    Prior("l", "log-uniform", low=1e-4, high=10.0),
    Prior("g", "gaussian", mean=0.3, sd=0.2),
    Prior("t", "gaussian", mean=0.1, sd=0.5, low=0.0, high=0.6),
]
SCIPY = {
    "u": stats.uniform(loc=-2.0, scale=5.0),
    "l": stats.loguniform(1e-4, 10.0),
    "g": stats.norm(0.3, 0.2),
    "t": stats.truncnorm((0.0 - 0.1) / 0.5, (0.6 - 0.1) / 0.5, loc=0.1, scale=0.5),
}


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: p.name)
def test_logpdf_matches_scipy_and_is_normalised(prior: Prior) -> None:
    ref = SCIPY[prior.name]
    lo, hi = ref.ppf(1e-9), ref.ppf(1 - 1e-9)
    x = np.linspace(lo, hi, 257)[1:-1]
    np.testing.assert_allclose(prior.logpdf(x), ref.logpdf(x), rtol=1e-10, atol=1e-10)
    if prior.kind == "log-uniform":
        # integrate in log space for accuracy over five decades
        total, _ = integrate.quad(lambda s: np.exp(prior.logpdf(np.array([np.exp(s)]))[0]
                                                   + s), np.log(lo), np.log(hi))
    else:
        total, _ = integrate.quad(lambda v: np.exp(prior.logpdf(np.array([v]))[0]), lo, hi,
                                  limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: p.name)
def test_transform_is_inverse_cdf(prior: Prior) -> None:
    ref = SCIPY[prior.name]
    u = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(prior.transform(u), ref.ppf(u), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: p.name)
def test_samples_follow_distribution(prior: Prior) -> None:
    draws = prior.sample(np.random.default_rng(1), 4000)
    assert stats.kstest(draws, SCIPY[prior.name].cdf).pvalue > 1e-3


def test_outside_support_is_minus_inf_not_nan() -> None:
    u, l, g, t = PRIORS
    assert np.all(u.logpdf(np.array([-2.1, 3.1, np.nan, np.inf])) == -np.inf)
    assert np.all(l.logpdf(np.array([0.0, -1.0, 11.0])) == -np.inf)
    assert np.all(t.logpdf(np.array([-0.01, 0.61])) == -np.inf)
    assert -np.inf < g.logpdf(np.array([100.0]))[0] < -1e4   # untruncated: finite tail


def test_prior_set_sums_and_fills_fixed() -> None:
    ps = PriorSet([PRIORS[0], Prior("m", "fixed", value=0.3), PRIORS[1]])
    assert ps.names == ("u", "l") and ps.fixed == {"m": 0.3} and ps.ndim == 2
    theta = np.array([[0.0, 1.0], [5.0, 1.0]])
    lp = ps.log_prior(theta)
    assert lp[0] == pytest.approx(PRIORS[0].logpdf(np.array([0.0]))[0]
                                  + PRIORS[1].logpdf(np.array([1.0]))[0])
    assert lp[1] == -np.inf
    d = ps.as_dict(theta)
    np.testing.assert_array_equal(d["m"], [0.3, 0.3])
    cube = ps.transform(np.array([[0.5, 0.5]]))
    assert cube[0, 0] == pytest.approx(0.5) and cube[0, 1] == pytest.approx(np.sqrt(1e-4 * 10))


def test_prior_set_equals_sum_of_columns_everywhere() -> None:
    """The all-columns-at-once sum equals the column loop of Prior.logpdf (each checked
    against scipy above) inside, outside, at the bounds and at NaN / +-inf."""
    ps = PriorSet(PRIORS + [Prior("w", "uniform", low=0.0, high=1.0)])
    rng = np.random.default_rng(7)
    theta = np.column_stack([
        rng.uniform(-3, 4, 400), np.exp(rng.uniform(-11, 3, 400)), rng.normal(0.3, 1.0, 400),
        rng.uniform(-0.1, 0.7, 400), rng.uniform(-0.2, 1.2, 400)])
    theta[:5, 0] = [-2.0, 3.0, np.nan, np.inf, -np.inf]
    theta[5:10, 2] = [np.nan, np.inf, -np.inf, 1e150, -1e150]
    theta[10:13, 1] = [0.0, -1.0, 1e-4]
    ref = sum(p.logpdf(theta[:, j]) for j, p in enumerate(ps.priors))
    got = ps.log_prior(theta)
    assert np.array_equal(np.isfinite(got), np.isfinite(ref))
    assert np.all(got[~np.isfinite(ref)] == -np.inf)
    np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-13)
    big = np.tile(theta, (-(-COLUMN_LOOP_MIN // len(theta)), 1))   # the column-loop branch
    np.testing.assert_array_equal(ps.log_prior(big)[:len(theta)], ref)
    np.testing.assert_allclose(ps.log_prior(big[:len(theta)]), ref, rtol=1e-13)
    assert 50 < np.count_nonzero(np.isfinite(ref)) < 390       # both cases are exercised


@pytest.mark.parametrize("kwargs", [
    dict(kind="uniform", low=1.0, high=1.0),
    dict(kind="log-uniform", low=0.0, high=1.0),
    dict(kind="gaussian", mean=0.0, sd=0.0),
    dict(kind="fixed"),
    dict(kind="beta"),
])
def test_invalid_priors_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="p"):
        Prior("p", **kwargs)


def test_prior_set_transform_is_each_columns_transform_bit_for_bit() -> None:
    """The transform of all columns of a kind at once gives exactly (bit for bit) the
    per-parameter inverse CDFs (checked against scipy above), for one point, a batch, and
    u = 0 and 1, with uniform, log-uniform and gaussian columns interleaved."""
    priors = PRIORS + [Prior("w", "uniform", low=0.0, high=1.0),
                       Prior("v", "log-uniform", low=3e-7, high=2e-2)]
    ps = PriorSet(priors)
    rng = np.random.default_rng(11)
    for u in (rng.random(ps.ndim), rng.random((257, ps.ndim)), np.zeros((1, ps.ndim)),
              np.ones((2, ps.ndim))):
        got = ps.transform(u)
        assert got.shape == u.shape
        for j, prior in enumerate(priors):
            np.testing.assert_array_equal(got[..., j], prior.transform(u[..., j]))

