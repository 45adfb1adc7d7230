"""Statistical kernels: closed forms, independent quadrature (mpmath), limiting cases."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import optimize, special, stats

from globalfit.errors import ParameterError
from likelihoods import _stats


def test_poisson_loglike_matches_scipy_and_edges():
    n = np.array([0, 1, 5, 20])
    mu = np.array([0.3, 2.0, 4.5, 18.0])
    assert np.allclose(_stats.poisson_loglike(n, mu), stats.poisson.logpmf(n, mu), rtol=1e-13)
    assert _stats.poisson_loglike(0, 0.0) == 0.0
    assert _stats.poisson_loglike(3, 0.0) == -np.inf
    assert _stats.poisson_loglike(0, -1.0) == -np.inf


def test_baker_cousins_deviance_is_minus_two_log_ratio_to_saturated():
    n = np.array([0.0, 1.0, 7.0, 30.0])
    mu = np.array([0.4, 3.0, 5.5, 33.0])
    dev = _stats.poisson_deviance(n, mu)
    ratio = -2.0 * (_stats.poisson_loglike(n, mu) - _stats.poisson_loglike(n, n))
    assert np.allclose(dev, ratio, rtol=1e-12)
    assert np.allclose(_stats.poisson_deviance(n, n), 0.0, atol=1e-12)
    assert _stats.poisson_deviance(2.0, 0.0) == np.inf


def _mp_marginal(n: int, s: float, b0: float, sig: float) -> float:
    """Independent reference: ln of the truncated-Gaussian-averaged Poisson probability."""
    mpmath.mp.dps = 30
    gauss = lambda b: mpmath.exp(-(b - b0) ** 2 / (2 * sig**2))
    num = mpmath.quad(lambda b: (s + b) ** n * mpmath.exp(-(s + b)) / mpmath.factorial(n)
                      * gauss(b), [0, b0, b0 + 20 * sig, mpmath.inf])
    den = mpmath.quad(gauss, [0, b0, mpmath.inf])
    return float(mpmath.log(num / den))


@pytest.mark.parametrize("n,b0,sig", [(0, 0.43, 0.16), (0, 0.2, 0.5), (3, 1.5, 0.6),
                                      (7, 4.0, 1.0)])
def test_marginalised_poisson_matches_mpmath(n, b0, sig):
    lik = _stats.MarginalisedPoisson(n, b0, sig)
    s = np.array([0.0, 0.5, 2.0, 9.0])
    ref = np.array([_mp_marginal(n, float(x), b0, sig) for x in s])
    assert np.allclose(lik(s), ref, rtol=0, atol=1e-9)
    assert lik(np.array([-1.0]))[0] == -np.inf


def test_marginalised_poisson_narrow_background_is_plain_poisson():
    s = np.array([0.0, 1.0, 4.0])
    narrow = _stats.MarginalisedPoisson(4, 2.0, 1e-6)(s)
    exact = _stats.MarginalisedPoisson(4, 2.0, 0.0)(s)
    assert np.allclose(exact, stats.poisson.logpmf(4, s + 2.0), rtol=1e-12)
    assert np.allclose(narrow, exact, atol=1e-8)


def test_zero_events_bayesian_limit_independent_of_background():
    """n = 0: the posterior of s with a flat prior is e^{-s} for any background (Helene 1983)."""
    for b0, sig in [(0.0, 0.0), (0.43, 0.16), (3.0, 1.0)]:
        lik = _stats.MarginalisedPoisson(0, b0, sig)
        assert _stats.bayesian_upper_limit(lik, 1.0) == pytest.approx(math.log(10.0), rel=1e-10)


def test_bayesian_limit_poisson_with_events_closed_form():
    """n observed, no background, flat prior: s_90 = P^{-1}(n + 1, 0.9) (regularised gamma)."""
    for n in (1, 2, 5):
        lik = _stats.MarginalisedPoisson(n, 0.0, 0.0)
        expected = special.gammaincinv(n + 1, 0.9)
        assert _stats.bayesian_upper_limit(lik, 3.0) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n,b0,sig", [(0, 0.43, 0.16), (0, 0.1, 0.3), (4, 1.0, 0.5),
                                      (2, 3.0, 1.0)])
def test_profiled_background_is_the_numerical_maximum(n, b0, sig):
    for s in (0.0, 0.7, 3.0, 12.0):
        neg = lambda b: -(stats.poisson.logpmf(n, s + b) if s + b > 0 else
                          (0.0 if n == 0 else -1e300)) + 0.5 * ((b - b0) / sig) ** 2
        res = optimize.minimize_scalar(neg, bounds=(0.0, b0 + 10 * sig + 10), method="bounded",
                                       options={"xatol": 1e-12})
        best = max(-res.fun, -neg(0.0))
        got = float(_stats.profiled_poisson_loglike(n, s, b0, sig))
        assert got == pytest.approx(best, abs=1e-8)
        assert got >= best - 1e-10


def test_gaussian_and_half_gaussian():
    assert np.allclose(_stats.gaussian_loglike([1.0, 3.0], 1.0, 2.0), [0.0, -0.5])
    sig = _stats.half_gaussian_sigma_from_ul(1.0)
    assert sig == pytest.approx(1.0 / 1.6448536269514722, rel=1e-15)
    out = _stats.half_gaussian_loglike(np.array([-1e-3, 0.0, 1.0]), sig)
    assert out[0] == -np.inf and out[1] == 0.0
    assert out[2] == pytest.approx(-0.5 * 1.6448536269514722**2, rel=1e-14)
    with pytest.raises(ParameterError, match="upper_limit"):
        _stats.half_gaussian_sigma_from_ul(-1.0)


def test_half_gaussian_flat_prior_gives_the_limit_back():
    for ul in (1.5e-13, 4.2e-8, 1.0):
        sig = _stats.half_gaussian_sigma_from_ul(ul)
        lim = _stats.bayesian_upper_limit(lambda x: _stats.half_gaussian_loglike(x, sig), ul)
        assert lim == pytest.approx(ul, rel=1e-9)


def test_profile_limits_closed_forms():
    d = _stats.DELTA_CHI2_90_ONE_SIDED
    assert d == pytest.approx(2.7055, abs=1e-4)
    # Poisson n = 0: -2 ln L ratio = 2 s  ->  s = d / 2
    assert _stats.profile_upper_limit(lambda s: -np.asarray(s), 1.0) == pytest.approx(d / 2,
                                                                                      rel=1e-10)
    # Gaussian x_hat = 1, sigma = 0.5: 1 + 0.5 sqrt(d)
    lim = _stats.profile_upper_limit(lambda x: _stats.gaussian_loglike(x, 1.0, 0.5), 1.0)
    assert lim == pytest.approx(1.0 + 0.5 * math.sqrt(d), rel=1e-9)
    # Gaussian with negative best fit: the maximum on x >= 0 is at the boundary x = 0
    lim = _stats.profile_upper_limit(lambda x: _stats.gaussian_loglike(x, -0.5, 1.0), 1.0)
    assert lim == pytest.approx(-0.5 + math.sqrt(0.25 + d), rel=1e-9)


def test_bayesian_limit_truncated_gaussian_closed_form():
    for c, sig in [(0.0, 1.0), (1.3, 0.7), (-0.4, 0.6)]:
        p0 = stats.norm.cdf(-c / sig)
        expected = c + sig * stats.norm.ppf(p0 + 0.9 * (1.0 - p0))
        got = _stats.bayesian_upper_limit(lambda x: _stats.gaussian_loglike(x, c, sig), sig)
        assert got == pytest.approx(expected, rel=1e-9)


def test_unconstrained_likelihood_has_no_limit():
    with pytest.raises(ParameterError, match="unconstrained"):
        _stats.bayesian_upper_limit(lambda x: np.zeros_like(np.asarray(x, dtype=float)), 1.0)
