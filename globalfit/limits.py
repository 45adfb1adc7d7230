"""90 % C.L. upper limits on the effective dark transition moment eps * lambda^D.

What to use when
----------------
* ``globalfit limits --config configs/limits.yaml`` (:func:`main`): the joint-exclusion
  figure and one CSV per curve, into ``chains/<name>/`` (or ``--out DIR``).
* :class:`IndirectProbes`: ln L(mu) of NA64 + BaBar + MEG II for one (m_A', g_D) and the
  benchmark masses, the accelerator/flavour nuisance direction (eps at fixed mu) profiled
  (``method="profile"``) or marginalised (``method="bayes"``).
* :class:`BorexinoSpectrumTerm` (the spectral likelihood, nuisances profiled) or
  :class:`BorexinoRateTerm` (the published limit recast with the propagator-suppressed rate).
* :func:`upper_limit`: one-sided 90 % limit of a 1-D ln L(mu), profile or Bayesian.

The quantity (docs/limits.md)
-----------------------------
mu = eps * lambda^D in Bohr magnetons, in the flavour-universal convention of the model's
observable ``mu_eff_mub``: mu^2 = sum_k w_k |eps Lambda_k|^2 with vacuum solar weights
(``DarkTransitionMomentModel.observables``); the moment an electron sees through the dark photon
when m_A' -> 0 (at finite m_A' Borexino sees mu * P(T), MODEL.md section 3).

Through the model, at fixed m_A', g_D, benchmark masses (M_S, dM_S, m_N), misalignment alpha and
scalar mixing theta (y = y0 n, y' = y0 (cos alpha n + sin alpha m)):

    mu = eps * y0^2 * K,          K = mu_eff_mub(eps = 1, y0 = 1)             (lambda^D ~ y y')
    BR(l -> l' gamma) = y0^4 * B, B = BR(eps = 1, y0 = 1)                    (amplitude ~ y y)
    NA64, BaBar: functions of eps^2 * f_miss(BR_inv(m_A', g_D, eps))

so for fixed mu the free direction is eps (y0^2 = mu / (eps K)):

    ln L_ind(mu) = max_eps  [ln L_NA64(eps) + ln L_BaBar(eps) + ln L_MEG(y0^4 B)]       profile
    ln L_ind(mu) = ln int dln(eps) / ln(eps_max/eps_min) exp[...]                      Bayes

with eps in [eps_min, eps_max] and y0 <= y0_max (perturbativity sqrt(4 pi)); -inf above.
Both limits use Delta chi^2 = 2.71 (profile) or the 90 % quantile of the posterior of mu with a
prior flat in mu^2 >= 0 and log-uniform in eps (Bayes); Borexino's nuisances are profiled in
both (its fast grid), so the Bayesian limit is a profile-posterior hybrid, stated as such.
References: PDG 2024 Sec. 40.4 (limits); seed model H. Zhang, arXiv:2603.25704.
"""
from __future__ import annotations

import argparse
import csv
import difflib
import json
import logging
import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
from scipy import special

from .errors import ConfigError, GlobalFitError, ParameterError
from .units import parse_quantity

log = logging.getLogger("globalfit.limits")

__all__ = ["LimitsConfig", "Benchmark", "IndirectProbes", "BorexinoSpectrumTerm", "BorexinoRateTerm",
           "LimitCalculator", "upper_limit", "load_limits_config", "run_limits", "main",
           "METHODS"]

METHODS = ("profile", "bayes")
Y0_MAX = math.sqrt(4.0 * math.pi)
"""Perturbativity bound on the Yukawa scale (the model's parameter domain)."""

BOREXINO_PUBLISHED_MUB = 2.8e-11
"""Borexino, Phys. Rev. D 96 (2017) 091103: mu_eff < 2.8e-11 mu_B (90 % C.L., m_A' = 0)."""


