"""Delta chi^2 on a 2-D grid, the 90 % C.L. boundary, its contour lines and the CSV files.

Delta chi^2 (``dof`` of :mod:`.planes`):

* dof = 1: chi^2(m, x) - min_{x >= 0} chi^2(m, x), the best fit at the same mass; the
  minimum is taken over the grid, x = 0 (no signal) and the vertex of the parabola through
  the three grid nodes around the grid minimum (in ln x), so a best fit between nodes is
  not missed; threshold 2.71.
* dof = 2: chi^2(m, x) - min over the whole plane (the same candidates); threshold 4.61.

The boundary is found by linear interpolation of ln(Delta chi^2) in (log m, log x): exact
for a power law Delta chi^2 ~ x^k, the form of every likelihood here well above its best fit
(NA64 ~ eps^2, Borexino ~ mu^4). Contour lines: ``contourpy`` (the contouring library of
matplotlib) on that field; the boundary at each mass column (:func:`boundary`) is the same
interpolation along the column.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from .grids import PlaneGrid
from .planes import threshold

FLOOR = 1e-6
"""Delta chi^2 below this is taken as this before the logarithm (numerically no signal)."""
CEILING = 1e6
"""Delta chi^2 above this (and +inf, outside the parameters' domain) is taken as this."""


def _row_minimum(chi2: np.ndarray) -> np.ndarray:
    """Minimum of each row (n_m,), refined by the parabola through the grid minimum and its
    two neighbours (equal spacing in ln x) when it lies inside the row."""
    k = np.argmin(chi2, axis=1)
    rows = np.arange(chi2.shape[0])
    y1 = chi2[rows, k]
    inner = (k > 0) & (k < chi2.shape[1] - 1)
    y0 = chi2[rows, np.maximum(k - 1, 0)]
    y2 = chi2[rows, np.minimum(k + 1, chi2.shape[1] - 1)]
    curv = y0 - 2.0 * y1 + y2
    with np.errstate(invalid="ignore", divide="ignore"):
        vertex = y1 - (y2 - y0) ** 2 / (8.0 * curv)
    ok = inner & np.isfinite(vertex) & (curv > 0)
    return np.where(ok, np.minimum(vertex, y1), y1)


def _reference(grid: PlaneGrid, curve: str, dof: int) -> np.ndarray:
    """The best fit chi^2 each mass's Delta chi^2 is taken from (n_m,)."""
    best = np.minimum(_row_minimum(grid.chi2[curve]), grid.chi2_zero[curve])
    return np.full_like(best, np.min(best)) if dof == 2 else best


def delta_chi2(grid: PlaneGrid, curve: str, dof: int) -> np.ndarray:
    """Delta chi^2 (n_m, n_x) of ``curve`` (module docstring); +inf where ln L = -inf."""
    with np.errstate(invalid="ignore"):
        out = grid.chi2[curve] - _reference(grid, curve, dof)[:, None]
    return np.where(np.isnan(out), np.inf, np.maximum(out, 0.0))


def delta_chi2_zero(grid: PlaneGrid, curve: str, dof: int) -> np.ndarray:
    """Delta chi^2 (n_m,) of ``curve`` at x = 0 (no signal), same reference."""
    with np.errstate(invalid="ignore"):
        out = grid.chi2_zero[curve] - _reference(grid, curve, dof)
    return np.where(np.isnan(out), np.inf, np.maximum(out, 0.0))


def _log_field(delta: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.where(np.isfinite(delta), delta, CEILING), FLOOR, CEILING))


