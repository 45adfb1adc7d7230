"""The thinned autocorrelation estimate of the emcee convergence checks
(``globalfit.samplers.autocorr``) against emcee's unthinned estimate, on AR(1) chains whose
integrated autocorrelation time is known in closed form: tau = (1 + rho) / (1 - rho)."""
from __future__ import annotations

import emcee
import numpy as np
import pytest

from globalfit.samplers.autocorr import autocorr_thin, chain_autocorr_time, integrated_time


def _ar1(tau: float, n_steps: int, n_walkers: int, n_dim: int, seed: int) -> np.ndarray:
    """(n_steps, n_walkers, n_dim) stationary AR(1) chains with unit variance."""
    rho = (tau - 1.0) / (tau + 1.0)
    rng = np.random.default_rng(seed)
    x = np.empty((n_steps, n_walkers, n_dim))
    x[0] = rng.standard_normal((n_walkers, n_dim))
    noise = rng.standard_normal((n_steps, n_walkers, n_dim)) * np.sqrt(1.0 - rho**2)
    for i in range(1, n_steps):
        x[i] = rho * x[i - 1] + noise[i]
    return x


def test_thinning_schedule():
    assert autocorr_thin(None) == 1
    assert autocorr_thin(np.array([np.nan, 3.0])) == 1
    assert autocorr_thin(np.array([15.0])) == 1
    assert autocorr_thin(np.array([40.0, 200.0])) == 8          # 200 / 16 = 12.5 -> 8
    assert autocorr_thin(np.array([800.0])) == 32
    # always a power of two, never above tau / 16
    for tau in np.geomspace(16.0, 1e5, 40):
        t = autocorr_thin(np.array([tau]))
        assert t & (t - 1) == 0 and t <= tau / 16.0 < 2 * t


@pytest.mark.parametrize("tau", [50.0, 200.0, 800.0])
def test_thinned_tau_matches_the_unthinned_estimate(tau):
    """Same chain, thinned as the checks thin it: the estimates differ by less than the 1 %
    the stopping rule's default tau_rtol tolerates between checks, and both lie near the
    closed form (Sokal's estimator on 60 tau of 32 walkers: within 25 %)."""
    x = _ar1(tau, int(60 * tau), 32, 3, seed=int(tau))
    full = emcee.autocorr.integrated_time(x, tol=0)
    thin = autocorr_thin(full)
    assert thin >= 2
    thinned = thin * emcee.autocorr.integrated_time(x[thin - 1::thin], tol=0)
    assert np.all(np.abs(thinned / full - 1.0) < 0.01)
    assert np.all(np.abs(full / tau - 1.0) < 0.25)


@pytest.mark.parametrize("tau,n_walkers,n_steps", [(5.0, 32, 400), (60.0, 64, 3000),
                                                   (200.0, 16, 900), (3.0, 8, 37)])
def test_estimator_is_emcees(tau, n_walkers, n_steps):
    """The vectorised estimator of the stopping rule gives emcee's integrated_time to
    rounding: long and short chains (900 steps at tau 200, where both estimates are far
    below tau), odd lengths (the FFT lengths differ: a fast length here, a power of 2 in
    emcee)."""
    x = _ar1(tau, n_steps, n_walkers, 4, seed=n_steps)
    ref = emcee.autocorr.integrated_time(x, tol=0, quiet=True)
    np.testing.assert_allclose(integrated_time(x), ref, rtol=1e-11, atol=0)


def _backend(x: np.ndarray) -> emcee.backends.Backend:
    """emcee's in-memory backend holding the chain ``x`` (n_steps, n_walkers, n_dim)."""
    backend = emcee.backends.Backend()
    backend.reset(x.shape[1], x.shape[2])
    backend.grow(len(x), None)
    backend.chain[:] = x
    backend.iteration = len(x)
    return backend


def test_estimator_on_a_backend_as_emcee_thins_it():
    """chain_autocorr_time(backend, thin) is backend.get_autocorr_time(thin=thin, tol=0)."""
    x = _ar1(40.0, 2400, 32, 3, seed=5)
    backend = _backend(x)
    for thin in (1, 2, 4):
        np.testing.assert_allclose(chain_autocorr_time(backend, thin),
                                   backend.get_autocorr_time(thin=thin, tol=0), rtol=1e-11)


def test_estimator_against_the_closed_form():
    """On long AR(1) chains (1000 tau, 32 walkers) the estimate lies within 4 standard errors
    of tau = (1 + rho) / (1 - rho): the windowed estimator's relative variance is
    ~2 (2M + 1) / N for a window M ~ c tau and N = 32 x 1000 tau draws (Sokal 1996), a
    standard error of 2.5 % here, so 10 %."""
    for tau in (4.0, 25.0):
        x = _ar1(tau, int(1000 * tau), 32, 2, seed=int(tau))
        assert np.all(np.abs(integrated_time(x) / tau - 1.0) < 0.10)


@pytest.mark.parametrize("n_walkers", [64, 256])
def test_split_rhat_needs_about_100_tau_steps_whatever_the_number_of_walkers(n_walkers):
    """Why more walkers (or more ranks) cannot shorten an emcee run stopped by R-hat < 1.01:
    for stationary chains of length L with integrated autocorrelation time tau, the split
    chains' means vary by sigma^2 tau / (L / 2) and R-hat^2 ~ 1 + (tau - 1) / (L / 2) / 2, so
    R-hat - 1 ~ (tau - 1) / L independently of the number of chains (only the noise of the
    estimate shrinks with more chains). AR(1) chains, tau = 50, L = 5000: expected 0.0098;
    the relative standard error of the between-chain variance is ~sqrt(2 / (2 walkers)) (one
    degree of freedom per split chain), 12.5 % at 64 walkers and 6 % at 256: within 4 of
    them, which at 256 walkers also rules out an R-hat - 1 that falls with the number of
    chains (4x smaller than at 64)."""
    from globalfit.samplers.emcee_adapter import split_rhat
    tau, n_steps = 50.0, 5000
    x = _ar1(tau, n_steps, n_walkers, 2, seed=n_walkers)
    rhat = split_rhat(_backend(x), np.full(2, tau), {"burn_factor": 0.0, "thin_factor": 0.0})
    tolerance = 4.0 * np.sqrt(1.0 / n_walkers)
    assert np.all(np.abs((rhat - 1.0) / ((tau - 1.0) / n_steps) - 1.0) < tolerance)
