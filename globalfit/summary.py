"""The physics summary of a run: credible bounds of every parameter and key derived quantity
in its natural scale and unit, which of them the prior dominates, the best-fit draw with
its per-experiment ln L, and for nested sampling the evidence and the Bayes factor against
the no-signal model. Printed at the end of a run and written to ``summary.md``.

Per quantity, from the equal-weight posterior draws in the quantity's scale
(:mod:`globalfit.quantities`: log10 for log-uniform priors and for positive derived
quantities spanning decades): the one-sided 90 % and 95 % credible upper bounds (the 90 and
95 % quantiles) and, unless the posterior is prior-dominated, the central 68 % interval
(16 to 84 % quantiles).

Prior-dominated: the posterior standard deviation is more than :data:`PRIOR_DOMINATED`
= 1/sqrt(2) times the prior's, both in the quantity's scale. For a Gaussian prior (sd s_p)
and a Gaussian likelihood (sd s_L) the posterior sd is (s_p^-2 + s_L^-2)^-1/2, which exceeds
s_p / sqrt(2) exactly when s_L > s_p: the prior then carries more information than the
data. The prior's sd is exact for a sampled parameter (:func:`globalfit.quantities.prior_sd`);
for a derived quantity it is that of the prior predictive (the quantity at prior draws).
Such a quantity is mostly where the prior puts it: its interval would restate the prior,
its upper bounds may still be set by data.

Quantities identical at every draw are left out of the tables and listed in one line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .convergence import Convergence, fmt_number
from .evidence import NoSignal, bayes_factor
from .quantities import Quantity, in_scale, prior_sd, text_label, unit_latex

#: posterior sd / prior sd above which a quantity counts as prior-dominated (module docstring)
PRIOR_DOMINATED = float(1.0 / np.sqrt(2.0))
#: derived quantities listed first, in this order (then every likelihood extra)
KEY_QUANTITIES = ("mu_eff_mub", "lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2", "br_mu_e_gamma",
                  "br_tau_e_gamma", "br_tau_mu_gamma", "br_inv", "delta_n_nu")
SECTIONS = (("key", "Key derived quantities"), ("sampled", "Sampled parameters"),
            ("other", "Other derived quantities"))


@dataclass
class Row:
    """One quantity's numbers, in its scale (``upper95_value``: the 95 % bound in the
    quantity's unit, for log10 rows)."""
    quantity: Quantity
    section: str
    interval68: tuple[float, float]
    upper90: float
    upper95: float
    width_ratio: float
    r_hat: float | None
    ess_bulk: float | None
    n_nonfinite: int = 0
    zero_fraction: float = 0.0

    @property
    def prior_dominated(self) -> bool:
        return bool(np.isfinite(self.width_ratio) and self.width_ratio > PRIOR_DOMINATED)

    @property
    def upper95_value(self) -> float:
        return 10.0 ** self.upper95 if self.quantity.scale == "log10" else self.upper95