def boundary(delta: np.ndarray, x: np.ndarray, level: float,
             delta_zero: np.ndarray | None = None) -> np.ndarray:
    """Per mass (row) the first x above the best fit where ``delta`` reaches ``level`` (ln
    Delta chi^2 linear in ln x between the two nodes): the 1-D limit read off the grid. The
    best fit is the row's minimum, or x = 0 when ``delta_zero`` (Delta chi^2 at x = 0) is
    not above it (ties go to the smaller x, as in the 1-D solver). NaN where the row never
    reaches ``level`` above it, or reaches it below the first node."""
    z = _log_field(delta)
    lz, lx = math.log(level), np.log(x)
    rows = np.arange(len(z))
    k0 = np.argmin(delta, axis=1)
    low = delta[rows, k0]
    if delta_zero is not None:
        at_zero = delta_zero <= low
        k0 = np.where(at_zero, -1, k0)
        low = np.where(at_zero, delta_zero, low)
    above = (z >= lz) & (np.arange(delta.shape[1])[None, :] > k0[:, None])
    j = np.argmax(above, axis=1)
    found = above.any(axis=1) & (low < level) & (j > 0)
    za, zb = z[rows, np.maximum(j - 1, 0)], z[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip((lz - za) / (zb - za), 0.0, 1.0)
    ln_x = lx[np.maximum(j - 1, 0)] + t * (lx[j] - lx[np.maximum(j - 1, 0)])
    return np.where(found, np.exp(ln_x), np.nan)


def contour_lines(delta: np.ndarray, masses_gev: np.ndarray, x: np.ndarray,
                  level: float) -> list[np.ndarray]:
    """The lines Delta chi^2 = ``level`` as a list of (k, 2) arrays of (m_A' GeV, x).

    Where Delta chi^2 is +inf (no point of the model's domain, e.g. above eps_max s_max^2 K
    in the moment plane) the region counts as excluded, but the line is cut there: a vertex
    in a grid cell with an infinite corner lies on the domain's edge, not on a boundary the
    data draw (the edge is drawn once, as its own line)."""
    import contourpy
    lm, lx = np.log10(masses_gev), np.log10(x)
    gen = contourpy.contour_generator(lm, lx, _log_field(delta).T, line_type="Separate")
    bad = ~np.isfinite(delta)
    out = []
    for line in gen.lines(math.log(level)):
        line = np.asarray(line, dtype=float)
        keep = np.ones(len(line), dtype=bool)
        if bad.any():
            i = np.clip(np.searchsorted(lm, line[:, 0]) - 1, 0, len(lm) - 2)
            j = np.clip(np.searchsorted(lx, line[:, 1]) - 1, 0, len(lx) - 2)
            keep = ~(bad[i, j] | bad[i + 1, j] | bad[i, j + 1] | bad[i + 1, j + 1])
        runs = np.split(np.arange(len(line)), np.nonzero(np.diff(keep.astype(int)))[0] + 1)
        out += [10.0 ** line[r] for r in runs if keep[r[0]] and len(r) > 1]
    return out


def excluded_everywhere(delta: np.ndarray, level: float) -> bool:
    """True when every grid point is excluded."""
    return bool(np.all(delta >= level))


def _header(grid: PlaneGrid, dof: int, level: float, notes: Sequence[str]) -> str:
    ref = "best fit at the same m_A'" if dof == 1 else "best fit over the plane"
    lines = [f"# 2-D exclusion plane {grid.plane}: Delta chi^2 = -2 Delta ln L relative to "
             f"the {ref} (x >= 0); 90% C.L. boundary at Delta chi^2 = {level:.4f} "
             f"({dof} d.o.f.)", "# m_aprime_gev: GeV; eps: dimensionless; mu_mub: "
             "eps*lambda^D in Bohr magnetons; inf: outside the parameters' domain"]
    lines += [f"# curve {k}: {grid.labels.get(k, k)}" for k in grid.chi2]
    lines += [f"# {n}" for n in notes] + ["# produced by globalfit limits (docs/limits.md)"]
    return "\n".join(lines) + "\n"


def write_grid_csv(grid: PlaneGrid, dof: int, path: Path,
                   notes: Sequence[str] = ()) -> Path:
    """``m_aprime_gev, <x>, dchi2_<curve>...``: one row per grid point (mass-major)."""
    level = threshold(dof)
    n_m, n_x = len(grid.masses_gev), len(grid.x)
    cols = {k: delta_chi2(grid, k, dof).ravel() for k in grid.chi2}
    mm = np.repeat(grid.masses_gev, n_x)
    xx = np.tile(grid.x, n_m)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(_header(grid, dof, level, notes))
        w = csv.writer(fh)
        w.writerow(["m_aprime_gev", grid.x_name] + [f"dchi2_{k}" for k in cols])
        table = np.column_stack([mm, xx] + list(cols.values()))
        w.writerows([f"{v:.8e}" for v in row] for row in table)
    return path


def write_contour_csv(grid: PlaneGrid, lines: dict[str, list[np.ndarray]], dof: int,
                      path: Path, notes: Sequence[str] = ()) -> Path:
    """``curve, segment, m_aprime_gev, <x>``: the vertices of every contour line."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(_header(grid, dof, threshold(dof), notes))
        w = csv.writer(fh)
        w.writerow(["curve", "segment", "m_aprime_gev", grid.x_name])
        for curve, segments in lines.items():
            for i, seg in enumerate(segments):
                w.writerows((curve, i, f"{m:.8e}", f"{v:.8e}") for m, v in seg)
    return path


__all__ = ["CEILING", "FLOOR", "boundary", "contour_lines", "delta_chi2", "delta_chi2_zero",
           "excluded_everywhere",
           "write_contour_csv", "write_grid_csv"]
