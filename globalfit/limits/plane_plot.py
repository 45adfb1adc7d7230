"""Figures of the 2-D exclusions: ``exclusion_m_eps.png`` and ``exclusion_m_mu.png`` (+ pdf).

Each probe's 90 % C.L. boundary is a line in its own colour and style (the same as in
``limits.png``, :data:`.plot.STYLES`); the region the combination excludes is the one shaded
area, named in the legend; in the moment plane the hatched area holds no point of the
model's parameter domain. A probe without a boundary in the plane (MEG II at fixed y0 is a
constant there; a probe weaker than the plotted range) is listed under the legend with the
reason, never silently dropped.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Mapping

import numpy as np

from .contours import _log_field, boundary, excluded_everywhere
from .grids import PlaneGrid
from .plot import SAME_RTOL, style, wrap_plus

_Y_LABELS = {"m_eps": r"kinetic mixing $\varepsilon$",
             "m_mu": r"$\varepsilon\,\lambda^D$ [$\mu_B$]"}


def _title(grid: PlaneGrid, fixed: Mapping[str, float], scale_names: str, scale: float,
           g_d: float, dof: int, level: float) -> str:
    ref = r"best fit at the same $m_{A'}$" if dof == 1 else "best fit in the plane"
    masses = ", ".join(rf"${tex}={fixed[k] * 1e3:g}$ MeV" for k, tex in
                       (("m_s_gev", "M_S"), ("dm_s_gev", r"\Delta M_S"), ("m_n_gev", "m_N"))
                       if k in fixed)
    coupling = rf"$g_D = {g_d:g}$"
    if grid.plane == "m_eps":
        coupling += rf", ${scale_names} = {scale:g}$"
    else:
        coupling += r", $\varepsilon$ profiled at fixed $\varepsilon\lambda^D$"
    return (rf"90% C.L. exclusion: $\Delta\chi^2 \geq {level:.2f}$ above the {ref}"
            f" ({dof} d.o.f.)\n{coupling}; {masses}")


def _same_boundary(deltas: Mapping[str, np.ndarray], grid: PlaneGrid, level: float,
                   a: str, b: str) -> bool:
    """True when curves ``a`` and ``b`` have the same boundary at every mass (to
    :data:`.plot.SAME_RTOL`); then one line is drawn for both."""
    if a not in deltas or b not in deltas:
        return False
    ba, bb = (boundary(deltas[k], grid.x, level) for k in (a, b))
    return bool(np.allclose(ba, bb, rtol=SAME_RTOL, atol=0.0, equal_nan=True))


def plot_plane(grid: PlaneGrid, deltas: Mapping[str, np.ndarray],
               lines: Mapping[str, list[np.ndarray]], level: float, dof: int, out_dir: Path,
               *, fixed: Mapping[str, float], g_d: float, scale: float = 1.0,
               scale_names: str = "y_0", notes: Mapping[str, str] | None = None
               ) -> list[Path]:
    """``exclusion_<plane>.png``/``.pdf``: the boundary of every curve of ``lines`` (curve ->
    contour segments in (GeV, x)), the combined region shaded. ``notes``: curve -> why it
    has no boundary (else inferred: excluded everywhere / nowhere)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    fig, ax = plt.subplots(figsize=(8.6, 5.6))
    m_mev = grid.masses_gev * 1e3
    handles, names, missing = [], [], []
    if "combined" in deltas:
        z = _log_field(deltas["combined"]).T
        ax.contourf(m_mev, grid.x, z, levels=[math.log(level), np.inf], colors=["0.88"],
                    zorder=1)
        handles.append(Patch(color="0.88"))
        names.append("excluded by the combination")
    if grid.x_max is not None:
        top = grid.x[-1] * 10.0
        ax.fill_between(m_mev, grid.x_max, top, facecolor="none", hatch="///",
                        edgecolor="0.6", lw=0, zorder=1.5)
        ax.plot(m_mev, grid.x_max, color="0.45", lw=1.0, zorder=2)
        handles.append(Patch(facecolor="none", hatch="///", edgecolor="0.6"))
        names.append("no model point (" + grid.x_max_note.replace("eps", "\u03b5").replace(
            "<=", "\u2264") + ")")
    same = _same_boundary(deltas, grid, level, "indirect", "combined")
    for i, (curve, segs) in enumerate(lines.items()):
        colour, ls, lw = style(curve, i)
        name = wrap_plus(grid.labels.get(curve, curve))
        if curve == "indirect" and same:
            continue
        if curve == "combined":
            name = ("combined = " + wrap_plus(grid.labels["indirect"]) + "\n(direct probes "
                    "change it by < 0.1 %)" if same else "combination of all probes")
        if not segs:
            why = (notes or {}).get(curve) or (
                "excludes the whole plane" if excluded_everywhere(deltas[curve], level)
                else "no exclusion in the plotted range")
            missing.append(f"{name}: {why}")
            continue
        for seg in segs:               # the combination under the probes it combines
            ax.plot(seg[:, 0] * 1e3, seg[:, 1], color=colour, ls=ls, lw=lw,
                    zorder=2.5 if curve == "combined" else 3, solid_capstyle="butt")
        handles.append(Line2D([], [], color=colour, ls=ls, lw=lw))
        names.append(name)
    if "m_n_gev" in fixed:
        ax.axvline(2e3 * fixed["m_n_gev"], color="0.45", ls=":", lw=1, zorder=2)
        ax.text(2e3 * fixed["m_n_gev"], grid.x[0], r" $2m_N$", color="0.3", va="bottom",
                fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(m_mev[0], m_mev[-1])
    ax.set_ylim(grid.x[0], grid.x[-1])
    ax.set_xlabel(r"$m_{A'}$ [MeV]")
    ax.set_ylabel(_Y_LABELS[grid.plane])
    ax.grid(True, which="major", alpha=0.3, zorder=0)
    ax.set_title(_title(grid, fixed, scale_names, scale, g_d, dof, level), fontsize=8.5)
    fig.legend(handles, names, loc="upper left", bbox_to_anchor=(0.665, 0.9), fontsize=7.5,
               frameon=False, labelspacing=0.8)
    if missing:
        text = "\n".join(textwrap.fill(t, 48, subsequent_indent="  ") for t in missing)
        fig.text(0.675, 0.1, "no boundary in this plane:\n" + text, fontsize=7, color="0.25",
                 va="bottom")
    fig.subplots_adjust(left=0.1, right=0.65, top=0.88, bottom=0.1)
    paths = [out_dir / f"exclusion_{grid.plane}.png", out_dir / f"exclusion_{grid.plane}.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


__all__ = ["plot_plane"]
