"""The batched Levenberg-Marquardt fitter of the fast grid (``batchfit.minimise``) against the
independent one-point L-BFGS-B fit (``SpectrumModel.fit``), and its analytic derivatives
against finite differences of the objective.

The two fitters share only the objective (the model's templates, priors and constraint), not
the optimiser, so agreement of the minima validates the batched optimiser, not the objective.
"""
from __future__ import annotations

import numpy as np
import pytest

from likelihoods.borexino import BorexinoLikelihood, batchfit
from likelihoods.borexino.parameters import I_DR, I_DS, PARAMS, SCALE

# 0.01 in chi^2 is 0.4 % of the 2.71 of a one-sided 95 % CL limit: two minima closer than this
# give the same limits; the batched fit must also never end higher than L-BFGS-B (+1e-6).
SAME_MINIMUM_CHI2 = 0.01
NODES = [(3e-22, 1e-6), (9e-22, 1e-3), (3e-21, 0.02), (1e-20, 1.0), (3e-20, 1e-4)]


@pytest.fixture(scope="module", params=["radiochemical", "spectrum_only"])
def lk(request):
    return BorexinoLikelihood(variant=request.param, mode="fast")


def _unit_q(model, s_mub2: float, m_gev: float) -> np.ndarray:
    """Universal strength with the in-window counts of s_mub2 at m = 0."""
    q = np.zeros(4)
    q[0] = s_mub2 * model.signal_norm(np.array([0.0]))[0, 0] / model.signal_norm(
        np.array([m_gev]))[0, 0]
    return q


def test_batched_minima_match_lbfgsb_point_by_point(lk):
    model, (_, th_sm) = lk.model, lk.sm_fit
    qs = [_unit_q(model, s, m) for s, m in NODES]
    sig = np.stack([model.signal_solar_templates(q, m) for q, (_, m) in zip(qs, NODES)])
    chi, theta, iters = batchfit.minimise(model, th_sm, sig)
    for k, (q, (_, m)) in enumerate(zip(qs, NODES)):
        ref, th_ref = model.fit(th_sm, q, m)
        assert chi[k] <= ref + 1e-6, (NODES[k], chi[k], ref)
        assert ref - chi[k] < SAME_MINIMUM_CHI2, (NODES[k], chi[k], ref)
        # the returned theta is the minimiser: the objective re-evaluated there
        again = model.chi2_vectorised(theta[k:k + 1], q[None], np.array([m]), with_prior=True)
        assert again[0] == pytest.approx(chi[k], abs=1e-8)
    assert np.all(iters > 0) and np.all(iters < 300)
    # a larger moment at a light mediator is more excluded than a smaller one
    assert chi[1] > chi[0] - 5 and chi[4] > chi[1]


def test_batch_does_not_depend_on_its_neighbours(lk):
    """A point's minimum is the same alone and inside a batch (no coupling between points)."""
    model, (_, th_sm) = lk.model, lk.sm_fit
    sig = np.stack([model.signal_solar_templates(_unit_q(model, s, m), m) for s, m in NODES])
    together, _, _ = batchfit.minimise(model, th_sm, sig)
    for k in range(len(NODES)):
        alone, _, _ = batchfit.minimise(model, th_sm, sig[k:k + 1])
        assert alone[0] == pytest.approx(together[k], abs=1e-7)   # tol: predicted step < 1e-9


def test_sm_minimum_and_fixed_parameters(lk):
    model = lk.model
    start = lk.start_theta()
    ref, _ = model.fit(start)
    chi, theta, _ = batchfit.minimise(model, start)
    assert chi[0] <= ref + 1e-6 and ref - chi[0] < SAME_MINIMUM_CHI2
    # energy scale and resolution held at the start: the minimum is higher and those two did not move
    ref_f, _ = model.fit(start, fixed=("energy_scale", "resolution"))
    chi_f, theta_f, _ = batchfit.minimise(model, start, fixed=("energy_scale", "resolution"))
    assert theta_f[0, I_DS] == start[I_DS] and theta_f[0, I_DR] == start[I_DR]
    assert chi_f[0] <= ref_f + 1e-6 and ref_f - chi_f[0] < SAME_MINIMUM_CHI2
    assert chi_f[0] >= chi[0] - 1e-9
    # every free parameter stays inside the bounds
    assert np.all(theta >= model.lo) and np.all(theta <= model.hi)


def test_gradient_and_hessian_against_finite_differences(lk):
    """Central differences (steps 1e-5 of each parameter's scale) of chi^2 and of the analytic
    gradient, near the minimum of a signal point where the exact Hessian is used."""
    model, (_, th_sm) = lk.model, lk.sm_fit
    s, m = NODES[1]
    sig = model.signal_solar_templates(_unit_q(model, s, m), m)[None]
    _, theta, _ = batchfit.minimise(model, th_sm, sig)
    rng = np.random.default_rng(3)
    th = theta + 1e-3 * SCALE * rng.standard_normal(len(PARAMS))
    prob = batchfit._Problem(model, sig)
    idx = np.array([0])
    f0, g0, h0 = prob.evaluate(th, idx)
    d = len(PARAMS)
    h = 1e-5 * SCALE
    plus = np.array([th[0] + h[i] * np.eye(d)[i] for i in range(d)])
    minus = np.array([th[0] - h[i] * np.eye(d)[i] for i in range(d)])
    idx_d = np.zeros(d, dtype=int)
    fd_grad = (prob.evaluate(plus, idx_d, derivatives=False)
               - prob.evaluate(minus, idx_d, derivatives=False)) / (2 * h)
    np.testing.assert_allclose(g0[0] * SCALE, fd_grad * SCALE, rtol=1e-4,
                               atol=1e-5 * np.abs(g0[0] * SCALE).max())
    _, gp, _ = prob.evaluate(plus, idx_d)
    _, gm, _ = prob.evaluate(minus, idx_d)
    fd_hess = (gp - gm) / (2 * h[:, None])                 # row i: d grad / d theta_i
    scaled = h0[0] * SCALE[:, None] * SCALE[None, :]
    fd_scaled = 0.5 * (fd_hess + fd_hess.T) * SCALE[:, None] * SCALE[None, :]
    assert np.linalg.eigvalsh(scaled)[0] > 0                 # the exact branch was taken
    np.testing.assert_allclose(scaled, fd_scaled, rtol=1e-3, atol=1e-5 * np.abs(scaled).max())
