"""Radiative cLFV likelihoods: published limits returned exactly by a flat-prior posterior."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

from globalfit.errors import ConfigError, ParameterError
from likelihoods import _stats, get_likelihood
from likelihoods.meg import (MEGLikelihood, TauEGammaLikelihood, TauMuGammaLikelihood,
                             clfv_limits)

PUBLISHED = {  # (class, dataset) -> 90 % C.L. limit as quoted in the publications
    (MEGLikelihood, "meg2_2025"): 1.5e-13,
    (MEGLikelihood, "meg2_2023"): 3.1e-13,
    (MEGLikelihood, "meg_2016"): 4.2e-13,
    (TauEGammaLikelihood, "babar_2010"): 3.3e-8,
    (TauMuGammaLikelihood, "babar_2010"): 4.4e-8,
    (TauMuGammaLikelihood, "belle_2021"): 4.2e-8,
}


@pytest.mark.parametrize("cls,dataset", list(PUBLISHED))
def test_flat_prior_limit_equals_published_number(cls, dataset):
    lik = cls(dataset=dataset)
    obs_name = lik.requires[0]
    ul = PUBLISHED[(cls, dataset)]

    def ll(x):
        return lik.loglike({obs_name: np.asarray(x, dtype=float)})

    assert _stats.bayesian_upper_limit(ll, ul) == pytest.approx(ul, rel=1e-6)


def test_meg_limit_by_independent_mpmath_quadrature():
    lik = MEGLikelihood("meg2_2023")
    mpmath.mp.dps = 30
    dens = lambda x: mpmath.exp(float(lik.loglike({"br_mu_e_gamma": np.array([float(x)])})[0]))
    scale = 1e-13
    total = mpmath.quad(lambda u: dens(u * scale), [0, 3, 10, 40])
    below = mpmath.quad(lambda u: dens(u * scale), [0, 3.1])
    assert float(below / total) == pytest.approx(0.90, rel=1e-6)


def test_defaults_observables_and_registry():
    assert get_likelihood("meg").dataset == "meg2_2025"
    assert get_likelihood("tau_e_gamma").dataset == "babar_2010"
    assert get_likelihood("tau_mu_gamma").dataset == "belle_2021"
    assert MEGLikelihood().requires == ("br_mu_e_gamma",)
    assert TauEGammaLikelihood().requires == ("br_tau_e_gamma",)
    assert TauMuGammaLikelihood().requires == ("br_tau_mu_gamma",)
    assert "2504.15711" in MEGLikelihood().citation
    assert set(clfv_limits()["mu_e_gamma"]["datasets"]) == {"meg2_2025", "meg2_2023", "meg_2016"}


def test_shape_and_values():
    lik = MEGLikelihood()
    br = np.array([0.0, 1.5e-13, 3e-13])
    ll = lik.loglike({"br_mu_e_gamma": br})
    z = 1.6448536269514722
    assert ll.shape == (3,)
    assert np.allclose(ll, [0.0, -0.5 * z**2, -2.0 * z**2], rtol=1e-12)


def test_bad_input():
    with pytest.raises(ConfigError, match="meg2_2025"):
        MEGLikelihood(dataset="meg2_2024")
    lik = MEGLikelihood()
    assert lik.loglike({"br_mu_e_gamma": np.array([-1e-14])})[0] == -np.inf  # outside domain
    with pytest.raises(ParameterError, match="br_mu_e_gamma"):
        lik.loglike({"br_tau_e_gamma": np.array([1e-14])})