# ---------------------------------------------------------------------------------------------
# one-sided limits of a 1-D likelihood
# ---------------------------------------------------------------------------------------------
def _limit_scale(loglike: Callable[[np.ndarray], np.ndarray], drop: float,
                 lo: float = 1e-30, hi: float = 1e3) -> float:
    """The smallest mu on a log grid [lo, hi] where ln L has fallen by ``drop`` below its
    maximum over the grid and mu = 0: the size of the limit (to condition the solvers)."""
    grid = np.geomspace(lo, hi, 331)
    ll = np.asarray(loglike(grid), dtype=float)
    ll0 = float(np.asarray(loglike(np.zeros(1)))[0])
    ref = max(ll0, float(np.max(np.where(np.isfinite(ll), ll, -np.inf))))
    k = int(np.argmax(np.where(np.isfinite(ll), ll, -np.inf)))
    below = np.nonzero((ll < ref - drop) & (np.arange(len(grid)) >= k))[0]
    if len(below) == 0:
        raise ParameterError(f"mu: likelihood does not fall by {drop} up to {hi:g} mu_B; "
                             "no upper limit")
    return float(grid[below[0]])


def upper_limit(loglike: Callable[[np.ndarray], np.ndarray], method: str) -> float:
    """One-sided 90 % C.L. upper limit on mu >= 0 (mu_B) from a vectorised ln L(mu).

    ``profile``: -2 [ln L(mu) - ln L(mu_hat)] = 2.71 above the maximum mu_hat >= 0
    (``likelihoods._stats.profile_upper_limit``). ``bayes``: 90 % quantile of the posterior
    with a prior flat in mu^2 >= 0 (``likelihoods._stats.bayesian_upper_limit`` in x = mu^2).
    The likelihood is rescaled internally so both solvers work on O(1) numbers.
    """
    from likelihoods import _stats
    if method not in METHODS:
        raise ConfigError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    scale = _limit_scale(loglike, 1.0)
    if method == "profile":
        def f(z: np.ndarray) -> np.ndarray:
            return np.asarray(loglike(np.maximum(np.asarray(z, float), 0.0) * scale), float)
        return scale * _stats.profile_upper_limit(f, 1.0)

    def g(x: np.ndarray) -> np.ndarray:
        return np.asarray(loglike(np.sqrt(np.maximum(np.asarray(x, float), 0.0)) * scale),
                          float)
    return scale * math.sqrt(_stats.bayesian_upper_limit(g, 1.0))


# ---------------------------------------------------------------------------------------------
# Borexino terms: ln L(mu, m_A')
# ---------------------------------------------------------------------------------------------
class MomentTerm(Protocol):
    """A likelihood of the effective moment: ``loglike(mu_mub (n,), m_aprime_gev) -> (n,)``."""

    label: str

    def loglike(self, mu_mub: np.ndarray, m_aprime_gev: float) -> np.ndarray: ...


class BorexinoSpectrumTerm:
    """Borexino Phase-II spectral likelihood of a flavour-universal moment with the dark-photon
    propagator, all nuisances profiled (``likelihoods.borexino`` fast grid, cached on disk):
    ln L(mu, m) = ln L_max(q = (mu^2, 0, 0, 0), m)."""

    label = "Borexino Phase-II spectrum"

    def __init__(self, variant: str = "radiochemical", flux_model: str = "GS98") -> None:
        from likelihoods.borexino import BorexinoLikelihood
        self.likelihood = BorexinoLikelihood(variant=variant, mode="fast", flux_model=flux_model,
                                             weights="universal")

    @property
    def grid(self) -> Any:
        """The fast grid (built and cached on first use)."""
        return self.likelihood.fast

    def loglike(self, mu_mub: np.ndarray, m_aprime_gev: float) -> np.ndarray:
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        q = np.zeros((len(mu), 4))
        q[:, 0] = mu * mu
        with np.errstate(over="ignore"):
            out = self.grid.loglike(q, np.full(len(mu), float(m_aprime_gev)))
        return np.where(np.isfinite(out), out, -np.inf)


