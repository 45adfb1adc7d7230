"""Corner and trace plots of a run (PNG, matplotlib's non-interactive Agg backend).

They take the run's groups as written by globalfit.output or as read back by
``arviz.from_netcdf`` (ArviZ 0.x InferenceData or 1.x DataTree) and use only numpy,
matplotlib and corner, so they do not depend on the ArviZ version.

Parameters with a log-uniform prior are shown as log10 of the value; the caller passes the
axis labels with units (:func:`globalfit.quantities.axis_label`). The corner plots mark the
median and 16/84 % quantiles and draw the 68 and 95 % credible contours over the draws
(a note in the figure says so); ``corner_physics.png`` is :func:`corner_plot` of the physics
quantities chosen by :mod:`globalfit.finish`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .progress import stage


def _columns(idata: Any, names: list[str], log_names: set[str],
             latex: Mapping[str, str],
             labels: Mapping[str, str]) -> tuple[list[np.ndarray], list[str]]:
    post = idata.posterior    # an xarray Dataset, or a DataTree node (ArviZ 1.x): both index
    #                           variables by name
    arrays, out = [], []
    for name in names:
        x = np.asarray(post[name], dtype=float)       # (chain, draw)
        label = latex.get(name) or name
        if name in log_names:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.log10(x)
            label = rf"$\log_{{10}} {label}$" if latex.get(name) else f"log10 {name}"
        elif latex.get(name):
            label = f"${label}$"
        arrays.append(x)
        out.append(labels.get(name, label))
    return arrays, out


#: Gaussian smoothing (in bins) of the 2-D histograms the contours are drawn from, and the
#: bins per axis: a prior-dominated, nearly flat pair of parameters has no well-defined 68 %
#: region, and less smoothing draws it as noise islands
SMOOTH = 2.0
BINS = 24
#: at most this many draws are drawn as dots (a random subset, the same in every panel): the
#: dots show where draws fall, the contours and histograms use every draw. Drawing every
#: draw made the figure slow, not more informative: 96,000 draws in 300 panels took 16 s of
#: a 33 s corner plot of 25 parameters, and overlapping dots merged into solid grey areas
#: that hid the contours.
MAX_DOTS = 4000
#: what the marks of :func:`corner_plot` mean (printed in the figure); {dots} is filled in
CORNER_NOTE = ("dots: {dots}; contours (from all draws): 68 % and 95 % credible regions "
               "(not well defined where the posterior is flat, i.e. prior-dominated); dashed "
               "lines and titles: median and 16-84 % quantiles")


def dot_rows(n_draws: int, max_dots: int = MAX_DOTS) -> np.ndarray:
    """Indices of the draws shown as dots: all of them up to ``max_dots``, else a random
    subset of ``max_dots`` (fixed seed, so a figure redrawn from the same run is the same),
    in increasing order."""
    if n_draws <= max_dots:
        return np.arange(n_draws)
    return np.sort(np.random.default_rng(0).choice(n_draws, size=max_dots, replace=False))


def corner_plot(idata: Any, names: list[str], path: Path, log_names: set[str] = frozenset(),
                latex: Mapping[str, str] | None = None,
                labels: Mapping[str, str] | None = None, title: str = "") -> Path:
    """Corner plot of ``names`` (16/50/84 % quantiles marked, 68 and 95 % contours);
    ``labels``: full axis labels (with units) overriding those built from ``latex``."""
    import matplotlib
    matplotlib.use("Agg")

    arrays, labels_ = _columns(idata, names, set(log_names), latex or {}, labels or {})
    with stage(f"corner plot {Path(path).name}"):
        _corner(arrays, labels_, path, title)
    return Path(path)


def _corner(arrays: list[np.ndarray], labels: list[str], path: Path, title: str) -> None:
    import corner
    import matplotlib.pyplot as plt

    data = np.column_stack([a.ravel() for a in arrays])
    data = data[np.all(np.isfinite(data), axis=1)]
    n = data.shape[1]
    # the unit on a line of its own: "borexino.po210_sigma_kev [keV]" in one line is wider
    # than a panel and ran into its neighbours' labels
    labels = [label.replace(" [", "\n[", 1) for label in labels]
    fig = corner.corner(data, labels=labels, quantiles=[0.16, 0.5, 0.84],
                        levels=(0.68, 0.95), show_titles=True, title_fmt=".3g",
                        title_kwargs={"fontsize": 9}, label_kwargs={"fontsize": 10},
                        color="C0", plot_datapoints=False, plot_density=False,
                        fill_contours=False, no_fill_contours=True, smooth=SMOOTH,
                        bins=BINS, contour_kwargs={"linewidths": 1.2})
    rows = dot_rows(len(data))
    axes = np.asarray(fig.axes).reshape(n, n)
    for i in range(1, n):
        for j in range(i):
            # under the contours (zorder 2); scalex/scaley off: corner has set the ranges
            axes[i, j].plot(data[rows, j], data[rows, i], "o", ms=1.5, alpha=0.25,
                            color="0.45", mew=0, zorder=1, scalex=False, scaley=False,
                            rasterized=True)
    # the upper triangle's empty axes (no frame, no ticks) cost ~1 s of drawing at 25
    # parameters
    for i in range(n):
        for j in range(i + 1, n):
            fig.delaxes(axes[i, j])
    # the last panel's title (label = median and quantiles) ends at the panel's right edge
    # instead of being centred on it, where a long label ran off the figure
    axes[-1, -1].title.set_horizontalalignment("right")
    axes[-1, -1].title.set_x(1.0)
    size = max(6.0, 2.2 * n)                 # inches
    fig.set_size_inches(size, size)
    import textwrap
    dots = ("posterior draws" if len(rows) == len(data) else
            f"{len(rows):,} of the {len(data):,} posterior draws (a random subset)")
    # margins in inches (tick and axis labels ~1.3 in, titles of the top panel ~0.6 in): as
    # fractions of a 55 in figure (25 parameters) the former 12 % left 6.6 in of blank
    # paper, and of a 6 in one (2 parameters) cut off the axis labels
    left, right = 1.3 / size, 1.0 - min(0.03, 0.3 / size)
    fig.subplots_adjust(left=left, bottom=1.3 / size, right=right,
                        top=1.0 - min(0.08, 0.6 / size))
    # the note fills the empty upper triangle, from the second column on; ~0.075 in per
    # character at 9 pt
    x0 = left + (right - left) / n + 0.02
    width = int(min(60, max(25, (right - x0) * size / 0.075)))
    note = "\n".join(textwrap.fill(part, width) for part in
                     (CORNER_NOTE.format(dots=dots) + (f"\n{title}" if title else ""))
                     .split("\n"))
    fig.text(x0, 0.99, note, ha="left", va="top", fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def trace_plot(idata: Any, names: list[str], path: Path, log_names: set[str] = frozenset(),
               latex: Mapping[str, str] | None = None, max_chains: int = 16,
               labels: Mapping[str, str] | None = None) -> Path:
    """One row per parameter: draws of up to ``max_chains`` chains against draw index."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays, labels_ = _columns(idata, names, set(log_names), latex or {}, labels or {})
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.6 * len(names) + 0.8),
                             sharex=True, squeeze=False)
    for ax, x, label in zip(axes[:, 0], arrays, labels_):
        for chain in x[:max_chains]:
            ax.plot(chain, lw=0.4, alpha=0.6)
        ax.set_ylabel(label, fontsize=9)
    n_chains = arrays[0].shape[0] if arrays else 0
    shown = min(n_chains, max_chains)
    axes[0, 0].set_title(f"the first {shown} of {n_chains} chains", fontsize=9)
    axes[-1, 0].set_xlabel("draw (after burn-in and thinning)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)
