"""Fast mode: a profiled Delta ln L tabulated on a (signal strength, m_A') grid.

The grid is built from a *profile callable* and a ``GridSpec``, nothing else:
``tabulate(profile, signal_norm, lnl_sm, spec)`` calls ``profile(s_nodes, m_nodes)`` (Delta ln L
of the profiled fit, (n_s, n_m), for the equivalent massless universal strengths s in mu_B^2
at the masses in GeV) and ``signal_norm(m)`` (in-window signal counts per unit strength of
each weight, (n_w, n_m)). No detector detail enters this module.

Coordinates. For strengths q_w and mass m the signal counts are N(q, m) = sum_w q_w N_w(m),
with N_w(m) tabulated on a fine log-m grid. The grid variable is the equivalent massless
universal strength s = N(q, m) / N_univ(0) (mu_B^2), through u = sqrt(s) / u_ref_mub. In these
coordinates Delta ln L depends only weakly on m (the propagator mostly rescales the signal),
so a coarse m grid suffices:

* u nodes (cubic spline in s = u^2 at each m node: Delta ln L is close to quadratic in the
  signal strength), m nodes 1 keV .. 100 MeV (monotone cubic in log10 m, upsampled to 1/100
  decade and interpolated linearly).
* Mass axis beyond the nodes: below the first node the shape is that of the first node
  (Borexino: P^2 differs from 1 by < 4e-6 over the window below 1 keV), above the last node
  that of the last node (P^2 -> (2 m_e T / m^2)^2, shape fixed); the normalisation N_w(m) is
  exact at any mass (m^-4 tail beyond the fine grid), so a heavy mediator tends to no signal.
* Strength axis beyond the last node: extrapolation in s with the end slope clipped to <= 0
  (the natural spline's end curvature is zero), so Delta ln L is non-increasing in s there: a signal beyond the grid is at
  least as excluded as the grid's edge; an infinite strength gives -inf, never NaN.
* Mass-basis strengths are collapsed into s using each weight's own N_w(m): exact for the rate,
  it assumes equal shapes (``tests/test_borexino_likelihood.py`` checks this for Borexino).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from likelihoods._spline import strength_spline

U_REF_MUB = 3e-11
U_NODES = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.45, 1.75, 2.1, 2.35, 2.6, 2.95, 3.3, 3.7,
                    4.2, 4.8, 5.5, 6.3, 7.2, 8.2, 9.5, 11.0])
# u nodes reach 11: for m_A' ~ 1-3 MeV the signal shape is partly absorbed by 7Be, 85Kr and
# 210Bi, so the 90 % limit lies at u ~ 7 in the spectrum-only variant (u ~ 4-5 with the
# radiochemical constraint); a grid ending at u = 3.7 put it in the clipped extrapolation,
# which overestimated ln L there by up to 6 at 1.5 x the limit.
# Mass nodes: the signal shape changes where m_A'^2 ~ 2 m_e T crosses the window
# (T ~ 0.1-2 MeV, i.e. m_A' ~ 0.3-2 MeV); there Delta ln L at fixed u moves by O(1) per
# half decade, so the nodes are 1/16 decade apart from 10 keV to 10 MeV and the nodes are
# joined by a monotone cubic in log10 m (agreement with the full profile within 0.05 in ln L is
# checked in tests/test_borexino_likelihood.py).
LOG10_M_NODES = np.concatenate([[-6.0, -5.0, -4.5], np.arange(-4.0, -2.0 + 1e-9, 0.0625),
                                [-1.75, -1.5, -1.25, -1.0]])
LOG10_M_FINE = np.linspace(-8.0, 0.0, 801)

Profile = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""profile(s_values (n_s,) mu_B^2, m_values (n_m,) GeV) -> Delta ln L (n_s, n_m)."""
SignalNorm = Callable[[np.ndarray], np.ndarray]
"""signal_norm(m (n,) GeV) -> signal counts per unit strength of each weight, (n_w, n)."""


