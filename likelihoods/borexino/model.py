"""Expected counts of the Borexino Phase-II spectrum in a fit window, and the profile fit.

Statistics: Poisson likelihood in the Baker-Cousins deviance form,
D = 2 sum_i [nu_i - n_i + n_i ln(n_i / nu_i)] (S. Baker and R. D. Cousins, Nucl. Instrum.
Meth. 221 (1984) 437, eq. 15), ln L = -D/2 (+ the flux-constraint term of the variant).
D itself is the goodness-of-fit statistic (asymptotically chi^2 with n_bins - n_free d.o.f.).

Counts: nu = sum_k g_k(ds, dr) [sum_c theta_c T_kc] + 210Po peak + signal, with the Taylor
basis T of ``templates.linear_templates`` and the signal through the reduced basis U, W_k of
``templates.signal_basis`` with P(T, m)^2 applied by ``likelihoods.solar.fold``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from likelihoods.solar import fold

from .parameters import (I_DR, I_DS, I_H3, I_H4, I_MU, I_PO, I_SG, LOWER, N_LIN, PARAMS,
                         SCALE, UPPER)
from .response import taylor_coefficients, taylor_derivatives
from .spectrum import EXPOSURE_DAY_100T, load_phase2


def baker_cousins_deviance(nu: np.ndarray, n: np.ndarray,
                           overwrite: bool = False) -> np.ndarray:
    """Poisson deviance D = 2 sum [nu - n + n ln(n/nu)] over the last axis (Baker & Cousins
    1984, eq. 15); n ln n := 0 for n = 0; +inf where some nu <= 0 has n > 0. ``overwrite``:
    ``nu`` (a float64 array of the caller's) may be overwritten with ln nu (no temporary)."""
    nu = np.asarray(nu, dtype=float)
    n = np.asarray(n, dtype=float)
    pos = n > 0
    const = np.sum(n[pos] * np.log(n[pos])) - np.sum(n)
    every = bool(np.all(pos))                 # no empty bin: no masking needed (fewer passes)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.sum(nu, axis=-1)
        if every:
            lognu = np.log(nu, out=nu) if overwrite else np.log(nu)
        else:
            lognu = np.log(np.where(pos, nu, 1.0))
        d = 2.0 * (total - lognu @ n + const)
    if every:
        # a bin with nu <= 0 (or NaN) makes ln nu -inf or NaN and so d non-finite: caught
        # below without a pass over nu
        return np.where(np.isfinite(d), d, np.inf)
    bad = np.any(pos & (nu <= 0), axis=-1)
    return np.where(bad | ~np.isfinite(d), np.inf, d)


@dataclass(frozen=True)
class Quadratic:
    """Gaussian terms ((A theta - c) / w)^2 on the parameter vector (n_terms rows)."""
    a: np.ndarray
    c: np.ndarray
    w: np.ndarray

    def chi2(self, theta: np.ndarray) -> np.ndarray:
        """Sum of the terms for theta (..., n_par)."""
        if len(self.c) == 0:
            return np.zeros(theta.shape[:-1])
        return np.sum(((theta @ self.a.T - self.c) / self.w) ** 2, axis=-1)

    def grad(self, theta: np.ndarray) -> np.ndarray:
        if len(self.c) == 0:
            return np.zeros_like(theta)
        return 2.0 * ((theta @ self.a.T - self.c) / self.w**2) @ self.a


class SpectrumModel:
    """Expected counts of the Phase-II spectrum in a fit window, and its profile fit.

    ``lin``: (6, n_lin, n_bins) Taylor basis of the linear templates (counts per cpd/100 t);
    ``sig``: reduced signal basis (``templates.signal_basis``) or None.
    """

    def __init__(self, lin: np.ndarray, sig: Mapping[str, np.ndarray] | None,
                 window: np.ndarray, constraint: Quadratic, prior: Quadratic,
                 ssm_rates: np.ndarray):
        sp = load_phase2()
        self.mask = window
        self.n = sp.counts[window]
        self.centers = sp.energy_kev[window]
        self.widths_exposure = np.diff(sp.edges_kev)[window] * EXPOSURE_DAY_100T
        self.lin = np.ascontiguousarray(lin[:, :, window])
        self.taylor = lin.shape[0] == 6
        self.sig = None
        if sig is not None:
            u = np.ascontiguousarray(sig["U"][window])
            self.sig = {"U": u, "Ut": np.ascontiguousarray(u.T), "W": sig["W"],
                        "t": sig["t_sig"], "mm": sig["mm"]}
        self.constraint = constraint
        self.prior = prior
        self.ssm_rates = ssm_rates
        self.lo, self.hi, self.scale = LOWER, UPPER, SCALE

    # --- signal --------------------------------------------------------------------------
    def signal_solar_templates(self, q: np.ndarray, m_gev: float) -> np.ndarray:
        """Signal per unit f_s for strengths q (4,) [universal, k=1,2,3 in mu_B^2] at mass
        m_gev: (n_taylor, 5, n_window) counts (added to the SM templates of group s)."""
        s = self.sig
        n_s, n_w, n_t = s["mm"].shape
        per_group = np.kron(np.eye(n_s), np.asarray(q, dtype=float)[:, None])   # (20, 5)
        v = fold.propagated_sum(s["mm"].reshape(-1, n_t), per_group, s["t"],
                                np.full(n_s, float(m_gev))).T                     # (5, nt)
        coef = np.einsum("krt,st->ksr", s["W"][: len(self.lin)], v)
        return np.einsum("br,ksr->ksb", s["U"], coef) / self.ssm_rates[None, :, None]

    def signal_counts(self, theta: np.ndarray, q: np.ndarray, m_gev: np.ndarray) -> np.ndarray:
        """Vectorised signal counts (n, n_window) for parameters theta (n, n_par), strengths
        q (n, 4) and masses (n,): U @ (W_k @ (M(T) P(T, m)^2)), one product per batch."""
        # (n, r) @ (r, nb): the counts come out point-major (C order); (U @ z).T was a
        # transposed view and made an addition to them a strided pass
        return self.signal_coefficients(theta, q, m_gev) @ self.sig["Ut"]

    def signal_coefficients(self, theta: np.ndarray, q: np.ndarray,
                            m_gev: np.ndarray) -> np.ndarray:
        """The signal in the reduced basis, z (n, r) with signal counts z @ U^T:
        z = sum_k g_k(ds, dr) W_k (M(T) P(T, m)^2) per point (``signal_counts``)."""
        s = self.sig
        f = theta[:, :5] / self.ssm_rates                                  # (n, 5)
        fq = (f[:, :, None] * q[:, None, :]).reshape(len(f), -1)           # (n, 20)
        v = fold.propagated_sum(s["mm"].reshape(fq.shape[1], -1), fq.T, s["t"], m_gev)  # (nt, n)
        g = taylor_coefficients(theta[:, I_DS], theta[:, I_DR])            # (6, n)
        nk = len(self.lin)
        w = s["W"][:nk]
        coef = (w.reshape(-1, w.shape[-1]) @ v).reshape(nk, w.shape[1], -1)   # (nk, r, n)
        return np.einsum("krn,kn->nr", coef, g[:nk])

    def signal_norm(self, m_gev: np.ndarray) -> np.ndarray:
        """N_w(m): in-window signal counts per mu_B^2 at SSM fluxes and nominal response for
        the weights of ``templates.SIGNAL_WEIGHTS``; (4, n_m)."""
        s = self.sig
        row = s["U"].sum(axis=0) @ s["W"][0]          # (nt,): window-summed response
        per_w = fold.propagated(s["mm"].sum(axis=0), s["t"], m_gev)       # (4, nt, nm)
        return np.einsum("t,wtm->wm", row, per_w)

    # --- expected counts -----------------------------------------------------------------
    def po210(self, theta: np.ndarray, grad: bool = False, sl: slice = slice(None)):
        """Counts per cpd/100 t of the 210Po peak per window bin: a Gram-Charlier (type A)
        Gaussian of unit area, phi(z)/sigma [1 + skew He3(z)/6 + kurt He4(z)/24], z = (E-mu)/sigma
        (He_n: probabilists' Hermite polynomials; skew, kurt = skewness and excess kurtosis).
        With ``grad`` also the derivatives w.r.t. (mu, sigma, skew, kurt), each (..., n_bins).
        ``sl`` restricts the bins."""
        mu, sg = theta[..., I_MU, None], theta[..., I_SG, None]
        h3, h4 = theta[..., I_H3, None], theta[..., I_H4, None]
        z = (self.centers[sl] - mu) / sg
        z2 = z * z
        he3, he4 = z * (z2 - 3), z2 * (z2 - 6) + 3
        gauss = np.exp(-0.5 * z2) * (self.widths_exposure[sl] / np.sqrt(2 * np.pi)) / sg
        poly = 1.0 + h3 * he3 / 6.0 + h4 * he4 / 24.0
        f = gauss * poly
        if not grad:
            return f
        dfdz = gauss * (-z * poly + h3 * (3 * z**2 - 3) / 6.0 + h4 * (4 * z**3 - 12 * z) / 24.0)
        return f, (-dfdz / sg, -f / sg - dfdz * z / sg, gauss * he3 / 6.0, gauss * he4 / 24.0)

    def po210_counts(self, theta: np.ndarray, sl: slice) -> np.ndarray:
        """``theta_po210 * po210(theta, sl=sl)``, the peak's counts in the bins ``sl``, (n,
        n_sl), in fewer passes over the (points x bins) array: the same Gram-Charlier series
        1 + skew He3(z)/6 + kurt He4(z)/24 = c0 + c1 z + c2 z^2 + c3 z^3 + c4 z^4 (c0 = 1 +
        kurt/8, c1 = -skew/2, c2 = -kurt/4, c3 = skew/6, c4 = kurt/24) by Horner's rule, the
        per-point factors theta_po210 / (sqrt(2 pi) sigma) applied once, in place."""
        mu, sg = theta[:, I_MU, None], theta[:, I_SG, None]
        h3, h4 = theta[:, I_H3, None], theta[:, I_H4, None]
        z = self.centers[sl] - mu
        z /= sg
        poly = z * (h4 / 24.0)
        poly += h3 / 6.0
        poly *= z
        poly -= h4 / 4.0
        poly *= z
        poly -= h3 / 2.0
        poly *= z
        poly += 1.0 + h4 / 8.0
        z *= z
        z *= -0.5
        np.exp(z, out=z)
        z *= poly
        z *= theta[:, I_PO, None] / (np.sqrt(2 * np.pi) * sg)
        z *= self.widths_exposure[sl]
        return z

    def expected(self, theta: np.ndarray, q: np.ndarray | None = None,
                 m_gev: np.ndarray | None = None) -> np.ndarray:
        """Expected counts (n, n_window) for theta (n, n_par) [and signal q (n, 4), m (n,)]."""
        theta = np.atleast_2d(theta)
        nk = len(self.lin)
        g = taylor_coefficients(theta[:, I_DS], theta[:, I_DR])[:nk]          # (nk, n)
        coef = (g.T[:, :, None] * theta[:, None, :N_LIN]).reshape(len(theta), -1)
        if q is not None and self.sig is not None:
            # background and signal in one product, [coef, z] @ [T; U^T]: no second
            # (points x bins) array and no pass adding it
            coef = np.concatenate([coef, self.signal_coefficients(theta, q, m_gev)], axis=1)
            nu = coef @ self._lin_and_signal
        else:
            nu = coef @ self.lin.reshape(-1, self.lin.shape[-1])
        # 210Po only where it is non-negligible for this batch (|z| < 12 for every point)
        lo = np.searchsorted(self.centers, np.min(theta[:, I_MU] - 12 * theta[:, I_SG]))
        hi = np.searchsorted(self.centers, np.max(theta[:, I_MU] + 12 * theta[:, I_SG]))
        if hi > lo:
            nu[:, lo:hi] += self.po210_counts(theta, slice(lo, hi))
        return nu

    @cached_property
    def _lin_and_signal(self) -> np.ndarray:
        """The right-hand side of ``expected``'s one product: the Taylor basis rows
        (nk * n_lin, nb) over the reduced signal basis U^T (r, nb)."""
        return np.ascontiguousarray(np.concatenate(
            [self.lin.reshape(-1, self.lin.shape[-1]), self.sig["Ut"]], axis=0))

    def chi2_vectorised(self, theta: np.ndarray, q=None, m_gev=None,
                        with_prior: bool = False) -> np.ndarray:
        """D - 2 (variant term) [+ nuisance-prior chi^2], shape (n,)."""
        d = baker_cousins_deviance(self.expected(theta, q, m_gev), self.n, overwrite=True)
        d = d + self.constraint.chi2(theta)
        if with_prior:
            d = d + self.prior.chi2(theta)
        return d

    # --- single-point objective with gradient for the optimiser ---------------------------
    def _objective(self, x: np.ndarray, basis: np.ndarray, fixed: np.ndarray,
                   x_fixed: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.where(fixed, x_fixed, x)
        th = x * self.scale
        ds, dr = th[I_DS], th[I_DR]
        nk = len(basis)
        g = taylor_coefficients(np.array([ds]), np.array([dr]))[:nk, 0]
        tmpl = np.tensordot(g, basis, axes=1)                  # (n_lin, nb)
        amp = th[:N_LIN]
        gpo, dpo = self.po210(th, grad=True)
        nu = amp @ tmpl + th[I_PO] * gpo
        if np.any(nu <= 0):
            return 1e30, np.zeros_like(x)
        n = self.n
        dev = 2.0 * np.sum(nu - n + np.where(n > 0, n * np.log(np.where(n > 0, n, 1) / nu), 0))
        r = 2.0 * (1.0 - n / nu)                               # dD/dnu
        grad = np.empty_like(th)
        grad[:N_LIN] = tmpl @ r
        grad[I_PO] = gpo @ r
        for i, d in zip((I_MU, I_SG, I_H3, I_H4), dpo):
            grad[i] = th[I_PO] * d @ r
        if nk == 6:
            dgs, dgr = (d[:, 0] for d in taylor_derivatives(np.array([ds]), np.array([dr])))
            grad[I_DS] = amp @ np.tensordot(dgs, basis, axes=1) @ r
            grad[I_DR] = amp @ np.tensordot(dgr, basis, axes=1) @ r
        else:
            grad[I_DS] = grad[I_DR] = 0.0
        val = dev + self.constraint.chi2(th) + self.prior.chi2(th)
        grad += self.constraint.grad(th) + self.prior.grad(th)
        grad = grad * self.scale
        grad[fixed] = 0.0
        return float(val), grad

    def fit(self, theta0: np.ndarray, q: np.ndarray | None = None, m_gev: float = 0.0,
            fixed: tuple[str, ...] = ()) -> tuple[float, np.ndarray]:
        """Minimise D - 2 ln(constraint) + prior chi^2 over the free parameters; returns
        (minimum, theta)."""
        basis = self.lin.copy()
        if q is not None and np.any(q > 0):
            basis[:, :5] += self.signal_solar_templates(q, m_gev)
        fixed_mask = np.array([p in fixed for p in PARAMS])
        if len(basis) == 1:
            fixed_mask[[I_DS, I_DR]] = True
        x0 = np.asarray(theta0, dtype=float) / self.scale
        bounds = list(zip(self.lo / self.scale, self.hi / self.scale))
        from scipy.optimize import minimize      # not at import: start-up time
        best = None
        for _ in range(3):
            res = minimize(self._objective, x0, args=(basis, fixed_mask, x0), jac=True,
                           method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": 5000, "ftol": 1e-11, "gtol": 1e-6, "maxcor": 30})
            if best is None or res.fun < best.fun - 1e-6:
                best = res
                x0 = np.where(fixed_mask, x0, res.x)
            else:
                break
        return float(best.fun), np.where(fixed_mask, x0, best.x) * self.scale
