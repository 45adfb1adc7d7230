"""Many profile fits of the Borexino spectrum at once: a bound-constrained Levenberg-Marquardt
minimiser vectorised over points.

Each point p minimises the same objective as ``SpectrumModel.fit`` (L-BFGS-B, one point at a
time): chi^2_p(theta) = D(nu_p(theta), n) + constraint + nuisance priors, with the
Baker-Cousins deviance D (``model.baker_cousins_deviance``) and its own template basis
(the SM templates plus the point's signal folded into the solar columns).

Method (all points advance together; converged points drop out):

* Newton steps with the exact Hessian of chi^2 where it is positive definite (the
  Gauss-Newton part J^T diag(2 n / nu^2) J of the Baker-Cousins deviance
  D = 2 sum [nu - n + n ln(n/nu)] plus sum_b dD/dnu_b d2 nu_b / dtheta dtheta', plus the exact
  Hessian of the Gaussian terms), else the Gauss-Newton part alone (always positive
  semi-definite); J = d nu / d theta is analytic (templates, 210Po peak and its shape
  derivatives, the Taylor response terms of ds, dr);
* Levenberg-Marquardt damping H + lambda diag(H) (K. Levenberg, Q. Appl. Math. 2 (1944) 164;
  D. W. Marquardt, J. SIAM 11 (1963) 431): a step is taken only if chi^2 decreases, lambda
  shrinks by 10 after a success and grows by 10 after a failure;
* bounds by the projected-Newton rule (D. P. Bertsekas, SIAM J. Control Optim. 20 (1982) 221):
  a variable at a bound whose gradient points out of the box is held there for the step; the
  step of the others is clipped into the box;
* in the scaled coordinates theta / SCALE of ``parameters.py`` (the optimiser's conditioning).

A point has converged when the decrease the quadratic model predicts for its next step is
below ``tol`` (chi^2 units). ``tests/test_borexino_batchfit.py`` compares the minima with
``SpectrumModel.fit`` point by point.
"""
from __future__ import annotations

import numpy as np

from .model import SpectrumModel, baker_cousins_deviance
from .parameters import I_DR, I_DS, I_H4, I_MU, I_PO, LOWER, N_LIN, PARAMS, SCALE, UPPER
from .response import taylor_coefficients, taylor_derivatives

N_SOLAR = 5


