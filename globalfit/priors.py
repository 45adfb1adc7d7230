"""Priors of the sampled parameters: log-density, unit-cube transform and random draws.

What to use when: ``uniform`` for a parameter known to a range, ``log-uniform`` for a
coupling or mass spanning decades (MODEL.md section 6), ``gaussian`` for a measured
quantity or a nuisance constraint (optionally truncated to ``[low, high]``), ``fixed`` for a
parameter held at one value. Every function is vectorised: values are ``(n_points,)`` arrays.

The unit-cube transforms are the inverse cumulative distributions used by nested sampling
(Skilling, Bayesian Analysis 1 (2006) 833, section 3): ``x = F^{-1}(u)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np
from scipy import special

from .errors import ParameterError

PRIOR_KINDS: tuple[str, ...] = ("uniform", "log-uniform", "gaussian", "fixed")


def name_latex(name: str) -> str:
    r"""An identifier as upright LaTeX text (math mode, without $; underscores and spaces
    escaped): ``borexino.po210_skew`` -> ``\mathrm{borexino.po210\_skew}``. The default
    label of a nuisance parameter: the bare name made matplotlib set the "_s" of
    ``po210_skew`` as a subscript and the name in italics."""
    return rf"\mathrm{{{name}}}".replace("_", r"\_").replace(" ", r"\ ")


@dataclass(frozen=True)
class Prior:
    """One parameter's prior.

    ``kind`` is one of :data:`PRIOR_KINDS`; ``low``/``high`` bound uniform and log-uniform
    priors (and truncate a gaussian when finite); ``mean``/``sd`` define a gaussian;
    ``value`` is the fixed value. Values are in the parameter's internal unit (GeV or 1).
    """
    name: str
    kind: str
    low: float = -np.inf
    high: float = np.inf
    mean: float = 0.0
    sd: float = 1.0
    value: float = np.nan
    latex: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PRIOR_KINDS:
            raise ValueError(f"{self.name}: unknown prior {self.kind!r}")
        if self.kind in ("uniform", "log-uniform"):
            if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
                raise ValueError(f"{self.name}: need finite low < high, "
                                 f"found [{self.low}, {self.high}]")
            if self.kind == "log-uniform" and self.low <= 0:
                raise ValueError(f"{self.name}: log-uniform needs low > 0, found {self.low}")
        if self.kind == "gaussian":
            if not (self.sd > 0 and np.isfinite(self.sd) and np.isfinite(self.mean)):
                raise ValueError(f"{self.name}: gaussian needs finite mean and sd > 0")
            if not self.low < self.high:
                raise ValueError(f"{self.name}: need low < high, found [{self.low}, {self.high}]")
        if self.kind == "fixed" and not np.isfinite(self.value):
            raise ValueError(f"{self.name}: fixed value must be finite, found {self.value}")

    @property
    def sampled(self) -> bool:
        """True unless the parameter is fixed."""
        return self.kind != "fixed"

    # -- gaussian truncation helpers -------------------------------------------------
    def _gauss_cdf_bounds(self) -> tuple[float, float]:
        a = special.ndtr((self.low - self.mean) / self.sd)
        b = special.ndtr((self.high - self.mean) / self.sd)
        return float(a), float(b)

    def log_norm(self) -> float:
        """The constant part of :meth:`logpdf` inside the support: -ln(high - low) (uniform),
        -ln ln(high / low) (log-uniform; the density is that times 1/x), -ln(sd sqrt(2 pi)
        (Phi(b) - Phi(a))) (gaussian truncated to [low, high]); 0 for a fixed value."""
        if self.kind == "uniform":
            return float(-np.log(self.high - self.low))
        if self.kind == "log-uniform":
            return float(-np.log(np.log(self.high / self.low)))
        if self.kind == "gaussian":
            a, b = self._gauss_cdf_bounds()
            return float(-(0.5 * np.log(2 * np.pi) + np.log(self.sd) + np.log(b - a)))
        return 0.0

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Normalised log-density at ``x`` (shape ``(n,)``); ``-inf`` outside the support."""
        x = np.asarray(x, dtype=float)
        out = np.full(x.shape, -np.inf)
        inside = (x >= self.low) & (x <= self.high) & np.isfinite(x)
        if self.kind == "uniform":
            out[inside] = self.log_norm()
        elif self.kind == "log-uniform":
            out[inside] = self.log_norm() - np.log(x[inside])
        elif self.kind == "gaussian":
            z = (x[inside] - self.mean) / self.sd
            out[inside] = self.log_norm() - 0.5 * z * z
        else:
            out[x == self.value] = 0.0
        return out

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF: unit-cube coordinates ``u`` in [0, 1] -> parameter values.
        ParameterError naming the parameter if any ``u`` is outside [0, 1] or NaN."""
        u = _unit_cube(u, self.name)
        if self.kind == "uniform":
            return self.low + u * (self.high - self.low)
        if self.kind == "log-uniform":
            return self.low * np.exp(u * np.log(self.high / self.low))
        if self.kind == "gaussian":
            a, b = self._gauss_cdf_bounds()
            p = np.clip(a + u * (b - a), 1e-300, 1 - 1e-16)
            return np.clip(self.mean + self.sd * special.ndtri(p), self.low, self.high)
        return np.full(u.shape, self.value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws, shape ``(n,)``."""
        return self.transform(rng.uniform(size=n))


