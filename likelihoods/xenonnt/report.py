"""XENONnT vs Borexino limits report: ``python -m likelihoods.xenonnt.report --out DIR``.

Writes into DIR:

* ``xenonnt_limits.csv`` (``m_aprime_gev,mu_90_mub``): the XENONnT 90 % C.L. profile limit on a
  flavour-universal moment mu = eps lambda^D vs the dark-photon mass (m = 0 first).
* ``borexino_limits.csv``: the same for ``BorexinoLikelihood(mode="fast")`` (radiochemical
  variant), from the same solver (``likelihoods.moment_limits.upper_limit_mub``).
* ``comparison.csv`` and the printed table: both limits at m_A' = 0, 10 keV, 30 keV, 100 keV,
  300 keV, 1 MeV, and the crossover mass above which Borexino is stronger (log-interpolated
  zero of ln(mu_XENONnT / mu_Borexino) on the dense mass grid).
* ``xenonnt_variants.csv``: the massless XENONnT limit for the model variants of docs/xenonnt.md
  (binding, resolution, background constraint, flux model; profile and Bayesian).
* ``limits_vs_mass.png``: both curves, log-log.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

from globalfit.progress import progress, stage

from . import data
from .likelihood import XENONnTLikelihood
from ..moment_limits import upper_limit_mub

BENCHMARK_GEV = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
DENSE_GEV = np.geomspace(1e-6, 1e-1, 61)
VARIANTS: tuple[tuple[str, dict], ...] = (
    ("nominal (binding, sigma x 1, B0 free, GS98)", {}),
    ("no binding (54 free electrons)", {"binding": False}),
    ("resolution sigma x 0.8", {"resolution_scale": 0.8}),
    ("resolution sigma x 1.2", {"resolution_scale": 1.2}),
    ("B0 normalisation constrained (1.3/15.8)", {"background": "published_rate"}),
    ("AGSS09met fluxes", {"flux_model": "AGSS09met"}),
)


def curve(lk, masses: np.ndarray, label: str) -> np.ndarray:
    """Profile limits (mu_B) at ``masses`` (GeV)."""
    out = np.empty(len(masses))
    with progress(len(masses), f"{label} limits", unit="mass") as bar:
        for i, m in enumerate(masses):
            out[i] = upper_limit_mub(lk, float(m))
            bar.update(1)
    return out


def crossover_gev(masses: np.ndarray, xe: np.ndarray, bx: np.ndarray) -> float:
    """Smallest mass where Borexino's limit becomes the stronger (log interpolation); nan if none."""
    r = np.log(xe / bx)
    idx = np.nonzero((r[:-1] < 0) & (r[1:] >= 0))[0]
    if idx.size == 0:
        return math.nan
    i = int(idx[0])
    lm = np.log(masses[i:i + 2])
    return float(np.exp(lm[0] + (lm[1] - lm[0]) * (-r[i]) / (r[i + 1] - r[i])))


