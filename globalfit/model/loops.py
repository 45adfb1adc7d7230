"""One-loop dipole functions for a fermion F (mass m_F) and a scalar S (mass m_S) in the loop.

What to use when
----------------
Every dipole transition f_1 -> f_2 + (photon or dark photon) through an F-S loop is built from
four functions of ``r = m_F**2 / m_S**2`` (the light external masses neglected):

==========================  ===========================================  =====================
function                    loop                                         definition
==========================  ===========================================  =====================
``loop_scalar_flip``        vector boson emitted from S, chirality flip  I_{1,1}(r) = G(r)
                            on F (amplitude ~ m_F G / m_S^2)
``loop_scalar_noflip``      emitted from S, no flip (amplitude ~ m_1)    I_{2,1}(r)
``loop_fermion_noflip``     emitted from F, no flip (amplitude ~ m_1)    I_{1,2}(r) = f(r)
``loop_fermion_flip``       emitted from F, chirality flip on F          I_{0,2}(r)
==========================  ===========================================  =====================

with the Feynman-parameter integrals (x = Feynman parameter of the scalar line(s))

    I_{a,b}(r) = int_0^1 x^a (1-x)^b / (x + r (1-x)) dx .

Relation to L. Lavoura, Eur. Phys. J. C 29 (2003) 191, hep-ph/0302221 (functions of
t = m_F^2/m_B^2 in the limit of massless external fermions): Lavoura's ``\\bar g(t)`` = I_{1,1},
``g(t)`` = I_{0,2}, ``\\bar f(t)`` = I_{2,1}/2, ``f(t)`` = I_{1,2}/2 (his no-flip functions carry
the factor 1/2 that multiplies the no-flip amplitude; here every function has a unit numerator).
The project's MODEL.md uses G = I_{1,1} (dark dipole, section 2) and f = I_{1,2}
(l_1 -> l_2 gamma, section 4).  Useful identities (tested): I_{2,1} + I_{1,2} = I_{1,1};
I_{a,b}(r) = I_{b,a}(1/r) / r.

Numerics
--------
All functions broadcast over any array shape, return float64, and agree with a 60-digit mpmath
evaluation of the integral to a relative 1e-12 for every positive finite argument (tested on
1e-8 <= r <= 1e8, including |r - 1| < 1e-3):

* arguments r > 1 are reflected to s = 1/r < 1 with I_{a,b}(r) = s I_{b,a}(s), so no power of a
  large r is ever formed (no overflow for r up to the largest float);
* for 0.7 < s <= 1 the closed forms lose up to ~1/(1-s)^3 in relative precision, so the Taylor
  series about r = 1 of the integral is used there:
  I_{a,b}(1 + d) = sum_n (-d)^n B(a + 1, b + n + 1)  (exact Beta-function coefficients,
  convergent for |d| < 1; 36 terms at |d| <= 0.3 leave < 1e-18);
* for s <= 0.7 the closed forms below are used; none of them cancels there (their leading small-s
  behaviour is a constant or -ln s).

Non-positive or non-finite arguments raise ``ParameterError``.
"""
from __future__ import annotations

from fractions import Fraction
from math import factorial
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ParameterError

__all__ = [
    "loop_scalar_flip",
    "loop_scalar_noflip",
    "loop_fermion_noflip",
    "loop_fermion_flip",
]

_TAYLOR_HALF_WIDTH: float = 0.3
"""Taylor series about r = 1 for 1 - 0.3 < s <= 1 (s = min(r, 1/r))."""

_N_TAYLOR: int = 36
"""Terms of the Taylor series: 0.3**36 / 37 < 1e-20."""


def _taylor_coefficients(a: int, b: int, n_terms: int) -> np.ndarray:
    """Coefficients c_n of I_{a,b}(1 + d) = sum_n c_n d^n: c_n = (-1)^n B(a+1, b+n+1),
    from expanding 1/(1 + d (1-x)) under the integral. Exact rationals, then float64."""
    coeffs = []
    for n in range(n_terms):
        beta = Fraction(factorial(a) * factorial(b + n), factorial(a + b + n + 1))
        coeffs.append(float((-1) ** n * beta))
    return np.array(coeffs)


# Closed forms on 0 < s <= 0.7 (c = 1 - s >= 0.3), obtained by integrating I_{a,b} with the
# substitution D = s + (1 - s) x (elementary rational + logarithmic terms).
def _i11(s: np.ndarray) -> np.ndarray:
    c = 1.0 - s
    return (1.0 - s * s + 2.0 * s * np.log(s)) / (2.0 * c**3)


def _i12(s: np.ndarray) -> np.ndarray:
    c = 1.0 - s
    return (2.0 + s * (3.0 + s * (-6.0 + s)) + 6.0 * s * np.log(s)) / (6.0 * c**4)


def _i21(s: np.ndarray) -> np.ndarray:
    c = 1.0 - s
    return (1.0 + s * (-6.0 + s * (3.0 + 2.0 * s)) - 6.0 * s * s * np.log(s)) / (6.0 * c**4)


def _i02(s: np.ndarray) -> np.ndarray:
    c = 1.0 - s
    return (-3.0 + s * (4.0 - s) - 2.0 * np.log(s)) / (2.0 * c**3)


def _i20(s: np.ndarray) -> np.ndarray:
    c = 1.0 - s
    return (1.0 + s * (-4.0 + 3.0 * s) - 2.0 * s * s * np.log(s)) / (2.0 * c**3)


