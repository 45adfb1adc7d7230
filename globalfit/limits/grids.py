"""chi^2 = -2 ln L of every probe on the 2-D grids of ``limits.plane`` (vectorised).

* :func:`m_eps_grid`: (m_A', eps) at fixed g_D and coupling scale y0 = s y0_ref. One model
  call on every grid point gives the observables; every likelihood is called once on the
  whole grid (direct terms on mu = ``mu_eff_mub`` and m_A', the indirect likelihoods on what
  they require).
* :func:`m_mu_grid`: (m_A', mu = eps lambda^D) at fixed g_D. Direct terms once on the whole
  grid; the indirect likelihoods through the model with eps profiled at fixed mu exactly as
  in the 1-D limits (:mod:`.indirect`: mu = eps s^2 K(m_A'), observables ~ s^p; ln L maximised
  over the eps grid of ``limits.eps`` with s <= s_max), on (block of masses, mu, eps) arrays.

Each grid holds the column x = 0 (no signal) separately (``chi2_zero``), the reference of the
Delta chi^2 (:mod:`.contours`). Curves: every direct term and indirect likelihood alone, in
the moment plane also ``indirect`` (all indirect likelihoods, eps profiled jointly), and
``combined`` (everything). Seed model: H. Zhang, arXiv:2603.25704.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError, ParameterError
from .indirect import ModelSetup, _power
from .planes import PlaneSettings
from .terms import MomentTerm

BLOCK_POINTS = 2_000_000
"""Grid points (mass x mu x eps) evaluated per call in the moment plane (memory bound)."""


@dataclass
class PlaneGrid:
    """chi^2 of every curve on a (m_A', x) grid.

    ``plane``: "m_eps" or "m_mu"; ``masses_gev`` (n_m,); ``x`` (n_x,) eps or mu (mu_B);
    ``chi2[curve]`` (n_m, n_x) and ``chi2_zero[curve]`` (n_m,) at x = 0, each less its
    minimum over the plane (so a huge constant term, e.g. MEG at a fixed y0, cannot swamp
    the others in a sum); ``labels[curve]`` the legend text;
    ``citations[curve]`` the data it uses; ``components[curve]`` the curves it combines;
    ``x_max`` (n_m,) the largest x a point of the model's domain reaches (moment plane:
    eps_max s_max^2 K(m_A'); None when every x is reachable), ``x_max_note`` what bounds it."""
    plane: str
    masses_gev: np.ndarray
    x: np.ndarray
    chi2: dict[str, np.ndarray]
    chi2_zero: dict[str, np.ndarray]
    labels: dict[str, str] = field(default_factory=dict)
    citations: dict[str, str] = field(default_factory=dict)
    components: dict[str, tuple[str, ...]] = field(default_factory=dict)
    x_max: np.ndarray | None = None
    x_max_note: str = ""

    @property
    def x_name(self) -> str:
        """CSV column of the second axis: ``eps`` or ``mu_mub``."""
        return "eps" if self.plane == "m_eps" else "mu_mub"


def _shifted(ll: np.ndarray, ll0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(chi^2 (n_m, n_x), chi^2 at x = 0 (n_m,)) from ln L, less the minimum over the plane."""
    chi2, chi0 = -2.0 * ll, -2.0 * ll0
    low = min(float(np.min(chi2)), float(np.min(chi0)))
    low = low if np.isfinite(low) else 0.0
    return chi2 - low, chi0 - low


def _finish(plane: str, ps: PlaneSettings, x: np.ndarray, ll: dict[str, np.ndarray],
            groups: Mapping[str, tuple[str, ...]], labels: dict[str, str],
            citations: dict[str, str]) -> PlaneGrid:
    """Shift every curve, add the sums ``groups`` (name -> curves) and wrap the grid. ``ll``
    holds ln L on (n_m, 1 + n_x) with column 0 at x = 0."""
    chi2, chi0 = {}, {}
    for key, values in ll.items():
        chi2[key], chi0[key] = _shifted(values[:, 1:], values[:, 0])
    for name, parts in groups.items():
        if parts:
            total = sum(np.hstack([chi0[p][:, None], chi2[p]]) for p in parts)
            chi2[name], chi0[name] = _shifted(-0.5 * total[:, 1:], -0.5 * total[:, 0])
            citations[name] = "; ".join(dict.fromkeys(citations[p] for p in parts
                                                      if citations.get(p)))
    return PlaneGrid(plane=plane, masses_gev=ps.masses_gev, x=x, chi2=chi2, chi2_zero=chi0,
                     labels=labels, citations=citations,
                     components={k: tuple(v) for k, v in groups.items() if v})


def _model_grid(setup: ModelSetup, masses: np.ndarray, eps: np.ndarray, g_d: float,
                s: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Observables (n_m, n_e) of the model on the (mass, eps) grid at coupling scale s."""
    mm, ee = np.meshgrid(masses, eps, indexing="ij")
    params: dict[str, Any] = {"m_aprime_gev": mm.ravel(), "eps": ee.ravel(), "g_d": g_d,
                              **setup.fixed}
    params.update({k: s * v for k, v in setup.scale_ref.items()})
    obs, valid = setup.model.observables(params)
    shape = mm.shape
    return ({k: np.broadcast_to(np.asarray(v, dtype=float), (mm.size,)).reshape(shape)
             for k, v in obs.items()}, np.asarray(valid, dtype=bool).reshape(shape))


def _labels(direct: Mapping[str, MomentTerm], setup: ModelSetup) -> tuple[dict, dict]:
    from .labels import legend_label
    labels = {k: t.label for k, t in direct.items()}
    labels.update({k: legend_label(lk) for k, lk in setup.likelihoods.items()})
    cites = {k: getattr(t, "citation", "") for k, t in direct.items()}
    cites.update({k: str(getattr(lk, "citation", "")) for k, lk in setup.likelihoods.items()})
    return labels, cites


def m_eps_grid(ps: PlaneSettings, setup: ModelSetup,
               direct: Mapping[str, MomentTerm]) -> PlaneGrid:
    """chi^2 on (m_A', eps) at g_D = ``ps.g_d`` and coupling scale ``ps.scale`` (every
    likelihood evaluated once on all grid points; x = 0 is eps = 0, no signal)."""
    eps = np.concatenate([[0.0], ps.eps])
    obs, valid = _model_grid(setup, ps.masses_gev, eps, ps.g_d, ps.scale)
    if not valid.all():
        raise ParameterError(f"{setup.display}: limits.plane: the (m_A', eps) grid with "
                             f"g_D = {ps.g_d:g}, scale = {ps.scale:g} leaves the domain of "
                             f"model {setup.model.name!r}")
    shape = valid.shape
    ll: dict[str, np.ndarray] = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, term in direct.items():
            ll[key] = np.asarray(term.loglike(obs["mu_eff_mub"].ravel(),
                                              obs["m_aprime_gev"].ravel()), float).reshape(shape)
        for key, lk in setup.likelihoods.items():
            ll[key] = np.asarray(lk.loglike({o: obs[o].ravel() for o in lk.requires}),
                                 float).reshape(shape)
    ll = {k: np.where(np.isfinite(v), v, -np.inf) for k, v in ll.items()}
    labels, cites = _labels(direct, setup)
    labels["combined"] = "combined"
    return _finish("m_eps", ps, ps.eps, ll, {"combined": tuple(ll)}, labels, cites)


def _powers(setup: ModelSetup, unit: Mapping[str, np.ndarray],
            half: Mapping[str, np.ndarray]) -> dict[str, int]:
    """observable -> p with observable(s) = s^p observable(1) on the whole grid."""
    powers = {}
    for label, lk in setup.likelihoods.items():
        for name in lk.requires:
            p = _power(unit[name], half[name])
            if p is None:
                raise ConfigError(f"{setup.display}: likelihoods.{label}: observable {name} "
                                  "does not scale as a power of limits.coupling_scale; the "
                                  "limits cannot use it")
            powers[name] = p
    return powers


def indirect_profiles(setup: ModelSetup, masses: np.ndarray, mu_mub: np.ndarray,
                      g_d: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(max over eps of ln L at fixed mu: each indirect likelihood alone (its label) and all
    together (``indirect``), each (n_m, n_mu), -inf where no eps of the grid keeps
    s <= s_max; K(m) (n_m,) in mu_B, mu = eps s^2 K). The construction of
    :class:`.indirect.IndirectProbes` on a mass axis."""
    eps = np.geomspace(*setup.eps_range, int(setup.n_eps))
    unit, valid = _model_grid(setup, masses, eps, g_d, 1.0)
    half, valid_half = _model_grid(setup, masses, eps, g_d, 0.5)
    if not (valid.all() and valid_half.all()):
        raise ParameterError(f"{setup.display}: limits.plane: g_D = {g_d:g} with the fixed "
                             f"parameters is outside the domain of model {setup.model.name!r}")
    k_mub = unit["mu_eff_mub"][:, -1] / eps[-1]
    if not (np.all(k_mub > 0) and np.allclose(unit["mu_eff_mub"], k_mub[:, None] * eps,
                                              rtol=1e-6, atol=0.0)
            and _power(unit["mu_eff_mub"], half["mu_eff_mub"]) == 2):
        raise ConfigError(f"{setup.display}: limits: model {setup.model.name!r} does not give "
                          "mu_eff_mub = eps * s^2 * K > 0 under limits.coupling_scale")
    powers = _powers(setup, unit, half)
    n_m, n_mu, n_e = len(masses), len(mu_mub), len(eps)
    out = {key: np.empty((n_m, n_mu)) for key in (*setup.likelihoods, "indirect")}
    step = max(1, BLOCK_POINTS // (n_mu * n_e))
    for start in range(0, n_m, step):          # blocks of masses, each one array operation
        b = slice(start, min(n_m, start + step))
        s_sq = mu_mub[None, :, None] / (eps[None, None, :] * k_mub[b, None, None])
        total = np.zeros(s_sq.shape)
        for key, lk in setup.likelihoods.items():
            obs = {}
            for o in lk.requires:
                x = unit[o][b][:, None, :] * s_sq ** (powers[o] / 2.0) if powers[o] else \
                    unit[o][b][:, None, :]
                obs[o] = np.broadcast_to(x, s_sq.shape).ravel()
            with np.errstate(over="ignore", invalid="ignore"):
                ll = np.asarray(lk.loglike(obs), float).reshape(s_sq.shape)
            ll = np.where((s_sq > setup.s_max**2) | ~np.isfinite(ll), -np.inf, ll)
            out[key][b] = np.max(ll, axis=2)
            total += ll
        out["indirect"][b] = np.max(total, axis=2)
    return out, k_mub


def m_mu_grid(ps: PlaneSettings, setup: ModelSetup,
              direct: Mapping[str, MomentTerm]) -> PlaneGrid:
    """chi^2 on (m_A', mu) at g_D = ``ps.g_d``: direct terms, each indirect likelihood alone
    and together (eps profiled at fixed mu), and ``combined`` (direct + indirect, eps
    profiled jointly; the direct terms do not depend on eps at fixed mu)."""
    mu = np.concatenate([[0.0], ps.mu_mub])
    mm, uu = np.meshgrid(ps.masses_gev, mu, indexing="ij")
    ll: dict[str, np.ndarray] = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, term in direct.items():
            ll[key] = np.asarray(term.loglike(uu.ravel(), mm.ravel()), float).reshape(mm.shape)
    k_mub = None
    if setup.likelihoods:
        profiles, k_mub = indirect_profiles(setup, ps.masses_gev, mu, ps.g_d)
        ll.update(profiles)
    ll = {k: np.where(np.isfinite(v), v, -np.inf) for k, v in ll.items()}
    labels, cites = _labels(direct, setup)
    if setup.likelihoods:
        labels["indirect"] = " + ".join(labels[k] for k in setup.likelihoods)
        cites["indirect"] = "; ".join(cites[k] for k in setup.likelihoods if cites[k])
    labels["combined"] = "combined"
    parts = tuple(direct) + (("indirect",) if setup.likelihoods else ())
    grid = _finish("m_mu", ps, ps.mu_mub, ll, {"combined": parts}, labels, cites)
    if setup.likelihoods:
        grid.components["indirect"] = tuple(setup.likelihoods)
        grid.x_max = setup.eps_range[1] * setup.s_max**2 * k_mub
        bounds = ", ".join(f"{k} <= {setup.s_max * abs(v):.4g}"
                           for k, v in setup.scale_ref.items())
        grid.x_max_note = f"eps <= {setup.eps_range[1]:g}, {bounds}"
    return grid


def compute_plane(name: str, ps: PlaneSettings, setup: ModelSetup,
                  direct: Mapping[str, MomentTerm]) -> PlaneGrid:
    """The grid of plane ``name`` (``m_eps`` or ``m_mu``)."""
    builders = {"m_eps": m_eps_grid, "m_mu": m_mu_grid}
    return builders[name](ps, setup, direct)


def compute_planes(ps: PlaneSettings, setup: ModelSetup,
                   direct: Mapping[str, MomentTerm]) -> dict[str, PlaneGrid]:
    """The grids of every plane of ``ps.planes`` (name -> :class:`PlaneGrid`)."""
    return {name: compute_plane(name, ps, setup, direct) for name in ps.planes}


__all__ = ["BLOCK_POINTS", "PlaneGrid", "compute_plane", "compute_planes", "indirect_profiles", "m_eps_grid",
           "m_mu_grid"]
