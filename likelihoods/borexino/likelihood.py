"""Borexino Phase-II electron-recoil spectrum likelihood with a dark-photon-mediated moment.

What to use when
----------------
* ``BorexinoLikelihood(mode="fast")`` in global fits: Delta ln L profiled over all nuisances,
  interpolated on a precomputed (signal strength, m_A') grid (``fast.py``), > 1e6 points/s.
* ``BorexinoLikelihood(mode="full")`` when a sampler samples the nuisances itself: ``loglike``
  takes them as arrays; their Gaussian constraints are in ``Nuisance.prior``.
* ``profile(observables)``: maximum over nuisances by numerical optimisation (limits, fast grid).
* ``best_fit_sm()``: the SM-only fit (report, validation).

Statistics: Poisson likelihood in the Baker-Cousins deviance form,
D = 2 sum_i [nu_i - n_i + n_i ln(n_i / nu_i)] (S. Baker and R. D. Cousins, Nucl. Instrum.
Meth. 221 (1984) 437, eq. 15), ln L = -D/2 (+ the flux-constraint term of the variant).
D itself is the goodness-of-fit statistic (asymptotically chi^2 with n_bins - n_free d.o.f.).

Flux-constraint variants (``VARIANTS``):
* ``spectrum_only``: only the spectrum (CNO and 8B keep their Gaussian nuisance priors).
* ``radiochemical``: Gaussian on the gallium capture rate sum_s c_s f_s = 66.1 +- 3.1 SNU
  (GALLEX/GNO + SAGE, SAGE PRC 80 (2009) 015807; used so in Borexino PRD 96 (2017) 091103), with
  CNO constrained to the high-metallicity SSM (4.92 +- 0.55 cpd/100 t, PRD 100 (2019) 082004)
  through its nuisance prior, as in that analysis.
* ``solar_model``: Gaussian priors f_s = 1 +- sigma_s of the B16 SSM (Vinyoles et al. ApJ 835
  (2017) 202) on pp, 7Be, pep, CNO, 8B inside loglike.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np
from scipy.optimize import minimize

from globalfit.errors import ConfigError, DataFileError, ParameterError
from globalfit.paths import data_file

from ..base import Likelihood, Nuisance
from . import cache, recoil
from .response import ResponseParams, taylor_coefficients
from .spectrum import EXPOSURE_DAY_100T, load_phase2
from .templates import LINEAR, SIGNAL_WEIGHTS, SOLAR, linear_templates, signal_basis
from .xsec import propagator_factor

VARIANTS = ("spectrum_only", "radiochemical", "solar_model")
GA_RATE_SNU = (66.1, 3.1)
CNO_HZ_CPD100T = (4.92, 0.55)
C14_CPD100T = (40.0 * 86400.0, 2.0 * 86400.0)
PILEUP_REL_WIDTH = 2.8 / 137.5
"""Borexino's pile-up constraint 137.5 +- 2.8 cpd/100 t (PRD 100 (2019) 082004) as a relative
width on the normalisation of its own fitted pile-up curve (the shape this likelihood uses)."""
CALIBRATION_FILE = "response_calibration.json"

#: amplitude scales (cpd/100 t) used to condition the optimiser and as starting values
#: (Borexino PRD 100 (2019) 082004 fitted values, not priors).
START = {"pp": 134.0, "be7": 48.3, "pep": 2.43, "cno": 4.92, "b8": 0.44, "c14": 3.456e6,
         "pileup": 6.3, "kr85": 6.8, "bi210": 17.5, "c11": 26.8, "ext_k40": 1.0,
         "ext_bi214": 1.0, "ext_tl208": 1.0, "po210": 260.0}
PARAMS = LINEAR + ("po210", "po210_mu_kev", "po210_sigma_kev", "po210_skew", "po210_kurt",
                   "energy_scale", "resolution")
N_LIN = len(LINEAR)
I_PO, I_MU, I_SG, I_H3, I_H4, I_DS, I_DR = range(N_LIN, N_LIN + 7)


def baker_cousins_deviance(nu: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Poisson deviance D = 2 sum [nu - n + n ln(n/nu)] over the last axis (Baker & Cousins
    1984, eq. 15); n ln n := 0 for n = 0; +inf where some nu <= 0 has n > 0."""
    nu = np.asarray(nu, dtype=float)
    n = np.asarray(n, dtype=float)
    pos = n > 0
    const = np.sum(n[pos] * np.log(n[pos])) - np.sum(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        lognu = np.log(np.where(pos, nu, 1.0))
        d = 2.0 * (np.sum(nu, axis=-1) - lognu @ n + const)
    bad = np.any(pos & (nu <= 0), axis=-1) | ~np.isfinite(d)
    return np.where(bad, np.inf, d)


def load_calibration() -> ResponseParams:
    """The response calibration shipped in ``data/borexino/response_calibration.json``."""
    path = data_file("borexino", CALIBRATION_FILE)
    try:
        rec = json.loads(path.read_text())
        return ResponseParams(**rec["response"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{path}: malformed calibration ({exc})") from None


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
            self.sig = {"U": np.ascontiguousarray(sig["U"][window]), "W": sig["W"],
                        "t": sig["t_sig"], "mm": sig["mm"]}
        self.constraint = constraint
        self.prior = prior
        self.ssm_rates = ssm_rates
        self.lo = np.array([0.0] * (N_LIN + 1) + [250.0, 5.0, -0.5, -0.5, -0.05, -0.5])
        self.hi = np.array([np.inf] * (N_LIN + 1) + [700.0, 150.0, 0.5, 0.5, 0.05, 0.5])
        self.scale = np.array([START[k] for k in LINEAR] + [START["po210"], 400.0, 40.0,
                                                             0.1, 0.1, 0.01, 0.1])

    # --- signal --------------------------------------------------------------------------
    def signal_solar_templates(self, q: np.ndarray, m_gev: float) -> np.ndarray:
        """Signal per unit f_s for strengths q (4,) [universal, k=1,2,3 in mu_B^2] at mass
        m_gev: (n_taylor, 5, n_window) counts (added to the SM templates of group s)."""
        s = self.sig
        p2 = propagator_factor(s["t"], m_gev) ** 2
        v = np.einsum("swt,w->st", s["mm"], q) * p2            # (5, nt)
        coef = np.einsum("krt,st->ksr", s["W"][: len(self.lin)], v)
        return np.einsum("br,ksr->ksb", s["U"], coef) / self.ssm_rates[None, :, None]

    def signal_counts(self, theta: np.ndarray, q: np.ndarray, m_gev: np.ndarray) -> np.ndarray:
        """Vectorised signal counts (n, n_window) for parameters theta (n, n_par), strengths
        q (n, 4) and masses (n,): U @ (W_k @ (M(T) P(T, m)^2)), one product per batch."""
        s = self.sig
        p2 = propagator_factor(s["t"][:, None], m_gev[None, :]) ** 2       # (nt, n)
        f = theta[:, :5] / self.ssm_rates                                  # (n, 5)
        fq = (f[:, :, None] * q[:, None, :]).reshape(len(f), -1)           # (n, 20)
        v = s["mm"].reshape(fq.shape[1], -1).T @ fq.T * p2                 # (nt, n)
        g = taylor_coefficients(theta[:, I_DS], theta[:, I_DR])            # (6, n)
        nk = len(self.lin)
        w = s["W"][:nk]
        coef = (w.reshape(-1, w.shape[-1]) @ v).reshape(nk, w.shape[1], -1)   # (nk, r, n)
        z = np.einsum("krn,kn->rn", coef, g[:nk])
        return (s["U"] @ z).T

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

    def expected(self, theta: np.ndarray, q: np.ndarray | None = None,
                 m_gev: np.ndarray | None = None) -> np.ndarray:
        """Expected counts (n, n_window) for theta (n, n_par) [and signal q (n, 4), m (n,)]."""
        theta = np.atleast_2d(theta)
        nk = len(self.lin)
        g = taylor_coefficients(theta[:, I_DS], theta[:, I_DR])[:nk]          # (nk, n)
        coef = (g.T[:, :, None] * theta[:, None, :N_LIN]).reshape(len(theta), -1)
        nu = coef @ self.lin.reshape(-1, self.lin.shape[-1])
        # 210Po only where it is non-negligible for this batch (|z| < 12 for every point)
        lo = np.searchsorted(self.centers, np.min(theta[:, I_MU] - 12 * theta[:, I_SG]))
        hi = np.searchsorted(self.centers, np.max(theta[:, I_MU] + 12 * theta[:, I_SG]))
        if hi > lo:
            nu[:, lo:hi] += theta[:, I_PO, None] * self.po210(theta, sl=slice(lo, hi))
        if q is not None and self.sig is not None:
            nu += self.signal_counts(theta, q, m_gev)
        return nu

    def chi2_vectorised(self, theta: np.ndarray, q=None, m_gev=None,
                        with_prior: bool = False) -> np.ndarray:
        """D - 2 (variant term) [+ nuisance-prior chi^2], shape (n,)."""
        d = baker_cousins_deviance(self.expected(theta, q, m_gev), self.n)
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
            dgs = np.array([0, 1, 0, ds, 0, dr])
            dgr = np.array([0, 0, 1, 0, dr, ds])
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


class BorexinoLikelihood(Likelihood):
    """Borexino Phase-II spectrum likelihood (see module docstring).

    Parameters: ``variant`` in VARIANTS; ``mode`` "fast" | "full"; ``fit_window_nh`` (lo, hi)
    inclusive N_h range; ``flux_model`` "GS98" | "AGSS09met"; ``weights`` "universal" (requires
    mu_eff2_mub2) | "mass" (requires lam2_{1,2,3}_mub2); ``use_cache`` for the on-disk cache;
    ``response`` overrides the shipped calibration (used by ``calibrate.py``).
    """

    name = "borexino"
    citation = ("Borexino, Nature 562 (2018) 505; PRD 100 (2019) 082004; "
                "magnetic moment: PRD 96 (2017) 091103")

    def __init__(self, variant: str = "radiochemical", mode: str = "fast",
                 fit_window_nh: tuple[int, int] = (93, 950), flux_model: str = "GS98",
                 weights: str = "universal", use_cache: bool = True,
                 response: ResponseParams | None = None):
        if variant not in VARIANTS:
            raise ConfigError(f"variant: unknown {variant!r} (use one of {', '.join(VARIANTS)})")
        if mode not in ("fast", "full"):
            raise ConfigError(f"mode: unknown {mode!r} (use 'fast' or 'full')")
        if weights not in ("universal", "mass"):
            raise ConfigError(f"weights: unknown {weights!r} (use 'universal' or 'mass')")
        lo, hi = (int(v) for v in fit_window_nh)
        n_h = load_phase2().n_h
        if not (n_h[0] <= lo < hi <= n_h[-1]):
            raise ConfigError(f"fit_window_nh: ({lo}, {hi}) outside the data range "
                              f"{n_h[0]}..{n_h[-1]}")
        self.variant, self.mode, self.flux_model, self.weights = variant, mode, flux_model, weights
        self.window_nh = (lo, hi)
        self.use_cache = use_cache
        self.requires = (("mu_eff2_mub2",) if weights == "universal" else
                         ("lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2")) + ("m_aprime_gev",)
        self.response = load_calibration() if response is None else response
        self.ssm_rates = np.array([recoil.ssm_total_rate_cpd100t(s, flux_model=flux_model)
                                   for s in SOLAR])
        self.nuisances = self._nuisances()
        self._fast = None

    # --- construction --------------------------------------------------------------------
    def _options(self) -> dict:
        return {"response": self.response.to_dict(), "flux_model": self.flux_model}

    @cached_property
    def model(self) -> SpectrumModel:
        opts = self._options()
        lin = cache.cached_arrays("linear", opts, lambda: {
            "lin": linear_templates(self.response, self.flux_model)}, self.use_cache)["lin"]
        sig = cache.cached_arrays("signal", opts, lambda: signal_basis(
            self.response, self.flux_model), self.use_cache)
        return self.make_model(lin, sig)

    def make_model(self, lin: np.ndarray, sig: Mapping[str, np.ndarray] | None) -> SpectrumModel:
        """A SpectrumModel of this likelihood's window, variant and priors for given templates."""
        n_h = load_phase2().n_h
        window = (n_h >= self.window_nh[0]) & (n_h <= self.window_nh[1])
        return SpectrumModel(lin, sig, window, self._constraint(), self._prior(), self.ssm_rates)

    def start_theta(self) -> np.ndarray:
        """Starting parameters of the SM fit (published Phase-II values, SSM 8B)."""
        theta0 = np.array([START[k] for k in LINEAR] + [START["po210"], 440.0, 37.0, 0.0, 0.0,
                                                         0.0, 0.0])
        theta0[4] = self.ssm_rates[4]
        return theta0

    def _row(self, coeffs: Mapping[str, float]) -> np.ndarray:
        row = np.zeros(len(PARAMS))
        for k, v in coeffs.items():
            row[PARAMS.index(k)] = v
        return row

    def _constraint(self) -> Quadratic:
        """The variant's flux-constraint term, as chi^2 = -2 ln(term)."""
        if self.variant == "radiochemical":
            from .gallium import gallium_rate_coefficients_snu
            c = gallium_rate_coefficients_snu(flux_model=self.flux_model)
            row = self._row({s: c[s] / r for s, r in zip(SOLAR, self.ssm_rates)})
            return Quadratic(row[None], np.array([GA_RATE_SNU[0]]), np.array([GA_RATE_SNU[1]]))
        if self.variant == "solar_model":
            rows, widths = [], []
            for s, r in zip(SOLAR, self.ssm_rates):
                rows.append(self._row({s: 1.0 / r}))
                widths.append(self.ssm_fractional_uncertainty(s))
            return Quadratic(np.array(rows), np.ones(len(rows)), np.array(widths))
        return Quadratic(np.zeros((0, len(PARAMS))), np.zeros(0), np.ones(0))

    def ssm_fractional_uncertainty(self, group: str) -> float:
        """B16 fractional flux uncertainty of a group (CNO: flux-weighted over 13N, 15O, 17F)."""
        from . import solar
        srcs = solar.GROUP_SOURCES[group]
        fl = np.array([solar.ssm_flux_cm2_s(s, self.flux_model) for s in srcs])
        un = np.array([solar.ssm_flux_fractional_uncertainty(s, self.flux_model) for s in srcs])
        return float(np.sum(fl * un) / np.sum(fl))

    def _nuisances(self) -> tuple[Nuisance, ...]:
        """Nuisance parameters; Gaussian priors: CNO (HZ-SSM, not in 'solar_model' where the
        SSM term constrains it), 8B (SSM rate, B16 width; same exception), 14C (40 +- 2 Bq),
        pile-up (2.0 %, Borexino's constraint)."""
        out = []
        ssm = self.variant == "solar_model"
        for k in PARAMS:
            unit = {"po210_mu_kev": "keV", "po210_sigma_kev": "keV", "energy_scale": "1",
                    "resolution": "1", "po210_skew": "1", "po210_kurt": "1"}.get(k, "cpd/100t")
            if k == "cno" and not ssm:
                out.append(Nuisance(k, unit, "gaussian", *CNO_HZ_CPD100T, low=0.0,
                                    description="CNO rate, HZ-SSM (PRD 100 (2019) 082004)"))
            elif k == "b8" and not ssm:
                r = float(self.ssm_rates[4])
                out.append(Nuisance(k, unit, "gaussian", r, r * self.ssm_fractional_uncertainty(
                    "b8"), low=0.0, description="8B rate, B16 SSM"))
            elif k == "pileup":
                c = float(load_phase2().components["pileup"].sum())
                out.append(Nuisance(k, unit, "gaussian", c, c * PILEUP_REL_WIDTH, low=0.0,
                                    description="pile-up in N_h 93-950: Borexino's fitted curve "
                                    "integral +- 2.0 % (137.5 +- 2.8 cpd/100 t)"))
            elif k == "c14":
                out.append(Nuisance(k, unit, "gaussian", *C14_CPD100T, low=0.0,
                                    description="14C activity 40.0 +- 2.0 Bq/100 t"))
            elif k == "energy_scale":
                out.append(Nuisance(k, unit, "uniform", low=-0.05, high=0.05,
                                    description="relative energy-scale shift ds"))
            elif k == "resolution":
                out.append(Nuisance(k, unit, "uniform", low=-0.5, high=0.5,
                                    description="relative resolution shift dr"))
            elif k == "po210_mu_kev":
                out.append(Nuisance(k, unit, "uniform", low=250.0, high=700.0))
            elif k == "po210_sigma_kev":
                out.append(Nuisance(k, unit, "uniform", low=5.0, high=150.0))
            elif k in ("po210_skew", "po210_kurt"):
                out.append(Nuisance(k, "1", "uniform", low=-0.5, high=0.5,
                                    description="210Po peak shape (Gram-Charlier)"))
            else:
                out.append(Nuisance(k, unit, "uniform", low=0.0, high=np.inf))
        return tuple(out)

    def _prior(self) -> Quadratic:
        rows, c, w = [], [], []
        for nu in self.nuisances:
            if nu.prior == "gaussian":
                rows.append(self._row({nu.name: 1.0}))
                c.append(nu.center)
                w.append(nu.width)
        return Quadratic(np.array(rows), np.array(c), np.array(w))

    # --- observables ----------------------------------------------------------------------
    def _strengths(self, observables: Mapping[str, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q (n, 4) [universal, k=1..3] in mu_B^2, m (n,) GeV, invalid-point mask (n,))."""
        missing = [k for k in self.requires if k not in observables]
        if missing:
            raise ParameterError(f"observables: missing {', '.join(missing)}")
        m = np.atleast_1d(np.asarray(observables["m_aprime_gev"], dtype=float))
        q = np.zeros((len(m), len(SIGNAL_WEIGHTS)))
        if self.weights == "universal":
            q[:, 0] = observables["mu_eff2_mub2"]
        else:
            for k in (1, 2, 3):
                q[:, k] = observables[f"lam2_{k}_mub2"]
        bad = ~np.isfinite(m) | (m < 0) | np.any(~np.isfinite(q) | (q < 0), axis=1)
        return q, m, bad

    # --- public API -----------------------------------------------------------------------
    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """ln L per point (n,). Fast mode: profiled ln L (interpolated); full mode: ln L at the
        given nuisances (every name of ``self.nuisances`` required, arrays (n,))."""
        q, m, bad = self._strengths(observables)
        if self.mode == "fast":
            out = self.fast.loglike(q, m)
        else:
            if nuisances is None:
                raise ParameterError("nuisances: full mode needs every nuisance as an array")
            missing = [k for k in PARAMS if k not in nuisances]
            if missing:
                raise ParameterError(f"nuisances: missing {', '.join(missing)}")
            theta = np.stack([np.broadcast_to(np.asarray(nuisances[k], dtype=float), m.shape)
                              for k in PARAMS], axis=1)
            out = np.empty(len(m))
            for i in range(0, len(m), 2048):
                sl = slice(i, i + 2048)
                out[sl] = -0.5 * self.model.chi2_vectorised(theta[sl], q[sl], m[sl])
            lo = np.array([n.low for n in self.nuisances])
            hi = np.array([n.high for n in self.nuisances])
            bad |= np.any((theta < lo) | (theta > hi), axis=1)
        out = np.where(np.isnan(out), -np.inf, out)
        return np.where(bad, -np.inf, out)

    @cached_property
    def sm_fit(self) -> tuple[float, np.ndarray]:
        """(chi^2 minimum incl. priors, theta) of the SM-only fit, cached on disk."""
        opts = dict(self._options(), variant=self.variant, window=self.window_nh, kind="sm")

        def build() -> dict[str, np.ndarray]:
            val, th = self.model.fit(self.start_theta())
            val, th = self.model.fit(th)
            return {"chi2": np.array(val), "theta": th}
        r = cache.cached_arrays("smfit", opts, build, self.use_cache)
        return float(r["chi2"]), r["theta"]

    def profile_chi2(self, q: np.ndarray, m: np.ndarray,
                     theta0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Profiled chi^2 = -2 ln L_max (with nuisance priors) per point, and the thetas."""
        start = self.sm_fit[1] if theta0 is None else theta0
        chi = np.empty(len(m))
        ths = np.empty((len(m), len(PARAMS)))
        for i in range(len(m)):
            chi[i], ths[i] = self.model.fit(start, q[i], float(m[i]))
        return chi, ths

    def profile(self, observables: Mapping[str, np.ndarray]) -> np.ndarray:
        """ln L maximised over all nuisances (with their Gaussian priors), (n,)."""
        q, m, bad = self._strengths(observables)
        chi, _ = self.profile_chi2(np.where(bad[:, None], 0.0, q), np.where(bad, 0.0, m))
        return np.where(bad, -np.inf, -0.5 * chi)

    def best_fit_sm(self) -> dict[str, float]:
        """SM-only fit: rates (cpd/100 t), nuisances, deviance, d.o.f. in the window."""
        chi, th = self.sm_fit
        nu = self.model.expected(th[None])[0]
        dev = float(baker_cousins_deviance(nu, self.model.n))
        free = len(PARAMS)
        out = {k: float(v) for k, v in zip(PARAMS, th)}
        out.update(deviance=dev, n_bins=int(self.model.n.size), dof=int(self.model.n.size - free),
                   chi2_total=chi)
        return out

    @property
    def fast(self):
        if self._fast is None:
            from .fast import FastGrid
            self._fast = FastGrid.for_likelihood(self)
        return self._fast
