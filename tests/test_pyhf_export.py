"""HistFactory export of the NA64 counting model, loaded and fitted by pyhf.

Like with like: pyhf's asymptotic CL_s (q~_mu) upper limit on the signal strength is compared
with our CL_s of the *same* counting model computed from the project's closed-form profile
likelihood (likelihoods.export.pyhf_na64.cls_asymptotic, Cowan et al. 2011) at three masses;
requirement 5 %. Separately, our asymptotic limit is related to NA64's exact n = 0 CL_s limit
(e^{-s}, s_90 = 2.303, which the NA64 likelihood reproduces): the asymptotic formulae are known to
be inaccurate at n = 0 and give a limit on mu 30 % lower (eps 16 % lower) -- checked, not hidden.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from likelihoods import _stats
from likelihoods.export import (cls_asymptotic, cls_exact_zero_events, mu_upper_limit,
                                na64_workspace, reference_signal, write_workspace)
from likelihoods.na64 import NA64Likelihood, eps90_published

pyhf = pytest.importorskip("pyhf")
MASSES_GEV = (0.005, 0.05, 0.5)
# pyhf 0.7 uses jsonschema.RefResolver, deprecated in jsonschema >= 4.18; not ours
pytestmark = pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated")


@pytest.fixture(scope="module", autouse=True)
def numpy_backend():
    pyhf.set_backend("numpy")


def _model(m: float, tmp_path=None):
    spec = na64_workspace(m)
    if tmp_path is not None:                      # through a file, as a user would
        path = write_workspace(tmp_path / f"na64_{m}.json", m)
        spec = json.loads(path.read_text())
    ws = pyhf.Workspace(spec)
    model = ws.model()
    return ws, model, ws.data(model)


def test_workspace_validates_and_encodes_na64_numbers(tmp_path):
    ws, model, data = _model(0.05, tmp_path)      # pyhf.Workspace validates the schema
    like = NA64Likelihood()
    assert model.config.poi_name == "mu"
    assert data[: model.config.nmaindata] == [0.0]
    s_ref = reference_signal(0.05)
    obs = {"m_aprime_gev": np.array([0.05]), "eps": np.array([1e-4]), "br_inv": np.array([1.0])}
    assert s_ref == pytest.approx(float(like.expected_signal(obs)[0]), rel=1e-14)
    # expected counts at mu = 2, alpha = 0: 2 s_ref + 0.43
    pars = model.config.suggested_init()
    pars[model.config.poi_index] = 2.0
    assert float(model.expected_actualdata(pars)[0]) == pytest.approx(2 * s_ref + 0.43,
                                                                        rel=1e-12)


def test_pyhf_profile_likelihood_equals_ours():
    """-2 ln L(mu, alpha_hat_hat) differences from pyhf fits = our closed-form profile."""
    ws, model, data = _model(0.05)
    s_ref = reference_signal(0.05)
    like = NA64Likelihood()
    mus = np.array([0.0, 0.3, 1.0, 2.5])
    ours = -2.0 * _stats.profiled_poisson_loglike(like.n_obs, mus * s_ref, like.b0, like.sigma_b)
    theirs = np.array([float(pyhf.infer.mle.fixed_poi_fit(mu, data, model,
                                                          return_fitted_val=True)[1])
                       for mu in mus])
    np.testing.assert_allclose(theirs - theirs[0], ours - ours[0], rtol=1e-5, atol=1e-6)
    # n = 0: the profile is linear in s with slope 1 (b_hat = b0 - sigma_b^2 for any s)
    np.testing.assert_allclose((ours - ours[0]) / 2.0, mus * s_ref, rtol=1e-12)


@pytest.mark.parametrize("m", MASSES_GEV)
def test_cls_upper_limit_agrees_with_pyhf(m):
    ws, model, data = _model(m)
    ours = mu_upper_limit(m, cl=0.90)
    lo, hi = model.config.suggested_bounds()[model.config.poi_index]
    # level passed explicitly: pyhf 0.7's upper_limit(scan=None) ignores ``level``
    # (scikit-hep/pyhf issue 2563), so call the TOMS 748 scan directly
    obs, _ = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, lo, hi, level=0.10, rtol=1e-8, test_stat="qtilde")
    assert float(obs) == pytest.approx(ours["asymptotic"], rel=0.05)
    assert float(obs) == pytest.approx(ours["asymptotic"], rel=1e-4)   # measured: ~1e-8
    # CL_s values themselves at our limit
    cls = float(pyhf.infer.hypotest(ours["asymptotic"], data, model, test_stat="qtilde"))
    assert cls == pytest.approx(0.10, rel=1e-4)


@pytest.mark.parametrize("m", MASSES_GEV)
def test_exact_zero_event_limit_is_na64_published_and_asymptotic_is_lower(m):
    ours = mu_upper_limit(m, cl=0.90)
    # exact CL_s for n = 0 reproduces the published eps curve the likelihood is built on
    assert ours["eps_exact"] == pytest.approx(float(eps90_published(m)), rel=1e-10)
    assert float(cls_exact_zero_events(ours["exact"], ours["s_ref"])) == pytest.approx(0.1)
    # asymptotics at n = 0 (same for every mass: one bin, s scales with mu)
    ratio = ours["asymptotic"] / ours["exact"]
    assert 0.6 < ratio < 0.8
    s_up = ours["asymptotic"] * ours["s_ref"]
    assert s_up == pytest.approx(mu_upper_limit(MASSES_GEV[0])["asymptotic"]
                                 * reference_signal(MASSES_GEV[0]), rel=1e-9)


def test_cls_asymptotic_limits():
    """Limiting cases of our CL_s: CL_s(0) = 1, decreasing in mu; without background
    uncertainty and n = 0, q = 2 s and q_A = 2 [s - b ln(1 + s/b)] (closed forms)."""
    s_ref, b = 1.0, 0.43
    mu = np.array([0.01, 0.5, 1.0, 2.0, 4.0])
    cls = cls_asymptotic(mu, s_ref, 0, b, 0.16)
    assert np.all(np.diff(cls) < 0) and np.all((cls > 0) & (cls < 1))
    assert float(cls_asymptotic(0.0, s_ref, 0, b, 0.16)[0]) == 1.0
    from scipy.stats import norm
    q = 2.0 * mu
    qa = 2.0 * (mu - b * np.log1p(mu / b))
    above = q > qa
    clsb = np.where(above, norm.sf((q + qa) / (2 * np.sqrt(qa))), norm.sf(np.sqrt(q)))
    clb = np.where(above, norm.sf((q - qa) / (2 * np.sqrt(qa))), norm.cdf(np.sqrt(qa) - np.sqrt(q)))
    np.testing.assert_allclose(cls_asymptotic(mu, s_ref, 0, b, 0.0), clsb / clb, rtol=1e-12)
