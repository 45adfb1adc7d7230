"""Signal strengths of the electron-recoil likelihoods: observables -> template coefficients.

An electron-recoil likelihood (Borexino, XENONnT) has four magnetic-moment templates per solar
group, ``spectra.WEIGHTS`` = (universal, 1, 2, 3): u(E) = 1 and the mass-basis weights
w_k(E) = 1 - P_k(E) (``flux.mass_weights``). The signal is sum_w q_w template_w with the strengths
q_w in mu_B^2, and the three ways a user can give them (the likelihoods' ``weights`` option) are:

* ``universal``: q = (mu_eff^2, 0, 0, 0); an energy-independent effective moment (the moment the
  experiments quote), from ``mu_eff2_mub2``.
* ``mass``: q = (0, |eps Lambda_1|^2, |eps Lambda_2|^2, |eps Lambda_3|^2) from ``lam2_k_mub2``, the
  exact treatment of Majorana transition moments for an incoherent mass-state flux with matter
  effects at production (Grimus et al., NPB 648 (2003) 376; Canas et al., PLB 753 (2016) 191).
* ``flavour``: the flavour moments mu_e, mu_mu, mu_tau of ``mu_e2_mub2``, ``mu_mu2_mub2``,
  ``mu_tau2_mub2``, weighted as in Borexino, PRD 96 (2017) 091103:

      mu_eff^2(E) = P_ee(E) mu_e^2 + (1 - P_ee(E)) (cos^2 th23 mu_mu^2 + sin^2 th23 mu_tau^2),

  i.e. the flux at Earth treated as an incoherent nu_e / nu_mu / nu_tau mixture. With
  P_ee = sum_k |U_ek|^2 P_k (``flux.p_ee``: c13^4 P_ee^2nu + s13^4 is this sum) and sum_k |U_ek|^2
  = 1, 1 - P_ee(E) = sum_k |U_ek|^2 w_k(E) exactly, so the flavour signal is a fixed combination of
  the existing templates and needs no new one:

      q = (mu_e^2, a_1 d, a_2 d, a_3 d),  a_k = |U_ek|^2,  d = c23^2 mu_mu^2 + s23^2 mu_tau^2 - mu_e^2.

  The q_k can be negative (mu_e dominant); the total signal is sum of non-negative flavour terms.
  |U_e1|^2 = c12^2 c13^2, |U_e2|^2 = s12^2 c13^2, |U_e3|^2 = s13^2 with the angles the flux module
  uses (``globalfit.constants``, NuFIT 6.0); sin^2 th23 is an argument (default NuFIT 6.0, 0.561).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from globalfit import constants as c
from globalfit.errors import ParameterError
from globalfit.options import Option, short_repr

WEIGHT_MODES: Final = ("universal", "mass", "flavour")
REQUIRES: Final[dict[str, tuple[str, ...]]] = {
    "universal": ("mu_eff2_mub2",),
    "mass": ("lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2"),
    "flavour": ("mu_e2_mub2", "mu_mu2_mub2", "mu_tau2_mub2"),
}
SIN2_THETA23_DOC: Final = ("sin^2 theta23 of the flavour weights (weights: flavour only; default "
                           "NuFIT 6.0)")
WEIGHTS_DOC: Final = ("universal: mu_eff2_mub2 (energy-independent moment); mass: "
                      "lam2_{1,2,3}_mub2 with MSW mass-state weights; flavour: "
                      "mu_{e,mu,tau}2_mub2 weighted by P_ee(E) (Borexino PRD 96 (2017) 091103)")
#: the two options every electron-recoil likelihood declares for its signal strengths
WEIGHTS_OPTION: Final = Option("weights", (str,), "universal", choices=WEIGHT_MODES,
                               doc=WEIGHTS_DOC)
SIN2_THETA23_OPTION: Final = Option("sin2_theta23", (float,), c.SIN2_THETA23, low=0.0, high=1.0,
                                    doc=SIN2_THETA23_DOC)


def electron_row_squared() -> np.ndarray:
    """(|U_e1|^2, |U_e2|^2, |U_e3|^2) of the standard parametrisation (they sum to 1)."""
    c13 = 1.0 - c.SIN2_THETA13
    return np.array([(1.0 - c.SIN2_THETA12) * c13, c.SIN2_THETA12 * c13, c.SIN2_THETA13])


def flavour_strengths(mu_e2: np.ndarray, mu_mu2: np.ndarray, mu_tau2: np.ndarray,
                      sin2_theta23: float = c.SIN2_THETA23) -> np.ndarray:
    """Template strengths q (n, 4) in mu_B^2 of flavour moments squared (n,) in mu_B^2
    (module docstring)."""
    d = (1.0 - sin2_theta23) * mu_mu2 + sin2_theta23 * mu_tau2 - mu_e2
    return np.concatenate([mu_e2[:, None], d[:, None] * electron_row_squared()[None, :]], axis=1)


def required(weights: str) -> tuple[str, ...]:
    """The observables a likelihood with this ``weights`` option requires (plus m_aprime_gev)."""
    return REQUIRES[weights] + ("m_aprime_gev",)


def strengths(weights: str, observables: Mapping[str, np.ndarray], where: str,
              sin2_theta23: float = c.SIN2_THETA23
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q (n, 4) mu_B^2 [universal, k = 1..3], m_A' (n,) GeV, invalid-point mask (n,)).

    A point is invalid when its mass or a required strength is negative or not finite; its q
    and m are set to 0. ParameterError (prefixed ``where``) for missing observables or
    observables of different lengths."""
    names = required(weights)
    missing = [k for k in names if k not in observables]
    if missing:
        raise ParameterError(f"{where}: observables missing {', '.join(missing)}")
    cols = [np.atleast_1d(np.asarray(observables[k], dtype=float)) for k in names]
    try:
        cols = [x.reshape(-1) for x in np.broadcast_arrays(*cols)]
    except ValueError:
        raise ParameterError(f"{where}: observables of different lengths "
                             f"{short_repr([x.shape for x in cols])}") from None
    m, given = cols[-1], np.stack(cols[:-1], axis=1)
    bad = ~np.isfinite(m) | (m < 0) | np.any(~np.isfinite(given) | (given < 0), axis=1)
    given = np.where(bad[:, None], 0.0, given)
    q = np.zeros((m.size, 4))
    if weights == "universal":
        q[:, 0] = given[:, 0]
    elif weights == "mass":
        q[:, 1:] = given
    else:
        q = flavour_strengths(given[:, 0], given[:, 1], given[:, 2], sin2_theta23)
    return q, np.where(bad, 0.0, m), bad


__all__ = ["REQUIRES", "SIN2_THETA23_DOC", "SIN2_THETA23_OPTION", "WEIGHTS_DOC", "WEIGHTS_OPTION",
           "WEIGHT_MODES", "electron_row_squared", "flavour_strengths", "required", "strengths"]
