"""``globalfit validate [--json] [--only GROUPS]``: recompute the published numbers the project
can reproduce and compare (ours, published, ratio, pass/fail); exit status 1 on any failure.

Checks (EXPERIMENTS.md section 5; tolerances on the ratio ours/published):

* ``borexino``: 90 % C.L. limit on a flavour-universal mu_eff, massless mediator, Phase-II
  spectrum with the radiochemical flux constraint, nuisances profiled, Delta chi^2 = 2.71;
  published 2.8e-11 mu_B (Borexino, Phys. Rev. D 96 (2017) 091103); tolerance 0.7 - 1.4.
  Also the flavour limits mu_e < 3.9e-11, mu_mu, mu_tau < 5.8e-11 mu_B that the collaboration
  derived from it: ours from ``weights: flavour`` (P_ee(E) inside the templates, one flavour at a
  time), with sin^2 theta23 = 1/2, the value for which Borexino's formula gives its equal mu_mu and
  mu_tau bounds (NuFIT 6.0's 0.561 splits them by -6 % / +6 %; docs/borexino.md); tolerance 0.7 - 1.4.
* ``na64``: eps_90 (BR_inv = 1; flat prior in eps^2 >= 0, background marginalised) at ten
  masses of the published 2016-2022 curve between 1 MeV and 1 GeV (NA64, PRL 131 (2023)
  161801, arXiv:2307.02404); tolerance 5 %.
* ``babar``: eps_90 (BR_inv = 1; flat prior in eps^2 >= 0) at ten masses between 10 MeV and
  8 GeV, against values read off BaBar's published 90 % C.L. curve (PRL 119 (2017) 131804,
  arXiv:1702.03327, Fig. 4); tolerance 5 %.
* ``xenonnt``: 90 % C.L. limit on a flavour-universal mu_eff, massless mediator, XENONnT SR0
  electron recoils (unbinned, background normalisation profiled, Delta chi^2 = 2.71);
  published 6.3e-12 mu_B (XENONnT, PRL 129 (2022) 161805); tolerance 0.7 - 1.4 (the
  project's reconstruction of the signal, docs/xenonnt.md, not the collaboration's analysis).
* ``meg``: the flat-prior 90 % limit on BR(mu -> e gamma) from the likelihood, MEG II 2025
  (1.5e-13, arXiv:2504.15711) and MEG II 2023 with MEG (3.1e-13, EPJC 84 (2024) 216,
  arXiv:2310.12614); tolerance 1 %.

Every published number is read from the data files, with its citation (the same files the
likelihoods read, except the BaBar points): the Borexino and XENONnT limits from
``data/{borexino,xenonnt}/measurements.yaml`` (``published_limits.mu_eff_90_mub``), the NA64
points from
``data/accelerator/na64_2023_eps90.csv`` (the rows nearest to ten log-spaced masses 1 MeV -
1 GeV), the BaBar points from ``data/accelerator/babar_2017_validation_points.csv`` (Darkcast
digitisation, independent of the GAMBIT table the BaBar likelihood uses), the MEG limits from
``data/flavour/clfv_limits.yaml``. The tolerances are this module's. The Borexino check uses
the cached fast grid of ``likelihoods.borexino`` (built on first use).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["Check", "GROUPS", "Target", "published_targets", "run_checks", "main"]

GROUPS = ("borexino", "xenonnt", "na64", "babar", "meg")


@dataclass(frozen=True)
class Target:
    """One published number: ``group``, ``name``, mass (GeV, or None), value, tolerance."""
    group: str
    name: str
    m_aprime_gev: float | None
    published: float
    low: float
    high: float
    source: str


_NA64_CHECK_MASSES_GEV = np.geomspace(1e-3, 1.0, 10)
"""Masses (GeV) near which the NA64 curve is checked (its nearest tabulated rows)."""
_MEG_CHECKS = (("meg2_2025_br90", "meg2_2025"), ("meg2_2023_br90", "meg2_2023"))
_MEG_DATASET = dict(_MEG_CHECKS)
_FLAVOURS = ("e", "mu", "tau")
_FLAVOUR_CHECK_SIN2_THETA23 = 0.5
"""sin^2 theta23 of the Borexino flavour checks: the value for which the collaboration's
formula gives its equal mu_mu and mu_tau bounds (module docstring)."""


def _na64_targets() -> tuple[Target, ...]:
    from likelihoods.na64 import dataset_info, published_eps90_curve
    mass, eps90 = published_eps90_curve()
    source = f"{dataset_info('2016-2022')['citation']} (90 % C.L. curve, BR_inv = 1)"
    rows = dict.fromkeys(int(np.argmin(abs(np.log(mass) - math.log(m))))
                         for m in _NA64_CHECK_MASSES_GEV)
    return tuple(Target("na64", f"na64_eps90_m{mass[i] * 1e3:.4g}MeV", float(mass[i]),
                        float(eps90[i]), 0.95, 1.05, source) for i in rows)


def _babar_targets() -> tuple[Target, ...]:
    from likelihoods import _stats

    from .errors import DataFileError
    from .paths import data_file
    path = data_file("accelerator", "babar_2017_validation_points.csv")
    table = _stats.read_table(path, ("m_aprime_gev", "eps_90", "darkcast_mass_gev"))
    mass, eps90 = table["m_aprime_gev"], table["eps_90"]
    if not (np.all(np.diff(mass) > 0) and np.all((eps90 > 0) & (eps90 < 1))):
        raise DataFileError(f"{path}: masses must increase and limits lie in (0, 1)")
    source = ("BaBar, PRL 119 (2017) 131804, arXiv:1702.03327 (90 % C.L. curve, BR_inv = 1; "
              "Darkcast digitisation)")
    return tuple(Target("babar", f"babar_eps90_m{m * 1e3:.4g}MeV", float(m), float(e),
                        0.95, 1.05, source) for m, e in zip(mass, eps90))


def _meg_targets() -> tuple[Target, ...]:
    from likelihoods.meg import clfv_limits
    datasets = clfv_limits()["mu_e_gamma"]["datasets"]
    return tuple(Target("meg", name, None, float(datasets[ds]["upper_limit"]), 0.99, 1.01,
                        str(datasets[ds]["citation"])) for name, ds in _MEG_CHECKS)


def published_targets() -> tuple[Target, ...]:
    """Every reference number, read from the data files (module docstring)."""
    from .limits.terms import published_limit
    direct = []
    for exp, key in ([("borexino", "mu_eff")] + [("borexino", f"mu_{f}") for f in _FLAVOURS]
                     + [("xenonnt", "mu_eff")]):
        value, citation = published_limit(exp, f"{key}_90_mub")
        direct.append(Target(exp, f"{exp}_{key}_90_mub", 0.0, value, 0.7, 1.4, citation))
    return tuple(direct) + _na64_targets() + _babar_targets() + _meg_targets()


def __getattr__(name: str) -> tuple[Target, ...]:
    """``PUBLISHED``: :func:`published_targets` (read when first asked for)."""
    if name == "PUBLISHED":
        return published_targets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Check:
    """Result of one comparison (the JSON record)."""
    name: str
    ours: float | None
    published: float
    ratio: float | None
    ok: bool


def _eps90_bayes(loglike: Callable[[dict], np.ndarray], m_gev: float) -> float:
    """eps_90 with a flat prior on eps^2 >= 0 and BR_inv = 1 from an accelerator likelihood."""
    from likelihoods import _stats

    def f(x: np.ndarray) -> np.ndarray:
        x = np.atleast_1d(np.asarray(x, dtype=float))
        return loglike({"m_aprime_gev": np.full(len(x), m_gev),
                        "eps": np.sqrt(np.maximum(x, 0.0)), "br_inv": np.ones(len(x))})
    return math.sqrt(_stats.bayesian_upper_limit(f, 1e-6))


def _ours(target: Target, cache: dict) -> float:
    from likelihoods import _stats, get_likelihood
    flavour = next((f for f in _FLAVOURS if target.name == f"borexino_mu_{f}_90_mub"), None)
    if flavour is not None:
        from likelihoods.moment_limits import FLAVOUR_DIRECTIONS, upper_limit_mub
        lk = cache.setdefault("borexino_flavour", get_likelihood(
            "borexino", variant="radiochemical", weights="flavour",
            sin2_theta23=_FLAVOUR_CHECK_SIN2_THETA23))
        return upper_limit_mub(lk, 0.0, "profile", FLAVOUR_DIRECTIONS[flavour])
    if target.group == "borexino":
        from .limits import BorexinoSpectrumTerm, upper_limit
        term = cache.setdefault("borexino", BorexinoSpectrumTerm(variant="radiochemical"))
        return upper_limit(lambda mu: term.loglike(mu, 0.0), "profile")
    if target.group == "xenonnt":
        from .limits import upper_limit
        from .limits.terms import LikelihoodMomentTerm
        term = cache.setdefault("xenonnt", LikelihoodMomentTerm(
            [get_likelihood("xenonnt")], "XENONnT SR0"))
        return upper_limit(lambda mu: term.loglike(mu, 0.0), "profile")
    if target.group in ("na64", "babar"):
        lk = cache.setdefault(target.group, get_likelihood(target.group))
        return _eps90_bayes(lk.loglike, float(target.m_aprime_gev))
    from likelihoods.meg import clfv_limits
    dataset = _MEG_DATASET[target.name]
    lk = get_likelihood("meg", dataset=dataset)
    scale = float(clfv_limits()["mu_e_gamma"]["datasets"][dataset]["upper_limit"])
    return _stats.bayesian_upper_limit(
        lambda br: lk.loglike({o: np.maximum(br, 0.0) for o in lk.requires}), scale)


def run_checks(only: Sequence[str] | None = None,
               targets: Sequence[Target] | None = None) -> list[Check]:
    """Evaluate the targets (default :func:`published_targets`) of the groups in ``only`` (all
    groups by default), with a progress bar per check. A check whose computation fails
    (missing data, no limit) is reported with ``ours = None``, ``ok = False``."""
    from .errors import GlobalFitError
    from .progress import progress
    groups = GROUPS if only is None else tuple(only)
    targets = published_targets() if targets is None else targets
    selected = [t for t in targets if t.group in groups]
    cache: dict = {}
    out = []
    with progress(len(selected), "validate", unit="check") as bar:
        for t in selected:
            bar.set_status(t.name)
            try:
                ours = float(_ours(t, cache))
            except (GlobalFitError, ValueError, OSError) as exc:
                print(f"{t.name}: could not compute ({exc})", file=sys.stderr)
                out.append(Check(t.name, None, t.published, None, False))
                bar.update(1)
                continue
            ratio = ours / t.published
            ok = bool(np.isfinite(ratio) and t.low <= ratio <= t.high)
            out.append(Check(t.name, ours, t.published, ratio, ok))
            bar.update(1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``globalfit validate``: 0 all checks pass, 1 a check fails, 2 bad input."""
    ap = argparse.ArgumentParser(prog="globalfit validate",
                                 description="reproduce published limits and compare")
    ap.add_argument("--json", action="store_true",
                    help="print a JSON list of {name, ours, published, ratio, ok}")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated groups to run (of {', '.join(GROUPS)})")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    args = ap.parse_args(argv)
    from .errors import GlobalFitError
    from .progress import configure
    configure(args.quiet)
    only = None
    if args.only:
        only = [g.strip() for g in args.only.split(",") if g.strip()]
        bad = [g for g in only if g not in GROUPS]
        if bad:
            print(f"--only: unknown group {bad[0]!r} (use {', '.join(GROUPS)})",
                  file=sys.stderr)
            return 2
    start = time.perf_counter()
    try:
        checks = run_checks(only)
    except GlobalFitError as exc:
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=1))
    else:
        print(f"{'check':<28}{'ours':>13}{'published':>13}{'ratio':>9}  result")
        for c in checks:
            ours = "n/a" if c.ours is None else f"{c.ours:.4g}"
            ratio = "n/a" if c.ratio is None else f"{c.ratio:.4f}"
            print(f"{c.name:<28}{ours:>13}{c.published:>13.4g}{ratio:>9}  "
                  f"{'pass' if c.ok else 'FAIL'}")
        n_fail = sum(not c.ok for c in checks)
        print(f"{len(checks) - n_fail}/{len(checks)} passed in "
              f"{time.perf_counter() - start:.1f} s")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