def write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def plot(path: Path, masses: np.ndarray, xe: np.ndarray, bx: np.ndarray, m_cross: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    ax.loglog(masses * 1e3, xe, color="tab:blue", lw=2,
              label="XENONnT SR0, 1.16 t yr (this tool)")
    ax.loglog(masses * 1e3, bx, color="tab:red", lw=2,
              label="Borexino Phase II, radiochemical (this tool)")
    pub_xe = data.value("published_limits.mu_eff_90_mub", "mu_B")
    ax.axhline(pub_xe, color="tab:blue", ls=":", lw=1,
               label=f"XENONnT published ($m_{{A'}} = 0$): {pub_xe:.1e} $\\mu_B$")
    from ..borexino import measurements as borexino_measurements
    pub_bx = borexino_measurements.value("published_limits.mu_eff_90_mub", "mu_B")
    ax.axhline(pub_bx, color="tab:red", ls=":", lw=1,
               label=f"Borexino published ($m_{{A'}} = 0$): {pub_bx:.1e} $\\mu_B$")
    if math.isfinite(m_cross):
        ax.axvline(m_cross * 1e3, color="0.3", ls="--", lw=1)
        ax.text(m_cross * 1e3 * 1.15, 2.2e-11, f"crossover\n{m_cross * 1e6:.0f} keV", va="top",
                fontsize=9, color="0.2")
    ax.set_xlabel(r"dark-photon mass $m_{A'}$ [MeV]")
    ax.set_ylabel(r"90 % C.L. upper limit on $\mu = \epsilon\,\lambda^D$ [$\mu_B$]")
    ax.set_title("Neutrino magnetic moment via a dark photon: direct limits", fontsize=11)
    ax.set_xlim(masses[0] * 1e3, masses[-1] * 1e3)
    ax.set_ylim(3e-12, max(xe.max(), bx.max()) * 2)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8.5, frameon=True)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder (created)")
    ap.add_argument("--skip-variants", action="store_true", help="no variant table")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    from ..borexino import BorexinoLikelihood

    with stage("XENONnT fast grid"):
        xe_lk = XENONnTLikelihood(mode="fast")
        xe_lk.fast
    with stage("Borexino fast grid"):
        bx_lk = BorexinoLikelihood(mode="fast")
    xe_dense = curve(xe_lk, DENSE_GEV, "XENONnT")
    bx_dense = curve(bx_lk, DENSE_GEV, "Borexino")
    xe_bench = curve(xe_lk, np.array(BENCHMARK_GEV), "XENONnT")
    bx_bench = curve(bx_lk, np.array(BENCHMARK_GEV), "Borexino")
    m_cross = crossover_gev(DENSE_GEV, xe_dense, bx_dense)

    masses = np.concatenate([[0.0], DENSE_GEV])
    write_csv(out / "xenonnt_limits.csv", ["m_aprime_gev", "mu_90_mub"],
              [(f"{m:.6g}", f"{v:.6g}") for m, v in zip(masses, np.r_[xe_bench[0], xe_dense])])
    write_csv(out / "borexino_limits.csv", ["m_aprime_gev", "mu_90_mub"],
              [(f"{m:.6g}", f"{v:.6g}") for m, v in zip(masses, np.r_[bx_bench[0], bx_dense])])
    write_csv(out / "comparison.csv",
              ["m_aprime_gev", "xenonnt_mu_90_mub", "borexino_mu_90_mub", "xenonnt_over_borexino"],
              [(f"{m:.6g}", f"{a:.4g}", f"{b:.4g}", f"{a / b:.4g}")
               for m, a, b in zip(BENCHMARK_GEV, xe_bench, bx_bench)])
    print("90 % C.L. profile limits on mu = eps lambda^D (mu_B), flavour-universal")
    print(f"{'m_A [keV]':>10} {'XENONnT':>11} {'Borexino':>11} {'XE/BX':>7}")
    for m, a, b in zip(BENCHMARK_GEV, xe_bench, bx_bench):
        print(f"{m * 1e6:10.0f} {a:11.3e} {b:11.3e} {a / b:7.3f}")
    print(f"crossover (Borexino stronger above): {m_cross * 1e3:.3f} MeV")
    pub = data.value("published_limits.mu_eff_90_mub", "mu_B")
    print(f"XENONnT massless / published {pub:.2g}: {xe_bench[0] / pub:.3f}")
    plot(out / "limits_vs_mass.png", DENSE_GEV, xe_dense, bx_dense, m_cross)

    if not args.skip_variants:
        rows = []
        for label, opts in VARIANTS:
            lk = XENONnTLikelihood(mode="fast", **opts)
            prof = upper_limit_mub(lk, 0.0)
            bayes = upper_limit_mub(lk, 0.0, method="bayes")
            rows.append((label, f"{prof:.4g}", f"{bayes:.4g}", f"{prof / pub:.3f}"))
            print(f"{label:48s} profile {prof:.3e}  bayes {bayes:.3e}  profile/published "
                  f"{prof / pub:.3f}")
        write_csv(out / "xenonnt_variants.csv",
                  ["variant", "profile_mu_90_mub", "bayes_mu_90_mub", "profile_over_published"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
