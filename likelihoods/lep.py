"""LEP constraints on the heavy leptons of a dark sector: the invisible Z width and the
direct search for heavy charged leptons.

What to use when: switch ``lep`` on to learn whether a benchmark survives what its vector-like
doublet Psi = (N, E) must survive (MODEL.md section 5b). It constrains the masses of the doublet,
not the dipole: a benchmark with m_N < m_Z / 2 or m_E below the LEP 2 reach is excluded by it,
whatever the neutrino moment, unless the doublet is decoupled from the Z by a mechanism the
model does not contain. It is off in the default fit, so that the seed's benchmark can still be
studied; ``docs/physics.md`` says what switching it on does.

Two terms, both from ``data/lep/measurements.yaml``:

* Invisible Z width: a Gaussian on the number of light-neutrino species, with the model's
  prediction N_nu = 3 + Delta N_nu (``delta_n_nu``; for the vector-like N,
  Delta N_nu = beta (3 - beta^2), ``globalfit.model.electroweak``), against the LEP/SLD
  combination N_nu = 2.9840 +- 0.0082 (Phys. Rept. 427 (2006) 257). Returned as the
  log-likelihood ratio to the Standard Model (Delta N_nu = 0), so "no extra species" is
  exactly 0::

      ln L = -[(3 + Delta N_nu - N_obs)^2 - (3 - N_obs)^2] / (2 sigma^2)

* Heavy charged lepton E: LEP 2 excludes pair-produced heavy charged leptons below
  100.8 GeV (decay to nu W, L3, PLB 517 (2001) 75) or 102.0 GeV (long-lived, OPAL, PLB 572
  (2003) 8), 95 % C.L. (PDG). A published mass limit is not a likelihood; it is applied as the
  conventional hard cut: ln L = -inf for m_E below the limit, 0 above (option
  ``charged_lepton_limit``: ``"nu_w"``, ``"long_lived"`` or ``"none"``).
"""
from __future__ import annotations

import functools
import math
from typing import Any, ClassVar, Mapping

import numpy as np
import yaml

from globalfit.errors import ConfigError, DataFileError, ParameterError
from globalfit.options import Option
from globalfit.paths import data_file

from .base import Likelihood

_FILE = ("lep", "measurements.yaml")


@functools.lru_cache(maxsize=None)
def lep_measurements() -> dict[str, Any]:
    """The numbers of data/lep/measurements.yaml: ``n_nu``, ``n_nu_error``, ``n_nu_sm`` and
    ``mass_limits_gev`` (name -> GeV), each checked finite on load."""
    path = data_file(*_FILE)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        z = raw["z_invisible"]
        out: dict[str, Any] = {"n_nu": float(z["n_nu"]["value"]),
                               "n_nu_error": float(z["n_nu"]["error"]),
                               "n_nu_sm": float(z["n_nu_sm"]["value"]),
                               "mass_limits_gev": {k: float(v["value"]) for k, v in
                                                   raw["charged_lepton_mass_limits"]["limits"]
                                                   .items()}}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{path}: malformed LEP measurements file ({exc})") from None
    numbers = [out["n_nu"], out["n_nu_error"], out["n_nu_sm"], *out["mass_limits_gev"].values()]
    if not all(math.isfinite(x) for x in numbers) or not out["n_nu_error"] > 0:
        raise DataFileError(f"{path}: values must be finite and the N_nu error positive")
    return out


class LEPLikelihood(Likelihood):
    """Invisible Z width + heavy charged lepton search (module docstring)."""

    name: ClassVar[str] = "lep"
    citation: ClassVar[str] = (
        "ALEPH, DELPHI, L3, OPAL, SLD, Phys. Rept. 427 (2006) 257; "
        "L3, Phys. Lett. B 517 (2001) 75; OPAL, Phys. Lett. B 572 (2003) 8")
    options: ClassVar[tuple[Option, ...]] = (
        Option("z_width", (bool,), True, doc="include the invisible-Z-width term"),
        Option("charged_lepton_limit", (str,), "nu_w", choices=("nu_w", "long_lived", "none"),
               doc="which LEP 2 heavy-charged-lepton mass limit cuts m_E (or none)"),
    )
    nuisances = ()

    def __init__(self, z_width: bool = True, charged_lepton_limit: str = "nu_w") -> None:
        data = lep_measurements()
        limits = data["mass_limits_gev"]
        if charged_lepton_limit != "none" and charged_lepton_limit not in limits:
            raise ConfigError(f"lep.charged_lepton_limit: unknown {charged_lepton_limit!r}; "
                              f"known: none, {', '.join(limits)}")
        self.z_width = bool(z_width)
        self.charged_lepton_limit = charged_lepton_limit
        self.m_e_min_gev = 0.0 if charged_lepton_limit == "none" else limits[charged_lepton_limit]
        self.n_nu, self.sigma, self.n_sm = data["n_nu"], data["n_nu_error"], data["n_nu_sm"]
        self.requires = ("delta_n_nu", "m_e_charged_gev")
        self.domain: dict[str, tuple[float, float]] = {}

    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """ln L ratio to the SM per point, (n,): 0 for a heavy, Z-decoupled doublet."""
        d = np.asarray(observables["delta_n_nu"], dtype=float)
        m_e = np.asarray(observables["m_e_charged_gev"], dtype=float)
        if d.shape != m_e.shape or d.ndim != 1:
            raise ParameterError(f"lep: expected two (n,) arrays, found shapes {d.shape} "
                                 f"and {m_e.shape}")
        bad = ~np.isfinite(d) | (d < 0) | ~np.isfinite(m_e) | (m_e < 0)
        out = np.zeros(d.shape)
        if self.z_width:
            pull_sm = (self.n_sm - self.n_nu) / self.sigma
            pull = (self.n_sm + np.where(bad, 0.0, d) - self.n_nu) / self.sigma
            out -= 0.5 * (pull * pull - pull_sm * pull_sm)
        out[m_e < self.m_e_min_gev] = -np.inf
        out[bad] = -np.inf
        return out