def _unit_cube(u: np.ndarray, name: str) -> np.ndarray:
    """``u`` as a float array; ParameterError unless every entry is in [0, 1]."""
    try:
        u = np.asarray(u, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: unit-cube coordinates must be numbers") from None
    if not np.all((u >= 0.0) & (u <= 1.0)):          # also False for NaN
        bad = u[~((u >= 0.0) & (u <= 1.0))].ravel()[0]
        raise ParameterError(f"{name}: unit-cube coordinate {float(bad)!r} is outside [0, 1]")
    return u


#: batch size (points) from which :meth:`PriorSet.log_prior` loops over the columns
COLUMN_LOOP_MIN = 2048


@dataclass
class PriorSet:
    """The priors of all parameters; ``names`` are the sampled ones, in sampling order."""
    priors: Sequence[Prior]
    names: tuple[str, ...] = field(init=False)
    fixed: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.priors = tuple(self.priors)
        self.names = tuple(p.name for p in self.priors if p.sampled)
        self.fixed = {p.name: p.value for p in self.priors if not p.sampled}
        self._sampled = tuple(p for p in self.priors if p.sampled)

    @property
    def ndim(self) -> int:
        """Number of sampled parameters."""
        return len(self._sampled)

    def __getitem__(self, name: str) -> Prior:
        for p in self.priors:
            if p.name == name:
                return p
        raise KeyError(name)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        """Sum of log-densities for ``theta`` of shape ``(n_points, ndim)`` -> ``(n_points,)``;
        ``-inf`` where any coordinate is outside its support or not finite.

        The sum of :meth:`Prior.logpdf` over the columns, evaluated for all columns at once
        (one bounds test on the whole array, the constant normalisations summed once): a
        loop over 25 columns cost ~0.4 ms per call whatever the batch size, a quarter of the
        full-systematics posterior at one point (benchmarks/README.md). From
        ``COLUMN_LOOP_MIN`` points on, the column loop is the faster one (the all-columns
        form reduces along the short parameter axis: 0.79 against 0.50 ms for 1e4 points of
        the 5-parameter default fit), and is used."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        if theta.shape[0] >= COLUMN_LOOP_MIN:
            total = np.zeros(theta.shape[0])
            for j, p in enumerate(self._sampled):
                total += p.logpdf(theta[:, j])
            return total
        low, high, log_cols, g_cols, g_mean, g_sd, const = self._table
        inside = np.all((theta >= low) & (theta <= high), axis=1)
        if np.isinf(low).any() or np.isinf(high).any():     # x = +-inf inside an open box
            inside &= np.all(np.isfinite(theta), axis=1)
        total = np.full(theta.shape[0], const)
        if log_cols.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                total -= np.log(theta[:, log_cols]).sum(axis=1)
        if g_cols.size:
            z = (theta[:, g_cols] - g_mean) / g_sd
            total -= 0.5 * np.einsum("ij,ij->i", z, z)
        return np.where(inside, total, -np.inf)

    @cached_property
    def _table(self) -> tuple:
        """Per-column bounds, the log-uniform and gaussian columns (with mean and sd) and the
        sum of every column's :meth:`Prior.log_norm`."""
        low = np.array([p.low for p in self._sampled], dtype=float)
        high = np.array([p.high for p in self._sampled], dtype=float)
        const = sum(p.log_norm() for p in self._sampled)
        kinds = [p.kind for p in self._sampled]
        log_cols = np.array([j for j, k in enumerate(kinds) if k == "log-uniform"], dtype=int)
        g_cols = np.array([j for j, k in enumerate(kinds) if k == "gaussian"], dtype=int)
        g_mean = np.array([self._sampled[j].mean for j in g_cols], dtype=float)
        g_sd = np.array([self._sampled[j].sd for j in g_cols], dtype=float)
        return low, high, log_cols, g_cols, g_mean, g_sd, const

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Unit cube ``(n, ndim)`` (or ``(ndim,)``) -> parameter space of the same shape.
        ParameterError if the last axis is not ``ndim`` long or a coordinate is outside
        [0, 1] or NaN."""
        u = _unit_cube(u, "prior_transform")
        if u.ndim == 0 or u.shape[-1] != self.ndim:
            raise ParameterError(f"prior_transform: expected unit-cube points with {self.ndim} "
                                 f"coordinates (shape (n, {self.ndim}) or ({self.ndim},)), "
                                 f"found shape {u.shape}")
        lin_cols, lin_low, lin_width, log_cols, log_low, log_span, other = self._cube_table
        out = np.empty_like(u)
        if lin_cols.size:                     # uniform: low + u (high - low)
            out[..., lin_cols] = lin_low + u[..., lin_cols] * lin_width
        if log_cols.size:                     # log-uniform: low exp(u ln(high / low))
            out[..., log_cols] = log_low * np.exp(u[..., log_cols] * log_span)
        for j in other:                       # gaussian: one column at a time
            out[..., j] = self._sampled[j].transform(u[..., j])
        return out

    @cached_property
    def _cube_table(self) -> tuple:
        """The columns of :meth:`transform` by kind, with the constants of
        :meth:`Prior.transform` (the same floating-point operations, all columns of a kind
        at once: a loop over the 25 columns of the full-systematics fit was ~20 % of a
        dynesty run, which transforms one point per call)."""
        kinds = [p.kind for p in self._sampled]
        lin = [j for j, k in enumerate(kinds) if k == "uniform"]
        log = [j for j, k in enumerate(kinds) if k == "log-uniform"]
        other = tuple(j for j, k in enumerate(kinds) if k not in ("uniform", "log-uniform"))
        ps = self._sampled
        return (np.array(lin, dtype=int), np.array([ps[j].low for j in lin], dtype=float),
                np.array([ps[j].high - ps[j].low for j in lin], dtype=float),
                np.array(log, dtype=int), np.array([ps[j].low for j in log], dtype=float),
                np.array([np.log(ps[j].high / ps[j].low) for j in log], dtype=float), other)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws from the joint prior, shape ``(n, ndim)``."""
        return self.transform(rng.uniform(size=(n, self.ndim)))

    def as_dict(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Name -> ``(n_points,)`` array for sampled and fixed parameters alike."""
        theta = np.atleast_2d(theta)
        n = theta.shape[0]
        out = {name: theta[:, j] for j, name in enumerate(self.names)}
        for name, value in self.fixed.items():
            out[name] = np.full(n, value)
        return out

    # -- the coordinates a sampler moves in ----------------------------------------------
    # Log-uniform parameters are sampled in z = ln(x), where their prior is flat; an
    # affine-invariant ensemble sampler then sees a box instead of a density spanning
    # decades. p_z(z) = p_x(x(z)) |dx/dz| with |dx/dz| = x.

    def _log_columns(self) -> np.ndarray:
        return np.array([p.kind == "log-uniform" for p in self._sampled], dtype=bool)

    def to_sampling(self, theta: np.ndarray) -> np.ndarray:
        """Parameters ``(..., ndim)`` -> sampler coordinates (ln x for log-uniform)."""
        z = np.array(theta, dtype=float, copy=True)
        cols = self._log_columns()
        with np.errstate(divide="ignore", invalid="ignore"):
            z[..., cols] = np.log(z[..., cols])
        return z

    def from_sampling(self, z: np.ndarray) -> np.ndarray:
        """Sampler coordinates -> parameters (inverse of :meth:`to_sampling`); a proposal far
        outside the prior box may overflow to inf, which the prior then rejects."""
        theta = np.array(z, dtype=float, copy=True)
        cols = self._log_columns()
        with np.errstate(over="ignore"):
            theta[..., cols] = np.exp(theta[..., cols])
        return theta

    def log_jacobian(self, z: np.ndarray) -> np.ndarray:
        """ln |d theta / d z| summed over parameters, shape ``(n,)``."""
        z = np.atleast_2d(z)
        return z[:, self._log_columns()].sum(axis=1)
