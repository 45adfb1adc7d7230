"""The ``limits.plane:`` section: which 2-D exclusions to draw, their grids and threshold.

Two planes (docs/limits.md, "2-D exclusions"):

* ``m_eps``: (m_A', eps) at fixed g_D and a fixed coupling scale y0 = ``scale`` * y0_ref
  (the direct probes see mu = eps y0^2 K(g_D); NA64 and BaBar see eps and BR_inv);
* ``m_mu``: (m_A', mu = eps lambda^D) at fixed g_D, eps profiled at fixed mu as in the 1-D
  limits (the direct likelihoods depend on mu^2 and m_A' only).

Threshold: ``dof: 1`` (default) excludes a point where Delta chi^2 = -2 [ln L - ln L_max]
>= 2.71 with ln L_max the best fit on the same mass (x >= 0): the 1-d.o.f. raster scan in
m_A' of the phenomenological exclusion plots, whose boundary at each mass is the 1-D 90 %
C.L. limit. ``dof: 2`` uses 4.61 (chi^2_2 at 0.90) above the best fit over the whole plane:
a joint 90 % C.L. region in both parameters. Both the 0.90 quantile of chi^2_dof
(``scipy.special.chdtri(dof, 0.10)``, the same as ``scipy.stats.chi2.ppf(0.90, dof)``)
(PDG 2024, Sec. 40.4.2, Table 40.2).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy import special

from ..errors import ConfigError
from ..options import Option, short_repr, suggest, validate_options
from ..units import parse_quantity

PLANES = ("m_eps", "m_mu")
CL = 0.90
_NUM = (int, float)

SCHEMA = (
    Option("planes", (tuple,), PLANES, doc="m_eps: (m_A', eps); m_mu: (m_A', eps lambda^D)"),
    Option("m_aprime", (dict,), {}, doc="mass axis: low, high (energies; default the limits "
                                        "mass range), n_points (121)"),
    Option("eps", (dict,), {}, doc="eps axis of m_eps: low, high (default limits.eps), "
                                   "n_points (121)"),
    Option("mu", (dict,), {}, doc="moment axis of m_mu in mu_B: low (1e-20), high (1e-2), "
                                  "n_points (145)"),
    Option("g_d", _NUM + (type(None),), None, doc="U(1)_D coupling of both planes "
                                                  "(default: the first of limits.g_d)"),
    Option("scale", _NUM, 1.0, low=0.0, doc="coupling scale of m_eps: y0 = scale * y0_ref"),
    Option("dof", (int,), 1, choices=(1, 2), doc="1: Delta chi^2 = 2.71 above the best fit "
                                                 "at each mass; 2: 4.61 above the plane's"),
)
_AXIS = (Option("low", (str, float), None), Option("high", (str, float), None),
         Option("n_points", (int,), 121, low=5, high=2001))
_MU_AXIS = (Option("low", _NUM, 1e-20, low=0.0), Option("high", _NUM, 1e-2, low=0.0),
            Option("n_points", (int,), 145, low=5, high=2001))


def threshold(dof: int) -> float:
    """Delta chi^2 of a 90 % C.L. region with ``dof`` parameters of interest (2.7055 for 1,
    4.6052 for 2; the 0.90 quantile of chi^2_dof)."""
    return float(special.chdtri(dof, 1.0 - CL))


@dataclass(frozen=True)
class PlaneSettings:
    """A validated ``limits.plane:`` section.

    ``masses_gev`` (n_m,), ``eps`` (n_e,) the eps axis of ``m_eps``, ``mu_mub`` (n_mu,) the
    moment axis of ``m_mu`` (all log-spaced, > 0; x = 0 is added by the computation as the
    no-signal reference), ``g_d`` the U(1)_D coupling, ``scale`` the coupling-scale factor s
    of the ``m_eps`` plane, ``dof`` 1 or 2."""
    planes: tuple[str, ...]
    masses_gev: np.ndarray
    eps: np.ndarray
    mu_mub: np.ndarray
    g_d: float
    scale: float = 1.0
    dof: int = 1
    resolved: dict = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        """Delta chi^2 of the 90 % C.L. boundary (:func:`threshold`)."""
        return threshold(self.dof)


def _axis(raw: Mapping[str, Any], where: str, lo: float, hi: float, dimension: str | None,
          upper: float) -> tuple[float, float, int]:
    opts = validate_options(_AXIS if dimension else _MU_AXIS, raw, where)
    if dimension:
        lo = lo if opts["low"] is None else parse_quantity(opts["low"], dimension,
                                                            f"{where}.low")
        hi = hi if opts["high"] is None else parse_quantity(opts["high"], dimension,
                                                             f"{where}.high")
    else:
        lo, hi = float(opts["low"]), float(opts["high"])
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi <= upper):
        raise ConfigError(f"{where}: need 0 < low < high <= {upper:g}, found {lo:g}, {hi:g}")
    return float(lo), float(hi), int(opts["n_points"])


def parse(raw: Mapping[str, Any] | None, where: str, *, m_range: tuple[float, float],
          m_max: float, eps_range: tuple[float, float], eps_max: float,
          g_d: tuple[float, ...], g_d_max: float, s_max: float) -> PlaneSettings:
    """Validate ``limits.plane`` (``where`` names it in errors). Defaults: the limits mass
    range and eps range, the first ``limits.g_d``; ``m_max``, ``eps_max``, ``g_d_max`` and
    ``s_max`` are the model's parameter domains."""
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, found {short_repr(raw)}")
    opts = validate_options(SCHEMA, raw or {}, where)
    planes = tuple(dict.fromkeys(opts["planes"]))
    bad = [p for p in planes if p not in PLANES]
    if bad:
        raise ConfigError(f"{where}.planes: {short_repr(bad[0])} is not one of "
                          f"{', '.join(PLANES)}{suggest(bad[0], PLANES)}")
    m = _axis(opts["m_aprime"], f"{where}.m_aprime", *m_range, "energy", m_max)
    e = _axis(opts["eps"], f"{where}.eps", *eps_range, "1", eps_max)
    mu = _axis(opts["mu"], f"{where}.mu", 0.0, 0.0, None, 1.0)
    coupling = g_d[0] if opts["g_d"] is None else float(opts["g_d"])
    if not 0 < coupling <= g_d_max:
        raise ConfigError(f"{where}.g_d: expected a number in (0, {g_d_max:g}], found "
                          f"{short_repr(opts['g_d'])}")
    scale = float(opts["scale"])
    if not 0 < scale <= s_max:
        raise ConfigError(f"{where}.scale: must be in (0, {s_max:g}] (the coupling scale's "
                          f"domain), found {short_repr(opts['scale'])}")
    resolved = {"planes": list(planes),
                "m_aprime": {"low": m[0], "high": m[1], "n_points": m[2]},
                "eps": {"low": e[0], "high": e[1], "n_points": e[2]},
                "mu": {"low": mu[0], "high": mu[1], "n_points": mu[2]},
                "g_d": coupling, "scale": scale, "dof": int(opts["dof"])}
    return PlaneSettings(planes=planes, masses_gev=np.geomspace(*m[:2], m[2]),
                         eps=np.geomspace(*e[:2], e[2]), mu_mub=np.geomspace(*mu[:2], mu[2]),
                         g_d=coupling, scale=scale, dof=int(opts["dof"]), resolved=resolved)


__all__ = ["CL", "PLANES", "PlaneSettings", "SCHEMA", "parse", "threshold"]
