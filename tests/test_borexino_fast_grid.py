"""The fast grid: built from a profile callable only, and correct beyond its nodes (a signal
beyond the strength range is at least as excluded as the edge; masses beyond the mass nodes
behave as documented in likelihoods/borexino/fast.py)."""
from __future__ import annotations

import numpy as np
import pytest

from likelihoods.borexino import BorexinoLikelihood
from likelihoods.borexino.fast import FastGrid, GridSpec, tabulate


def _toy_grid() -> tuple[FastGrid, GridSpec]:
    """A grid of the analytic profile Delta ln L = -s^2/(2 sigma(m)^2) + a s with a signal
    suppression n(m) = 1/(1 + m^2/1e-6) (synthetic, no detector)."""
    spec = GridSpec(u_nodes=tuple(np.linspace(0.0, 3.0, 13)), u_ref_mub=1e-11,
                    log10_m_nodes=tuple(np.linspace(-6.0, -1.0, 21)),
                    log10_m_fine=tuple(np.linspace(-8.0, 0.0, 161)))
    calls = []

    def profile(s: np.ndarray, m: np.ndarray) -> np.ndarray:
        calls.append((s.shape, m.shape))
        sigma = 1e-22 * (1.0 + np.log10(m) / 20.0)
        return -0.5 * (s[:, None] / sigma[None, :]) ** 2

    def signal_norm(m: np.ndarray) -> np.ndarray:
        n = 1e20 / (1.0 + np.asarray(m) ** 2 / 1e-6)
        return np.stack([n, 0.5 * n, 0.7 * n, 0.9 * n])

    grid = FastGrid(tabulate(profile, signal_norm, -100.0, spec))
    assert calls == [((13,), (21,))]                   # one call on the whole node set
    return grid, spec


def test_grid_from_a_profile_callable_reproduces_it_between_nodes():
    grid, spec = _toy_grid()
    u = np.array([0.15, 0.9, 1.77, 2.6])
    m = np.array([3e-6, 1e-4, 2.2e-3, 0.05])
    s = (u * spec.u_ref_mub) ** 2
    sigma = 1e-22 * (1.0 + np.log10(m) / 20.0)
    expected = -0.5 * (s / sigma) ** 2
    got = grid.delta_lnl(u, m)
    assert np.allclose(got, expected, rtol=2e-3, atol=1e-3)


def test_toy_grid_beyond_the_strength_range_is_monotone_and_never_nan():
    grid, spec = _toy_grid()
    m = np.full(7, 1e-4)
    u_edge = spec.u_nodes[-1]
    u = np.array([u_edge, 1.01 * u_edge, 2 * u_edge, 1e3 * u_edge, 1e100, 1e200, np.inf])
    d = grid.delta_lnl(u, m)
    assert not np.any(np.isnan(d))
    assert np.all(d[1:] <= d[:-1]) and d[-1] == -np.inf
    assert np.all(d[1:] <= d[0])


@pytest.fixture(scope="module")
def lk_fast():
    return BorexinoLikelihood(variant="radiochemical", mode="fast")


@pytest.mark.parametrize("m_gev", [0.0, 1e-4, 1.2e-3, 0.02, 1.0])
def test_signal_beyond_the_grid_is_at_least_as_excluded_as_the_edge(lk_fast, m_gev):
    grid = lk_fast.fast
    n_m = grid.n_signal(np.array([[1.0, 0, 0, 0]]), np.array([m_gev]))[0]
    mu2_edge = (grid.u[-1] * grid.u_ref) ** 2 * grid.n0[0] / n_m
    mu2 = np.array([mu2_edge, 1.5 * mu2_edge, 10 * mu2_edge, 1e6 * mu2_edge, 1e100, 1e300,
                    np.inf])
    ll = lk_fast.loglike({"mu_eff2_mub2": mu2, "m_aprime_gev": np.full(mu2.size, m_gev)})
    assert not np.any(np.isnan(ll))
    assert np.all(ll[1:] <= ll[0])                       # never above the edge
    assert np.all(ll[1:] <= ll[:-1])                     # monotone in the strength
    assert ll[0] < grid.lnl_sm - 1.0                     # so never the no-signal value
    assert ll[-1] == -np.inf
    # the same in mass-basis strengths
    lk_mass = BorexinoLikelihood(variant="radiochemical", mode="fast", weights="mass")
    big = np.array([1e100, 1e300])
    ll_m = lk_mass.loglike({"lam2_1_mub2": big, "lam2_2_mub2": big, "lam2_3_mub2": big,
                            "m_aprime_gev": np.full(2, m_gev)})
    assert np.all(ll_m <= ll[0]) and not np.any(np.isnan(ll_m))


def test_mass_axis_beyond_the_nodes(lk_fast):
    grid = lk_fast.fast
    u = np.array([0.5, 1.0, 2.0, 3.0])
    lo, hi = 10.0 ** grid.lm[0], 10.0 ** grid.lm[-1]
    # below the first node: the shape of the first node (and of m = 0)
    for m in (0.0, 1e-9, 0.5 * lo):
        assert np.array_equal(grid.delta_lnl(u, np.full(4, m)), grid.delta_lnl(u, np.full(4, lo)))
    # above the last node: the shape of the last node, the normalisation falls as m^-4
    assert np.array_equal(grid.delta_lnl(u, np.full(4, 50 * hi)),
                          grid.delta_lnl(u, np.full(4, hi)))
    q = np.array([[1.0, 0, 0, 0]])
    r = grid.n_signal(q, np.array([10.0])) / grid.n_signal(q, np.array([100.0]))
    assert r[0] == pytest.approx(1e4, rel=1e-9)
    # a moment excluded at 0.1 GeV fades towards the no-signal value as the mediator gets
    # heavy (exactly there at m = 1e300 GeV), never NaN
    n01 = grid.n_signal(q, np.array([0.1]))[0]
    mu2 = np.full(4, (3.0 * grid.u_ref) ** 2 * grid.n0[0] / n01)
    ll = lk_fast.loglike({"mu_eff2_mub2": mu2, "m_aprime_gev": np.array([0.1, 10, 1e3, 1e300])})
    assert np.all(np.isfinite(ll)) and ll[0] < grid.lnl_sm - 1.0
    assert np.all(np.abs(ll[1:] - grid.lnl_sm) < 1e-3 * np.abs(ll[0] - grid.lnl_sm))
    assert ll[-1] == pytest.approx(grid.lnl_sm, abs=1e-12)