@dataclass(frozen=True)
class GridSpec:
    """Nodes of a fast grid: u (dimensionless, u = sqrt(s)/u_ref), log10 m nodes of the
    profile, log10 m of the fine normalisation table."""
    u_nodes: tuple[float, ...] = tuple(U_NODES)
    u_ref_mub: float = U_REF_MUB
    log10_m_nodes: tuple[float, ...] = tuple(LOG10_M_NODES)
    log10_m_fine: tuple[float, ...] = tuple(LOG10_M_FINE)

    def key(self) -> dict:
        """JSON-able description (part of a cache key)."""
        return {"u": list(self.u_nodes), "m": list(self.log10_m_nodes), "u_ref": self.u_ref_mub,
                "m_fine": [self.log10_m_fine[0], self.log10_m_fine[-1], len(self.log10_m_fine)]}

    @property
    def s_nodes(self) -> np.ndarray:
        """Strengths of the u nodes, mu_B^2."""
        return (np.asarray(self.u_nodes) * self.u_ref_mub) ** 2


def tabulate(profile: Profile, signal_norm: SignalNorm, lnl_sm: float,
             spec: GridSpec = GridSpec()) -> dict[str, np.ndarray]:
    """The arrays of a FastGrid: ``profile`` at every node, ``signal_norm`` on the fine mass
    grid and at m = 0, the no-signal ln L ``lnl_sm``."""
    lm_nodes = np.asarray(spec.log10_m_nodes, dtype=float)
    delta = np.asarray(profile(spec.s_nodes, 10.0**lm_nodes), dtype=float)
    if delta.shape != (len(spec.u_nodes), len(lm_nodes)) or not np.all(np.isfinite(delta)):
        raise ValueError("profile: expected a finite (n_u, n_m) array")
    u = np.asarray(spec.u_nodes, dtype=float)
    return {"u": u, "log10_m": lm_nodes, "delta": delta,
            "u_ref": np.array(spec.u_ref_mub), "lnl_sm": np.array(float(lnl_sm)),
            "log10_m_fine": np.asarray(spec.log10_m_fine, dtype=float),
            "n_fine": signal_norm(10.0 ** np.asarray(spec.log10_m_fine)),
            "n_zero": signal_norm(np.array([0.0]))[:, 0], **interpolation_tables(u, lm_nodes, delta)}


