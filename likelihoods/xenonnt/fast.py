"""Fast form: the profiled Delta ln L on a precomputed (signal strength, m_A') grid.

Coordinates (as ``likelihoods.borexino.fast``): for strengths q_w (mu_B^2) and mass m the
expected window counts are N(q, m) = sum_w q_w N_w(m); the grid variable is the equivalent
massless universal strength s = N(q, m)/N_univ(0) (mu_B^2), u = sqrt(s)/U_REF_MUB.

* u nodes ``U_NODES`` every 0.1 to u = 8 (s = 160 x the square of the published limit;
  Delta ln L < -1e3 there at every mass); cubic spline in s at each mass node (Delta ln L is
  close to quadratic in s). At m_A' ~ 0.1 - 0.3 MeV the signal (P^2 ~ T^2: rising with T) is
  allowed up to u ~ 4, where Delta ln L is far from quadratic: an earlier grid with nodes 0.5
  apart above u = 2 was off by up to 1.9 in ln L there, hence the uniform 0.1 spacing.
* mass nodes every 1/40 decade from 1e-7 to 1 GeV (``LOG10_M_NODES``), linear interpolation
  in log10 m between them. Below 1e-7 GeV the signal shape equals that of m = 0 to < 2e-5
  (P^2 = 1 - O(m^2/2 m_e T)); above 1 GeV P^2 = (2 m_e T/m^2)^2 to < 1e-4 and the shape is fixed.
  N_w(m) itself is exact at any mass (1/100-decade table, m^-4 tail beyond it).
* Beyond the last u node: linear continuation in s with the (non-positive) end slope, so a
  stronger signal is never less excluded than the grid edge.
* Mass-basis strengths are collapsed into s with each weight's own N_w(m): exact for the rate,
  assumes equal shapes (checked against the direct profile in tests/test_xenonnt.py).

Every node is the profile of ``profile.profile_beta`` (the same callable as direct mode); the
grid is cached on disk (``cache.cached_arrays``).
"""
from __future__ import annotations

import numpy as np

from .._spline import strength_spline

U_REF_MUB = 1e-11
DU = 0.1
U_NODES = np.arange(0.0, 8.0 + DU / 2, DU)
LOG10_M_NODES = np.linspace(-7.0, 0.0, 281)
LOG10_M_FINE = np.linspace(-8.0, 1.0, 901)


def build_grid(model) -> dict[str, np.ndarray]:
    """Profile Delta ln L at every (u, m) node with ``model.delta_universal`` (one vectorised call
    per mass node) and tabulate N_w(m)."""
    n_fine = model.window_counts(10.0 ** LOG10_M_FINE)                       # (4, n_fine)
    n_zero = model.window_counts(np.array([0.0]))[:, 0]
    delta = np.zeros((len(U_NODES), len(LOG10_M_NODES)))
    for j, lm in enumerate(LOG10_M_NODES):
        m = 10.0 ** lm
        ratio = n_zero[0] / model.window_counts(np.array([m]))[0, 0]
        q0 = (U_NODES * U_REF_MUB) ** 2 * ratio
        delta[:, j] = model.delta_universal(q0, m)
    return {"u": U_NODES, "log10_m": LOG10_M_NODES, "delta": delta,
            "n_fine": n_fine, "n_zero": n_zero, **strength_spline(U_NODES, delta)}


class FastGrid:
    """Interpolated profiled Delta ln L; ``loglike(q (n, 4), m (n,))``."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.lm = arrays["log10_m"]
        self.s = arrays["u"] ** 2
        # flattened spline coefficients, index i * n_m + j (interval i in s, mass node j)
        self.c0, self.c1, self.c2, self.c3 = (np.ascontiguousarray(c.reshape(-1))
                                              for c in arrays["coef"])
        self.slope = arrays["slope"]
        self.n0 = arrays["n_zero"]
        self.log_n_fine = np.log(np.maximum(arrays["n_fine"], 1e-300))
        self.dlm = self.lm[1] - self.lm[0]

    def n_signal(self, q: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Window counts sum_w q_w N_w(m) (n,), log-linear on the 1/100-decade table; only the
        weights with a non-zero strength are evaluated."""
        lm = np.log10(np.maximum(m, 1e-300))
        top = LOG10_M_FINE[-1]
        x = (np.clip(lm, LOG10_M_FINE[0], top) - LOG10_M_FINE[0]) / (LOG10_M_FINE[1] - LOG10_M_FINE[0])
        i = np.minimum(x.astype(np.intp), len(LOG10_M_FINE) - 2)
        f = x - i
        tail = np.where(m < 10 ** LOG10_M_FINE[0], 0.0, -4.0 * np.log(10.0) * np.maximum(lm - top, 0.0))
        out = np.zeros(m.shape)
        for w in range(q.shape[1]):
            if not np.any(q[:, w]):
                continue
            row = self.log_n_fine[w]
            logn = row[i] * (1 - f) + row[i + 1] * f
            logn = np.where(m < 10 ** LOG10_M_FINE[0], np.log(self.n0[w]), logn)
            out += q[:, w] * np.exp(logn + tail)
        return out

    def delta_lnl(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Interpolated Delta ln L at grid coordinate u (n,) and masses m (n,) in GeV."""
        lm = np.clip(np.log10(np.maximum(m, 1e-300)), self.lm[0], self.lm[-1])
        x = (lm - self.lm[0]) / self.dlm
        j = np.minimum(x.astype(np.intp), len(self.lm) - 2)
        g = x - j
        n_int = len(self.s) - 1
        i = np.minimum((u / DU).astype(np.intp), n_int - 1)
        h = np.minimum(u * u, self.s[-1]) - self.s[i]
        over = np.maximum(u * u - self.s[-1], 0.0)
        n_m = len(self.lm)
        out = np.zeros_like(u)
        for jj, wt in ((j, 1.0 - g), (j + 1, g)):
            k = i * n_m + jj
            val = ((self.c0[k] * h + self.c1[k]) * h + self.c2[k]) * h + self.c3[k]
            out += wt * (val + self.slope[jj] * over)
        return out

    def loglike(self, q: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Profiled Delta ln L for strengths q (n, 4) [mu_B^2] and masses m (n,) [GeV]."""
        s = self.n_signal(q, m) / self.n0[0]
        return self.delta_lnl(np.sqrt(np.maximum(s, 0.0)) / U_REF_MUB, m)
