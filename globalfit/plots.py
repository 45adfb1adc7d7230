"""Corner and trace plots of a run (PNG, matplotlib's non-interactive Agg backend).

They take the run's groups as written by globalfit.output or as read back by
``arviz.from_netcdf`` (ArviZ 0.x InferenceData or 1.x DataTree) and use only numpy,
matplotlib and corner, so they do not depend on the ArviZ version.

Parameters with a log-uniform prior are shown as log10 of the value.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .progress import stage


def _columns(idata: Any, names: list[str], log_names: set[str],
             latex: Mapping[str, str]) -> tuple[list[np.ndarray], list[str]]:
    post = idata.posterior    # an xarray Dataset, or a DataTree node (ArviZ 1.x): both index
    #                           variables by name
    arrays, labels = [], []
    for name in names:
        x = np.asarray(post[name])                    # (chain, draw)
        label = latex.get(name) or name
        if name in log_names:
            x = np.log10(x)
            label = rf"$\log_{{10}} {label}$" if latex.get(name) else f"log10 {name}"
        elif latex.get(name):
            label = f"${label}$"
        arrays.append(x)
        labels.append(label)
    return arrays, labels


def corner_plot(idata: Any, names: list[str], path: Path, log_names: set[str] = frozenset(),
                latex: Mapping[str, str] | None = None) -> Path:
    """Corner plot of the sampled parameters ``names`` (16/50/84 % quantiles marked)."""
    import matplotlib
    matplotlib.use("Agg")

    arrays, labels = _columns(idata, names, set(log_names), latex or {})
    with stage(f"corner plot {Path(path).name}"):
        _corner(arrays, labels, path)
    return Path(path)


def _corner(arrays: list[np.ndarray], labels: list[str], path: Path) -> None:
    import corner
    import matplotlib.pyplot as plt

    data = np.column_stack([a.ravel() for a in arrays])
    data = data[np.all(np.isfinite(data), axis=1)]
    fig = corner.corner(data, labels=labels, quantiles=[0.16, 0.5, 0.84],
                        show_titles=True, title_fmt=".3g")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def trace_plot(idata: Any, names: list[str], path: Path, log_names: set[str] = frozenset(),
               latex: Mapping[str, str] | None = None, max_chains: int = 16) -> Path:
    """One row per parameter: draws of up to ``max_chains`` chains against draw index."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays, labels = _columns(idata, names, set(log_names), latex or {})
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.6 * len(names) + 0.5),
                             sharex=True, squeeze=False)
    for ax, x, label in zip(axes[:, 0], arrays, labels):
        for chain in x[:max_chains]:
            ax.plot(chain, lw=0.4, alpha=0.6)
        ax.set_ylabel(label, fontsize=8)
    axes[-1, 0].set_xlabel("draw (after burn-in and thinning)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)
