"""The 2-D exclusions of a limits run: grids, Delta chi^2, contour lines, files, figures.

For every plane of ``limits.plane`` (:mod:`.planes`): ``plane_<plane>_grid.csv`` (Delta
chi^2 of every curve at every grid point), ``plane_<plane>_contours.csv`` (the 90 % C.L.
lines), ``exclusion_<plane>.png``/``.pdf``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .contours import contour_lines, delta_chi2, write_contour_csv, write_grid_csv
from .grids import PlaneGrid, compute_plane
from .settings import LimitsConfig
from .terms import MomentTerm


@dataclass
class Exclusion:
    """One plane: its grid, Delta chi^2 and contour lines per curve, and notes."""
    grid: PlaneGrid
    deltas: dict[str, np.ndarray]
    lines: dict[str, list[np.ndarray]]
    notes: dict[str, str]


def _notes(cfg: LimitsConfig, grid: PlaneGrid) -> dict[str, str]:
    """Why a curve has no boundary in a plane, where the physics says so: in (m_A', eps) a
    likelihood that sees neither is a constant, and the note gives its -2 Delta ln L at the
    plane's coupling scale against the scale -> 0 (no new-physics amplitude)."""
    out: dict[str, str] = {}
    if grid.plane != "m_eps":
        return out
    setup, ps = cfg.setup, cfg.plane
    names = ", ".join(setup.scale_ref)
    flat = {k: lk for k, lk in setup.likelihoods.items()
            if not {"eps", "m_aprime_gev"} & set(lk.requires)}
    if not flat:
        return out
    base = {"m_aprime_gev": float(grid.masses_gev[0]), "eps": float(grid.x[0]),
            "g_d": ps.g_d, **setup.fixed}
    obs = [setup.model.observables({**base, **{k: s * v for k, v in setup.scale_ref.items()}})[0]
           for s in (ps.scale, 0.0)]
    for key, lk in flat.items():
        ll = [float(np.asarray(lk.loglike({o: o_[o] for o in lk.requires}))[0]) for o_ in obs]
        value = ps.scale * next(iter(setup.scale_ref.values())) if len(setup.scale_ref) == 1 \
            else ps.scale
        q = 2 * (ll[1] - ll[0])
        verdict = "excluded by it alone" if q >= ps.threshold else "allowed by it"
        out[key] = (f"depends on {names} only (a constant here); {names} = {value:g} is "
                    f"{verdict} (\u0394\u03c7\u00b2 = {q:.2g} against {names} \u2192 0)")
    return out


def exclusion(cfg: LimitsConfig, direct: Mapping[str, MomentTerm], name: str) -> Exclusion:
    """Plane ``name`` of ``cfg.plane`` (``m_eps`` or ``m_mu``)."""
    ps = cfg.plane
    grid = compute_plane(name, ps, cfg.setup, direct)
    deltas = {k: delta_chi2(grid, k, ps.dof) for k in grid.chi2}
    lines = {k: contour_lines(d, grid.masses_gev, grid.x, ps.threshold)
             for k, d in deltas.items()}
    return Exclusion(grid=grid, deltas=deltas, lines=lines, notes=_notes(cfg, grid))


def exclusions(cfg: LimitsConfig, direct: Mapping[str, MomentTerm]) -> dict[str, Exclusion]:
    """Every plane of ``cfg.plane``: name -> :class:`Exclusion`."""
    if cfg.plane is None:
        return {}
    return {name: exclusion(cfg, direct, name) for name in cfg.plane.planes}


def _csv_notes(cfg: LimitsConfig, grid: PlaneGrid) -> list[str]:
    ps = cfg.plane
    fixed = ", ".join(f"{k} = {v:.6g}" for k, v in cfg.resolved["fixed"].items()
                      if k not in cfg.setup.scale_ref)
    notes = [f"g_D = {ps.g_d:g}; fixed: {fixed}"]
    if grid.plane == "m_eps":
        notes.append("coupling scale: " + ", ".join(f"{k} = {ps.scale * v:g}" for k, v in
                                                     cfg.setup.scale_ref.items()))
    else:
        notes.append(f"eps profiled at fixed mu on {cfg.setup.n_eps} log-spaced values in "
                     f"[{cfg.setup.eps_range[0]:g}, {cfg.setup.eps_range[1]:g}]")
        if grid.x_max is not None:
            notes.append(f"no model point above mu_max(m_A') ({grid.x_max_note}): "
                         "Delta chi^2 = inf there")
    return notes


def write_exclusion(cfg: LimitsConfig, name: str, ex: Exclusion, out_dir: Path) -> list[Path]:
    """The CSV files and figures of plane ``name``."""
    from .plane_plot import plot_plane
    ps = cfg.plane
    notes = _csv_notes(cfg, ex.grid)
    written = [write_grid_csv(ex.grid, ps.dof, out_dir / f"plane_{name}_grid.csv", notes),
               write_contour_csv(ex.grid, ex.lines, ps.dof,
                                 out_dir / f"plane_{name}_contours.csv", notes)]
    ref = cfg.setup.scale_ref
    one = len(ref) == 1
    written += plot_plane(ex.grid, ex.deltas, ex.lines, ps.threshold, ps.dof, out_dir,
                          fixed=cfg.resolved["fixed"], g_d=ps.g_d,
                          scale=ps.scale * (next(iter(ref.values())) if one else 1.0),
                          scale_names=next(iter(ref)).replace("y0", "y_0") if one else "s",
                          notes=ex.notes)
    return written


def write_exclusions(cfg: LimitsConfig, results: Mapping[str, Exclusion],
                     out_dir: Path) -> list[Path]:
    """The CSV files and figures of every plane."""
    return [p for name, ex in results.items() for p in write_exclusion(cfg, name, ex, out_dir)]


__all__ = ["Exclusion", "exclusion", "exclusions", "write_exclusion", "write_exclusions"]