def interpolation_tables(u: np.ndarray, lm_nodes: np.ndarray, delta: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """What ``FastGrid`` evaluates, derived from the nodes once (part of the cached arrays, so
    that loading a grid needs no spline construction):

    * ``lm_dense``, ``delta_dense`` (n_u, n_dense): monotone cubic (PCHIP: no overshoot between
      nodes; F. N. Fritsch and R. E. Carlson, SIAM J. Numer. Anal. 17 (1980) 238) in log10 m at
      every u node, on a 1/100-decade grid;
    * ``coef`` (4, n_u - 1, n_dense), ``slope`` (n_dense,): the strength spline at every dense
      mass (``likelihoods._spline.strength_spline``: natural cubic in s = u^2, continued
      linearly with the end slope clipped to <= 0). An earlier version also continued with the
      spline's end curvature, which is zero for a natural spline: evaluated, it was rounding
      noise (|d2| < 1e-16) that changed from build to build and, at strengths ~1e8 times the
      grid's edge, outweighed the slope term."""
    from scipy.interpolate import PchipInterpolator
    n_dense = int(round(100 * (lm_nodes[-1] - lm_nodes[0]))) + 1
    lm = np.linspace(lm_nodes[0], lm_nodes[-1], n_dense)
    dense = PchipInterpolator(lm_nodes, delta, axis=1)(lm)
    return {"lm_dense": lm, "delta_dense": dense, **strength_spline(u, dense)}


class FastGrid:
    """Interpolated profiled Delta ln L; ``loglike(q, m)`` returns ln L_max(q, m)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.u = arrays["u"]
        self.u_ref = float(arrays["u_ref"])
        self.lm = arrays["lm_dense"]                # (n_dense,) log10 m, 1/100 decade
        self.delta = arrays["delta_dense"]          # (n_u, n_dense)
        self.lnl_sm = float(arrays["lnl_sm"])
        self.lm_fine = arrays["log10_m_fine"]
        self.n_fine = arrays["n_fine"]            # (n_w, n_fine) N_w on lm_fine
        self.n0 = arrays["n_zero"]                # (n_w,) N_w(0)
        self.log_n_fine = np.log(np.maximum(self.n_fine, 1e-300))
        self.s = self.u**2
        self.coef = np.ascontiguousarray(arrays["coef"])   # (4, n_u - 1, n_dense)
        self.slope = arrays["slope"]                        # (n_dense,), <= 0

    def n_signal(self, q: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Signal counts sum_w q_w N_w(m) (n,) for strengths q (n, n_w) and finite m (n,)."""
        m = np.where(np.isfinite(m), m, 0.0)
        lm = np.log10(np.maximum(m, 1e-300))
        lo, top = self.lm_fine[0], self.lm_fine[-1]
        x = (np.clip(lm, lo, top) - lo) / (self.lm_fine[1] - lo)
        i = np.clip(x.astype(int), 0, len(self.lm_fine) - 2)
        f = x - i
        logn = self.log_n_fine
        nw = np.exp(logn[:, i] * (1 - f) + logn[:, i + 1] * f)            # (n_w, n)
        nw = np.where(m[None, :] < 10**lo, self.n0[:, None], nw)
        nw = nw * 10.0 ** (-4.0 * np.maximum(lm - top, 0.0))[None, :]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.einsum("nw,wn->n", q, nw)

    def delta_lnl(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Interpolated Delta ln L at grid coordinates u >= 0 (n,; may be +inf) and finite
        masses m (n,) in GeV; non-increasing in u beyond the last node, -inf at u = inf."""
        m = np.where(np.isfinite(m), m, 0.0)
        lm = np.clip(np.log10(np.maximum(m, 1e-300)), self.lm[0], self.lm[-1])
        j = np.clip(np.searchsorted(self.lm, lm, side="right") - 1, 0, len(self.lm) - 2)
        g = (lm - self.lm[j]) / (self.lm[j + 1] - self.lm[j])
        with np.errstate(over="ignore"):
            s = np.asarray(u, dtype=float) ** 2
        sc = np.minimum(s, self.s[-1])
        i = np.clip(np.searchsorted(self.s, sc, side="right") - 1, 0, len(self.s) - 2)
        h = sc - self.s[i]
        over = np.maximum(s - self.s[-1], 0.0)
        out = np.zeros_like(s)
        for jj, wt in ((j, 1 - g), (j + 1, g)):
            c = self.coef[:, i, jj]
            val = ((c[0] * h + c[1]) * h + c[2]) * h + c[3]
            slope = self.slope[jj]
            with np.errstate(over="ignore", invalid="ignore"):
                val = val + np.where(slope < 0, slope * over, 0.0)
                out += np.where(wt > 0, wt * val, 0.0)
        return out

    def loglike(self, q: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Profiled ln L for strengths q (n, n_w) >= 0 [mu_B^2] and finite masses m (n,) [GeV]."""
        s = self.n_signal(q, m) / self.n0[0]
        return self.lnl_sm + self.delta_lnl(np.sqrt(np.maximum(s, 0.0)) / self.u_ref, m)


def upper_limits(grid: FastGrid, m_gev: np.ndarray, weights_q: np.ndarray | None = None,
                 cl_delta_chi2: float = 2.71, cl_bayes: float = 0.90,
                 u_max: float = 8.0, n_u: int = 8001) -> dict[str, np.ndarray]:
    """90 % C.L. upper limits on the moment (mu_B) at masses ``m_gev`` (n,).

    ``profile``: one-sided profile likelihood, -2 [ln L(mu) - ln L_max(mu >= 0)] = 2.71.
    ``bayes``: posterior flat in mu^2 >= 0 (nuisances profiled), 90 % quantile.
    ``weights_q`` (n_w,) picks the direction in strength space (default: universal moment);
    the limit is on sqrt(t) for strengths t * weights_q.
    """
    m = np.atleast_1d(np.asarray(m_gev, dtype=float))
    n_w = len(grid.n0)
    q = np.eye(n_w)[0] if weights_q is None else np.asarray(weights_q, float)
    n_unit = grid.n_signal(np.broadcast_to(q, (len(m), n_w)), m) / grid.n0[0]   # s per unit t
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
    to_mu = grid.u_ref / np.sqrt(n_unit)
    return {"profile": prof * to_mu, "bayes": bayes * to_mu}
