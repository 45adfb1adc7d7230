"""90 % C.L. upper limits on the effective dark transition moment eps * lambda^D.

What to use when
----------------
* ``globalfit limits --config fit.yaml`` (:func:`main`): the joint-exclusion figure and one
  CSV per curve from the *fit* config: its ``model``, ``parameters`` and ``likelihoods``
  blocks and a ``limits:`` section (grid, methods, curves, eps range, g_D, output;
  docs/limits.md). Module layout: :mod:`.settings` (the section), :mod:`.indirect` (probes
  through the model), :mod:`.terms` (direct moment likelihoods), :mod:`.stats` (one-sided
  limits), :mod:`.run` (grid, files, command), :mod:`.plot` (the figure), :mod:`.labels`
  (legend names from citations).
* 2-D exclusions (``limits.plane``): :mod:`.planes` (the section, thresholds),
  :mod:`.grids` (chi^2 on the (m_A', eps) and (m_A', eps lambda^D) grids, vectorised),
  :mod:`.contours` (Delta chi^2, boundaries, contour lines, CSV), :mod:`.exclusion` (a run's
  planes and files), :mod:`.plane_plot` (their figures).
* ``format: hepdata``: :mod:`.hepdata` (HEPData submission with hepdata_lib).
* :class:`IndirectProbes`: ln L(mu) of the likelihoods of the model's couplings (NA64, BaBar,
  MEG II) for one (m_A', g_D), eps at fixed mu profiled or marginalised.
* :class:`BorexinoSpectrumTerm` / :class:`LikelihoodMomentTerm` (the spectral likelihood,
  nuisances profiled) or :class:`BorexinoRateTerm` (the published limit recast).
* :func:`upper_limit`: one-sided 90 % limit of a 1-D ln L(mu), profile or Bayesian.

The quantity: mu = eps * lambda^D in Bohr magnetons, the model's flavour-universal observable
``mu_eff_mub`` (mu^2 = sum_k w_k |eps Lambda_k|^2, vacuum solar weights), the moment an
electron sees through the dark photon when m_A' -> 0 (at finite m_A' Borexino sees mu * P(T),
MODEL.md section 3). Through the model, at fixed m_A', g_D and the other parameters, with the
couplings scaled by s (y = s y_ref):

    mu = eps * s^2 * K,   BR(l -> l' gamma) = s^4 * B,   NA64, BaBar: f(eps, BR_inv(m_A', g_D))

so for fixed mu the free direction is eps (s^2 = mu / (eps K)), profiled (Delta chi^2 = 2.71)
or marginalised with a prior log-uniform in eps (90 % quantile of mu, prior flat in mu^2).
Borexino's nuisances are profiled in both (its fast grid), so the Bayesian limit is a
profile-posterior hybrid, stated as such. References: PDG 2024 Sec. 40.4 (limits); seed model
H. Zhang, arXiv:2603.25704.
"""
from __future__ import annotations

from .exclusion import Exclusion, exclusions
from .grids import PlaneGrid, m_eps_grid, m_mu_grid
from .indirect import IndirectProbes, ModelSetup
from .planes import PlaneSettings
from .run import LimitCalculator, compute_curves, main, run_limits, write_outputs
from .settings import LimitsConfig, from_mapping, load
from .stats import METHODS, upper_limit
from .terms import (BorexinoRateTerm, BorexinoSpectrumTerm, LikelihoodMomentTerm, MomentTerm,
                    published_borexino_limit)

__all__ = ["BorexinoRateTerm", "BorexinoSpectrumTerm", "Exclusion", "IndirectProbes",
           "LikelihoodMomentTerm", "LimitCalculator", "LimitsConfig", "METHODS", "ModelSetup",
           "MomentTerm", "PlaneGrid", "PlaneSettings", "compute_curves", "exclusions",
           "from_mapping", "load", "m_eps_grid", "m_mu_grid", "main", "published_borexino_limit",
           "run_limits", "upper_limit", "write_outputs"]
