"""Quadrature grids: nodes plus weights, the one way a spectrum is integrated or folded.

What to use when
----------------
* ``RecoilGrid.trapezoid(nodes)``: any strictly increasing grid with trapezoid weights
  (w_0 = (x_1 - x_0)/2, w_i = (x_{i+1} - x_{i-1})/2, w_-1 = (x_-1 - x_-2)/2).
* ``grid.integrate(values)``: sum_i w_i f(x_i) ~ int f dx over [x_0, x_-1] (last axis).
* ``grid.weighted(values)``: f(x_i) w_i, the vector a response matrix multiplies to fold a
  density (``R @ grid.weighted(density)``).

A ``RecoilGrid`` unpacks as ``t, w = grid``. Units are those of the nodes (MeV for recoil
energies). The trapezoid rule is exact for piecewise-linear integrands and second-order
accurate otherwise (error ~ h^2 f''/12 per unit length).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from globalfit.errors import ParameterError


def trapezoid_weights(x: ArrayLike) -> np.ndarray:
    """Trapezoid weights of a strictly increasing 1-D grid, same units and shape as ``x``."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.diff(x) > 0):
        raise ParameterError("grid: expected a strictly increasing 1-D grid of at least 2 points")
    w = np.zeros_like(x)
    dx = np.diff(x)
    w[:-1] += dx / 2.0
    w[1:] += dx / 2.0
    return w


class RecoilGrid(NamedTuple):
    """Quadrature nodes (n,) and weights (n,); read-only arrays."""
    nodes: np.ndarray
    weights: np.ndarray

    @classmethod
    def trapezoid(cls, nodes: ArrayLike) -> "RecoilGrid":
        """Nodes with their trapezoid weights."""
        x = np.array(nodes, dtype=float)
        w = trapezoid_weights(x)
        x.setflags(write=False)
        w.setflags(write=False)
        return cls(x, w)

    @property
    def size(self) -> int:
        return int(self.nodes.size)

    def integrate(self, values: ArrayLike) -> np.ndarray:
        """sum_i w_i f_i over the last axis of ``values`` (shape (..., n))."""
        return np.asarray(values, dtype=float) @ self.weights

    def weighted(self, values: ArrayLike) -> np.ndarray:
        """f_i w_i (broadcast over leading axes): the vector a response matrix multiplies."""
        return np.asarray(values, dtype=float) * self.weights
