"""Borexino Phase-II electron-recoil spectrum likelihood with a dark-photon-mediated moment.

What to use when
----------------
* ``BorexinoLikelihood(mode="fast")`` in global fits: ln L profiled over all nuisances,
  interpolated on a precomputed (signal strength, m_A') grid (``fast.py``), > 1e6 points/s;
  it declares no nuisances.
* ``BorexinoLikelihood(mode="full")`` when a sampler samples the nuisances itself: ``loglike``
  takes them as arrays; their Gaussian constraints are in ``Nuisance.prior``.
* ``profile(observables)``: maximum over nuisances by numerical optimisation (limits, fast grid).
* ``best_fit_sm()``: the SM-only fit (report, validation).

Statistics and counts: ``model.py`` (Baker-Cousins deviance). Solar physics:
``likelihoods.solar`` with Borexino as a free-electron target (``recoil.py``).

Flux-constraint variants (``VARIANTS``; numbers from ``data/borexino/measurements.yaml``):
* ``spectrum_only``: only the spectrum (CNO and 8B keep their Gaussian nuisance priors).
* ``radiochemical``: Gaussian on the gallium capture rate sum_s c_s f_s (66.1 +- 3.1 SNU,
  GALLEX/GNO + SAGE, SAGE PRC 80 (2009) 015807; used so in Borexino PRD 96 (2017) 091103), with
  CNO constrained to the high-metallicity SSM (4.92 +- 0.55 cpd/100 t, PRD 100 (2019) 082004)
  through its nuisance prior, as in that analysis.
* ``solar_model``: Gaussian priors f_s = 1 +- sigma_s of the B16 SSM (Vinyoles et al. ApJ 835
  (2017) 202) on pp, 7Be, pep, CNO, 8B inside loglike.
"""
from __future__ import annotations

import json
from functools import cached_property
from typing import ClassVar, Mapping

import numpy as np

from globalfit.constants import SIN2_THETA23
from globalfit.errors import ConfigError, DataFileError, ParameterError
from globalfit.options import Option, short_repr
from globalfit.paths import data_file
from globalfit.progress import progress, stage
from likelihoods.solar import flux as solar
from likelihoods.solar import strengths as weighting
from likelihoods.solar.gallium import gallium_rate_coefficients_snu

from ..base import Likelihood, Nuisance
from .. import _cache as cache
from .._parallel import map_rows
from . import batchfit, fast, measurements, recoil
from .model import Quadratic, SpectrumModel, baker_cousins_deviance
from .parameters import LOWER, PARAMS, START_THETA, UPPER, row
from .parameters import nuisances as parameter_list
from .response import ResponseParams
from .spectrum import load_phase2
from .templates import SIGNAL_WEIGHTS, SOLAR, linear_templates, signal_basis

VARIANTS = ("spectrum_only", "radiochemical", "solar_model")
CALIBRATION_FILE = "response_calibration.json"
PROFILE_BLOCK = 128     # fast-grid nodes per batched fit (~30 MB of signal templates)
FULL_BLOCK = 512        # points per full-mode evaluation; with one (points x bins) product and
                        # the logarithm in place, blocks of 256-2048 are within ~3 % (batch 1e3)
__all__ = ["BorexinoLikelihood", "PARAMS", "VARIANTS", "baker_cousins_deviance",
           "load_calibration"]


