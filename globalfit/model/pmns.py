"""The leptonic mixing (PMNS) matrix in the standard parametrisation.

U = R_23 U_13(delta) R_12 diag(1, exp(i alpha_21/2), exp(i alpha_31/2)), as in the PDG review
"Neutrino masses, mixing and oscillations" (S. Navas et al., Phys. Rev. D 110 (2024) 030001,
section 14, standard parametrisation of the mixing matrix), with nu_alpha = sum_k U_{alpha k} nu_k
(rows e, mu, tau; columns mass states 1, 2, 3).

Default angles and Dirac phase: NuFIT 6.0 best fit (normal ordering) as stated once in
``globalfit.constants``. Majorana phases default to 0; they drop out of every solar observable
(|Lambda_k| are invariant, see ``globalfit.model.dark_sector``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import constants as C
from ..errors import ParameterError

__all__ = ["pmns_matrix"]


def _angle_from_sin2(sin2: float, name: str) -> tuple[float, float]:
    if not (math.isfinite(sin2) and 0.0 <= sin2 <= 1.0):
        raise ParameterError(f"{name}: expected 0 <= sin^2 <= 1, found {sin2!r}")
    return math.sqrt(sin2), math.sqrt(1.0 - sin2)


def pmns_matrix(sin2_theta12: float = C.SIN2_THETA12,
                sin2_theta13: float = C.SIN2_THETA13,
                sin2_theta23: float = C.SIN2_THETA23,
                delta_cp_deg: float = C.DELTA_CP_DEG,
                majorana_phases_rad: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The (3, 3) complex PMNS matrix U_{alpha k} (alpha = e, mu, tau; k = 1, 2, 3).

    Angles enter as sin^2 (dimensionless), the Dirac phase in degrees, the Majorana phases
    (alpha_21, alpha_31) in radians. Defaults: NuFIT 6.0, normal ordering
    (``globalfit.constants``), Majorana phases 0.
    """
    s12, c12 = _angle_from_sin2(sin2_theta12, "sin2_theta12")
    s13, c13 = _angle_from_sin2(sin2_theta13, "sin2_theta13")
    s23, c23 = _angle_from_sin2(sin2_theta23, "sin2_theta23")
    if not math.isfinite(delta_cp_deg):
        raise ParameterError(f"delta_cp_deg: expected a finite angle, found {delta_cp_deg!r}")
    a21, a31 = (float(p) for p in majorana_phases_rad)
    if not (math.isfinite(a21) and math.isfinite(a31)):
        raise ParameterError(
            f"majorana_phases_rad: expected two finite angles, found {majorana_phases_rad!r}")
    e_id = complex(math.cos(math.radians(delta_cp_deg)), math.sin(math.radians(delta_cp_deg)))
    u = np.array([
        [c12 * c13, s12 * c13, s13 / e_id],
        [-s12 * c23 - c12 * s23 * s13 * e_id, c12 * c23 - s12 * s23 * s13 * e_id, s23 * c13],
        [s12 * s23 - c12 * c23 * s13 * e_id, -c12 * s23 - s12 * c23 * s13 * e_id, c23 * c13],
    ], dtype=np.complex128)
    majorana = np.array([1.0, np.exp(0.5j * a21), np.exp(0.5j * a31)])
    return u * majorana[np.newaxis, :]
