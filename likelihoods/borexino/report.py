"""Validation report: ``python -m likelihoods.borexino.report --out DIR``.

Prints a table (SM fit quality and rates; 90 % C.L. limits on a flavour-universal moment with a
massless mediator for the three flux-constraint variants, profile and Bayesian) and writes
into DIR: ``sm_fit.csv``, ``limits_m0.csv``, ``limit_vs_mass.csv`` and the plots
``spectrum_fit.png`` (data, fitted components, residuals) and ``limit_vs_mass.png``.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from globalfit.progress import progress, stage

from . import measurements
from .fast import upper_limits
from .likelihood import PARAMS, VARIANTS, BorexinoLikelihood
from .spectrum import EXPOSURE_DAY_100T, load_phase2
from .templates import LINEAR

MASSES_GEV = np.geomspace(1e-6, 0.1, 41)


def sm_summary(lk: BorexinoLikelihood) -> dict[str, float]:
    """SM fit: deviance per d.o.f. and the rates of pp, 7Be, pep (cpd/100 t)."""
    fit = lk.best_fit_sm()
    return {"deviance": fit["deviance"], "dof": fit["dof"],
            "deviance_per_dof": fit["deviance"] / fit["dof"], "pp": fit["pp"],
            "be7": fit["be7"], "pep": fit["pep"], "cno": fit["cno"],
            "c14_bq": fit["c14"] / 86400.0, "po210": fit["po210"], "kr85": fit["kr85"],
            "bi210": fit["bi210"], "energy_scale": fit["energy_scale"],
            "resolution": fit["resolution"]}


def limits_at_zero_mass() -> dict[str, dict[str, float]]:
    """Profile and Bayesian 90 % limits (mu_B) at m_A' = 0 for every variant."""
    out = {}
    with progress(len(VARIANTS), "Borexino limits at m_A' = 0", unit="variant") as bar:
        for v in VARIANTS:
            lim = upper_limits(BorexinoLikelihood(variant=v).fast, np.array([0.0]))
            out[v] = {k: float(x[0]) for k, x in lim.items()}
            bar.update(1)
    return out


def plot_spectrum(lk: BorexinoLikelihood, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, th = lk.sm_fit
    model = lk.model
    sp = load_phase2()
    nh = sp.n_h[model.mask]
    nu = model.expected(th[None])[0]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.errorbar(nh, model.n / EXPOSURE_DAY_100T, np.sqrt(model.n) / EXPOSURE_DAY_100T, fmt=".",
                ms=2, color="k", label="Borexino Phase-II data")
    ax.plot(nh, nu / EXPOSURE_DAY_100T, "r", lw=1.2, label="fit (total)")
    tmpl = np.tensordot(np.array([1, th[-2], th[-1], 0.5 * th[-2] ** 2, 0.5 * th[-1] ** 2,
                                  th[-2] * th[-1]])[: len(model.lin)], model.lin, axes=1)
    for k, name in enumerate(LINEAR):
        ax.plot(nh, th[k] * tmpl[k] / EXPOSURE_DAY_100T, lw=0.8, label=name)
    ax.plot(nh, th[PARAMS.index("po210")] * model.po210(th) / EXPOSURE_DAY_100T,
            lw=0.8, label="po210")
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 30)
    ax.set_ylabel("counts / (day 100 t N_h)")
    ax.legend(ncol=4, fontsize=7)
    ax2.plot(nh, (model.n - nu) / np.sqrt(nu), ".", ms=2, color="k")
    ax2.axhline(0, color="r")
    ax2.set_ylabel("(data - fit)/sigma")
    ax2.set_xlabel("N_h")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description="Borexino validation report")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    published = measurements.measurement("published_limits.mu_eff_90_mub", "mu_B")
    pp, be7 = (measurements.measurement(f"published_rates.{g}", "cpd/100 t", constraint=True)
               for g in ("pp", "be7"))
    lk = BorexinoLikelihood(variant="radiochemical")
    sm = sm_summary(lk)
    print(f"SM fit, window N_h {lk.window_nh[0]}-{lk.window_nh[1]}: deviance "
          f"{sm['deviance']:.1f} / {sm['dof']} dof = {sm['deviance_per_dof']:.3f}")
    print(f"  pp {sm['pp']:.1f}  7Be {sm['be7']:.2f}  pep {sm['pep']:.2f}  CNO {sm['cno']:.2f} "
          f"cpd/100t; 14C {sm['c14_bq']:.1f} Bq/100t (published: pp {pp.value:g}+-"
          f"{pp.uncertainty:g}, 7Be {be7.value:g}+-{be7.uncertainty:g})")
    with open(args.out / "sm_fit.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["quantity", "value"])
        w.writerows(sm.items())

    lims = limits_at_zero_mass()
    print("\n90% C.L. upper limit on mu_eff (m_A' = 0), units 1e-11 mu_B")
    print(f"{'variant':<16}{'profile':>10}{'Bayes':>10}{'profile/published':>19}")
    with open(args.out / "limits_m0.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["variant", "profile_mub", "bayes_mub", "published_mub"])
        for v, r in lims.items():
            print(f"{v:<16}{r['profile'] / 1e-11:>10.2f}{r['bayes'] / 1e-11:>10.2f}"
                  f"{r['profile'] / published.value:>19.2f}")
            w.writerow([v, r["profile"], r["bayes"], published.value])

    with stage("Borexino limit versus m_A'"):
        curve = upper_limits(lk.fast, MASSES_GEV)
    with open(args.out / "limit_vs_mass.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["m_aprime_gev", "mu_eff_90_profile_mub", "mu_eff_90_bayes_mub"])
        w.writerows(zip(MASSES_GEV, curve["profile"], curve["bayes"]))
    print(f"\nlimit vs m_A' (radiochemical, profile): 1 keV {curve['profile'][0]:.3g}, "
          f"1 MeV {np.interp(-3, np.log10(MASSES_GEV), curve['profile']):.3g}, "
          f"100 MeV {curve['profile'][-1]:.3g} mu_B")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.loglog(MASSES_GEV * 1e3, curve["profile"], label="profile likelihood")
    ax.loglog(MASSES_GEV * 1e3, curve["bayes"], "--", label="Bayesian (flat in mu^2)")
    ax.axhline(published.value, color="grey", lw=0.8,
               label=f"published (m = 0): {published.citation}")
    ax.set_xlabel("m_A' [MeV]")
    ax.set_ylabel("90% C.L. limit on mu_eff [mu_B]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "limit_vs_mass.png", dpi=120)
    plt.close(fig)
    with stage("Borexino spectrum plot"):
        plot_spectrum(lk, args.out / "spectrum_fit.png")
    print(f"\nwrote CSV and PNG files to {args.out}")


if __name__ == "__main__":
    main()