class BorexinoRateTerm:
    """The published Borexino limit recast to a massive mediator through the signal rate.

    Half-Gaussian in the signal strength s = mu^2 S(m) (flat prior on s >= 0 returns the
    published limit at m = 0, the GAMBIT/flavio convention used for MEG):
    ln L = -s^2 / (2 sigma^2), sigma = UL^2 / Phi^{-1}(0.95), UL = 2.8e-11 mu_B
    (Borexino, PRD 96 (2017) 091103). S(m) = int_{T > T_th} R_mu(T) P(T, m)^2 dT /
    int_{T > T_th} R_mu(T) dT, with R_mu the magnetic-moment recoil spectrum of all solar
    sources (``likelihoods.borexino.recoil.mm_rate_density``) and P the propagator factor
    (MODEL.md section 3); T_th = 0.2 MeV approximates the fit window (N_h >= 93, 214 keV
    visible). A rate-only approximation: it ignores the change of spectral shape.
    """

    label = "Borexino (published limit, rate recast)"

    def __init__(self, upper_limit_mub: float = BOREXINO_PUBLISHED_MUB,
                 threshold_mev: float = 0.2) -> None:
        from likelihoods import _stats
        from likelihoods.borexino import recoil
        from likelihoods.borexino.templates import SOLAR
        t = recoil.default_t_grid_mev()
        w = recoil.t_grid_weights(t) * (t >= threshold_mev)
        self._t = t
        self._density = w * sum(recoil.mm_rate_density(g, t, "universal") for g in SOLAR)
        self._norm = float(np.sum(self._density))
        self.sigma = _stats.half_gaussian_sigma_from_ul(upper_limit_mub**2)

    def suppression(self, m_aprime_gev: float) -> float:
        """S(m) in (0, 1]: the rate above threshold relative to a massless mediator."""
        from likelihoods.borexino.xsec import propagator_factor
        p2 = propagator_factor(self._t, float(m_aprime_gev)) ** 2
        return float(np.sum(self._density * p2) / self._norm)

    def loglike(self, mu_mub: np.ndarray, m_aprime_gev: float) -> np.ndarray:
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        s = mu * mu * self.suppression(m_aprime_gev)
        return np.where(mu < 0, -np.inf, -0.5 * (s / self.sigma) ** 2)


# ---------------------------------------------------------------------------------------------
# indirect probes through the model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Benchmark:
    """Masses (GeV) and angles (rad) held fixed along a limit curve."""
    m_n_gev: float = 0.1
    m_s_gev: float = 0.3
    dm_s_gev: float = 0.1
    theta: float = math.pi / 4
    alpha: float = math.pi / 2


_CLFV_OBSERVABLE = {"meg": "br_mu_e_gamma", "tau_e_gamma": "br_tau_e_gamma",
                    "tau_mu_gamma": "br_tau_mu_gamma"}


