"""The joint-exclusion figure: 90 % C.L. limits on eps*lambda^D (mu_B) versus m_A' (MeV).

What a reader sees: the direct probes (Borexino, XENONnT: experiment and year) and, per g_D,
the indirect probes (NA64 + BaBar + MEG II) and the combination. Where the combination
equals the indirect curve to 0.1 % at every mass (the direct probes add nothing) one line is
drawn and the legend says so, instead of one curve hidden under another. When the direct
and indirect curves are many decades apart the y axis is broken into two panels with the
same decade height (no empty decades in between); a panel never spans more than
:data:`MAX_DECADES` and a note names any curve that leaves it. The shaded region is the one
the combination excludes for every g_D shown, as its legend entry says.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .settings import LimitsConfig

MAX_DECADES = 10
"""Largest y range of one panel (decades); curves above it are clipped and named."""
SAME_RTOL = 1e-3
"""Combined and indirect drawn as one line when they agree to this at every mass."""
GD_COLOURS = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9")
"""Okabe-Ito colours of the g_D values (colour-blind safe)."""

#: line style of a curve key in every figure of the limits: (colour, dashes, width)
STYLES: dict[str, tuple[str, object, float]] = {
    "borexino": ("#CC79A7", "-", 2.2), "xenonnt": ("#E69F00", "-.", 2.2),
    "na64": ("#0072B2", "--", 1.8), "babar": ("#D55E00", ":", 2.4),
    "meg": ("#009E73", (0, (6, 1.5, 1, 1.5, 1, 1.5)), 1.8),
    "indirect": ("#56B4E9", (0, (3, 1.5)), 1.8), "combined": ("#000000", "-", 1.2)}
_FALLBACK = ("#999999", "#882255", "#44AA99", "#117733", "#332288")


def style(key: str, i: int = 0) -> tuple[str, object, float]:
    """(colour, line style, width) of curve ``key`` (a fallback cycle for other labels)."""
    return STYLES.get(key, (_FALLBACK[i % len(_FALLBACK)], (0, (4, 1, 1, 1)), 1.8))


def decade_range(values: Sequence[np.ndarray], max_decades: int = MAX_DECADES
                 ) -> tuple[float, float, bool]:
    """(low, high, clipped): whole decades around the finite positive values, at most
    ``max_decades`` wide from the bottom (limits: the strong end is the interesting one)."""
    v = np.concatenate([np.ravel(x) for x in values])
    v = v[np.isfinite(v) & (v > 0)]
    lo = 10.0 ** math.floor(math.log10(v.min()) - 0.15)
    hi = 10.0 ** math.ceil(math.log10(v.max()) + 0.15)
    clipped = hi / lo > 10.0 ** max_decades
    return lo, (lo * 10.0 ** max_decades if clipped else hi), clipped


def _groups(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], method: str,
            direct: Mapping[str, str]) -> tuple[list, list, bool]:
    """([(values, label, colour, dashes, width)] of the direct and of the indirect panel,
    whether every combined curve equals its indirect one to :data:`SAME_RTOL`)."""
    top = []
    for i, (key, name) in enumerate(direct.items()):
        if f"{key}/{method}" in curves:
            c, ls, lw = style(key, i)
            top.append((curves[f"{key}/{method}"], name, c, ls, lw))
    pairs = [(g, curves.get(f"indirect/{g:g}/{method}"), curves.get(f"combined/{g:g}/{method}"))
             for g in cfg.g_d]
    same = all(i is not None and c is not None and np.allclose(c, i, rtol=SAME_RTOL, atol=0.0)
               for _, i, c in pairs)
    bottom = []
    for k, (g, ind, comb) in enumerate(pairs):
        colour = GD_COLOURS[k % len(GD_COLOURS)]
        if same:
            bottom.append((comb, rf"$g_D = {g:g}$", colour, "-", 2.0))
            continue
        if comb is not None:
            bottom.append((comb, rf"combined, $g_D = {g:g}$", colour, "-", 2.6))
        if ind is not None:
            bottom.append((ind, rf"indirect only, $g_D = {g:g}$", colour, (0, (3, 1.5)), 1.4))
    return top, bottom, same


def _header(text: str) -> tuple[object, str]:
    """An invisible legend handle with ``text`` (a heading inside the legend)."""
    from matplotlib.lines import Line2D
    return Line2D([], [], lw=0), text


def wrap_plus(text: str, width: int = 34) -> str:
    """Break a "A + B + C" list after a "+" so each line stays within ``width``."""
    out, line = [], ""
    for part in text.split(" + "):
        cand = f"{line} + {part}" if line else part
        if len(cand) > width and line:
            out.append(line + " +")
            line = part
        else:
            line = cand
    return "\n".join(out + [line])


def plot_limits(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], out_dir: Path,
                labels: Sequence[str] = (), direct: Mapping[str, str] | None = None,
                formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """``limits.png`` and ``limits.pdf`` in ``out_dir`` (profile curves when computed; one
    file per entry of ``formats``). ``labels``: legend names of the indirect likelihoods;
    ``direct``: direct curve key -> legend name."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    m_mev = cfg.masses_gev * 1e3
    method = "profile" if "profile" in cfg.methods else cfg.methods[0]   # run.figure_method
    fixed = cfg.resolved["fixed"]
    direct = {"borexino": "Borexino"} if direct is None else direct
    top, bottom, same = _groups(cfg, curves, method, direct)
    indirect = " + ".join(labels) or "indirect probes"
    panels = [p for p in (top, bottom) if p]
    ranges = [decade_range([v for v, *_ in p]) for p in panels]
    if len(panels) == 2 and ranges[1][1] * 10 >= ranges[0][0]:    # close: one panel
        panels, ranges = [top + bottom], [decade_range([v for v, *_ in top + bottom])]
    decades = [math.log10(hi / lo) for lo, hi, _ in ranges]
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(8.6, 5.6),
                             gridspec_kw={"height_ratios": decades, "hspace": 0.06},
                             squeeze=False)
    axes = axes[:, 0]
    weakest = None
    comb = [curves[f"combined/{g:g}/{method}"] for g in cfg.g_d
            if f"combined/{g:g}/{method}" in curves]
    if comb:
        weakest = np.max(comb, axis=0)
    notes = []
    for ax, panel, (lo, hi, clipped) in zip(axes, panels, ranges):
        for values, name, c, ls, lw in panel:
            ax.plot(m_mev, values, color=c, ls=ls, lw=lw, label=name, zorder=3)
            if clipped and np.nanmax(values) > hi:
                notes.append(f"{name.split(',')[0]} rises to {np.nanmax(values):.1e} "
                             r"$\mu_B$ (off scale)")
        if weakest is not None:
            ax.fill_between(m_mev, np.clip(weakest, lo, hi), hi, color="0.92", lw=0,
                            zorder=1, label=None)
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_ylim(lo, hi)
        ax.set_xlim(m_mev[0], m_mev[-1])
        ax.grid(True, which="major", alpha=0.3, zorder=0)
        if "m_n_gev" in fixed:
            ax.axvline(2e3 * fixed["m_n_gev"], color="0.45", ls=":", lw=1, zorder=2)
    if "m_n_gev" in fixed:
        axes[-1].text(2e3 * fixed["m_n_gev"], axes[-1].get_ylim()[0], r" $2m_N$", color="0.3",
                      va="bottom", fontsize=8)
    if len(axes) == 2:                     # the break marks of a broken axis
        axes[0].spines["bottom"].set_visible(False)
        axes[1].spines["top"].set_visible(False)
        axes[0].tick_params(bottom=False)
        kw = dict(marker=[(-1, -0.5), (1, 0.5)], markersize=10, linestyle="none",
                  color="k", mec="k", mew=1, clip_on=False)
        axes[0].plot([0, 1], [0, 0], transform=axes[0].transAxes, **kw)
        axes[1].plot([0, 1], [1, 1], transform=axes[1].transAxes, **kw)
    axes[-1].set_xlabel(r"$m_{A'}$ [MeV]")
    fig.supylabel(r"90% C.L. upper limit on $\varepsilon\,\lambda^D$ [$\mu_B$]", fontsize=11,
                  x=0.015)
    masses = ", ".join(rf"${tex}={fixed[k] * 1e3:g}$ MeV" for k, tex in
                       (("m_s_gev", "M_S"), ("dm_s_gev", r"\Delta M_S"), ("m_n_gev", "m_N"))
                       if k in fixed)
    kind = (r"profile likelihood, $\Delta\chi^2 = 2.71$" if method == "profile" else
            r"Bayesian, prior flat in $\mu^2$, log-uniform in $\varepsilon$")
    axes[0].set_title(f"{masses} ({kind})" if masses else kind, fontsize=9)
    handles, names = [], []
    for ax in axes:
        h, n = ax.get_legend_handles_labels()
        handles += h
        names += n
    if bottom:
        k = len(top)
        head = (f"{wrap_plus(indirect)}\n= combined (direct probes\nchange it by < 0.1 %):"
                if same else f"combined and {wrap_plus(indirect)} only:")
        h, n = _header(head)
        handles.insert(k, h)
        names.insert(k, n)
    if weakest is not None:
        from matplotlib.patches import Patch
        handles.append(Patch(color="0.92"))
        names.append("excluded by the combination\nfor every $g_D$ shown")
    fig.legend(handles, names, loc="upper left", bbox_to_anchor=(0.66, 0.93), fontsize=7.5,
               frameon=False)
    if len(axes) == 2:
        notes.append("broken y axis: no curve lies\nin the omitted decades")
    if notes:
        fig.text(0.665, 0.2, "\n".join(notes), fontsize=7, color="0.25", va="bottom")
    fig.subplots_adjust(left=0.12, right=0.65, top=0.93, bottom=0.1)
    paths = [out_dir / f"limits.{fmt}" for fmt in formats]
    for path in paths:
        fig.savefig(path, **({"dpi": 150} if path.suffix == ".png" else {}))
    plt.close(fig)
    return paths


__all__ = ["MAX_DECADES", "STYLES", "decade_range", "plot_limits", "style", "wrap_plus"]