@dataclass
class PhysicsSummary:
    """Everything :func:`physics_summary` found; :meth:`lines` and :meth:`markdown` render it."""
    header: str
    convergence: Convergence
    rows: list[Row]
    constant: dict[str, tuple[float, str]]
    best_fit: dict[str, Any]
    evidence: dict[str, Any] | None
    experiments: dict[str, str] = field(default_factory=dict)

    @property
    def prior_dominated(self) -> list[str]:
        return [r.quantity.name for r in self.rows if r.prior_dominated]

    # ---- rendering ----------------------------------------------------------------------
    def _prior_line(self) -> str:
        names = ", ".join(self.prior_dominated) or "none"
        return (f"prior-dominated (posterior sd > 1/sqrt(2) = {PRIOR_DOMINATED:.3f} x prior sd "
                f"in the quantity's scale, i.e. for Gaussians the data are wider than the "
                f"prior; prior-predictive sd for derived quantities; no 68 % interval shown): "
                f"{names}")

    def _constant_line(self) -> str:
        items = [f"{n} = {v:.6g}{'' if u in ('', '1') else ' ' + u}"
                 for n, (v, u) in self.constant.items()]
        return "identical at every draw (left out): " + (", ".join(items) or "none")

    def _best_lines(self) -> list[str]:
        b = self.best_fit
        params = ", ".join(f"{n} = {v:.4g}{'' if u in ('', '1') else ' ' + u}"
                           for n, (v, u) in b["parameters"].items())
        out = [f"best fit: the posterior draw with the highest ln posterior "
               f"({b['ln_posterior']:.3f}; a draw, not an optimiser's maximum): {params}"]
        for label, lnl in b["ln_l"].items():
            ref = b["ln_l_no_signal"].get(label)
            tail = (f"ln L - ln L(no signal) = {lnl - ref:+.3f}" if ref is not None
                    else "no-signal ln L not defined")
            out.append(f"  {label:<12} {self.experiments.get(label, label):<22} "
                       f"ln L = {lnl:12.3f}   {tail}")
        return out

    def _evidence_lines(self) -> list[str]:
        ev = self.evidence
        if ev is None:
            return ["evidence: not computed (MCMC; run a nested sampler, dynesty or nautilus, "
                    "for ln Z)"]
        out = [f"evidence: ln Z = {ev['logz']:.3f} +- {ev['logzerr']:.3f}"]
        if ev["ln_b"] is not None:
            out.append(f"Bayes factor against the no-signal model (every likelihood at zero "
                       f"signal, ln Z_0 = {ev['ln_z0']:.3f}): ln B = {ev['ln_b']:.3f} +- "
                       f"{ev['ln_b_err']:.3f}")
        else:
            why = "; ".join(f"{k}: {v}" for k, v in ev["undefined"].items())
            out.append(f"Bayes factor against the no-signal model: not defined ({why})")
        return out

    def _cells(self, row: Row) -> list[str]:
        log = row.quantity.scale == "log10"
        spec = ".3f" if log else ".4g"
        interval = ("prior-dominated" if row.prior_dominated else
                    f"[{row.interval68[0]:{spec}}, {row.interval68[1]:{spec}}]")
        value = ""
        if log:
            value = f"{row.upper95_value:.3g}"
            if row.quantity.has_unit:
                value += f" {row.quantity.unit}"
        return [interval, f"{row.upper90:{spec}}", f"{row.upper95:{spec}}", value,
                fmt_number(row.r_hat, ".4f"), fmt_number(row.ess_bulk, ".0f"),
                fmt_number(row.width_ratio, ".2f")]

    def lines(self) -> list[str]:
        """The summary as terminal lines (plain text)."""
        out = [self.header, self.convergence.message()]
        heads = ["68 % interval", "90 % upper", "95 % upper", "95 % (value)", "R-hat",
                 "bulk ESS", "post/prior sd"]
        for key, title in SECTIONS:
            rows = [r for r in self.rows if r.section == key]
            if not rows:
                continue
            cells = [[text_label(r.quantity)] + self._cells(r) for r in rows]
            widths = [max(len(c[i]) for c in cells + [[title] + heads])
                      for i in range(len(heads) + 1)]
            out.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w)
                                 in enumerate(zip([title] + heads, widths))))
            for c in cells:
                out.append("  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                                     for i, (x, w) in enumerate(zip(c, widths))))
        return out + self._notes() + self._best_lines() + self._evidence_lines()

    def _notes(self) -> list[str]:
        out = [self._prior_line()]
        zero = [f"{r.quantity.name} ({100 * r.zero_fraction:.0f} %)" for r in self.rows
                if r.zero_fraction > 0.01]
        if zero:
            out.append("exactly 0 at part of the draws (the interval and bounds include "
                       "them): " + ", ".join(zero))
        nonfinite = [f"{r.quantity.name} ({r.n_nonfinite})" for r in self.rows if r.n_nonfinite]
        if nonfinite:
            out.append("draws with a non-finite value, left out of their row: "
                       + ", ".join(nonfinite))
        return out + [self._constant_line()]

    def markdown(self) -> str:
        """The summary as Markdown (``summary.md``)."""
        out = [f"# {self.header}", "", f"**Convergence.** {self.convergence.message()}", ""]
        heads = ["quantity", "scale", "68 % interval", "90 % upper", "95 % upper",
                 "95 % upper (value)", "R-hat", "bulk ESS", "post/prior sd", "description"]
        for key, title in SECTIONS:
            rows = [r for r in self.rows if r.section == key]
            if not rows:
                continue
            out += [f"## {title}", "", "| " + " | ".join(heads) + " |",
                    "|" + "---|" * len(heads)]
            for r in rows:
                q = r.quantity
                unit = f"${unit_latex(q.unit)}$" if q.has_unit else ""
                if q.scale == "log10":
                    scale = f"log10 ({unit})" if unit else "log10"
                else:
                    scale = unit or "linear"
                tex = q.latex.replace("|", r"\vert ")
                out.append("| " + " | ".join([f"${tex}$ (`{q.name}`)", scale]
                                             + self._cells(r)
                                             + [q.description.replace("|", r"\|")]) + " |")
            out.append("")
        for note in self._notes():
            out += [note, ""]
        out += ["## Best fit", ""]
        best = self._best_lines()
        out += [best[0], "", "| likelihood | experiment | ln L | ln L - ln L(no signal) |",
                "|---|---|---|---|"]
        b = self.best_fit
        for label, lnl in b["ln_l"].items():
            ref = b["ln_l_no_signal"].get(label)
            out.append(f"| {label} | {self.experiments.get(label, label)} | {lnl:.3f} | "
                       f"{'not defined' if ref is None else f'{lnl - ref:+.3f}'} |")
        out += ["", "## Evidence", ""] + [line + "  " for line in self._evidence_lines()]
        return "\n".join(out) + "\n"


def _section(q: Quantity) -> str:
    if q.role in ("sampled",):
        return "sampled"
    if q.role == "extra" or q.name in KEY_QUANTITIES:
        return "key"
    return "other"


def _order(q: Quantity) -> int:
    return KEY_QUANTITIES.index(q.name) if q.name in KEY_QUANTITIES else len(KEY_QUANTITIES)


def constant_value(values: np.ndarray) -> float | None:
    """The value of a quantity identical at every draw (NaN if every draw is non-finite),
    None if it varies."""
    x = np.asarray(values, dtype=float).ravel()
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return float("nan")
    if finite.size == x.size and np.all(finite == finite[0]):
        return float(finite[0])
    return None


def quantity_row(q: Quantity, draws: np.ndarray, prior_draws: np.ndarray | None,
                 r_hat: float | None, ess_bulk: float | None) -> Row:
    """The :class:`Row` of ``q`` from its posterior draws (and prior-predictive draws for a
    derived quantity)."""
    x = in_scale(q, draws).ravel()
    finite = x[np.isfinite(x)]
    lo, hi, u90, u95 = np.percentile(finite, [16, 84, 90, 95])
    sd = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    if q.derived:
        p = in_scale(q, prior_draws) if prior_draws is not None else np.array([])
        p = p[np.isfinite(p)]
        ref = float(np.std(p, ddof=1)) if p.size > 1 else float("nan")
    else:
        ref = prior_sd(q)
    ratio = sd / ref if ref > 0 else float("nan")
    zero = float(np.mean(np.asarray(draws, dtype=float) == 0.0))
    return Row(q, _section(q), (float(lo), float(hi)), float(u90), float(u95), ratio,
               r_hat, ess_bulk, int(x.size - finite.size), zero)


def physics_summary(data: Any, quantities: Mapping[str, Quantity],
                    prior_draws: Mapping[str, np.ndarray], table: Any,
                    convergence: Convergence, no_signal: NoSignal,
                    experiments: Mapping[str, str], header: str,
                    nested: Mapping[str, float] | None = None,
                    sampled: Sequence[str] = ()) -> PhysicsSummary:
    """The :class:`PhysicsSummary` of a run. ``data``: its groups (``posterior``,
    ``sample_stats`` with ``lp``, ``log_likelihood``); ``quantities``: the posterior group's
    quantities with their scale; ``table``: the ArviZ summary (R-hat, ESS); ``nested``:
    ``logz``, ``logzerr`` of a nested run; ``sampled``: the sampled parameters, in order."""
    post = data.posterior
    rows, constant = [], {}
    for name, q in quantities.items():
        values = np.asarray(post[name])
        c = constant_value(values)
        if c is not None:
            constant[name] = (c, q.unit)
            continue
        rhat = table.loc[name, "r_hat"] if name in table.index else None
        ess = table.loc[name, "ess_bulk"] if name in table.index else None
        rows.append(quantity_row(q, values, prior_draws.get(name), rhat, ess))
    rows.sort(key=lambda r: _order(r.quantity))
    lp = np.asarray(data.sample_stats["lp"])
    idx = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(lp), lp, -np.inf))),
                           lp.shape)
    ll = data.log_likelihood
    best = {"ln_posterior": float(lp[idx]),
            "parameters": {n: (float(np.asarray(post[n])[idx]), quantities[n].unit)
                           for n in sampled},
            "ln_l": {label: float(np.asarray(ll[label])[idx]) for label in ll.data_vars},
            "ln_l_no_signal": dict(no_signal.values), "draw": [int(i) for i in idx]}
    evidence = None
    if nested is not None:
        evidence = {"logz": float(nested["logz"]), "logzerr": float(nested["logzerr"]),
                    **bayes_factor(float(nested["logz"]), float(nested["logzerr"]),
                                   no_signal)}
    return PhysicsSummary(header=header, convergence=convergence, rows=rows,
                          constant=constant, best_fit=best, evidence=evidence,
                          experiments=dict(experiments))