class IndirectProbes:
    """ln L(mu) of the accelerator (NA64, BaBar) and flavour (MEG II, ...) likelihoods for one
    dark-photon mass and gauge coupling, mapped onto mu = eps y0^2 K (module docstring).

    The accelerator log-likelihood is tabulated once on ``n_eps`` log-spaced eps in
    [eps_min, eps_max] (with the model's BR_inv and width at each eps); ln L(mu) is then one
    (n_mu, n_eps) array operation.
    """

    def __init__(self, m_aprime_gev: float, g_d: float, benchmark: Benchmark,
                 model_options: Mapping[str, Any] | None = None,
                 accelerator: Mapping[str, Mapping[str, Any]] | None = None,
                 clfv: Mapping[str, str | None] | None = None,
                 eps_range: tuple[float, float] = (1e-8, 1.0), n_eps: int = 801,
                 y0_max: float = Y0_MAX) -> None:
        from likelihoods import get_likelihood

        from .model.dark_sector import DarkTransitionMomentModel
        if not (0 < eps_range[0] < eps_range[1] <= 1.0):
            raise ConfigError(f"eps_range: expected 0 < eps_min < eps_max <= 1, found "
                              f"{list(eps_range)}")
        self.m_aprime_gev, self.g_d = float(m_aprime_gev), float(g_d)
        model = DarkTransitionMomentModel(**dict(model_options or {}))
        if model.yukawa_parametrisation != "scale_angle":
            raise ConfigError("model.yukawa_parametrisation: limits need 'scale_angle' "
                              "(mu and BR scale with y0 at fixed alpha)")
        accelerator = {"na64": {"long_lived_visible": True}, "babar": {}} \
            if accelerator is None else accelerator
        clfv = {"meg": "meg2_2025"} if clfv is None else clfv
        self.eps = np.geomspace(eps_range[0], eps_range[1], int(n_eps))
        self.log_prior_width = math.log(eps_range[1] / eps_range[0])
        self.y0_max = float(y0_max)
        params = {"m_aprime_gev": self.m_aprime_gev, "eps": self.eps, "g_d": self.g_d,
                  "m_n_gev": benchmark.m_n_gev, "m_s_gev": benchmark.m_s_gev,
                  "dm_s_gev": benchmark.dm_s_gev, "theta": benchmark.theta, "y0": 1.0,
                  "alpha": benchmark.alpha, "kappa_r": 0.0}
        obs, valid = model.observables(params)
        if not valid.all():
            raise ParameterError(f"benchmark {benchmark} with m_A' = {m_aprime_gev} GeV, "
                                 f"g_D = {g_d}: outside the model's parameter domain")
        self.k_mub = float(obs["mu_eff_mub"][-1] / self.eps[-1])
        """mu per unit eps * y0^2 (mu_B)."""
        if not self.k_mub > 0:
            raise ParameterError("benchmark: the moment vanishes (alpha, theta or dM_S = 0)")
        self.br_inv = obs["br_inv"]
        self.ll_acc = {}
        for name, options in accelerator.items():
            if name not in ("na64", "babar"):
                raise ConfigError(f"accelerator.{name}: unknown (use na64, babar)")
            lk = get_likelihood(name, out_of_range="flat", **dict(options or {}))
            self.ll_acc[name] = np.asarray(lk.loglike(obs), dtype=float)
        self.ll_acc_total = sum(self.ll_acc.values(), np.zeros(len(self.eps)))
        self.clfv = []
        for name, dataset in clfv.items():
            if name not in _CLFV_OBSERVABLE:
                raise ConfigError(f"clfv.{name}: unknown (use {', '.join(_CLFV_OBSERVABLE)})")
            lk = get_likelihood(name, **({} if dataset is None else {"dataset": dataset}))
            self.clfv.append((lk, float(obs[_CLFV_OBSERVABLE[name]][-1])))
        self.labels = [n.upper() if n != "babar" else "BaBar" for n in accelerator] + [
            f"{lk.name.upper() if lk.name == 'meg' else lk.name} {lk.dataset}"
            for lk, _ in self.clfv]

    def _ll_grid(self, mu_mub: np.ndarray) -> np.ndarray:
        """ln L on the (n_mu, n_eps) grid (-inf where y0 > y0_max)."""
        mu = np.atleast_1d(np.asarray(mu_mub, dtype=float))
        y0_sq = mu[:, None] / (self.eps[None, :] * self.k_mub)
        ll = np.broadcast_to(self.ll_acc_total, y0_sq.shape).copy()
        for lk, b in self.clfv:
            ll += lk.loglike({lk.observable: (b * y0_sq * y0_sq).ravel()}).reshape(ll.shape)
        return np.where(y0_sq > self.y0_max**2, -np.inf, ll)

    def loglike(self, mu_mub: np.ndarray, method: str = "profile") -> np.ndarray:
        """ln L_ind(mu) (n,): maximum over eps (``profile``) or the average over a log-uniform
        prior in eps (``bayes``; trapezoid rule in ln eps)."""
        ll = self._ll_grid(mu_mub)
        if method == "profile":
            out = np.max(ll, axis=1)
        elif method == "bayes":
            w = np.full(len(self.eps), 1.0)
            w[0] = w[-1] = 0.5
            w /= w.sum()
            out = special.logsumexp(ll, b=w[None, :], axis=1)
        else:
            raise ConfigError(f"method: {method!r} is not one of {', '.join(METHODS)}")
        return np.where(np.isfinite(out), out, -np.inf)


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
_TOP_KEYS = {"name", "model", "benchmark", "grid", "g_d", "method", "borexino", "accelerator",
             "clfv", "eps_range", "n_eps", "pool", "output"}
