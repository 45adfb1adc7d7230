"""Unbinned extended Poisson likelihood of the XENONnT events, profiled over the B0 normalisation.

For n events at reconstructed energies E_i, background density B_i = X B0(E_i) (events/keV,
expected N_B in the window) scaled by beta >= 0, and a signal density S_i (expected N_S):

    ln L(beta) = -(beta N_B + N_S) + sum_i ln(beta B_i + S_i) [- (beta - 1)^2 / (2 sigma_beta^2)]

(extended maximum likelihood: R. Barlow, Nucl. Instrum. Meth. A 297 (1990) 496; constant
-sum ln n_i! dropped). The optional Gaussian term is the ``background: published_rate`` option
(sigma_beta = 1.3/15.8, the relative error of the published background rate; it double-counts
the data B0 was fitted to, which docs/xenonnt.md states). ln L is strictly concave in beta (its
second derivative is -sum B_i^2/(beta B_i + S_i)^2 - 1/sigma^2 < 0), so the maximum is the unique
root of d ln L / d beta in [0, n/N_B + 1] (beyond n/N_B the derivative is negative); it is found
by Newton steps safeguarded by bisection, vectorised over points (no loop over points).
"""
from __future__ import annotations

import numpy as np

N_ITER = 60


def profile_beta(s_events: np.ndarray, n_signal: np.ndarray, b_events: np.ndarray, n_b: float,
                 sigma_beta: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximum over beta of ln L for each point.

    ``s_events`` (n_events, n) signal densities, ``n_signal`` (n,), ``b_events`` (n_events,),
    ``n_b`` expected B0 events. Returns (ln L_max (n,), beta_hat (n,)); finite for S >= 0.
    """
    s = np.asarray(s_events, dtype=float)
    b = np.asarray(b_events, dtype=float)[:, None]
    n_ev = s.shape[0]
    inv_var = 0.0 if sigma_beta is None else 1.0 / sigma_beta**2
    lo = np.zeros(s.shape[1])
    hi = np.full(s.shape[1], n_ev / n_b + 1.0 + (0.0 if sigma_beta is None else 1.0))
    beta = np.clip(np.ones(s.shape[1]), lo, hi)

    def deriv(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = b / (x[None, :] * b + s)
        return (np.sum(r, axis=0) - n_b - inv_var * (x - 1.0),
                -np.sum(r * r, axis=0) - inv_var)

    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(N_ITER):
            g, h = deriv(beta)
            if np.all(np.abs(g) <= 1e-10 * n_b):
                break
            lo = np.where(g > 0, beta, lo)
            hi = np.where(g <= 0, beta, hi)
            step = beta - g / h
            inside = np.isfinite(step) & (step > lo) & (step < hi)
            beta = np.where(inside, step, 0.5 * (lo + hi))
        lnl = (-(beta * n_b + n_signal) + np.sum(np.log(beta[None, :] * b + s), axis=0)
               - 0.5 * inv_var * (beta - 1.0) ** 2)
    return np.where(np.isnan(lnl), -np.inf, lnl), beta
