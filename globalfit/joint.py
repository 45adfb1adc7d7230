"""The joint posterior: prior, model, and the sum of the selected likelihood modules.

    ln p(theta | data) = ln pi(theta) + sum_k ln L_k(obs(theta), nu_k) + const

Everything is vectorised over parameter points ``theta`` of shape ``(n_points, n_params)``.
The prior is checked first; only points with a finite prior reach the model; points the
model flags invalid get ``-inf`` with a counted reason. Each module's value is kept
(:class:`Evaluation.terms`) so a test can check that the joint is their sum. The likelihood
terms are computed by ``likelihoods.evaluate.likelihood_terms``, the evaluation shared with
the framework adapters; the nuisances a likelihood declares are sampled with the other
parameters, named by ``likelihoods.evaluate.nuisance_parameter_name`` (``"borexino.cno"``).

This module imports the model and likelihood *interfaces* only (never a concrete model or
experiment): the config builds the objects and hands them in.
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from likelihoods.base import Likelihood, Nuisance
from likelihoods.evaluate import likelihood_terms, nuisance_parameter_name
from .errors import ParameterError
from .model.base import Model
from .priors import Prior, PriorSet, name_latex


EVAL_BLOCK = 16384
"""Points per block in :meth:`JointPosterior.evaluate` (a multiple of the 2048-point blocks
of the Borexino full mode, so its blocks are unchanged)."""


def sampled_nuisances(like: Likelihood) -> tuple[Nuisance, ...]:
    """The nuisances of ``like`` a sampler must sample: exactly its declared ``nuisances``
    (a likelihood that profiles them declares none)."""
    return tuple(like.nuisances)


def nuisance_prior(label: str, nuisance: Nuisance) -> Prior:
    """The :class:`Prior` a sampler uses for ``nuisance`` of likelihood ``label``."""
    name = nuisance_parameter_name(label, nuisance)
    if nuisance.prior == "gaussian":
        return Prior(name, "gaussian", low=nuisance.low, high=nuisance.high,
                     mean=nuisance.center, sd=nuisance.width, latex=name_latex(name))
    if nuisance.prior == "uniform":
        return Prior(name, "uniform", low=nuisance.low, high=nuisance.high,
                     latex=name_latex(name))
    raise ValueError(f"{name}: unknown nuisance prior {nuisance.prior!r}")


def as_points(theta: Any, ndim: int, what: str = "theta") -> np.ndarray:
    """``theta`` as a float64 ``(n, ndim)`` array: 2-D ``(n, ndim)`` or one point ``(ndim,)``.
    ParameterError naming the expected and the found shape, or the non-numeric type."""
    try:
        arr = np.asarray(theta)
    except Exception:                                  # ragged nesting and the like
        raise ParameterError(f"{what}: expected an array of shape (n, {ndim}), found "
                             f"{type(theta).__name__}") from None
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise ParameterError(f"{what}: expected real numbers of shape (n, {ndim}), found "
                                 "non-numeric values") from None
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"{what}: expected real numbers of shape (n, {ndim}), found "
                             f"dtype {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == ndim:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != ndim:
        raise ParameterError(f"{what}: expected shape (n, {ndim}) or ({ndim},), found shape "
                             f"{arr.shape}")
    return np.asarray(arr, dtype=np.float64)


@dataclass
class Evaluation:
    """Everything computed at ``n_points`` points (all arrays have shape ``(n_points,)``)."""
    log_prior: np.ndarray
    log_like: np.ndarray
    terms: dict[str, np.ndarray]
    observables: dict[str, np.ndarray]
    valid: np.ndarray

    @property
    def log_post(self) -> np.ndarray:
        """Unnormalised log-posterior, ``-inf`` where the prior or the model rejects."""
        out = self.log_prior + self.log_like
        out[~np.isfinite(out)] = -np.inf
        return out


@dataclass
class JointPosterior:
    """Prior x product of likelihoods for one model.

    ``model_parameters`` are the model's parameter names (all of them must appear in
    ``priors``, sampled or fixed); ``likelihoods`` maps a label (the config key) to an object
    implementing :class:`likelihoods.base.Likelihood`.
    """
    model: Model
    likelihoods: Mapping[str, Likelihood]
    priors: PriorSet
    rejections: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.model_parameters = tuple(p.name for p in self.model.parameters)
        nuisance_names = [nuisance_parameter_name(label, nu)
                          for label, like in self.likelihoods.items() for nu in like.nuisances]
        missing = [p for p in self.model_parameters + tuple(nuisance_names)
                   if p not in self.priors.names and p not in self.priors.fixed]
        if missing:
            raise ValueError(f"parameters without a prior: {', '.join(missing)}")
        provided = set(self.model.provides)
        for label, like in self.likelihoods.items():
            lacking = [o for o in like.requires if o not in provided]
            if lacking:
                raise ValueError(f"likelihood {label!r} requires {', '.join(lacking)}, "
                                 f"which model {self.model.name!r} does not provide")
        self._warned_nan: set[str] = set()

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the sampled parameters, in column order of ``theta``."""
        return self.priors.names

    @property
    def ndim(self) -> int:
        return self.priors.ndim

    def start_points(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``(n, ndim)`` starting points for samplers that start from points: prior draws,
        with the nuisance columns of every likelihood that offers
        :meth:`~likelihoods.base.Likelihood.nuisance_start` replaced by its draws (clipped
        into the prior's support). The log-posterior may still be -inf at some of them: the
        sampler redraws those."""
        theta = self.priors.sample(rng, n)
        names = list(self.names)
        for label, like in self.likelihoods.items():
            draws = like.nuisance_start(rng, n)
            if not draws:
                continue
            for nu in like.nuisances:
                col = nuisance_parameter_name(label, nu)
                if nu.name not in draws or col not in names:
                    continue
                prior = self.priors[col]
                lo, hi = prior.low, prior.high
                x = np.asarray(draws[nu.name], dtype=float)
                if prior.kind in ("uniform", "log-uniform"):   # open support: stay inside
                    pad = 1e-9 * (hi - lo)
                    x = np.clip(x, lo + pad, hi - pad)
                theta[:, names.index(col)] = x
        return theta

    def _parameter_values(self, theta_ok: np.ndarray) -> dict[str, np.ndarray]:
        """Name -> ``(n_ok,)`` values at the prior-accepted points: sampled parameters as
        contiguous rows of one transposed copy (elementwise work on strided columns is
        slower), fixed ones as read-only stride-0 broadcasts of their value (a model may
        recognise them and do parameter-only work once, see ``DarkTransitionMomentModel``)."""
        n_ok = theta_ok.shape[0]
        rows = np.ascontiguousarray(theta_ok.T)
        values = {name: rows[j] for j, name in enumerate(self.priors.names)}
        for name, value in self.priors.fixed.items():
            values[name] = np.broadcast_to(np.float64(value), (n_ok,))
        return values

    def parameter_values(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Name -> ``(n,)`` values of every parameter (sampled and fixed) at ``theta``."""
        return self._parameter_values(as_points(theta, self.ndim))

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """Prior, model, every likelihood term and their sum at ``theta`` ``(n, ndim)`` (or
        one point ``(ndim,)``; any other shape or a non-numeric input is a ParameterError).

        Large batches are evaluated in blocks of ``EVAL_BLOCK`` points (every quantity is
        per point, so the result does not depend on the blocking): the temporaries of one
        block stay in the CPU cache, which is ~1.4x faster than whole-batch arrays for
        n >= 1e5."""
        theta = as_points(theta, self.ndim)
        n = theta.shape[0]
        if n > EVAL_BLOCK:
            parts = [self._evaluate(theta[i:i + EVAL_BLOCK]) for i in range(0, n, EVAL_BLOCK)]
            return Evaluation(
                log_prior=np.concatenate([e.log_prior for e in parts]),
                log_like=np.concatenate([e.log_like for e in parts]),
                terms={k: np.concatenate([e.terms[k] for e in parts]) for k in parts[0].terms},
                observables={k: np.concatenate([e.observables[k] for e in parts])
                             for k in parts[0].observables},
                valid=np.concatenate([e.valid for e in parts]))
        return self._evaluate(theta)

    def _evaluate(self, theta: np.ndarray) -> Evaluation:
        """:meth:`evaluate` on one block ``(n, ndim)`` (float64)."""
        n = theta.shape[0]
        log_prior = self.priors.log_prior(theta)
        ok = np.isfinite(log_prior)
        n_ok = int(np.count_nonzero(ok))
        self.rejections["prior"] += n - n_ok
        all_ok = n_ok == n
        terms: dict[str, np.ndarray] = {}
        observables: dict[str, np.ndarray] = dict.fromkeys(self.model.provides)
        valid = np.zeros(n, dtype=bool)
        if n_ok:
            values = self._parameter_values(theta if all_ok else theta[ok])
            params = {name: values[name] for name in self.model_parameters}
            obs, model_valid = self.model.observables(params)
            model_valid = np.asarray(model_valid, dtype=bool)
            all_valid = bool(model_valid.all())
            self.rejections["model_domain"] += int(model_valid.size
                                                   - np.count_nonzero(model_valid))
            idx = None if all_ok else np.flatnonzero(ok)
            if all_ok:
                valid = model_valid.copy()
            else:
                valid[idx] = model_valid
            for name, arr in obs.items():
                if all_ok:
                    observables[name] = np.asarray(arr, dtype=float)
                else:
                    observables[name] = np.full(n, np.nan)
                    observables[name][idx] = arr
            result = likelihood_terms(self.likelihoods, obs, values,
                                      None if all_valid else model_valid)
            for label, count in result.nan_counts.items():
                self.rejections[f"nan_{label}"] += count
                if label not in self._warned_nan:
                    self._warned_nan.add(label)
                    warnings.warn(f"likelihood {label!r} returned NaN at {count} "
                                  "point(s); treated as -inf", RuntimeWarning, stacklevel=3)
            for label, val in result.values.items():
                if all_ok:
                    terms[label] = val if val.base is None else val.copy()
                else:
                    terms[label] = np.full(n, -np.inf)
                    terms[label][idx] = val
        for name, arr in observables.items():
            if arr is None:
                observables[name] = np.full(n, np.nan)
        for label in self.likelihoods:
            if label not in terms:
                terms[label] = np.full(n, -np.inf)
        log_like = np.zeros(n)
        for label in self.likelihoods:
            log_like = log_like + terms[label]
        if not (all_ok and valid.all()):
            log_like[~(ok & valid)] = -np.inf
        return Evaluation(log_prior=log_prior, log_like=log_like, terms=terms,
                          observables=observables, valid=valid)

    def _blockwise(self, theta: np.ndarray, attr: str) -> np.ndarray:
        """One attribute of :class:`Evaluation` at ``theta``, evaluated in blocks of
        ``EVAL_BLOCK`` points without assembling the other fields."""
        theta = as_points(theta, self.ndim)
        n = theta.shape[0]
        if n <= EVAL_BLOCK:
            return getattr(self._evaluate(theta), attr)
        return np.concatenate([getattr(self._evaluate(theta[i:i + EVAL_BLOCK]), attr)
                               for i in range(0, n, EVAL_BLOCK)])

    def log_posterior(self, theta: np.ndarray) -> np.ndarray:
        """Vectorised log-posterior ``(n, ndim) -> (n,)``, finite or ``-inf``."""
        return self._blockwise(theta, "log_post")

    def log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        """Vectorised joint log-likelihood (prior-excluded; ``-inf`` outside the support)."""
        return self._blockwise(theta, "log_like")

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        return self.log_posterior(theta)

    def log_posterior_counted(self, theta: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """``(log_posterior, rejection counts of this call)``, for pooled evaluation."""
        before = Counter(self.rejections)
        values = self.log_posterior(theta)
        delta = Counter(self.rejections)
        delta.subtract(before)
        return values, {k: v for k, v in delta.items() if v}

    def log_posterior_sampling(self, z: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """Log-posterior density in the sampler's coordinates ``z`` (see
        :meth:`PriorSet.to_sampling`: ln x for log-uniform parameters), with the rejection
        counts of this call. Equal to the log-posterior plus ln |d theta / d z|."""
        z = as_points(z, self.ndim, "z")
        values, counts = self.log_posterior_counted(self.priors.from_sampling(z))
        with np.errstate(invalid="ignore"):
            values = values + self.priors.log_jacobian(z)
        values[~np.isfinite(values)] = -np.inf
        return values, counts

    def loglike_point(self, x: np.ndarray) -> float:
        """Joint log-likelihood at one point ``x`` ``(ndim,)`` (nested sampling)."""
        return float(self.evaluate(as_points(x, self.ndim, "x")).log_like[0])

    def prior_transform_point(self, u: np.ndarray) -> np.ndarray:
        """Unit cube -> parameters at one point (nested sampling)."""
        return self.priors.transform(np.asarray(u, dtype=float))