_BENCH_KEYS = {"m_n": "energy", "m_s": "energy", "dm_s": "energy", "theta": "1", "alpha": "1"}
_GRID_KEYS = {"m_aprime_min", "m_aprime_max", "n_points"}


def _unknown(section: dict, allowed: set[str], where: str, display: str) -> None:
    for key in section:
        if key not in allowed:
            match = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise ConfigError(f"{display}: {where}{key}: unknown option{hint}")


def _section(raw: Mapping[str, Any], key: str, display: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{display}: {key}: expected a mapping, found {value!r}")
    return dict(value)


@dataclass
class LimitsConfig:
    """The validated limits config (see configs/limits.yaml for every key)."""
    name: str = "limits"
    model_options: dict = field(default_factory=dict)
    benchmark: Benchmark = field(default_factory=Benchmark)
    masses_gev: np.ndarray = field(default_factory=lambda: np.geomspace(1e-6, 1.0, 61))
    g_d: tuple[float, ...] = (0.1, 0.3, 0.5)
    methods: tuple[str, ...] = ("profile",)
    borexino: dict = field(default_factory=lambda: {"mode": "spectrum",
                                                    "variant": "radiochemical"})
    accelerator: dict = field(default_factory=lambda: {"na64": {"long_lived_visible": True},
                                                       "babar": {}})
    clfv: dict = field(default_factory=lambda: {"meg": "meg2_2025"})
    eps_range: tuple[float, float] = (1e-8, 1.0)
    n_eps: int = 801
    pool: dict = field(default_factory=lambda: {"kind": "auto"})
    output_directory: str = "chains"
    raw: dict = field(default_factory=dict)


def parse_limits_config(raw: Mapping[str, Any], display: str = "limits.yaml") -> LimitsConfig:
    """Validate a limits config mapping; ConfigError naming file and key on any problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{display}: expected a mapping at the top level")
    raw = dict(raw)
    _unknown(raw, _TOP_KEYS, "", display)
    cfg = LimitsConfig(raw=json.loads(json.dumps(raw, default=str)))
    cfg.name = str(raw.get("name", cfg.name))
    cfg.model_options = _section(raw, "model", display)
    bench = _section(raw, "benchmark", display)
    _unknown(bench, set(_BENCH_KEYS), "benchmark.", display)
    b = {k: parse_quantity(v, _BENCH_KEYS[k], f"{display}: benchmark.{k}")
         for k, v in bench.items()}
    cfg.benchmark = Benchmark(**{(f"{k}_gev" if _BENCH_KEYS[k] == "energy" else k): v
                                 for k, v in b.items()})
    grid = _section(raw, "grid", display)
    _unknown(grid, _GRID_KEYS, "grid.", display)
    lo = parse_quantity(grid.get("m_aprime_min", "1 keV"), "energy", f"{display}: grid.m_aprime_min")
    hi = parse_quantity(grid.get("m_aprime_max", "1 GeV"), "energy", f"{display}: grid.m_aprime_max")
    n = grid.get("n_points", 61)
    if not (0 < lo < hi) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"{display}: grid: need 0 < m_aprime_min < m_aprime_max and "
                          f"n_points >= 2, found {lo:g}, {hi:g} GeV, {n!r}")
    cfg.masses_gev = np.geomspace(lo, hi, n)
    g_d = raw.get("g_d", list(cfg.g_d))
    g_d = [g_d] if isinstance(g_d, (int, float)) else g_d
    try:
        cfg.g_d = tuple(parse_quantity(g, "1", f"{display}: g_d") for g in g_d)
    except TypeError:
        raise ConfigError(f"{display}: g_d: expected a list of numbers, found {g_d!r}") from None
    if not cfg.g_d or any(not 0 < g <= Y0_MAX for g in cfg.g_d):
        raise ConfigError(f"{display}: g_d: expected values in (0, sqrt(4 pi)], found {g_d!r}")
    method = raw.get("method", "profile")
    if method not in METHODS + ("both",):
        raise ConfigError(f"{display}: method: {method!r} is not one of profile, bayes, both")
    cfg.methods = METHODS if method == "both" else (method,)
    bx = _section(raw, "borexino", display) or dict(cfg.borexino)
    _unknown(bx, {"mode", "variant", "flux_model", "threshold_mev"}, "borexino.", display)
    if bx.setdefault("mode", "spectrum") not in ("spectrum", "rate"):
        raise ConfigError(f"{display}: borexino.mode: {bx['mode']!r} is not spectrum or rate")
    cfg.borexino = bx
    if "accelerator" in raw:
        acc = _section(raw, "accelerator", display)
        _unknown(acc, {"na64", "babar"}, "accelerator.", display)
        cfg.accelerator = {k: dict(v or {}) for k, v in acc.items() if v is not False}
    if "clfv" in raw:
        cl = _section(raw, "clfv", display)
        _unknown(cl, set(_CLFV_OBSERVABLE), "clfv.", display)
        cfg.clfv = {k: v for k, v in cl.items() if v is not False}
    eps_range = raw.get("eps_range", list(cfg.eps_range))
    try:
        cfg.eps_range = (float(eps_range[0]), float(eps_range[1]))
    except (TypeError, ValueError, IndexError):
        raise ConfigError(f"{display}: eps_range: expected [eps_min, eps_max], found "
                          f"{eps_range!r}") from None
    if not 0 < cfg.eps_range[0] < cfg.eps_range[1] <= 1:
        raise ConfigError(f"{display}: eps_range: need 0 < eps_min < eps_max <= 1")
    cfg.n_eps = int(raw.get("n_eps", cfg.n_eps))
    if cfg.n_eps < 50:
        raise ConfigError(f"{display}: n_eps: need >= 50, found {cfg.n_eps}")
    cfg.pool = _section(raw, "pool", display) or dict(cfg.pool)
    _unknown(cfg.pool, {"kind", "n_processes"}, "pool.", display)
    out = _section(raw, "output", display)
    _unknown(out, {"directory"}, "output.", display)
    cfg.output_directory = str(out.get("directory", cfg.output_directory))
    return cfg


def load_limits_config(path: str | Path) -> LimitsConfig:
    """Read and validate a limits YAML file."""
    import yaml
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_limits_config(raw, path.name)


# ---------------------------------------------------------------------------------------------
# the grid
# ---------------------------------------------------------------------------------------------
class LimitCalculator:
    """All curves at one mass (:meth:`at_mass`), built once per process (picklable tasks are
    mass indices; the calculator itself never travels between processes)."""

    def __init__(self, cfg: LimitsConfig, borexino: MomentTerm | None = None) -> None:
        self.cfg = cfg
        if borexino is None:
            bx = dict(cfg.borexino)
            if bx.pop("mode") == "rate":
                borexino = BorexinoRateTerm(threshold_mev=float(bx.get("threshold_mev", 0.2)))
            else:
                bx.pop("threshold_mev", None)
                borexino = BorexinoSpectrumTerm(**bx)
        self.borexino = borexino

    def indirect(self, m_gev: float, g_d: float) -> IndirectProbes:
        c = self.cfg
        return IndirectProbes(m_gev, g_d, c.benchmark, c.model_options, c.accelerator, c.clfv,
                              c.eps_range, c.n_eps)

    def at_mass(self, i_mass: int) -> dict[str, float]:
        """Limits (mu_B) at mass index ``i_mass``: keys ``borexino/<method>``,
        ``indirect/<g_d>/<method>``, ``combined/<g_d>/<method>``; plus ``br_inv/<g_d>``."""
        m = float(self.cfg.masses_gev[i_mass])
        out: dict[str, float] = {}

        def bx(mu: np.ndarray) -> np.ndarray:
            return self.borexino.loglike(mu, m)
        for method in self.cfg.methods:
            out[f"borexino/{method}"] = upper_limit(bx, method)
        for g in self.cfg.g_d:
            ind = self.indirect(m, g)
            out[f"br_inv/{g:g}"] = float(ind.br_inv[0])
            for method in self.cfg.methods:
                def f_ind(mu: np.ndarray, method: str = method) -> np.ndarray:
                    return ind.loglike(mu, method)

                def f_all(mu: np.ndarray, method: str = method) -> np.ndarray:
                    return ind.loglike(mu, method) + bx(mu)
                out[f"indirect/{g:g}/{method}"] = upper_limit(f_ind, method)
                out[f"combined/{g:g}/{method}"] = upper_limit(f_all, method)
        return out


def compute_curves(calc: LimitCalculator, pool: Any = None) -> dict[str, np.ndarray]:
    """Every curve on the mass grid: name -> (n_masses,) array (mu_B). The masses are mapped
    over ``pool`` (``globalfit.samplers.pool``; serial when None)."""
    n = len(calc.cfg.masses_gev)
    if pool is None or getattr(pool, "size", 1) == 1:
        rows = [calc.at_mass(i) for i in range(n)]
    else:
        from .samplers.pool import Ref, register
        register("globalfit.limits", calc)      # no-op for workers forked before this
        rows = pool.map(Ref("globalfit.limits", "at_mass"), range(n))
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def _curve_files(curves: Mapping[str, np.ndarray]) -> dict[str, str]:
    return {key: key.replace("/", "_").replace("br_inv", "br_inv_gd").replace(
        "indirect_", "indirect_gd").replace("combined_", "combined_gd") + ".csv"
        for key in curves}


def write_outputs(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], out_dir: Path,
                  labels: Sequence[str] = (), borexino_label: str = "Borexino") -> list[Path]:
    """One CSV per curve, ``summary.json``, ``config.yaml`` and ``limits.png``/``.pdf``."""
    import yaml
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    b = cfg.benchmark
    header = (f"# 90% C.L. upper limit on mu = eps*lambda^D (flavour-universal mu_eff, m_A'->0 "
              f"normalisation), mu_B\n# benchmark: m_N = {b.m_n_gev} GeV, M_S = {b.m_s_gev} GeV, "
              f"dM_S = {b.dm_s_gev} GeV, theta = {b.theta:.6g}, alpha = {b.alpha:.6g}\n"
              "# produced by globalfit limits (docs/limits.md)\n")
    for key, fname in _curve_files(curves).items():
        path = out_dir / fname
        col = "br_inv" if key.startswith("br_inv") else "mu_90_mub"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            fh.write(f"# curve: {key}\n" + header)
            w = csv.writer(fh)
            w.writerow(["m_aprime_gev", col])
            w.writerows((f"{m:.8e}", f"{v:.8e}") for m, v in zip(cfg.masses_gev, curves[key]))
        written.append(path)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.raw, sort_keys=False))
    summary = {"masses_gev": cfg.masses_gev.tolist(),
               "curves": {k: v.tolist() for k, v in curves.items()}}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    written += [out_dir / "config.yaml", out_dir / "summary.json"]
    written += plot_limits(cfg, curves, out_dir, labels, borexino_label)
    return written


def plot_limits(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], out_dir: Path,
                labels: Sequence[str] = (), borexino_label: str = "Borexino") -> list[Path]:
    """The joint-exclusion figure: log-log, limit on eps*lambda^D (mu_B) versus m_A' (MeV)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    m_mev = cfg.masses_gev * 1e3
    method = "profile" if "profile" in cfg.methods else cfg.methods[0]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ax.loglog(m_mev, curves[f"borexino/{method}"], color="k", lw=2,
              label=f"{borexino_label}")
    indirect = " + ".join(labels) if labels else "NA64 + BaBar + MEG II"
    for i, g in enumerate(cfg.g_d):
        c = colours[(i + 1) % len(colours)]
        ax.loglog(m_mev, curves[f"indirect/{g:g}/{method}"], "--", color=c, lw=1.3,
                  label=rf"{indirect}, $g_D={g:g}$")
        comb = curves[f"combined/{g:g}/{method}"]
        ax.loglog(m_mev, comb, "-", color=c, lw=1.0, label=rf"combined, $g_D={g:g}$")
    strongest = np.min([curves[f"combined/{g:g}/{method}"] for g in cfg.g_d], axis=0)
    top = ax.get_ylim()[1]
    ax.fill_between(m_mev, strongest, top, color="0.85", zorder=0)
    ax.set_ylim(top=top)
    ax.axvline(2e3 * cfg.benchmark.m_n_gev, color="0.5", ls=":", lw=1)
    ax.text(2e3 * cfg.benchmark.m_n_gev, ax.get_ylim()[0], r" $2m_N$", color="0.4",
            va="bottom", fontsize=8)
    b = cfg.benchmark
    ax.set_xlabel(r"$m_{A'}$ [MeV]")
    ax.set_ylabel(r"90% C.L. limit on $\varepsilon\,\lambda^D$ [$\mu_B$]")
    ax.set_title(rf"$M_S={b.m_s_gev*1e3:g}$ MeV, $\Delta M_S={b.dm_s_gev*1e3:g}$ MeV, "
                 rf"$m_N={b.m_n_gev*1e3:g}$ MeV ({'profile likelihood' if method == 'profile' else 'Bayesian'})",
                 fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    paths = [out_dir / "limits.png", out_dir / "limits.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def run_limits(cfg: LimitsConfig, out_dir: Path, force: bool = False,
               borexino: MomentTerm | None = None) -> dict[str, np.ndarray]:
    """Compute every curve and write the outputs into ``out_dir`` (refuses an existing,
    non-empty directory unless ``force``). Returns the curves."""
    from .samplers.pool import make_pool
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise ConfigError(f"{out_dir}: output directory exists; use --force to overwrite it")
    calc = LimitCalculator(cfg, borexino)
    from .samplers.pool import register
    register("globalfit.limits", calc)          # before the pool forks its workers
    pool = make_pool(cfg.pool.get("kind", "auto"), cfg.pool.get("n_processes"))
    if not getattr(pool, "is_master", True):    # MPI worker ranks evaluate blocks, then stop
        pool.wait()
        return {}
    try:
        curves = compute_curves(calc, pool)
    finally:
        pool.close()
    if out_dir.exists() and force:
        shutil.rmtree(out_dir)
    labels = calc.indirect(float(cfg.masses_gev[-1]), cfg.g_d[0]).labels
    write_outputs(cfg, curves, out_dir, labels, getattr(calc.borexino, "label", "Borexino"))
    return curves


def main(argv: Sequence[str] | None = None) -> int:
    """``globalfit limits --config FILE [--out DIR] [--method M] [--force]``; exit status 0
    done, 2 bad input (one line on stderr)."""
    ap = argparse.ArgumentParser(prog="globalfit limits",
                                 description="90% C.L. limits on eps*lambda^D versus m_A'")
    ap.add_argument("--config", default="configs/limits.yaml", help="limits config (YAML)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default: <output.directory>/<name>)")
    ap.add_argument("--method", choices=METHODS + ("both",), default=None,
                    help="override the config's method")
    ap.add_argument("--force", action="store_true", help="overwrite an existing output directory")
    args = ap.parse_args(argv)
    try:
        cfg = load_limits_config(args.config)
        if args.method:
            cfg.methods = METHODS if args.method == "both" else (args.method,)
            cfg.raw["method"] = args.method
        out_dir = args.out if args.out is not None else Path(cfg.output_directory) / cfg.name
        curves = run_limits(cfg, out_dir, force=args.force)
    except GlobalFitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if curves:
        method = cfg.methods[0]
        i0 = 0
        print(f"wrote {out_dir}: limits at m_A' = {cfg.masses_gev[i0]:.3g} GeV ({method}): "
              f"Borexino {curves[f'borexino/{method}'][i0]:.3g} mu_B; " + ", ".join(
                  f"g_D={g:g}: indirect {curves[f'indirect/{g:g}/{method}'][i0]:.3g}, combined "
                  f"{curves[f'combined/{g:g}/{method}'][i0]:.3g}" for g in cfg.g_d))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
