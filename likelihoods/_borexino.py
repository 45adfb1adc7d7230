"""Transitional: the Borexino likelihood as the registry serves it, until the Borexino package
declares the likelihood contract itself (``options``, ``nuisances == ()`` in fast mode,
``domain``).

When ``likelihoods.borexino.BorexinoLikelihood`` declares its ``options``, this module exports
that class unchanged (and ``REGISTRY["borexino"]`` should then name it directly and this module
be deleted). Until then it exports a subclass that declares the YAML-selectable options of
today's constructor and, in fast mode (profiled nuisances), declares no nuisances to the
framework while the spectrum fit keeps using the full set internally.
"""
from __future__ import annotations

from globalfit.options import Option

from .base import Nuisance
from .borexino import BorexinoLikelihood as _Borexino

if _Borexino.options:                                  # the package declares the contract
    BorexinoLikelihood = _Borexino
else:
    class BorexinoLikelihood(_Borexino):               # type: ignore[no-redef]
        """:class:`likelihoods.borexino.likelihood.BorexinoLikelihood` with declared options;
        fast mode profiles the nuisances, so none is declared to the sampler."""

        options = (
            Option("variant", (str,), "radiochemical",
                   choices=("spectrum_only", "radiochemical", "solar_model"),
                   doc="external flux constraint"),
            Option("mode", (str,), "fast", choices=("fast", "full"),
                   doc="fast: nuisances profiled (interpolated); full: sampled"),
            Option("fit_window_nh", (tuple,), (93, 950), doc="inclusive N_h fit window"),
            Option("flux_model", (str,), "GS98", choices=("GS98", "AGSS09met"),
                   doc="standard-solar-model fluxes"),
            Option("weights", (str,), "universal", choices=("universal", "mass"),
                   doc="universal: mu_eff2_mub2; mass: lam2_{1,2,3}_mub2"),
            Option("use_cache", (bool,), True, doc="on-disk template cache"),
        )

        _profiled = False                              # set from ``mode`` in __init__
        _internal = False                              # True while the fit reads the set

        @property
        def nuisances(self) -> tuple[Nuisance, ...]:  # type: ignore[override]
            """The nuisances a sampler supplies: all in full mode, none in fast mode."""
            if self._profiled and not self._internal:
                return ()
            return self._all_nuisances

        @nuisances.setter
        def nuisances(self, value: tuple[Nuisance, ...]) -> None:
            self._all_nuisances = tuple(value)

        def __init__(self, **options: object) -> None:
            super().__init__(**options)
            self._profiled = self.mode == "fast"

        def _prior(self):                              # the spectrum fit's constraints
            self._internal = True
            try:
                return super()._prior()
            finally:
                self._internal = False

__all__ = ["BorexinoLikelihood"]
