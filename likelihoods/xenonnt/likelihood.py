"""XENONnT SR0 electron-recoil likelihood with a dark-photon-mediated neutrino magnetic moment.

What to use when
----------------
* ``XENONnTLikelihood(mode="fast")`` in global fits: Delta ln L profiled over the background
  normalisation, interpolated on a cached (strength, m_A') grid (``fast.py``), > 1e6 points/s.
* ``XENONnTLikelihood(mode="direct")``: the same profile computed exactly per point (signal
  templates x P^2 folded at the 433 events, Newton solve for the background scale); slower,
  used to build and to check the grid.

Statistic: unbinned extended Poisson likelihood of the released events with the released B0 as
background template, free normalisation beta >= 0 (``background: free``, default) or with a
Gaussian constraint of 1.3/15.8 (``background: published_rate``); ``profile.py``. The value
returned is Delta ln L = ln L_max(signal) - ln L_max(no signal), both maximised over beta.
Signal: ``templates.py`` (stepping approximation, propagator P(T)^2 inside the recoil spectrum,
mass-basis weights), response ``response.py``. Source: XENONnT, PRL 129 (2022) 161805,
arXiv:2207.11330; data release of that paper.
"""
from __future__ import annotations

from functools import cached_property
from typing import ClassVar, Mapping

import numpy as np

from globalfit.constants import SIN2_THETA23
from globalfit.errors import ConfigError
from globalfit.options import Option, validate_options

from likelihoods.solar import strengths as weighting

from ..base import Likelihood, Nuisance
from .. import _cache as cache
from . import data, fast, response, templates
from .profile import profile_beta

BACKGROUND = ("free", "published_rate")
CHUNK = 2048


