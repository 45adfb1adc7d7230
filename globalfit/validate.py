"""``globalfit validate [--json] [--only GROUPS]``: recompute the published numbers the project
can reproduce and compare (ours, published, ratio, pass/fail); exit status 1 on any failure.

Checks (EXPERIMENTS.md section 5; tolerances on the ratio ours/published):

* ``borexino``: 90 % C.L. limit on a flavour-universal mu_eff, massless mediator, Phase-II
  spectrum with the radiochemical flux constraint, nuisances profiled, Delta chi^2 = 2.71;
  published 2.8e-11 mu_B (Borexino, Phys. Rev. D 96 (2017) 091103); tolerance 0.7 - 1.4.
* ``na64``: eps_90 (BR_inv = 1; flat prior in eps^2 >= 0, background marginalised) at ten
  masses of the published 2016-2022 curve between 1 MeV and 1 GeV (NA64, PRL 131 (2023)
  161801, arXiv:2307.02404); tolerance 5 %.
* ``babar``: eps_90 (BR_inv = 1; flat prior in eps^2 >= 0) at ten masses between 10 MeV and
  8 GeV, against values read off BaBar's published 90 % C.L. curve (PRL 119 (2017) 131804,
  arXiv:1702.03327, Fig. 4); tolerance 5 %.
* ``meg``: the flat-prior 90 % limit on BR(mu -> e gamma) from the likelihood, MEG II 2025
  (1.5e-13, arXiv:2504.15711) and MEG II 2023 with MEG (3.1e-13, EPJC 84 (2024) 216,
  arXiv:2310.12614); tolerance 1 %.

The published numbers are written below with their sources, independently of the data files
the likelihoods read, so a damaged data file shows up as a failure. The Borexino check uses
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

__all__ = ["Check", "GROUPS", "PUBLISHED", "run_checks", "main"]

GROUPS = ("borexino", "na64", "babar", "meg")


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


_NA64 = "NA64, PRL 131 (2023) 161801, arXiv:2307.02404 (90 % C.L. curve, BR_inv = 1)"
_BABAR = "BaBar, PRL 119 (2017) 131804, arXiv:1702.03327 (90 % C.L. curve, BR_inv = 1)"

#: (mass GeV, eps_90): tabulated points of the published NA64 2016-2022 curve (9.37e11 EOT).
_NA64_POINTS = ((0.0010284, 5.0489e-06), (0.0020753, 7.163e-06), (0.0046564, 1.1742e-05),
                (0.010448, 2.1611e-05), (0.02119, 4.0502e-05), (0.047546, 9.18e-05),
                (0.096433, 2.003e-04), (0.20623, 5.1558e-04), (0.47339, 1.6074e-03),
                (1.0014, 5.2574e-03))
#: (mass GeV, eps_90) read off the published BaBar 2017 mono-photon 90 % C.L. curve.
_BABAR_POINTS = ((0.01, 9.4758e-04), (0.1, 9.4629e-04), (0.26, 9.4713e-04),
                 (0.5, 9.5378e-04), (1.0, 9.6684e-04), (2.0, 8.226e-04), (3.0, 7.4817e-04),
                 (4.0, 4.5614e-04), (5.0, 5.4709e-04), (7.0, 9.473e-04))

PUBLISHED: tuple[Target, ...] = (
    (Target("borexino", "borexino_mu_eff_90_mub", 0.0, 2.8e-11, 0.7, 1.4,
            "Borexino, PRD 96 (2017) 091103, arXiv:1707.09355"),)
    + tuple(Target("na64", f"na64_eps90_m{m * 1e3:.4g}MeV", m, e, 0.95, 1.05, _NA64)
            for m, e in _NA64_POINTS)
    + tuple(Target("babar", f"babar_eps90_m{m * 1e3:.4g}MeV", m, e, 0.95, 1.05, _BABAR)
            for m, e in _BABAR_POINTS)
    + (Target("meg", "meg2_2025_br90", None, 1.5e-13, 0.99, 1.01,
              "MEG II, arXiv:2504.15711 (with MEG)"),
       Target("meg", "meg2_2023_br90", None, 3.1e-13, 0.99, 1.01,
              "MEG II, EPJC 84 (2024) 216, arXiv:2310.12614 (with MEG)"))
)
_MEG_DATASET = {"meg2_2025_br90": "meg2_2025", "meg2_2023_br90": "meg2_2023"}


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
    if target.group == "borexino":
        from .limits import BorexinoSpectrumTerm, upper_limit
        term = cache.setdefault("borexino", BorexinoSpectrumTerm(variant="radiochemical"))
        return upper_limit(lambda mu: term.loglike(mu, 0.0), "profile")
    if target.group in ("na64", "babar"):
        lk = cache.setdefault(target.group, get_likelihood(target.group))
        return _eps90_bayes(lk.loglike, float(target.m_aprime_gev))
    lk = get_likelihood("meg", dataset=_MEG_DATASET[target.name])
    return _stats.bayesian_upper_limit(
        lambda br: lk.loglike({"br_mu_e_gamma": np.maximum(br, 0.0)}), lk.upper_limit)


def run_checks(only: Sequence[str] | None = None,
               targets: Sequence[Target] | None = None) -> list[Check]:
    """Evaluate the targets (default ``PUBLISHED``) of the groups in ``only`` (all groups by
    default). A check whose
    computation fails (missing data, no limit) is reported with ``ours = None``, ``ok = False``."""
    from .errors import GlobalFitError
    groups = GROUPS if only is None else tuple(only)
    targets = PUBLISHED if targets is None else targets
    cache: dict = {}
    out = []
    for t in targets:
        if t.group not in groups:
            continue
        try:
            ours = float(_ours(t, cache))
        except (GlobalFitError, ValueError, OSError) as exc:
            print(f"{t.name}: could not compute ({exc})", file=sys.stderr)
            out.append(Check(t.name, None, t.published, None, False))
            continue
        ratio = ours / t.published
        ok = bool(np.isfinite(ratio) and t.low <= ratio <= t.high)
        out.append(Check(t.name, ours, t.published, ratio, ok))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``globalfit validate``: 0 all checks pass, 1 a check fails, 2 bad input."""
    ap = argparse.ArgumentParser(prog="globalfit validate",
                                 description="reproduce published limits and compare")
    ap.add_argument("--json", action="store_true",
                    help="print a JSON list of {name, ours, published, ratio, ok}")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated groups to run (of {', '.join(GROUPS)})")
    args = ap.parse_args(argv)
    only = None
    if args.only:
        only = [g.strip() for g in args.only.split(",") if g.strip()]
        bad = [g for g in only if g not in GROUPS]
        if bad:
            print(f"error: --only: unknown group {bad[0]!r} (use {', '.join(GROUPS)})",
                  file=sys.stderr)
            return 2
    start = time.perf_counter()
    checks = run_checks(only)
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
