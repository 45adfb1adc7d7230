"""The interface a dark-sector model implements, so that a different model can be swapped in
by name (``model: name`` in a fit config) without touching any likelihood.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class ParameterSpec:
    """A model parameter: ``dimension`` is ``"energy"`` (GeV) or ``"1"``; the physical
    domain is ``[low, high]`` (a config's prior bounds must lie inside it)."""
    name: str
    dimension: str
    low: float
    high: float
    latex: str
    description: str


class Model(ABC):
    """Maps arrays of parameters to arrays of observables (names of globalfit.observables)."""

    name: str = ""
    parameters: tuple[ParameterSpec, ...] = ()
    provides: tuple[str, ...] = ()

    @abstractmethod
    def observables(self, params: Mapping[str, np.ndarray]
                    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return ``(observables, valid)``: a dict of ``(n_points,)`` arrays and a boolean mask
        of points inside the model's domain. Invalid points may hold any finite values."""
