"""The strength spline of the fast grids (Borexino and XENONnT): one definition for both.

Delta ln L at each mass node is interpolated in the signal strength s = u^2 by a natural cubic
spline (Delta ln L is close to quadratic in s in the Gaussian regime) and continued beyond the
last node with the end slope clipped to <= 0, so a stronger signal is never less excluded than
the grid's edge. A natural spline has zero curvature at its ends, so the continuation is
linear. Derived once when a grid is built and cached with it: loading a grid needs no spline
construction (and no ``scipy.interpolate`` import).
"""
from __future__ import annotations

import numpy as np


def strength_spline(u: np.ndarray, delta: np.ndarray) -> dict[str, np.ndarray]:
    """Natural cubic spline in s = u^2 of ``delta`` (n_u, n_m) along axis 0: ``coef``
    (4, n_u - 1, n_m), highest power first (``scipy.interpolate.CubicSpline.c``), and ``slope``
    (n_m,), d Delta / ds at the last node clipped to <= 0."""
    from scipy.interpolate import CubicSpline
    s = np.asarray(u, dtype=float) ** 2
    sp = CubicSpline(s, delta, axis=0, bc_type="natural")
    return {"coef": np.ascontiguousarray(sp.c), "slope": np.minimum(sp(s[-1], 1), 0.0)}


__all__ = ["strength_spline"]