class _Problem:
    """The objective of every point of a batch, with its gradient and Hessian.

    ``lin`` (nk, n_lin, nb): the model's Taylor basis; ``sig`` (P, nk, 5, nb) or None: each
    point's signal per unit solar rate, added to the five solar columns."""

    def __init__(self, model: SpectrumModel, sig: np.ndarray | None) -> None:
        self.model = model
        self.lin = model.lin
        self.nk, self.n_lin, self.nb = self.lin.shape
        self.sig = sig
        self.n = model.n
        self.pos = self.n > 0
        quad = [q for q in (model.constraint, model.prior) if len(q.c)]
        self.h_quad = sum((2.0 * (q.a.T / q.w**2) @ q.a for q in quad),
                          np.zeros((len(PARAMS), len(PARAMS))))

    def templates(self, g: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """sum_k g_k basis_k for the points ``idx``: (P, n_lin, nb)."""
        t = (g @ self.lin.reshape(self.nk, -1)).reshape(len(g), self.n_lin, self.nb)
        if self.sig is not None:
            t[:, :N_SOLAR] += np.einsum("pk,pkcb->pcb", g, self.sig[idx])
        return t

    def evaluate(self, th: np.ndarray, idx: np.ndarray, derivatives: bool = True):
        """chi^2 (P,) [and its gradient (P, d) and Hessian (P, d, d)] at theta (P, d).

        The Hessian is exact where it is positive definite (the Gauss-Newton part plus
        sum_b dD/dnu_b d2 nu_b / dtheta dtheta'), else the Gauss-Newton part alone."""
        model = self.model
        ds, dr = th[:, I_DS], th[:, I_DR]
        g = taylor_coefficients(ds, dr)[: self.nk].T                        # (P, nk)
        amp = th[:, :N_LIN]
        # A_k = sum_c amp_c basis_kc (P, nk, nb): nu, the ds/dr columns of J and their
        # second derivatives are all combinations of it
        big_a = np.einsum("pc,kcb->pkb", amp, self.lin)
        if self.sig is not None:
            big_a += np.einsum("pc,pkcb->pkb", amp[:, :N_SOLAR], self.sig[idx])
        gpo, dpo = model.po210(th, grad=True)                               # (P, nb), 4 x (P, nb)
        nu = np.einsum("pk,pkb->pb", g, big_a) + th[:, I_PO, None] * gpo
        bad = np.any(self.pos & (nu <= 0), axis=1)
        nu_safe = np.where(nu > 0, nu, 1.0)
        chi = (baker_cousins_deviance(nu_safe, self.n) + model.constraint.chi2(th)
               + model.prior.chi2(th))
        chi = np.where(bad | ~np.isfinite(chi), np.inf, chi)
        if not derivatives:
            return chi
        d = len(PARAMS)
        jac = np.zeros((len(th), d, self.nb))
        jac[:, :N_LIN] = self.templates(g, idx)
        jac[:, I_PO] = gpo
        jac[:, I_MU:I_H4 + 1] = th[:, I_PO, None, None] * np.stack(dpo, axis=1)
        resid = 2.0 * (1.0 - self.n / nu_safe)                               # dD/dnu
        weight = 2.0 * self.n / nu_safe**2                                   # d2D/dnu2
        second = np.zeros((len(th), d, d))         # sum_b resid_b d2 nu_b / dtheta dtheta'
        if self.nk == 6:
            # B_k . resid (P, nk, n_lin): the amplitude x (ds, dr) second derivatives
            br = np.einsum("kcb,pb->pkc", self.lin, resid)
            if self.sig is not None:
                br[:, :, :N_SOLAR] += np.einsum("pkcb,pb->pkc", self.sig[idx], resid)
            for i, dg in zip((I_DS, I_DR), (d.T for d in taylor_derivatives(ds, dr))):
                jac[:, i] = np.einsum("pk,pkb->pb", dg, big_a)
                cross = np.einsum("pk,pkc->pc", dg, br)
                second[:, :N_LIN, i] = second[:, i, :N_LIN] = cross
            ar = np.einsum("pkb,pb->pk", big_a, resid)       # d2 g / d(ds, dr)^2 pick k=3,4,5
            second[:, I_DS, I_DS] = ar[:, 3]
            second[:, I_DR, I_DR] = ar[:, 4]
            second[:, I_DS, I_DR] = second[:, I_DR, I_DS] = ar[:, 5]
        # 210Po: amplitude x shape, and shape x shape (the peak is linear in skew, kurt; the
        # mu and sigma columns by central differences of the analytic first derivatives)
        for k, i in enumerate(range(I_MU, I_H4 + 1)):
            second[:, I_PO, i] = second[:, i, I_PO] = np.einsum("pb,pb->p", dpo[k], resid)
        for i in (I_MU, I_MU + 1):
            step = 1e-6 * SCALE[i]
            up, dn = th.copy(), th.copy()
            up[:, i] += step
            dn[:, i] -= step
            col = (np.stack(model.po210(up, grad=True)[1], axis=1)
                   - np.stack(model.po210(dn, grad=True)[1], axis=1)) / (2.0 * step)
            val = th[:, I_PO, None] * np.einsum("pjb,pb->pj", col, resid)   # (P, 4)
            second[:, i, I_MU:I_H4 + 1] += 0.5 * val
            second[:, I_MU:I_H4 + 1, i] += 0.5 * val
        grad = (np.einsum("pib,pb->pi", jac, resid) + model.constraint.grad(th)
                + model.prior.grad(th))
        gauss_newton = np.matmul(jac * weight[:, None, :], jac.transpose(0, 2, 1)) + self.h_quad
        exact = gauss_newton + second
        scaled = exact * SCALE[:, None] * SCALE[None, :]
        definite = np.linalg.eigvalsh(scaled)[:, 0] > 1e-10 * np.abs(scaled).max(axis=(1, 2))
        return chi, grad, np.where(definite[:, None, None], exact, gauss_newton)


def minimise(model: SpectrumModel, theta0: np.ndarray, sig: np.ndarray | None = None,
             fixed: tuple[str, ...] = (), tol: float = 1e-9, max_iter: int = 300
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise chi^2 for every point of a batch.

    ``theta0`` (P, d) or (d,): start (clipped into the bounds); ``sig`` (P, nk, 5, nb): each
    point's signal per unit solar rate (``SpectrumModel.signal_solar_templates``) or None;
    ``fixed``: parameter names held at their start (ds, dr are fixed without a Taylor basis).
    Returns (chi^2 minimum (P,), theta (P, d), iterations used per point (P,))."""
    theta0 = np.atleast_2d(np.asarray(theta0, dtype=float))
    n_pts = len(sig) if sig is not None else len(theta0)
    prob = _Problem(model, sig)
    d = len(PARAMS)
    fixed_mask = np.array([p in fixed for p in PARAMS])
    if prob.nk == 1:
        fixed_mask[[I_DS, I_DR]] = True
    lo, up = LOWER / SCALE, UPPER / SCALE
    x = np.clip(np.broadcast_to(theta0 / SCALE, (n_pts, d)), lo, up).copy()
    idx_all = np.arange(n_pts)
    f, g, h = prob.evaluate(x * SCALE, idx_all)
    g, h = g * SCALE, h * SCALE[:, None] * SCALE[None, :]
    lam = np.full(n_pts, 1e-3)
    iters = np.zeros(n_pts, dtype=int)
    todo = np.isfinite(f)
    eye = np.eye(d, dtype=bool)
    for _ in range(max_iter):
        idx = np.nonzero(todo)[0]
        if len(idx) == 0:
            break
        xi, gi, hi = x[idx], g[idx], h[idx]
        held = fixed_mask | ((xi <= lo) & (gi > 0)) | ((xi >= up) & (gi < 0))
        free = ~held
        both = free[:, :, None] & free[:, None, :]
        diag = np.einsum("pii->pi", hi)
        a = np.where(both, hi, 0.0)
        a[:, eye] += np.where(free, lam[idx, None] * diag + 1e-12 * diag.max(axis=1,
                                                                          keepdims=True), 1.0)
        gf = np.where(free, gi, 0.0)
        step = -np.linalg.solve(a, gf[:, :, None])[:, :, 0]
        predicted = -np.einsum("pi,pi->p", gf, step) - 0.5 * np.einsum(
            "pi,pij,pj->p", step, np.where(both, hi, 0.0), step)
        done = predicted < tol
        todo[idx[done]] = False
        idx, step = idx[~done], step[~done]
        if len(idx) == 0:
            break
        iters[idx] += 1
        xt = np.clip(x[idx] + step, lo, up)
        ft, gt, ht = prob.evaluate(xt * SCALE, idx)
        ok = ft < f[idx]
        acc = idx[ok]
        x[acc], f[acc] = xt[ok], ft[ok]
        g[acc] = gt[ok] * SCALE
        h[acc] = ht[ok] * SCALE[:, None] * SCALE[None, :]
        lam[acc] = np.maximum(lam[acc] / 10.0, 1e-10)
        rej = idx[~ok]
        lam[rej] *= 10.0
        todo[rej[lam[rej] > 1e12]] = False         # no descent left: a (bound) minimum
    return f, x * SCALE, iters


__all__ = ["minimise"]
