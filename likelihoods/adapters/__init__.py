"""Framework-neutral bridge from named scalar parameters to the project's likelihoods.

External samplers (Cobaya, Bilby, ...) hand a likelihood one point at a time as a mapping
``parameter name -> value``. :class:`LikelihoodBridge` turns such a mapping (or a mapping of
``(n_points,)`` arrays) into the ``observables`` and ``nuisances`` of one or several
:class:`likelihoods.base.Likelihood` objects and returns their summed log-likelihood. The
framework classes in ``likelihoods.adapters.cobaya`` and ``likelihoods.adapters.bilby`` are thin
wrappers around it; this module imports neither framework.

Two kinds of input
------------------
- *Observable space* (``model=None``): the inputs are the observables the likelihoods require
  (names and units in ``globalfit.observables``, e.g. ``m_aprime_gev`` in GeV, ``eps``,
  ``br_inv``, ``br_mu_e_gamma``), shared between likelihoods that require the same name, plus
  the nuisance parameters the likelihoods expose. The joint value is then the plain sum
  ``sum_k ln L_k(obs, nu_k)`` (independent data sets).
- *Model space* (``model`` given: any object with the ``globalfit.model.base.Model``
  interface, ``parameters`` and ``observables(params) -> (observables, valid)``): the inputs
  are the model's parameters plus the nuisances; model -> observables -> sum of likelihoods,
  with ``-inf`` for points outside the model's domain (``valid`` False, or a parameter outside
  its ``[low, high]``) -- the same rule as ``globalfit.joint.JointPosterior.log_likelihood``,
  which the tests compare it with. Priors are left to the framework. (This package must not
  import the model or joint layers; the model is handed in, or named by ``"module:Class"``.)

Nuisance names
--------------
A nuisance ``nu`` of the likelihood labelled ``label`` is the input
``likelihoods.evaluate.nuisance_parameter_name(label, nu, "_")``: the fit's naming rule with the
identifier separator the frameworks need (``borexino_cno``; a name that already starts with
``label_`` is not prefixed twice: ``na64_background``). Only the nuisances a likelihood
declares are inputs (a likelihood that profiles them, Borexino ``mode="fast"``, declares
none). The Gaussian constraints of sampled nuisances are *priors*
(``likelihoods.base.Nuisance``): the framework must put them in its prior block;
:meth:`LikelihoodBridge.nuisance_priors` lists them. The values are computed by
``likelihoods.evaluate.likelihood_terms``, the evaluation the fit's joint posterior uses.

Observables fixed to constants (``fixed={"br_inv": 1.0}``) are removed from the inputs.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from globalfit.errors import ConfigError, ParameterError
from globalfit.observables import OBSERVABLES

from .. import get_likelihood
from ..base import Likelihood, Nuisance
from ..evaluate import IDENTIFIER_SEPARATOR, likelihood_terms, nuisance_parameter_name

#: Experiment adapter name -> registered likelihood name (``likelihoods.REGISTRY``).
EXPERIMENTS: dict[str, str] = {
    "Borexino": "borexino",
    "XENONnT": "xenonnt",
    "NA64": "na64",
    "BaBar": "babar",
    "MEG": "meg",
    "TauEGamma": "tau_e_gamma",
    "TauMuGamma": "tau_mu_gamma",
    "LEP": "lep",
}


@dataclass(frozen=True)
class InputParameter:
    """One input of a bridge: ``kind`` is ``"observable"``, ``"model"`` or ``"nuisance"``.

    For nuisances, ``label`` and ``nuisance`` say which likelihood and which
    ``likelihoods.base.Nuisance`` (with its prior) it feeds.
    """
    name: str
    kind: str
    unit: str
    description: str = ""
    label: str = ""
    nuisance: Nuisance | None = None


def build_likelihoods(spec: Mapping[str, Any]) -> dict[str, Likelihood]:
    """``{label: Likelihood | {"type": name, **options} | name}`` -> ``{label: Likelihood}``.

    A bare mapping without ``"type"`` uses the label as the registered name.
    """
    out: dict[str, Likelihood] = {}
    for label, entry in spec.items():
        if isinstance(entry, Likelihood):
            out[label] = entry
        elif isinstance(entry, str):
            out[label] = get_likelihood(entry)
        elif isinstance(entry, Mapping):
            options = dict(entry)
            name = str(options.pop("type", label))
            out[label] = get_likelihood(name, **options)
        else:
            raise ConfigError(f"likelihoods.{label}: expected a Likelihood, a registered name "
                              f"or a mapping with 'type', found {type(entry).__name__}")
    if not out:
        raise ConfigError("likelihoods: at least one likelihood is required")
    return out


class LikelihoodBridge:
    """Sum of ``likelihoods`` as a function of named inputs (see the module docstring).

    ``likelihoods``: ``{label: Likelihood}`` (or a spec for :func:`build_likelihoods`);
    ``model``: optional model object with the ``globalfit.model.base.Model`` interface
    (model-space inputs);
    ``fixed``: observables (observable space) held at constants and removed from the inputs.
    """

    def __init__(self, likelihoods: Mapping[str, Any], model: Any | None = None,
                 fixed: Mapping[str, float] | None = None) -> None:
        self.likelihoods = build_likelihoods(likelihoods)
        self.model = model
        self.fixed = {k: float(v) for k, v in (fixed or {}).items()}
        inputs: list[InputParameter] = []
        if model is None:
            required: list[str] = []
            for like in self.likelihoods.values():
                required += [o for o in like.requires if o not in required]
            unknown = [k for k in self.fixed if k not in required]
            if unknown:
                raise ConfigError(f"fixed: {', '.join(unknown)} not required by any likelihood "
                                  f"(required: {', '.join(required)})")
            for name in required:
                if name in self.fixed:
                    continue
                obs = OBSERVABLES.get(name)
                inputs.append(InputParameter(name, "observable", obs.unit if obs else "",
                                             obs.description if obs else ""))
            self._model_space = False
        else:
            if self.fixed:
                raise ConfigError("fixed: only for observable-space bridges; fix model "
                                  "parameters in the framework's parameter block")
            provided = set(model.provides)
            for label, like in self.likelihoods.items():
                lacking = [o for o in like.requires if o not in provided]
                if lacking:
                    raise ConfigError(f"likelihoods.{label}: requires {', '.join(lacking)}, "
                                      f"which model {model.name!r} does not provide")
            for spec in model.parameters:
                unit = "GeV" if spec.dimension == "energy" else spec.dimension
                inputs.append(InputParameter(spec.name, "model", unit, spec.description))
            self._model_space = True
        for label, like in self.likelihoods.items():
            for nu in like.nuisances:
                inputs.append(InputParameter(
                    nuisance_parameter_name(label, nu, IDENTIFIER_SEPARATOR), "nuisance",
                    nu.unit, nu.description, label, nu))
        names = [p.name for p in inputs]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ConfigError(f"likelihoods: input names collide ({', '.join(clash)}); "
                              "use different labels")
        self.inputs: tuple[InputParameter, ...] = tuple(inputs)

    # -- description -----------------------------------------------------------------------
    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of all inputs, in a fixed order."""
        return tuple(p.name for p in self.inputs)

    def nuisance_priors(self) -> dict[str, Nuisance]:
        """Input name -> ``Nuisance`` (prior kind, center/width or low/high, unit)."""
        return {p.name: p.nuisance for p in self.inputs if p.nuisance is not None}

    def describe(self) -> str:
        """A human-readable table of the inputs (name, kind, unit, description)."""
        rows = [f"{p.name:24s} {p.kind:10s} {p.unit:10s} {p.description}" for p in self.inputs]
        return "\n".join(rows)

    # -- evaluation ------------------------------------------------------------------------
    def _columns(self, values: Mapping[str, Any]) -> tuple[int, dict[str, np.ndarray]]:
        """(n_points, input name -> (n_points,) array); scalars broadcast."""
        cols = {}
        for name in self.parameters:
            try:
                arr = np.atleast_1d(np.asarray(values[name], dtype=float))
            except KeyError:
                raise ParameterError(f"parameter {name!r} is required but missing "
                                     f"(inputs: {', '.join(self.parameters)})") from None
            if arr.ndim != 1:
                raise ParameterError(f"parameter {name!r}: expected a scalar or a 1-D array, "
                                     f"found shape {arr.shape}")
            cols[name] = arr
        sizes = {a.size for a in cols.values()} - {1}
        if len(sizes) > 1:
            raise ParameterError(f"parameters: arrays of different lengths {sorted(sizes)}")
        n = sizes.pop() if sizes else 1
        return n, {k: np.broadcast_to(v, (n,)) for k, v in cols.items()}

    def _observables(self, n: int, cols: Mapping[str, np.ndarray]
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Observables at the inputs and the mask of valid points."""
        if not self._model_space:
            obs = {k: np.full(n, v) for k, v in self.fixed.items()}
            obs.update({p.name: cols[p.name] for p in self.inputs if p.kind == "observable"})
            return obs, np.ones(n, dtype=bool)
        valid = np.ones(n, dtype=bool)
        for spec in self.model.parameters:
            x = cols[spec.name]
            valid &= np.isfinite(x) & (x >= spec.low) & (x <= spec.high)
        obs = {k: np.full(n, np.nan) for k in self.model.provides}
        if valid.any():
            sub, ok = self.model.observables({s.name: cols[s.name][valid]
                                              for s in self.model.parameters})
            idx = np.flatnonzero(valid)
            valid[idx] = np.asarray(ok, dtype=bool)
            for k, v in sub.items():
                obs[k] = np.full(n, np.nan)
                obs[k][idx] = v
        return obs, valid

    def terms(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Each likelihood's log-likelihood, ``{label: (n_points,)}``, at the inputs
        ``values`` (scalars or ``(n_points,)`` arrays; extra keys are ignored); ``-inf`` at
        points outside the model's domain and where a likelihood returns NaN."""
        n, cols = self._columns(values)
        obs, valid = self._observables(n, cols)
        return likelihood_terms(self.likelihoods, obs, cols, valid,
                                IDENTIFIER_SEPARATOR).values

    def loglike(self, values: Mapping[str, Any]) -> np.ndarray:
        """Joint log-likelihood ``(n_points,)``: the sum of :meth:`terms`, finite or -inf."""
        total = sum(self.terms(values).values())
        return np.where(np.isfinite(total), total, -np.inf)

    def loglike_point(self, values: Mapping[str, Any]) -> float:
        """Joint log-likelihood at a single point (scalars in ``values``), a float."""
        return float(self.loglike(values)[0])


def experiment_bridge(experiment: str, options: Mapping[str, Any] | None = None,
                      fixed: Mapping[str, float] | None = None,
                      label: str | None = None) -> LikelihoodBridge:
    """Bridge of one registered likelihood (``experiment`` is a key of :data:`EXPERIMENTS`
    or a registered name) constructed with ``options``."""
    name = EXPERIMENTS.get(experiment, experiment)
    like = get_likelihood(name, **dict(options or {}))
    return LikelihoodBridge({label or name: like}, fixed=fixed)


def load_model(spec: Any) -> Any:
    """A model object from ``spec``: a mapping ``{"class": "package.module:Class" (or
    "package.module.Class"), **options}`` is imported and constructed (Python API: the caller
    names the class), anything else is taken to be a model object and returned as is."""
    if not isinstance(spec, Mapping):
        return spec
    if "class" not in spec:
        raise ConfigError("model: expected a Model or a mapping with 'class' "
                          "('package.module:Class') and its options")
    options = dict(spec)
    target = str(options.pop("class"))
    module, _, cls = target.rpartition(":") if ":" in target else target.rpartition(".")
    try:
        klass = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"model.class: cannot import {target!r} ({exc})") from None
    return klass(**options)


def joint_bridge(likelihoods: Mapping[str, Any], model: Any | None = None,
                 fixed: Mapping[str, float] | None = None) -> LikelihoodBridge:
    """Bridge of several likelihoods; ``model`` (optional) is a model object or a mapping for
    :func:`load_model` (then the inputs are the model's parameters)."""
    return LikelihoodBridge(likelihoods, model=None if model is None else load_model(model),
                            fixed=fixed)


__all__ = ["EXPERIMENTS", "InputParameter", "LikelihoodBridge", "build_likelihoods",
           "experiment_bridge", "joint_bridge", "load_model", "nuisance_parameter_name"]
