"""Fast mode: the profiled Delta ln L on a precomputed (signal strength, m_A') grid.

Coordinates. For strengths q_w (universal and/or mass-state weights, mu_B^2) and mass m, the
in-window signal counts at SSM fluxes are N(q, m) = sum_w q_w N_w(m), with N_w(m) tabulated
exactly (one reduced-basis product, ``templates``) on a fine log-m grid. The grid variable is the
equivalent massless universal strength s = N(q, m) / N_univ(0) (mu_B^2), through
u = sqrt(s) / U_REF_MUB. In these coordinates Delta ln L depends only weakly on m (the
propagator mostly rescales the signal), so a coarse m grid suffices:

* u nodes ``U_NODES`` (cubic spline in s = u^2 at each m node: Delta ln L is close to quadratic
  in the signal strength), m nodes 1 keV .. 100 MeV
  (cubic spline in log10 m through the nodes, 1/16 decade apart where the shape changes,
  10 keV - 10 MeV). Below 1 keV the shape is that of 1 keV (P^2 differs from 1 by
  < 4e-6 over the window), above 100 MeV that of 100 MeV (P^2 -> (2 m_e T / m^2)^2, shape fixed);
  the normalisation N_w(m) is exact at any mass (m^-4 tail beyond 1 GeV).
* Beyond the last node: second-order extrapolation in s with non-positive curvature.
* Mass-basis strengths are collapsed into s using each weight's own N_w(m): this is exact for
  the rate and assumes equal shapes, which ``tests/test_borexino_likelihood.py`` checks.

The grid (profiles at every node, with warm starts along u) is cached on disk.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from . import cache
from .templates import SIGNAL_WEIGHTS, SOLAR
from .xsec import propagator_factor

U_REF_MUB = 3e-11
U_NODES = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.45, 1.75, 2.1, 2.35, 2.6, 2.95, 3.3, 3.7])
# Mass nodes: the signal shape changes where m_A'^2 ~ 2 m_e T crosses the window
# (T ~ 0.1-2 MeV, i.e. m_A' ~ 0.3-2 MeV); there Delta ln L at fixed u moves by O(1) per
# half decade, so the nodes are 1/16 decade apart from 10 keV to 10 MeV and the nodes are
# joined by a cubic spline in log10 m (agreement with the full profile within 0.05 in ln L is
# checked in tests/test_borexino_likelihood.py).
LOG10_M_NODES = np.concatenate([[-6.0, -5.0, -4.5], np.arange(-4.0, -2.0 + 1e-9, 0.0625),
                                [-1.75, -1.5, -1.25, -1.0]])
LOG10_M_FINE = np.linspace(-8.0, 0.0, 801)


def window_signal_counts(model, m_gev: np.ndarray) -> np.ndarray:
    """N_w(m): in-window signal counts per mu_B^2 at SSM fluxes, nominal response; (4, n_m)."""
    s = model.sig
    p2 = propagator_factor(s["t"][:, None], np.asarray(m_gev)[None, :]) ** 2     # (nt, nm)
    per_w = np.einsum("swt,tm->wtm", s["mm"], p2)                                 # (4, nt, nm)
    row = s["U"].sum(axis=0) @ s["W"][0]          # (nt,): window-summed response, once
    return np.einsum("t,wtm->wm", row, per_w)


class FastGrid:
    """Interpolated profiled Delta ln L; ``loglike(q, m)`` returns ln L_max(q, m)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.u = arrays["u"]
        # Upsample the mass nodes with a monotone cubic (PCHIP: no overshoot between nodes) in
        # log10 m, for every u node, onto a
        # 1/100-decade grid; the evaluation then interpolates linearly on that dense grid.
        lm_nodes = arrays["log10_m"]
        self.lm = np.linspace(lm_nodes[0], lm_nodes[-1], int(round(100 * (lm_nodes[-1] - lm_nodes[0]))) + 1)
        self.delta = PchipInterpolator(lm_nodes, arrays["delta"], axis=1)(self.lm)  # (n_u, n_m_dense)
        self.lnl_sm = float(arrays["lnl_sm"])
        self.n_fine = arrays["n_fine"]            # (4, n_fine) N_w on LOG10_M_FINE
        self.n0 = arrays["n_zero"]                # (4,) N_w(0)
        self.log_n_fine = np.log(np.maximum(self.n_fine, 1e-300))
        # Spline in the signal strength s = u^2, in which Delta ln L is close to quadratic
        # (Gaussian regime), so a cubic spline is accurate with few nodes.
        self.s = self.u**2
        sp = CubicSpline(self.s, self.delta, axis=0, bc_type="natural")
        self.coef = np.ascontiguousarray(sp.c)   # (4, n_u - 1, n_m)
        self.d1 = sp(self.s[-1], 1)
        self.d2 = np.minimum(sp(self.s[-1], 2), 0.0)

    @classmethod
    def for_likelihood(cls, lk) -> "FastGrid":
        opts = dict(lk._options(), variant=lk.variant, window=lk.window_nh, kind="fast",
                    u=U_NODES.tolist(), m=LOG10_M_NODES.tolist())
        return cls(cache.cached_arrays("fast", opts, lambda: build_grid(lk), lk.use_cache))

    def n_signal(self, q: np.ndarray, m: np.ndarray) -> np.ndarray:
        """In-window signal counts sum_w q_w N_w(m) at SSM fluxes, (n,)."""
        m = np.where(np.isfinite(m), m, 0.0)
        lm = np.log10(np.maximum(m, 1e-300))
        top = LOG10_M_FINE[-1]
        lmc = np.clip(lm, LOG10_M_FINE[0], top)
        x = (lmc - LOG10_M_FINE[0]) / (LOG10_M_FINE[1] - LOG10_M_FINE[0])
        i = np.clip(x.astype(int), 0, len(LOG10_M_FINE) - 2)
        f = x - i
        logn = self.log_n_fine
        nw = np.exp(logn[:, i] * (1 - f) + logn[:, i + 1] * f)            # (4, n)
        nw = np.where(m[None, :] < 10 ** LOG10_M_FINE[0], self.n0[:, None], nw)
        nw = nw * 10.0 ** (-4.0 * np.maximum(lm - top, 0.0))[None, :]
        return np.einsum("nw,wn->n", q, nw)

    def delta_lnl(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Interpolated Delta ln L at grid coordinates u (n,) and masses m (n,) in GeV."""
        m = np.where(np.isfinite(m), m, 0.0)
        u = np.where(np.isfinite(u), u, 0.0)
        lm = np.clip(np.log10(np.maximum(m, 1e-300)), self.lm[0], self.lm[-1])
        j = np.clip(np.searchsorted(self.lm, lm, side="right") - 1, 0, len(self.lm) - 2)
        g = (lm - self.lm[j]) / (self.lm[j + 1] - self.lm[j])
        s = u * u
        sc = np.minimum(s, self.s[-1])
        i = np.clip(np.searchsorted(self.s, sc, side="right") - 1, 0, len(self.s) - 2)
        h = sc - self.s[i]
        over = np.maximum(s - self.s[-1], 0.0)
        out = np.zeros_like(u)
        for jj, wt in ((j, 1 - g), (j + 1, g)):
            c = self.coef[:, i, jj]
            val = ((c[0] * h + c[1]) * h + c[2]) * h + c[3]
            val = val + self.d1[jj] * over + 0.5 * self.d2[jj] * over**2
            out += wt * val
        return out

    def loglike(self, q: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Profiled ln L for strengths q (n, 4) [mu_B^2] and masses m (n,) [GeV]."""
        s = self.n_signal(q, m) / self.n0[0]
        return self.lnl_sm + self.delta_lnl(np.sqrt(np.maximum(s, 0.0)) / U_REF_MUB, m)


def build_grid(lk) -> dict[str, np.ndarray]:
    """Profile the likelihood at every (u, m) node (warm starts along u)."""
    model = lk.model
    chi_sm, th_sm = lk.sm_fit
    n_fine = window_signal_counts(model, 10.0**LOG10_M_FINE)
    n_zero = window_signal_counts(model, np.array([0.0]))[:, 0]
    delta = np.zeros((len(U_NODES), len(LOG10_M_NODES)))
    th_prev = [th_sm] * len(U_NODES)
    for j, lm in enumerate(LOG10_M_NODES):
        m = 10.0**lm
        ratio = n_zero[0] / window_signal_counts(model, np.array([m]))[0, 0]
        for i, u in enumerate(U_NODES):
            if u == 0.0:
                continue
            q = np.zeros(len(SIGNAL_WEIGHTS))
            q[0] = (u * U_REF_MUB) ** 2 * ratio
            # warm start from the previous mass at the same u (the grid coordinates make the
            # profile nearly mass-independent)
            chi, th_prev[i] = model.fit(th_prev[i], q, m)
            delta[i, j] = -0.5 * (chi - chi_sm)
    return {"u": U_NODES, "log10_m": LOG10_M_NODES, "delta": delta,
            "lnl_sm": np.array(-0.5 * chi_sm), "n_fine": n_fine, "n_zero": n_zero,
            "solar": np.array(SOLAR)}


def upper_limits(grid: FastGrid, m_gev: np.ndarray, weights_q: np.ndarray | None = None,
                 cl_delta_chi2: float = 2.71, cl_bayes: float = 0.90,
                 u_max: float = 8.0, n_u: int = 8001) -> dict[str, np.ndarray]:
    """90 % C.L. upper limits on the moment (mu_B) at masses ``m_gev`` (n,).

    ``profile``: one-sided profile likelihood, -2 [ln L(mu) - ln L_max(mu >= 0)] = 2.71.
    ``bayes``: posterior flat in mu^2 >= 0 (nuisances profiled), 90 % quantile.
    ``weights_q`` (4,) picks the direction in strength space (default: universal moment);
    the limit is on sqrt(t) for strengths t * weights_q.
    """
    m = np.atleast_1d(np.asarray(m_gev, dtype=float))
    q = np.array([1.0, 0.0, 0.0, 0.0]) if weights_q is None else np.asarray(weights_q, float)
    n_unit = grid.n_signal(np.broadcast_to(q, (len(m), 4)), m) / grid.n0[0]   # s per unit t
    u = np.linspace(0.0, u_max, n_u)
    prof, bayes = np.empty(len(m)), np.empty(len(m))
    for k, mk in enumerate(m):
        d = grid.delta_lnl(u, np.full_like(u, mk))
        t2 = -2.0 * (d - d.max())
        ib = int(np.argmax(d))
        above = np.nonzero((t2 >= cl_delta_chi2) & (np.arange(len(u)) > ib))[0]
        u_prof = u[above[0]] if len(above) else np.inf
        if len(above):
            i = above[0]
            u_prof = np.interp(cl_delta_chi2, t2[i - 1:i + 1], u[i - 1:i + 1])
        post = np.exp(d - d.max()) * 2.0 * u          # flat in s = u^2: ds = 2u du
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (post[1:] + post[:-1]) * np.diff(u))])
        u_bay = np.interp(cl_bayes, cdf / cdf[-1], u)
        prof[k], bayes[k] = u_prof, u_bay
    to_mu = U_REF_MUB / np.sqrt(n_unit)
    return {"profile": prof * to_mu, "bayes": bayes * to_mu}