def load_calibration() -> ResponseParams:
    """The response calibration shipped in ``data/borexino/response_calibration.json``."""
    path = data_file("borexino", CALIBRATION_FILE)
    try:
        rec = json.loads(path.read_text())
        return ResponseParams(**rec["response"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{path}: malformed calibration ({exc})") from None


class BorexinoLikelihood(Likelihood):
    """Borexino Phase-II spectrum likelihood (see module docstring and ``options``)."""

    name: ClassVar[str] = "borexino"
    citation: ClassVar[str] = ("Borexino, Nature 562 (2018) 505; PRD 100 (2019) 082004; "
                               "magnetic moment: PRD 96 (2017) 091103")
    options: ClassVar[tuple[Option, ...]] = (
        Option("variant", (str,), "radiochemical", choices=VARIANTS,
               doc="flux constraint: spectrum only, Ga rate + HZ CNO, or B16 SSM priors"),
        Option("mode", (str,), "fast", choices=("fast", "full"),
               doc="fast: nuisances profiled on a cached grid; full: sampler supplies them"),
        Option("fit_window_nh", (tuple,), (93, 950), unit="N_h",
               doc="inclusive N_h range (lo, hi) of the fit window"),
        Option("flux_model", (str,), "GS98", choices=solar.FLUX_MODELS,
               doc="B16 SSM flavour of fluxes and uncertainties"),
        weighting.WEIGHTS_OPTION,
        weighting.SIN2_THETA23_OPTION,
        Option("use_cache", (bool,), True, doc="on-disk cache of templates and grids"),
        Option("response", (ResponseParams, type(None)), None,
               doc="response override (Python API only; calibrate.py)"),
    )
    derived_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, variant: str = "radiochemical", mode: str = "fast",
                 fit_window_nh: tuple[int, int] = (93, 950), flux_model: str = "GS98",
                 weights: str = "universal", sin2_theta23: float = SIN2_THETA23,
                 use_cache: bool = True, response: ResponseParams | None = None):
        given = dict(variant=variant, mode=mode, flux_model=flux_model, weights=weights)
        for opt in self.options:
            if opt.name in given and given[opt.name] not in opt.choices:
                raise ConfigError(f"{opt.name}: unknown {short_repr(given[opt.name])} "
                                  f"(use one of {', '.join(opt.choices)})")
        try:
            lo, hi = (int(v) for v in fit_window_nh)
        except (TypeError, ValueError):
            raise ConfigError(f"fit_window_nh: expected (lo, hi) integers, found "
                              f"{short_repr(fit_window_nh)}") from None
        n_h = load_phase2().n_h
        if not (n_h[0] <= lo < hi <= n_h[-1]):
            raise ConfigError(f"fit_window_nh: ({lo}, {hi}) outside the data range "
                              f"{n_h[0]}..{n_h[-1]}")
        self.variant, self.mode, self.flux_model, self.weights = variant, mode, flux_model, weights
        self.window_nh = (lo, hi)
        self.use_cache = use_cache
        self.requires = weighting.required(weights)
        self.sin2_theta23 = weighting.SIN2_THETA23_OPTION.check(sin2_theta23, self.name)
        # every strength >= 0 and every mass >= 0 is covered (fast.py: beyond-grid behaviour)
        self.domain = {k: (0.0, np.inf) for k in self.requires}
        self.response = load_calibration() if response is None else response
        self.ssm_rates = np.array([recoil.ssm_total_rate_cpd100t(s, flux_model=flux_model)
                                   for s in SOLAR])
        # every fit parameter as a Nuisance (bounds, priors), in both modes
        self.parameters = parameter_list(
            b8_rate=float(self.ssm_rates[4]),
            b8_width=float(self.ssm_rates[4]) * self.ssm_fractional_uncertainty("b8"),
            pileup_rate=float(load_phase2().components["pileup"].sum()),
            ssm_constrained=variant == "solar_model")
        self.nuisances: tuple[Nuisance, ...] = self.parameters if mode == "full" else ()
        self._fast: fast.FastGrid | None = None

    # --- construction --------------------------------------------------------------------
    def _cache_options(self) -> dict:
        return {"response": self.response.to_dict(), "flux_model": self.flux_model}

    @cached_property
    def model(self) -> SpectrumModel:
        opts = self._cache_options()

        def build_linear() -> dict[str, np.ndarray]:
            with stage("Borexino templates: backgrounds and SM solar spectra"):
                return {"lin": linear_templates(self.response, self.flux_model)}

        def build_signal() -> dict[str, np.ndarray]:
            with stage("Borexino templates: magnetic-moment signal basis"):
                return signal_basis(self.response, self.flux_model)

        lin = cache.cached_arrays("linear", opts, build_linear, self.use_cache, prefix="borexino")["lin"]
        sig = cache.cached_arrays("signal", opts, build_signal, self.use_cache, prefix="borexino")
        return self.make_model(lin, sig)

    def make_model(self, lin: np.ndarray, sig: Mapping[str, np.ndarray] | None) -> SpectrumModel:
        """A SpectrumModel of this likelihood's window, variant and priors for given templates."""
        n_h = load_phase2().n_h
        window = (n_h >= self.window_nh[0]) & (n_h <= self.window_nh[1])
        return SpectrumModel(lin, sig, window, self._constraint(), self._prior(), self.ssm_rates)

    def start_theta(self) -> np.ndarray:
        """Starting parameters of the SM fit (published Phase-II values, SSM 8B)."""
        theta0 = np.array(START_THETA)
        theta0[PARAMS.index("b8")] = self.ssm_rates[4]
        return theta0

    def _constraint(self) -> Quadratic:
        """The variant's flux-constraint term, as chi^2 = -2 ln(term)."""
        if self.variant == "radiochemical":
            ga = measurements.measurement("constraints.gallium_rate", "SNU", constraint=True)
            c = gallium_rate_coefficients_snu(flux_model=self.flux_model)
            r = row({s: c[s] / rate for s, rate in zip(SOLAR, self.ssm_rates)})
            return Quadratic(r[None], np.array([ga.value]), np.array([ga.uncertainty]))
        if self.variant == "solar_model":
            rows = [row({s: 1.0 / rate}) for s, rate in zip(SOLAR, self.ssm_rates)]
            widths = [self.ssm_fractional_uncertainty(s) for s in SOLAR]
            return Quadratic(np.array(rows), np.ones(len(rows)), np.array(widths))
        return Quadratic(np.zeros((0, len(PARAMS))), np.zeros(0), np.ones(0))

    def ssm_fractional_uncertainty(self, group: str) -> float:
        """B16 fractional flux uncertainty of a group (CNO: flux-weighted over 13N, 15O, 17F)."""
        srcs = solar.GROUP_SOURCES[group]
        fl = np.array([solar.ssm_flux_cm2_s(s, self.flux_model) for s in srcs])
        un = np.array([solar.ssm_flux_fractional_uncertainty(s, self.flux_model) for s in srcs])
        return float(np.sum(fl * un) / np.sum(fl))

    def _prior(self) -> Quadratic:
        gauss = [nu for nu in self.parameters if nu.prior == "gaussian"]
        return Quadratic(np.array([row({nu.name: 1.0}) for nu in gauss]),
                         np.array([nu.center for nu in gauss]),
                         np.array([nu.width for nu in gauss]))

    # --- observables ----------------------------------------------------------------------
    def _strengths(self, observables: Mapping[str, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q (n, 4) [universal, k=1..3] in mu_B^2, m (n,) GeV, invalid-point mask (n,))."""
        return weighting.strengths(self.weights, observables, self.name, self.sin2_theta23)

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
            theta = np.empty((len(m), len(PARAMS)))     # (n, 20): one column per nuisance
            for j, k in enumerate(PARAMS):
                theta[:, j] = nuisances[k]
            out = np.empty(len(m))
            for i in range(0, len(m), FULL_BLOCK):
                sl = slice(i, i + FULL_BLOCK)
                out[sl] = -0.5 * self.model.chi2_vectorised(theta[sl], q[sl], m[sl])
            bad |= np.any(~((theta >= LOWER) & (theta <= UPPER)), axis=1)
        out = np.where(np.isnan(out), -np.inf, out)
        return np.where(bad, -np.inf, out)

    @cached_property
    def sm_fit(self) -> tuple[float, np.ndarray]:
        """(chi^2 minimum incl. priors, theta) of the SM-only fit, cached on disk."""
        opts = dict(self._cache_options(), variant=self.variant, window=self.window_nh, kind="sm")

        def build() -> dict[str, np.ndarray]:
            with stage("Borexino SM fit"):
                val, th = self.model.fit(self.start_theta())
                val, th = self.model.fit(th)
                # polished by the fitter of the fast grid, so that both minima are equally
                # converged (L-BFGS-B stops ~1e-7 above the minimum here)
                val_b, th_b, _ = batchfit.minimise(self.model, th)
                if val_b[0] < val:
                    val, th = float(val_b[0]), th_b[0]
            return {"chi2": np.array(val), "theta": th}
        r = cache.cached_arrays("smfit", opts, build, self.use_cache, prefix="borexino")
        return float(r["chi2"]), r["theta"]

    @cached_property
    def laplace(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, covariance) of the Laplace approximation of the no-signal posterior of
        theta: the SM fit and 2 H^-1, H the Hessian of chi^2 with the nuisance priors at the
        fit (central differences with steps 1e-3 x the parameter scales, one vectorised
        chi^2 call). Eigenvalues of H in the scaled coordinates theta / SCALE are floored at
        1e-12 of the largest (flat directions get a wide but finite spread)."""
        from .parameters import SCALE
        th = self.sm_fit[1]
        d = len(PARAMS)
        h = 1e-3 * SCALE
        e = np.eye(d) * h
        i, j = np.triu_indices(d)
        signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]])
        pts = th + signs[:, 0, None, None] * e[i] + signs[:, 1, None, None] * e[j]   # (4, m, d)
        chi = self.model.chi2_vectorised(pts.reshape(-1, d), with_prior=True).reshape(4, -1)
        hij = (chi[0] - chi[1] - chi[2] + chi[3]) / (4.0 * h[i] * h[j])
        hess = np.zeros((d, d))
        hess[i, j] = hij
        hess[j, i] = hij
        # Hessian of -ln L in the scaled coordinates x = theta / SCALE (O(1) entries), where
        # the eigenvalue floor is meaningful; then back to theta
        w, v = np.linalg.eigh(0.5 * hess * SCALE[:, None] * SCALE[None, :])
        w = np.maximum(w, 1e-12 * w.max())
        cov_x = (v / w) @ v.T
        return th.copy(), cov_x * SCALE[:, None] * SCALE[None, :]

    def nuisance_start(self, rng: np.random.Generator, n: int
                       ) -> dict[str, np.ndarray] | None:
        """Full mode: ``n`` draws from :attr:`laplace`, reflected into the parameter bounds
        (rates >= 0), so that emcee's walkers start where the no-signal posterior is rather
        than anywhere in wide uniform priors (where most points have a deviance of 1e4 and
        more, and a 25-dimensional ensemble takes > 1e5 steps to find the mode). Fast mode has
        no sampled nuisances: None."""
        if not self.nuisances:
            return None
        mean, cov = self.laplace
        x = mean + rng.normal(size=(n, len(mean))) @ np.linalg.cholesky(cov).T
        lo, hi = LOWER[None, :], UPPER[None, :]
        x = np.where(x < lo, 2.0 * lo - x, x)
        x = np.where(np.isfinite(hi) & (x > hi), 2.0 * hi - x, x)
        x = np.clip(x, lo, hi)
        return {name: x[:, k] for k, name in enumerate(PARAMS)}

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
        chi, _ = self.profile_chi2(q, m)
        return np.where(bad, -np.inf, -0.5 * chi)

    def profile_grid(self, s: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Delta ln L (n_s, n_m) of the profiled fit relative to the SM fit at equivalent
        massless universal strengths ``s`` (mu_B^2: the same in-window signal counts as a
        universal moment s at m = 0) and masses ``m`` (GeV). The profile callable of
        ``fast.tabulate``.

        All (s, m) nodes are minimised together by the vectorised Levenberg-Marquardt fitter
        ``batchfit.minimise`` (the same objective as ``SpectrumModel.fit``), in blocks of
        ``PROFILE_BLOCK`` points started at the SM fit; the blocks are shared out over the
        machine's cores (forked worker processes, ``build_processes``). The result does not
        depend on how the blocks are shared."""
        chi_sm, _ = self.sm_fit
        # mass-major: a block covers few masses, whose signal templates it builds once
        nodes = [(i, j) for j in range(len(m)) for i, si in enumerate(s) if si != 0.0]
        blocks = [nodes[k:k + PROFILE_BLOCK] for k in range(0, len(nodes), PROFILE_BLOCK)]
        tasks = [(np.array([s[i] for i, _ in b]), np.array([m[j] for _, j in b])) for b in blocks]
        delta = np.zeros((len(s), len(m)))
        with progress(len(nodes), "Borexino fast grid", unit="profile") as bar:
            for k, chi in map_rows(self._profile_block, tasks):
                for (i, j), c in zip(blocks[k], chi):
                    delta[i, j] = -0.5 * (c - chi_sm)
                bar.update(len(blocks[k]))
        return delta

    def _profile_block(self, task: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """chi^2 minima (n,) at strengths s (n,) mu_B^2 and masses m (n,) GeV."""
        s_values, m = task
        model = self.model
        n_zero = model.signal_norm(np.array([0.0]))[0, 0]
        units: dict[float, np.ndarray] = {}
        for mj in np.unique(m):
            q = np.zeros(len(SIGNAL_WEIGHTS))
            q[0] = n_zero / model.signal_norm(np.array([mj]))[0, 0]
            units[float(mj)] = model.signal_solar_templates(q, float(mj))
        sig = np.stack([si * units[float(mj)] for si, mj in zip(s_values, m)])
        chi, _, _ = batchfit.minimise(model, self.sm_fit[1], sig)
        return chi

    def best_fit_sm(self) -> dict[str, float]:
        """SM-only fit: rates (cpd/100 t), nuisances, deviance, d.o.f. in the window."""
        chi, th = self.sm_fit
        nu = self.model.expected(th[None])[0]
        dev = float(baker_cousins_deviance(nu, self.model.n))
        out = {k: float(v) for k, v in zip(PARAMS, th)}
        out.update(deviance=dev, n_bins=int(self.model.n.size),
                   dof=int(self.model.n.size - len(PARAMS)), chi2_total=chi)
        return out

    @property
    def fast(self) -> fast.FastGrid:
        """The fast grid of this likelihood (built from ``profile_grid``, cached on disk)."""
        if self._fast is None:
            spec = fast.GridSpec()
            opts = dict(self._cache_options(), variant=self.variant, window=self.window_nh,
                        kind="fast", solver="batch-lm", **spec.key())
            self._fast = fast.FastGrid(cache.cached_arrays("fast", opts, lambda: fast.tabulate(
                self.profile_grid, lambda m: self.model.signal_norm(m),
                -0.5 * self.sm_fit[0], spec), self.use_cache, prefix="borexino"))
        return self._fast
