"""One-loop dipole functions against high-precision mpmath, limits, identities, edge cases."""
from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest

from globalfit.errors import ParameterError
from globalfit.model import loops

# (a, b) of I_{a,b}(r) = int_0^1 x^a (1-x)^b / (x + r(1-x)) dx for each public function
FUNCTIONS = {
    (1, 1): loops.loop_scalar_flip,
    (2, 1): loops.loop_scalar_noflip,
    (1, 2): loops.loop_fermion_noflip,
    (0, 2): loops.loop_fermion_flip,
}


def _mp_integral(a: int, b: int, r: float) -> mp.mpf:
    """Direct numerical quadrature of the defining integral (independent of any closed form);
    the integrand is steep near x ~ r/(1+r), so that point splits the interval."""
    rr = mp.mpf(r)
    split = rr / (1 + rr)
    return mp.quad(lambda x: x**a * (1 - x) ** b / (x + rr * (1 - x)), [0, split, 1])


def _mp_closed(a: int, b: int, r: float) -> mp.mpf:
    """Closed forms at 60 digits (cancellation near r = 1 is harmless at this precision);
    checked against _mp_integral in test_closed_forms_match_quadrature."""
    t = mp.mpf(r)
    if t == 1:
        return mp.beta(a + 1, b + 1)
    lt = mp.log(t)
    if (a, b) == (1, 1):
        return (t**2 - 1 - 2 * t * lt) / (2 * (t - 1) ** 3)
    if (a, b) == (1, 2):
        return (2 + 3 * t - 6 * t**2 + t**3 + 6 * t * lt) / (6 * (1 - t) ** 4)
    if (a, b) == (2, 1):
        return (1 - 6 * t + 3 * t**2 + 2 * t**3 - 6 * t**2 * lt) / (6 * (1 - t) ** 4)
    if (a, b) == (0, 2):
        return (t - 3) / (2 * (t - 1) ** 2) + lt / (t - 1) ** 3
    raise KeyError((a, b))


@pytest.mark.parametrize("key", list(FUNCTIONS))
def test_closed_forms_match_quadrature(key):
    with mp.workdps(30):
        for r in (1e-6, 0.01, 0.3, 0.9, 1.0, 1.2, 7.0, 300.0, 1e5):
            assert mp.almosteq(_mp_closed(*key, r), _mp_integral(*key, r), rel_eps=mp.mpf(1e-25))


def _sample_points() -> np.ndarray:
    rng = np.random.default_rng(20260325)
    near_one = 1.0 + rng.uniform(-1e-3, 1e-3, 400)
    switch = np.array([0.7, 1 / 0.7])           # the Taylor / closed-form boundaries
    around_switch = np.concatenate([np.nextafter(switch, 0), switch, np.nextafter(switch, 2)])
    return np.concatenate([
        10.0 ** rng.uniform(-8.0, 8.0, 1500),
        near_one,
        1.0 + rng.uniform(-0.5, 0.5, 300),
        around_switch,
        [1e-8, 1e8, 1.0, np.nextafter(1.0, 0), np.nextafter(1.0, 2)],
    ])


@pytest.mark.parametrize("key", list(FUNCTIONS))
def test_relative_accuracy_1e12_against_mpmath(key):
    r = _sample_points()
    values = FUNCTIONS[key](r)
    assert values.dtype == np.float64
    with mp.workdps(60):
        ref = np.array([float(_mp_closed(*key, float(x))) for x in r])
    rel = np.abs(values / ref - 1.0)
    worst = int(np.argmax(rel))
    assert rel[worst] < 1e-12, f"r = {r[worst]!r}: rel. error {rel[worst]:.3g}"


def test_limits_of_model_functions():
    g = loops.loop_scalar_flip
    f = loops.loop_fermion_noflip
    assert g(1.0) == pytest.approx(1 / 6, rel=1e-15)
    assert g(1e-300) == pytest.approx(0.5, rel=1e-15)
    assert f(1.0) == pytest.approx(1 / 12, rel=1e-15)
    assert f(1e-300) == pytest.approx(1 / 3, rel=1e-15)
    big = np.array([1e10, 1e14])
    np.testing.assert_allclose(g(big) * 2 * big, 1.0, rtol=1e-8)     # G -> 1/(2r)
    np.testing.assert_allclose(f(big) * 6 * big, 1.0, rtol=1e-8)     # f -> 1/(6r)
    np.testing.assert_allclose(loops.loop_scalar_noflip(big) * 3 * big, 1.0, rtol=1e-8)
    np.testing.assert_allclose(loops.loop_fermion_flip(big) * 2 * big, 1.0, rtol=1e-8)
    assert loops.loop_scalar_noflip(1e-300) == pytest.approx(1 / 6, rel=1e-15)
    assert loops.loop_fermion_flip(1.0) == pytest.approx(1 / 3, rel=1e-15)
    small = 1e-12                                 # -ln r - 3/2 + O(r ln r)
    assert loops.loop_fermion_flip(small) == pytest.approx(-np.log(small) - 1.5, rel=1e-9)


def test_identities():
    r = 10.0 ** np.linspace(-7, 7, 301)
    # photon from scalar + photon from fermion (no flip) = scalar-emission flip integral
    np.testing.assert_allclose(loops.loop_scalar_noflip(r) + loops.loop_fermion_noflip(r),
                               loops.loop_scalar_flip(r), rtol=1e-13)
    # reflection I_{a,b}(r) = I_{b,a}(1/r) / r
    np.testing.assert_allclose(loops.loop_scalar_flip(r), loops.loop_scalar_flip(1 / r) / r,
                               rtol=1e-13)
    np.testing.assert_allclose(loops.loop_fermion_noflip(r),
                               loops.loop_scalar_noflip(1 / r) / r, rtol=1e-13)


def test_monotonic_and_positive():
    r = 10.0 ** np.linspace(-8, 8, 2001)
    for fn in FUNCTIONS.values():
        v = fn(r)
        assert np.all(v > 0)
        assert np.all(np.diff(v) < 0)            # the integrands decrease with r


def test_broadcasting_shapes():
    r = 10.0 ** np.random.default_rng(1).uniform(-3, 3, size=(2, 3, 4))
    for fn in FUNCTIONS.values():
        out = fn(r)
        assert out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out[1, 2], fn(r[1, 2]))
        assert np.shape(fn(0.5)) == ()
        assert fn([1, 2]).dtype == np.float64
        assert fn(np.empty((0, 2))).shape == (0, 2)


def test_extreme_finite_inputs_no_warnings_nan_or_inf():
    r = np.array([5e-324, 1e-300, 1e-30, 1e30, 1e300, np.finfo(float).max])
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")
        for fn in FUNCTIONS.values():
            v = fn(r)
            assert np.all(np.isfinite(v)) and np.all(v >= 0)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, -np.inf])
def test_bad_input_raises_parameter_error(bad):
    for fn in FUNCTIONS.values():
        with pytest.raises(ParameterError, match="finite and > 0"):
            fn(np.array([0.5, bad]))
