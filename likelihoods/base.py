"""The interface every likelihood implements (independent of any dark-sector model).

A likelihood declares the observables it requires (names from ``globalfit.observables``),
its nuisance parameters with their constraints, and its citation, and offers one vectorised
call ``loglike(observables, nuisances) -> (n_points,)`` that is finite or ``-inf``, never NaN.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Nuisance:
    """A nuisance parameter a sampler may sample (or the likelihood profiles).

    ``prior`` is ``"gaussian"`` (``center``, ``width``) or ``"uniform"`` (``low``, ``high``).
    Gaussian constraints are part of the prior, not of ``loglike``; the likelihood's own
    profiled mode handles them internally.
    """
    name: str
    unit: str
    prior: str
    center: float = 0.0
    width: float = 1.0
    low: float = -np.inf
    high: float = np.inf
    description: str = ""


class Likelihood(ABC):
    """Base class. Subclasses set the class attributes and implement ``loglike``."""

    name: str = ""
    requires: tuple[str, ...] = ()
    citation: str = ""
    nuisances: tuple[Nuisance, ...] = ()

    @abstractmethod
    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Log-likelihood for each of ``n_points`` points, shape ``(n_points,)``."""

    def __call__(self, observables: Mapping[str, np.ndarray],
                 nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        return self.loglike(observables, nuisances)
