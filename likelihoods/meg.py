"""Likelihoods of radiative charged-lepton-flavour-violating decays from published upper limits.

mu -> e gamma (MEG / MEG II), tau -> e gamma and tau -> mu gamma (BaBar, Belle): no signal has
been seen and only a 90 % C.L. upper limit UL is published. Following the convention of GAMBIT
(FlavBit) and flavio, each becomes a half-Gaussian at zero::

    ln L(BR) = -BR^2 / (2 sigma^2),  BR >= 0,   sigma = UL / Phi^{-1}(0.95) = UL / 1.6449

so that a flat prior on BR >= 0 gives back exactly the published limit (the conventions quote
the quantile rounded to 1.645; the unrounded value is used here). The limits and their
publications live in ``data/flavour/clfv_limits.yaml``; the data set is an option:

- ``MEGLikelihood`` ("meg"): ``dataset="meg2_2025"`` (1.5e-13, MEG II 2025 with MEG, default),
  ``"meg2_2023"`` (3.1e-13, MEG II 2023 combined with MEG), ``"meg_2016"`` (4.2e-13, MEG).
  These data sets overlap (each later result includes MEG): use one.
- ``TauEGammaLikelihood`` ("tau_e_gamma"): ``"babar_2010"`` (3.3e-8, default).
- ``TauMuGammaLikelihood`` ("tau_mu_gamma"): ``"belle_2021"`` (4.2e-8, default) or
  ``"babar_2010"`` (4.4e-8).

The ``domain`` of the branching ratio is BR >= 0: a negative value gives ``-inf``.
"""
from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from globalfit.errors import ConfigError, DataFileError
from globalfit.options import Option, short_repr
from globalfit.paths import data_file
from globalfit.yamlio import load_yaml

from . import _stats
from .base import Likelihood


@functools.lru_cache(maxsize=None)
def clfv_limits() -> dict:
    """The parsed data/flavour/clfv_limits.yaml (process -> observable, default, datasets),
    read safely (globalfit.yamlio) and checked: every data set has a finite upper limit > 0,
    0 < cl < 1 and a citation, every process a default that is one of its data sets;
    DataFileError naming the file and key otherwise."""
    path = data_file("flavour", "clfv_limits.yaml")
    cfg = load_yaml(path, str(path), DataFileError)

    def bad(key: str, problem: str) -> DataFileError:
        return DataFileError(f"{path}: {key}: {problem}")

    def number(value: object) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and bool(np.isfinite(value)))

    if not isinstance(cfg, dict) or not cfg:
        raise bad("top level", "expected a mapping of processes")
    for name, proc in cfg.items():
        if not isinstance(proc, dict):
            raise bad(str(name), "expected a mapping")
        for key in ("observable", "default", "datasets"):
            if key not in proc:
                raise bad(f"{name}.{key}", "missing")
        sets = proc["datasets"]
        if not isinstance(sets, dict) or not sets:
            raise bad(f"{name}.datasets", "expected a non-empty mapping")
        if proc["default"] not in sets:
            raise bad(f"{name}.default", f"{short_repr(proc['default'])} is not one of its "
                                         "data sets")
        for ds, entry in sets.items():
            where = f"{name}.datasets.{ds}"
            if not isinstance(entry, dict):
                raise bad(where, "expected a mapping")
            for key in ("upper_limit", "cl", "citation"):
                if key not in entry:
                    raise bad(f"{where}.{key}", "missing")
            if not (number(entry["upper_limit"]) and entry["upper_limit"] > 0):
                raise bad(f"{where}.upper_limit", "expected a finite number > 0, found "
                                                  f"{short_repr(entry['upper_limit'])}")
            if not (number(entry["cl"]) and 0 < entry["cl"] < 1):
                raise bad(f"{where}.cl", f"expected 0 < cl < 1, found {short_repr(entry['cl'])}")
    return cfg


def _dataset_option(process: str, default: str) -> tuple[Option, ...]:
    """The declared ``dataset`` option of the likelihood of ``process``."""
    return (Option("dataset", (str,), default,
                   choices=tuple(clfv_limits()[process]["datasets"]),
                   doc="published limit (data/flavour/clfv_limits.yaml)"),)


class _RadiativeLFVLikelihood(Likelihood):
    """Half-Gaussian likelihood of one branching ratio from a published upper limit."""

    _process: str = ""

    def __init__(self, dataset: str | None = None) -> None:
        proc = clfv_limits()[self._process]
        dataset = proc["default"] if dataset is None else dataset
        if dataset not in proc["datasets"]:
            raise ConfigError(f"{self.name}.dataset: unknown data set {dataset!r}; known: "
                              f"{', '.join(proc['datasets'])}")
        entry = proc["datasets"][dataset]
        self.dataset = dataset
        self.observable = str(proc["observable"])
        self.requires = (self.observable,)
        self.domain = {self.observable: (0.0, np.inf)}
        self.upper_limit = float(entry["upper_limit"])
        self.cl = float(entry["cl"])
        self.citation = str(entry["citation"])
        self.sigma = _stats.half_gaussian_sigma_from_ul(self.upper_limit, self.cl)

    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """-BR^2/(2 sigma^2) per point, shape (n,); -inf for BR < 0 (outside ``domain``)."""
        br = _stats.observable_array(observables, self.observable, self.name)
        return _stats.half_gaussian_loglike(br, self.sigma)      # -inf for br < 0


class MEGLikelihood(_RadiativeLFVLikelihood):
    """mu -> e gamma; datasets "meg2_2025" (default), "meg2_2023", "meg_2016"."""

    name = "meg"
    _process = "mu_e_gamma"
    options = _dataset_option("mu_e_gamma", "meg2_2025")

    def __init__(self, dataset: str = "meg2_2025") -> None:
        super().__init__(dataset)


class TauEGammaLikelihood(_RadiativeLFVLikelihood):
    """tau -> e gamma; dataset "babar_2010" (default)."""

    name = "tau_e_gamma"
    _process = "tau_e_gamma"
    options = _dataset_option("tau_e_gamma", "babar_2010")

    def __init__(self, dataset: str = "babar_2010") -> None:
        super().__init__(dataset)


class TauMuGammaLikelihood(_RadiativeLFVLikelihood):
    """tau -> mu gamma; datasets "belle_2021" (default), "babar_2010"."""

    name = "tau_mu_gamma"
    _process = "tau_mu_gamma"
    options = _dataset_option("tau_mu_gamma", "belle_2021")

    def __init__(self, dataset: str = "belle_2021") -> None:
        super().__init__(dataset)
