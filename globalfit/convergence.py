"""Convergence verdict of a run: the project's criteria and the sampler's own stopping rule.

Criteria (for every sampled parameter, from the ArviZ summary of the written draws):
rank-normalised split R-hat < :data:`RHAT_MAX` (Vehtari et al., Bayesian Analysis 16 (2021)
667) and bulk effective sample size >= :data:`ESS_MIN`; plus the sampler's own rule
(:attr:`globalfit.sampling.SamplerResult.converged`: emcee's autocorrelation rule, dynesty's
dlogz, nautilus' N_eff).

Verdicts and what the run records:

* ``converged``: every criterion met; status ``complete``, exit 0.
* ``not converged``: the sampler stopped at its cap (``max_steps``, ``maxiter``, ``maxcall``)
  before its rule was met; status ``not converged``, exit :data:`EXIT_NOT_CONVERGED`, and
  ``--resume`` with a larger cap continues the chain.
* ``criteria not met``: the sampler's rule was met but R-hat or ESS of some parameter is not
  (e.g. a nested run with too few live points for 1000 effective draws); status ``complete``
  (a resumed run would stop at once), exit 0, with the same warning.
* ``no claim``: a fixed-length run (emcee ``stop: fixed``) or a sampler without a rule; the
  diagnostics are reported, no convergence is claimed; status ``complete``, exit 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

RHAT_MAX = 1.01
ESS_MIN = 1000.0
#: exit status of a run that stopped at its cap unconverged (continue it with --resume)
EXIT_NOT_CONVERGED = 3


@dataclass
class Convergence:
    """The verdict (module docstring) and the numbers behind it; ``failing``: parameter ->
    ``{"r_hat": float | None, "ess_bulk": float | None}`` (None: not a number)."""
    verdict: str
    sampler_rule: str
    sampler_met: bool | None
    max_r_hat: float | None
    min_ess_bulk: float | None
    min_ess_tail: float | None
    failing: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "not converged" if self.verdict == "not converged" else "complete"

    @property
    def exit_code(self) -> int:
        return EXIT_NOT_CONVERGED if self.verdict == "not converged" else 0

    def failing_text(self) -> str:
        """``"eps (R-hat 1.043, bulk ESS 212)"``, comma separated."""
        return ", ".join(f"{name} (R-hat {fmt_number(v['r_hat'], '.4f')}, bulk ESS "
                         f"{fmt_number(v['ess_bulk'], '.0f')})"
                         for name, v in self.failing.items())

    def message(self) -> str:
        """One line for the terminal and summary.md."""
        criteria = f"split R-hat < {RHAT_MAX:g} and bulk ESS >= {ESS_MIN:g}"
        if self.verdict == "converged":
            return (f"converged: {criteria} for every sampled parameter, and the sampler's "
                    f"rule ({self.sampler_rule}) was met")
        if self.verdict == "no claim":
            return (f"no convergence claim: {self.sampler_rule or 'the sampler has no rule'}"
                    "; R-hat and ESS below are diagnostics only (max R-hat "
                    f"{fmt_number(self.max_r_hat, '.4f')}, min bulk ESS "
                    f"{fmt_number(self.min_ess_bulk, '.0f')})")
        fails = (f"; failing {criteria}: {self.failing_text()}" if self.failing else
                 f"; {criteria} hold for every sampled parameter (max R-hat "
                 f"{fmt_number(self.max_r_hat, '.4f')}, min bulk ESS "
                 f"{fmt_number(self.min_ess_bulk, '.0f')})")
        if self.verdict == "not converged":
            return (f"NOT CONVERGED: stopped at its cap before the sampler's rule "
                    f"({self.sampler_rule}) was met{fails}; continue with --resume and a "
                    "larger cap")
        return (f"criteria not met: the sampler's rule ({self.sampler_rule}) was met"
                f"{fails}")

    def manifest(self) -> dict[str, Any]:
        """The ``convergence`` entry of manifest.json."""
        return {
            "verdict": self.verdict,
            "criteria": f"split R-hat < {RHAT_MAX:g}, bulk ESS >= {ESS_MIN:g} for every "
                        "sampled parameter, and the sampler's rule",
            "sampler_rule": self.sampler_rule,
            "sampler_rule_met": self.sampler_met,
            "max_r_hat": self.max_r_hat,
            "min_ess_bulk": self.min_ess_bulk,
            "min_ess_tail": self.min_ess_tail,
            "r_hat_below_1.01": self.max_r_hat is not None and self.max_r_hat < RHAT_MAX
            and not self._nan("r_hat"),
            "ess_bulk_at_least_1000": self.min_ess_bulk is not None
            and self.min_ess_bulk >= ESS_MIN and not self._nan("ess_bulk"),
            "failing": self.failing,
        }

    def _nan(self, key: str) -> bool:
        return any(v[key] is None for v in self.failing.values())


def _number(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_number(x: float | None, spec: str) -> str:
    """``x`` formatted with ``spec``, ``"n/a"`` for None or NaN (never printed as a number)."""
    x = _number(x)
    return "n/a" if x is None else format(x, spec)


def assess(table: Any, names: Sequence[str], sampler_met: bool | None,
           sampler_rule: str) -> Convergence:
    """The verdict for the sampled parameters ``names`` of ``table`` (the summary table of
    :func:`globalfit.output.summary_table`: columns ``r_hat``, ``ess_bulk``, ``ess_tail``)."""
    failing: dict[str, dict[str, float | None]] = {}
    rhats, bulks, tails = [], [], []
    for name in names:
        r = _number(table.loc[name, "r_hat"])
        b = _number(table.loc[name, "ess_bulk"])
        t = _number(table.loc[name, "ess_tail"])
        rhats += [r] if r is not None else []
        bulks += [b] if b is not None else []
        tails += [t] if t is not None else []
        if r is None or r >= RHAT_MAX or b is None or b < ESS_MIN:
            failing[name] = {"r_hat": r, "ess_bulk": b}
    if sampler_met is None:
        verdict = "no claim"
    elif not sampler_met:
        verdict = "not converged"
    else:
        verdict = "criteria not met" if failing else "converged"
    return Convergence(verdict=verdict, sampler_rule=sampler_rule, sampler_met=sampler_met,
                       max_r_hat=max(rhats) if rhats else None,
                       min_ess_bulk=min(bulks) if bulks else None,
                       min_ess_tail=min(tails) if tails else None, failing=failing)
