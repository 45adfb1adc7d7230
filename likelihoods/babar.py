"""BaBar mono-photon likelihood for an invisibly decaying dark photon.

BaBar searched for e+e- -> gamma A', A' -> invisible, in 53 fb^-1 (PRL 119 (2017) 131804,
arXiv:1702.03327), for m_A' <= 8 GeV. The fit result per mass is published (as digitised in
GAMBIT, BSD-3; shipped in ``data/accelerator/babar_2017_single_photon.csv``) as a central value
and a 1-sigma error of x = eps^2 * BR(A' -> invisible), in units of 1e-6.

Likelihood: a Gaussian in x at each mass, central value c(m) and error sigma(m) interpolated
linearly in mass (as the GAMBIT reader does)::

    ln L = -(x - c)^2 / (2 sigma^2) + c^2 / (2 sigma^2)  =  -(x^2 - 2 x c) / (2 sigma^2)

i.e. the log-likelihood *ratio to x = 0* (no signal), so that a vanishing signal gives 0 at every
mass and the mass dependence of the background-only fit does not bias m_A' in a global fit.
(GAMBIT uses a one-sided variant, 0 for x < c; here the full Gaussian is used, so that negative
fluctuations tighten the limit as they do in BaBar's own fit.)

Masses outside the table [0, 7.975] GeV: with ``out_of_range="error"`` (default) the table's
range is the likelihood's ``domain`` (a fit config whose mass prior leaves it is rejected at
validation; ``loglike`` returns ``-inf`` there); ``"flat"`` makes the domain every mass >= 0
and returns 0 above the table (no constraint).
"""
from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from globalfit.errors import ConfigError, ParameterError
from globalfit.options import Option
from globalfit.paths import data_file

from . import _stats
from .base import Likelihood

_UNIT: float = 1e-6


@functools.lru_cache(maxsize=None)
def published_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(m_aprime_gev, x_central, x_error) with x = eps^2 BR_inv (absolute, not x 1e-6)."""
    path = data_file("accelerator", "babar_2017_single_photon.csv")
    table = _stats.read_table(path, ("m_aprime_gev", "x_central_1e6", "x_error_1e6"),
                              n_rows=165, increasing=("m_aprime_gev",),
                              positive=("x_error_1e6",))
    m = table["m_aprime_gev"]
    c = table["x_central_1e6"] * _UNIT
    s = table["x_error_1e6"] * _UNIT
    for arr in (m, c, s):
        arr.setflags(write=False)
    return m, c, s


class BaBarLikelihood(Likelihood):
    """Gaussian likelihood in eps^2 * BR_inv from the BaBar 2017 mono-photon fit.

    Options: ``out_of_range`` ("error" default | "flat").
    """

    name = "babar"
    requires = ("m_aprime_gev", "eps", "br_inv")
    citation = ("BaBar, J. P. Lees et al., Phys. Rev. Lett. 119 (2017) 131804, "
                "arXiv:1702.03327")
    options = (Option("out_of_range", (str,), "error", choices=("error", "flat"),
                      doc="error: the table's mass range is the domain; flat: 0 above it"),)

    def __init__(self, out_of_range: str = "error") -> None:
        if out_of_range not in ("error", "flat"):
            raise ConfigError(f"babar.out_of_range: {out_of_range!r} is not one of error, flat")
        self.out_of_range = out_of_range
        self._m, self._c, self._s = published_table()
        self.m_min_gev, self.m_max_gev = float(self._m[0]), float(self._m[-1])
        self.domain = {"m_aprime_gev": (self.m_min_gev, self.m_max_gev)
                       if out_of_range == "error" else (0.0, np.inf)}

    def central_and_error(self, m_aprime_gev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated (c, sigma) of x = eps^2 BR_inv at the given masses (GeV)."""
        m = np.asarray(m_aprime_gev, dtype=float)
        return np.interp(m, self._m, self._c), np.interp(m, self._m, self._s)

    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """-(x^2 - 2 x c)/(2 sigma^2) per point, x = eps^2 BR_inv; shape (n,); -inf outside
        ``domain``, 0 above the table with ``out_of_range="flat"``."""
        m = _stats.observable_array(observables, "m_aprime_gev", self.name)
        eps = _stats.observable_array(observables, "eps", self.name)
        br_inv = _stats.observable_array(observables, "br_inv", self.name)
        if np.any((br_inv < -1e-12) | (br_inv > 1.0 + 1e-12)):
            raise ParameterError(f"{self.name}: observable 'br_inv' outside [0, 1]")
        excluded = self.outside_domain({"m_aprime_gev": m})
        outside = m > self.m_max_gev
        x = eps * eps * np.clip(br_inv, 0.0, 1.0)
        c, s = self.central_and_error(m)
        ll = np.where(outside, 0.0, -x * (x - 2.0 * c) / (2.0 * s * s))
        return ll if excluded is None else np.where(excluded, -np.inf, ll)
