"""Validation report: ``python -m likelihoods.borexino.report --out DIR``.

Prints a table (SM fit quality and rates; 90 % C.L. limits on a flavour-universal moment with a
massless mediator for the three flux-constraint variants, profile and Bayesian) and writes
into DIR: ``sm_fit.csv``, ``response_checks.csv`` (``checks.response_table``),
``limits_m0.csv``, ``limit_vs_mass.csv`` and the plots
``spectrum_fit.png`` (data, fitted components, residuals) and ``limit_vs_mass.png``.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from globalfit.progress import progress, stage

from . import checks, measurements
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


#: Legend names and styles of the fitted components: solar neutrinos solid, intrinsic
#: backgrounds dashed, external and detector backgrounds dotted; 14 distinct colours.
COMPONENT_STYLE: dict[str, tuple[str, str, str]] = {
    "pp": (r"pp $\nu$", "-", "tab:blue"),
    "be7": (r"$^7$Be $\nu$", "-", "tab:orange"),
    "pep": (r"pep $\nu$", "-", "tab:green"),
    "cno": (r"CNO $\nu$", "-", "tab:purple"),
    "b8": (r"$^8$B $\nu$", "-", "tab:brown"),
    "c14": (r"$^{14}$C", "--", "tab:gray"),
    "pileup": ("pile-up", ":", "tab:olive"),
    "kr85": (r"$^{85}$Kr", "--", "tab:cyan"),
    "bi210": (r"$^{210}$Bi", "--", "tab:pink"),
    "c11": (r"$^{11}$C", "--", "darkgoldenrod"),
    "ext_k40": (r"external $^{40}$K", ":", "navy"),
    "ext_bi214": (r"external $^{214}$Bi", ":", "darkred"),
    "ext_tl208": (r"external $^{208}$Tl", ":", "darkgreen"),
    "po210": (r"$^{210}$Po", "--", "black"),
}


def plot_spectrum(lk: BorexinoLikelihood, path: Path) -> None:
    """Data, SM best fit and its components (rates per N_h bin), with residuals; the top axis
    gives Borexino's electron-equivalent energy of the bins (``energy_kev`` column)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, th = lk.sm_fit
    model = lk.model
    sp = load_phase2()
    nh = sp.n_h[model.mask]
    nu = model.expected(th[None])[0]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.errorbar(nh, model.n / EXPOSURE_DAY_100T, np.sqrt(model.n) / EXPOSURE_DAY_100T, fmt=".",
                ms=2, color="k", elinewidth=0.5, label="Borexino Phase-II data (2011-2016)")
    ax.plot(nh, nu / EXPOSURE_DAY_100T, color="red", lw=1.6, label="SM fit (total)")
    tmpl = np.tensordot(np.array([1, th[-2], th[-1], 0.5 * th[-2] ** 2, 0.5 * th[-1] ** 2,
                                  th[-2] * th[-1]])[: len(model.lin)], model.lin, axes=1)
    curves = [(name, th[k] * tmpl[k]) for k, name in enumerate(LINEAR)]
    curves.append(("po210", th[PARAMS.index("po210")] * model.po210(th)))
    for name, y in curves:
        label, style, colour = COMPONENT_STYLE[name]
        ax.plot(nh, y / EXPOSURE_DAY_100T, style, color=colour, lw=1.0, label=label)
    ax.set_yscale("log")
    ax.set_ylim(1e-4, 30)
    ax.set_ylabel(r"rate [counts / (day $\times$ 100 t $\times$ N$_h$ bin)]")
    ax.legend(ncol=4, fontsize=7, loc="upper right")
    ax.set_title(f"Borexino Phase-II spectrum, SM-only fit ({lk.variant} variant, window "
                 f"N$_h$ {lk.window_nh[0]}-{lk.window_nh[1]})", fontsize=9)
    e_kev = sp.energy_kev[model.mask]
    top = ax.twiny()
    top.set_xlim(ax.get_xlim())
    ticks_kev = [e for e in (200, 500, 1000, 1500, 2000, 2500, 3000)
                 if e_kev[0] <= e <= e_kev[-1]]
    top.set_xticks(np.interp(ticks_kev, e_kev, nh), [f"{e:g}" for e in ticks_kev])
    top.set_xlabel("electron-equivalent energy [keV] (Borexino's N$_h$ to keV map)")
    ax2.plot(nh, (model.n - nu) / np.sqrt(nu), ".", ms=2, color="k")
    ax2.axhline(0, color="red", lw=1.0)
    ax2.set_ylabel(r"(data $-$ fit) / $\sigma$")
    ax2.set_xlabel(r"N$_h$: number of hit PMTs, normalised to 2000 live PMTs")
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

    print("\nResponse validation (Borexino numbers not used in the calibration)")
    table = checks.response_table(lk)
    for quantity, ours, theirs, _ in table:
        print(f"  {quantity:<44}{ours:>16}{theirs:>16}")
    with open(args.out / "response_checks.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("quantity", "this_response", "borexino", "source")] + table)

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
    ax.loglog(MASSES_GEV * 1e3, curve["bayes"], "--", label=r"Bayesian (flat in $\mu^2$)")
    ax.axhline(published.value, color="grey", lw=0.8,
               label=r"Borexino (2017), $m_{A'} = 0$: " + f"{published.value:.2g}" + r" $\mu_B$")
    ax.set_xlabel(r"$m_{A'}$ [MeV]")
    ax.set_ylabel(r"90% C.L. limit on $\mu_\mathrm{eff}$ [$\mu_B$]")
    ax.set_title("Borexino Phase-II, radiochemical constraints (this tool)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "limit_vs_mass.png", dpi=120)
    plt.close(fig)
    with stage("Borexino spectrum plot"):
        plot_spectrum(lk, args.out / "spectrum_fit.png")
    print(f"\nwrote CSV and PNG files to {args.out}")


if __name__ == "__main__":
    main()
