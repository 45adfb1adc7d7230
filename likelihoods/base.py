"""The contract every likelihood implements (independent of any dark-sector model).

The framework (config, joint posterior, adapters, outputs) uses exactly what is declared here
and nothing else:

- ``name``, ``citation`` (class attributes; ``citation`` may be refined per instance);
- ``options``: the typed options (:class:`globalfit.options.Option`) the constructor takes as
  keywords; the config validates a likelihood block with
  ``globalfit.options.validate_options(cls.options, ...)`` (the same code for every likelihood,
  model and sampler), :meth:`Likelihood.from_options` does the same from Python;
- ``requires``: observable names (``globalfit.observables``), set in ``__init__``;
- ``nuisances``: the nuisance parameters a sampler must supply (``()`` when the likelihood
  profiles or marginalises them itself);
- ``domain``: observable -> ``(low, high)`` (inclusive, in the observable's unit) that the data
  cover; the config rejects a prior box outside it, and ``loglike`` returns ``-inf`` there
  (never raises);
- ``loglike(observables, nuisances) -> (n_points,)``: finite or ``-inf``, never NaN;
- ``derived(observables, nuisances) -> {name: (n_points,)}`` with keys ``derived_names``
  (quantities recorded with the posterior draws, e.g. expected signal events).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

import numpy as np

from globalfit.options import Option, validate_options


@dataclass(frozen=True)
class Nuisance:
    """A nuisance parameter a sampler samples.

    ``prior`` is ``"gaussian"`` (``center``, ``width``) or ``"uniform"`` (``low``, ``high``).
    Gaussian constraints are part of the prior, not of ``loglike``; a likelihood that
    profiles its nuisances applies them internally (and declares no nuisances).
    """
    name: str
    unit: str
    prior: str
    center: float = 0.0
    width: float = 1.0
    low: float = -np.inf
    high: float = np.inf
    description: str = ""


NO_DOMAIN: Mapping[str, tuple[float, float]] = MappingProxyType({})
"""The empty domain (no observable restricted)."""


class Likelihood(ABC):
    """Base class of every experiment's likelihood (see the module docstring)."""

    name: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    requires: tuple[str, ...] = ()
    nuisances: tuple[Nuisance, ...] = ()
    domain: Mapping[str, tuple[float, float]] = NO_DOMAIN
    derived_names: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None,
                     where: str = "") -> "Likelihood":
        """Validate ``options`` against :attr:`options` (ConfigError ``<where>.<key>: ...``)
        and construct the likelihood with the resolved values (defaults filled in)."""
        return cls(**validate_options(cls.options, options, where or cls.name))

    @abstractmethod
    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Log-likelihood for each of ``n_points`` points, shape ``(n_points,)``: finite or
        ``-inf`` (outside :attr:`domain`), never NaN."""

    def derived(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Derived quantities ``{name: (n_points,)}``, keys :attr:`derived_names`."""
        return {}

    def nuisance_start(self, rng: np.random.Generator, n: int
                       ) -> Mapping[str, np.ndarray] | None:
        """Optional: ``n`` starting draws of the sampled :attr:`nuisances` near their best fit
        (``{nuisance name: (n,) array}``, e.g. a Laplace approximation at the no-signal fit),
        which samplers that start from points (emcee) use instead of prior draws; None
        (the default): start from the prior. Only where the walkers start changes, never
        the posterior."""
        return None

    def outside_domain(self, observables: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Boolean ``(n_points,)`` mask of points with an observable outside :attr:`domain`
        (NaN counts as outside), or None when every point is inside (the common case)."""
        mask = None
        for name, (low, high) in self.domain.items():
            if name not in observables:
                continue
            x = np.asarray(observables[name], dtype=float)
            bad = ~((x >= low) & (x <= high))
            if bad.any():
                mask = bad if mask is None else mask | bad
        return mask

    def __call__(self, observables: Mapping[str, np.ndarray],
                 nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        return self.loglike(observables, nuisances)


__all__ = ["Likelihood", "NO_DOMAIN", "Nuisance"]
