"""The no-signal reference of a run: each likelihood's ln L where the dark sector gives no
signal, and the Bayes factor of a nested-sampling run against that model.

How the shipped likelihoods define "no signal" (their docstrings):

* NA64: ln L is the ratio to s = 0 expected signal events, s proportional to eps^2: 0 at
  eps = 0 whatever m_A' and BR_inv.
* BaBar: the ratio to x = eps^2 BR_inv = 0: 0 at eps = 0.
* MEG / tau -> l gamma: the half-Gaussian -BR^2 / (2 sigma^2): 0 at BR = 0.
* Borexino (fast mode) and XENONnT (fast mode): the profiled ln L, which at zero moment
  strength (|eps Lambda|^2 = mu_eff^2 = 0) is the profiled Standard-Model fit (Borexino: its
  ln L_SM; XENONnT: 0, the returned value being the ratio to it) at any m_A'.
* LEP: the ratio to the Standard Model (Delta N_nu = 0, no heavy charged lepton below the
  LEP 2 limit): 0 for a Z-decoupled doublet far above the LEP reach.

:data:`NO_SIGNAL` holds those observable values. Every other observable a likelihood needs
(``m_aprime_gev``, ``br_inv``, widths, ...) is a spectator: :func:`no_signal_lnl` evaluates
the likelihood at the no-signal values with the spectators taken from a set of points (the
run's posterior draws) and accepts the result only if it is finite and the same at all of
them (within :data:`TOLERANCE`). A likelihood with sampled nuisances has no parameter-free
no-signal value (its no-signal model still has free parameters, whose evidence is a separate
integral), and one whose value depends on the spectators or that needs an observable without
a no-signal value has none either: they are reported as such, never given a value.

With every likelihood defined, the no-signal model has no free parameter: Z_0 = L_0 =
exp(sum_k ln L_k,0), and ln B = ln Z - ln Z_0 (error that of ln Z).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

#: observable -> its value without a dark-sector signal (see the module docstring);
#: m_e_charged_gev: the heavy charged lepton decoupled (far above any collider reach)
NO_SIGNAL: dict[str, float] = {
    "eps": 0.0,
    "lam2_1_mub2": 0.0, "lam2_2_mub2": 0.0, "lam2_3_mub2": 0.0,
    "mu_eff2_mub2": 0.0, "mu_eff_mub": 0.0,
    "br_mu_e_gamma": 0.0, "br_tau_e_gamma": 0.0, "br_tau_mu_gamma": 0.0,
    "delta_n_nu": 0.0, "m_e_charged_gev": 1.0e19,
}
#: largest spread (in ln L) over the spectator points for a no-signal value to count as one
TOLERANCE = 1e-6


@dataclass
class NoSignal:
    """``values``: label -> ln L at no signal for the likelihoods where it is defined;
    ``undefined``: label -> why it is not."""
    values: dict[str, float] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float | None:
        """sum_k ln L_k at no signal, None unless every likelihood has a value."""
        return None if self.undefined else float(sum(self.values.values()))


def no_signal_lnl(likelihoods: Mapping[str, Any],
                  spectators: Mapping[str, np.ndarray]) -> NoSignal:
    """ln L of each likelihood at no signal (module docstring). ``spectators``: observable
    name -> ``(n,)`` values at ``n`` points (e.g. posterior draws) used for the observables
    that have no no-signal value."""
    out = NoSignal()
    for label, like in likelihoods.items():
        if like.nuisances:
            names = ", ".join(nu.name for nu in like.nuisances)
            out.undefined[label] = (f"its nuisances ({names}) are sampled: the no-signal model "
                                    "keeps them as free parameters")
            continue
        free = [k for k in like.requires if k not in NO_SIGNAL]
        missing = [k for k in free if k not in spectators]
        if missing:
            out.undefined[label] = f"no values of {', '.join(missing)} to evaluate it at"
            continue
        n = min(len(np.atleast_1d(spectators[k])) for k in free) if free else 1
        obs = {k: (np.asarray(spectators[k], dtype=float)[:n] if k in free
                   else np.full(n, NO_SIGNAL[k])) for k in like.requires}
        with np.errstate(all="ignore"):
            lnl = np.asarray(like.loglike(obs, None), dtype=float)
        if not np.all(np.isfinite(lnl)):
            out.undefined[label] = "ln L is not finite at zero signal"
        elif np.ptp(lnl) > TOLERANCE:
            out.undefined[label] = (f"at zero signal ln L still depends on {', '.join(free)} "
                                    f"(spread {np.ptp(lnl):.3g})")
        else:
            out.values[label] = float(np.mean(lnl))
    return out


def bayes_factor(logz: float, logzerr: float, no_signal: NoSignal) -> dict[str, Any]:
    """``ln B = ln Z - ln Z_0`` against the no-signal model and its error (that of ln Z);
    ``ln_b`` None with the reasons when the no-signal model is not defined."""
    total = no_signal.total
    if total is None:
        return {"ln_b": None, "ln_b_err": None, "ln_z0": None,
                "undefined": dict(no_signal.undefined)}
    return {"ln_b": float(logz - total), "ln_b_err": float(logzerr), "ln_z0": total,
            "undefined": {}}