class SignalModel:
    """Templates + background of one option set; profiles Delta ln L exactly (vectorised)."""

    def __init__(self, arrays: Mapping[str, np.ndarray], sigma_beta: float | None):
        self.t_kev = arrays["t_kev"]
        self.a_events = arrays["a_events"]            # (4, n_ev, n_T)
        self.n_window = arrays["n_window"]            # (4, n_T)
        self.b_events, self.n_b = response.background_expectation()
        self.sigma_beta = sigma_beta
        self.lnl0 = float(profile_beta(np.zeros((len(self.b_events), 1)), np.zeros(1),
                                       self.b_events, self.n_b, sigma_beta)[0][0])

    def window_counts(self, m_gev: np.ndarray) -> np.ndarray:
        """N_w(m): expected window events per mu_B^2, (4, n_m)."""
        return self.n_window @ templates.propagator_squared(self.t_kev, m_gev)

    def signal(self, q: np.ndarray, m_gev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S_i (n_ev, n) events/keV at the events, N_S (n,)) for q (n, 4), m (n,)."""
        p2 = templates.propagator_squared(self.t_kev, m_gev)          # (n_T, n)
        s = sum(self.a_events[w] @ (p2 * q[None, :, w]) for w in range(4) if np.any(q[:, w]))
        n = np.einsum("wt,tn,nw->n", self.n_window, p2, q)
        if np.isscalar(s):
            s = np.zeros((self.a_events.shape[1], len(m_gev)))
        return s, n

    def delta(self, q: np.ndarray, m_gev: np.ndarray) -> np.ndarray:
        """Exact profiled Delta ln L for q (n, 4), m (n,); chunks of ``CHUNK`` points."""
        out = np.empty(len(m_gev))
        for i in range(0, len(m_gev), CHUNK):
            sl = slice(i, i + CHUNK)
            s, n = self.signal(q[sl], m_gev[sl])
            out[sl] = profile_beta(s, n, self.b_events, self.n_b, self.sigma_beta)[0] - self.lnl0
        return out

    def delta_universal(self, q0: np.ndarray, m_gev: float) -> np.ndarray:
        """Delta ln L for universal strengths q0 (n,) at one mass (one fold, rescaled)."""
        p2 = templates.propagator_squared(self.t_kev, np.array([m_gev]))[:, 0]
        shape = self.a_events[0] @ p2
        n1 = float(self.n_window[0] @ p2)
        q0 = np.asarray(q0, dtype=float)
        lnl = profile_beta(shape[:, None] * q0[None, :], n1 * q0, self.b_events, self.n_b,
                           self.sigma_beta)[0]
        return lnl - self.lnl0


class XENONnTLikelihood(Likelihood):
    """XENONnT SR0 electron-recoil likelihood (module docstring; options in ``options``)."""

    name: ClassVar[str] = "xenonnt"
    citation: ClassVar[str] = ("XENONnT, E. Aprile et al., PRL 129 (2022) 161805, "
                               "arXiv:2207.11330 (SR0 electronic recoils, data release)")
    options: ClassVar[tuple[Option, ...]] = (
        weighting.WEIGHTS_OPTION,
        weighting.SIN2_THETA23_OPTION,
        Option("mode", (str,), "fast", choices=("fast", "direct"),
               doc="fast: cached interpolation grid; direct: exact profile per point"),
        Option("background", (str,), "free", choices=BACKGROUND,
               doc="B0 normalisation: free, or Gaussian 1.3/15.8 (published background rate)"),
        Option("binding", (bool,), True,
               doc="stepping approximation for xenon shells (false: 54 free electrons per atom)"),
        Option("resolution_scale", (float,), 1.0, low=0.5, high=2.0,
               doc="factor on sigma(E) = a sqrt(E) + b E"),
        Option("flux_model", (str,), "GS98", choices=("GS98", "AGSS09met"),
               doc="B16 SSM fluxes"),
        Option("use_cache", (bool,), True, doc="on-disk cache of templates and the fast grid"),
    )
    derived_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_options(cls, options: Mapping | None = None, where: str = "") -> "XENONnTLikelihood":
        """validate_options(cls.options, options, where or cls.name), then cls(**resolved)."""
        return cls(**validate_options(cls.options, options, where or cls.name))

    def __init__(self, weights: str = "universal", mode: str = "fast", background: str = "free",
                 binding: bool = True, resolution_scale: float = 1.0, flux_model: str = "GS98",
                 use_cache: bool = True, sin2_theta23: float = SIN2_THETA23):
        resolved = validate_options(self.options, dict(
            weights=weights, sin2_theta23=sin2_theta23, mode=mode, background=background,
            binding=binding, resolution_scale=resolution_scale, flux_model=flux_model,
            use_cache=use_cache),
            self.name)
        self.settings = resolved
        self.weights, self.mode = resolved["weights"], resolved["mode"]
        self.use_cache = resolved["use_cache"]
        self.requires = weighting.required(self.weights)
        # every strength >= 0 and every mass >= 0 is covered (fast.py: beyond-grid behaviour)
        self.domain = {k: (0.0, np.inf) for k in self.requires}
        self.nuisances: tuple[Nuisance, ...] = ()

    def _template_options(self) -> dict:
        return {k: self.settings[k] for k in ("binding", "resolution_scale", "flux_model")}

    @cached_property
    def model(self) -> SignalModel:
        """Templates and background (cached on disk)."""
        opts = self._template_options()
        arrays = cache.cached_arrays("templates", opts, lambda: templates.build(**opts),
                                     self.use_cache, prefix="xenonnt")
        sigma = None
        if self.settings["background"] == "published_rate":
            rate, err = data.constraint("background_rate", "events/(t x yr x keV)")
            sigma = err / rate
        return SignalModel(arrays, sigma)

    @cached_property
    def fast(self) -> fast.FastGrid:
        """The interpolation grid (cached on disk)."""
        opts = dict(self._template_options(), background=self.settings["background"],
                    u=fast.U_NODES.tolist(), m=fast.LOG10_M_NODES.tolist())
        return fast.FastGrid(cache.cached_arrays("fast", opts,
                                                 lambda: fast.build_grid(self.model),
                                                 self.use_cache, prefix="xenonnt"))

    def strengths(self, observables: Mapping[str, np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q (n, 4) [universal, k=1..3] in mu_B^2, m (n,) GeV, invalid-point mask (n,))."""
        return weighting.strengths(self.weights, observables, self.name,
                                   self.settings["sin2_theta23"])

    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Profiled Delta ln L per point (n,): finite, or -inf outside the domain (never NaN)."""
        if nuisances:
            raise ConfigError(f"{self.name}: takes no nuisances (the background is profiled)")
        q, m, bad = self.strengths(observables)
        out = self.fast.loglike(q, m) if self.mode == "fast" else self.model.delta(q, m)
        out = np.where(np.isnan(out), -np.inf, out)
        return np.where(bad, -np.inf, out)
