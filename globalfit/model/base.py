"""The contract a dark-sector model implements, so that a different model can be swapped in
by name (``model: name`` in a fit config) without touching any likelihood.

Declared, and the only things the framework uses: ``name``, ``options`` (typed
:class:`globalfit.options.Option` tuple; the constructor takes them as keywords and the config
validates them with the same code as a likelihood's), ``parameters`` and ``provides`` (set in
``__init__``, may depend on the options) and ``observables(params) -> (observables, valid)``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from ..options import Option, validate_options


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

    name: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    parameters: tuple[ParameterSpec, ...] = ()
    provides: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None,
                     where: str = "") -> "Model":
        """Validate ``options`` against :attr:`options` (ConfigError ``<where>.<key>: ...``)
        and construct the model with the resolved values."""
        return cls(**validate_options(cls.options, options, where or cls.name))

    @abstractmethod
    def observables(self, params: Mapping[str, np.ndarray]
                    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return ``(observables, valid)``: a dict of ``(n_points,)`` arrays and a boolean mask
        of points inside the model's domain. Invalid points may hold any finite values."""
