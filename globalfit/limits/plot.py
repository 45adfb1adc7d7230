"""The joint-exclusion figure: log-log, 90 % C.L. limit on eps*lambda^D (mu_B) versus m_A'."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .settings import LimitsConfig


def plot_limits(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], out_dir: Path,
                labels: Sequence[str] = (), direct: Mapping[str, str] | None = None
                ) -> list[Path]:
    """``limits.png`` and ``limits.pdf`` in ``out_dir`` (profile curves when computed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    m_mev = cfg.masses_gev * 1e3
    method = "profile" if "profile" in cfg.methods else cfg.methods[0]
    fixed = cfg.resolved["fixed"]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    direct = {"borexino": "Borexino"} if direct is None else direct
    for (key, name), style in zip(direct.items(), ("-", "-.", ":")):
        if f"{key}/{method}" in curves:
            ax.loglog(m_mev, curves[f"{key}/{method}"], style, color="k", lw=2, label=name)
    indirect = " + ".join(labels) if labels else "indirect"
    combined = []
    for i, g in enumerate(cfg.g_d):
        c = colours[(i + 1) % len(colours)]
        if f"indirect/{g:g}/{method}" in curves:
            ax.loglog(m_mev, curves[f"indirect/{g:g}/{method}"], "--", color=c, lw=1.3,
                      label=rf"{indirect}, $g_D={g:g}$")
        if f"combined/{g:g}/{method}" in curves:
            combined.append(curves[f"combined/{g:g}/{method}"])
            ax.loglog(m_mev, combined[-1], "-", color=c, lw=1.0, label=rf"combined, $g_D={g:g}$")
    top = ax.get_ylim()[1]
    if combined:
        ax.fill_between(m_mev, np.min(combined, axis=0), top, color="0.85", zorder=0)
        ax.set_ylim(top=top)
    if "m_n_gev" in fixed:
        ax.axvline(2e3 * fixed["m_n_gev"], color="0.5", ls=":", lw=1)
        ax.text(2e3 * fixed["m_n_gev"], ax.get_ylim()[0], r" $2m_N$", color="0.4",
                va="bottom", fontsize=8)
    ax.set_xlabel(r"$m_{A'}$ [MeV]")
    ax.set_ylabel(r"90% C.L. limit on $\varepsilon\,\lambda^D$ [$\mu_B$]")
    masses = ", ".join(rf"${tex}={fixed[k] * 1e3:g}$ MeV" for k, tex in
                       (("m_s_gev", "M_S"), ("dm_s_gev", r"\Delta M_S"), ("m_n_gev", "m_N"))
                       if k in fixed)
    kind = "profile likelihood" if method == "profile" else "Bayesian"
    ax.set_title(f"{masses} ({kind})" if masses else kind, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    paths = [out_dir / "limits.png", out_dir / "limits.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


__all__ = ["plot_limits"]