_CLOSED: dict[tuple[int, int], Callable[[np.ndarray], np.ndarray]] = {
    (1, 1): _i11, (1, 2): _i12, (2, 1): _i21, (0, 2): _i02, (2, 0): _i20,
}
_TAYLOR: dict[tuple[int, int], np.ndarray] = {
    key: _taylor_coefficients(*key, _N_TAYLOR) for key in _CLOSED
}


def _on_unit_interval(s: np.ndarray, a: int, b: int) -> np.ndarray:
    """I_{a,b}(s) for 1-D ``s`` with 0 < s <= 1."""
    near = s > 1.0 - _TAYLOR_HALF_WIDTH
    n_near = np.count_nonzero(near)
    if n_near == 0:
        return _CLOSED[(a, b)](s)
    out = np.empty_like(s)
    d = s[near] - 1.0                           # exact (Sterbenz) for s in [0.5, 1]
    coeffs = _TAYLOR[(a, b)]
    acc = np.full_like(d, coeffs[-1])
    for c in coeffs[-2::-1]:                    # Horner; a loop over terms, not points
        acc *= d
        acc += c
    out[near] = acc
    if n_near < s.size:
        far = ~near
        out[far] = _CLOSED[(a, b)](s[far])
    return out


def _integral(r: ArrayLike, a: int, b: int, name: str) -> np.ndarray:
    """I_{a,b}(r) for any array of positive finite r (reflection r > 1 -> 1/r)."""
    x = np.asarray(r, dtype=np.float64)
    flat = x.ravel()
    if flat.size == 0:
        return np.empty(x.shape)
    if not (flat.min() > 0.0 and flat.max() < np.inf):      # also catches NaN
        ok = np.isfinite(flat) & (flat > 0.0)
        raise ParameterError(f"{name}: argument r = m_F^2/m_S^2 must be finite and > 0, "
                             f"found {flat[~ok][0]!r}")
    low = flat <= 1.0
    n_low = np.count_nonzero(low)
    if n_low == flat.size:
        out = _on_unit_interval(flat, a, b)
    elif n_low == 0:
        s = 1.0 / flat
        out = s * _on_unit_interval(s, b, a)
    else:
        out = np.empty_like(flat)
        out[low] = _on_unit_interval(flat[low], a, b)
        high = ~low
        s = 1.0 / flat[high]
        out[high] = s * _on_unit_interval(s, b, a)
    return out.reshape(x.shape)


def loop_scalar_flip(r: ArrayLike) -> np.ndarray:
    """G(r) = int_0^1 x(1-x) / (x + r(1-x)) dx = (r^2 - 1 - 2 r ln r) / (2 (r-1)^3).

    Vector boson radiated from the scalar, chirality flip on the internal fermion (amplitude
    proportional to m_F G(r) / m_S^2). Lavoura (hep-ph/0302221) ``\\bar g(t)``; MODEL.md
    section 2. Limits: G(0+) = 1/2, G(1) = 1/6, G(r) -> 1/(2r) for r >> 1.
    ``r = m_F**2 / m_S**2``, any shape; returns float64 of the same shape.
    """
    return _integral(r, 1, 1, "loop_scalar_flip")


def loop_scalar_noflip(r: ArrayLike) -> np.ndarray:
    """I_{2,1}(r) = int_0^1 x^2(1-x) / (x + r(1-x)) dx
    = (1 - 6r + 3r^2 + 2r^3 - 6 r^2 ln r) / (6 (1-r)^4).

    Vector boson radiated from the scalar, no chirality flip in the loop (amplitude
    proportional to the external mass). Twice Lavoura's ``\\bar f(t)`` (hep-ph/0302221); the same
    function as F_2 of the scotogenic mu -> e gamma rate. Limits: 1/6 at r -> 0, 1/12 at r = 1,
    1/(3r) for r >> 1. Any shape; float64.
    """
    return _integral(r, 2, 1, "loop_scalar_noflip")


def loop_fermion_noflip(r: ArrayLike) -> np.ndarray:
    """f(r) = I_{1,2}(r) = int_0^1 x(1-x)^2 / (x + r(1-x)) dx
    = int_0^1 t^2(1-t) / (1 - t + r t) dt = (2 + 3r - 6r^2 + r^3 + 6 r ln r) / (6 (1-r)^4).

    Vector boson radiated from the internal fermion, no chirality flip (amplitude proportional
    to the external mass). Twice Lavoura's ``f(t)`` (hep-ph/0302221); MODEL.md section 4.
    Limits: f(0+) = 1/3, f(1) = 1/12, f(r) -> 1/(6r) for r >> 1. Any shape; float64.
    """
    return _integral(r, 1, 2, "loop_fermion_noflip")


def loop_fermion_flip(r: ArrayLike) -> np.ndarray:
    """I_{0,2}(r) = int_0^1 (1-x)^2 / (x + r(1-x)) dx = int_0^1 t^2 / (1 - t + r t) dt
    = (r - 3) / (2 (r-1)^2) + ln r / (r-1)^3.

    Vector boson radiated from the internal fermion, chirality flip on the fermion (amplitude
    proportional to m_F I_{0,2} / m_S^2; the chirally enhanced term). Lavoura's ``g(t)``
    (hep-ph/0302221). Limits: ~ -ln r - 3/2 for r -> 0 (logarithmic), 1/3 at r = 1,
    1/(2r) for r >> 1. Any shape; float64.
    """
    return _integral(r, 0, 2, "loop_fermion_flip")
