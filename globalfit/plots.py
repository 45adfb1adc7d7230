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
#: what the marks of :func:`corner_plot` mean (printed in the figure)
CORNER_NOTE = ("dots: posterior draws; contours: 68 % and 95 % credible regions (not well "
               "defined where the posterior is flat, i.e. prior-dominated); dashed lines and "
               "titles: median and 16-84 % quantiles")


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
    fig = corner.corner(data, labels=labels, quantiles=[0.16, 0.5, 0.84],
                        levels=(0.68, 0.95), show_titles=True, title_fmt=".3g",
                        title_kwargs={"fontsize": 9}, label_kwargs={"fontsize": 10},
                        color="C0", plot_datapoints=True, plot_density=False,
                        fill_contours=False, no_fill_contours=True, smooth=SMOOTH,
                        bins=BINS,
                        data_kwargs={"ms": 1.5, "alpha": 0.15, "color": "0.45"},
                        contour_kwargs={"linewidths": 1.2})
    fig.set_size_inches(max(6.0, 2.2 * n), max(6.0, 2.2 * n))
    import textwrap
    note = "\n".join(textwrap.fill(part, 60) for part in
                     (CORNER_NOTE.replace("\n", " ") + (f"\n{title}" if title else ""))
                     .split("\n"))
    fig.text(0.55, 0.97, note, ha="left", va="top", fontsize=9)
    fig.subplots_adjust(left=0.12, bottom=0.12, right=0.97, top=0.92)
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
