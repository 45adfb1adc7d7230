"""Read, validate and resolve a fit configuration (one YAML file), then build the posterior.

Everything is checked before anything runs; every problem is one line naming the file and
the key path, with a close-match suggestion for misspelt keys::

    fit.yaml: likelihoods.borexino.exposre_days: unknown option (did you mean 'exposure_days'?)

Likelihood and model options are checked against the constructor signature
(``inspect.signature``) of the registered class. The keys are documented in
``docs/fitting.md``. This module and ``cli.py`` are the only ones that read YAML.
"""
from __future__ import annotations

import copy
import difflib
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from likelihoods import REGISTRY as LIKELIHOOD_REGISTRY
from likelihoods.base import Likelihood
from .errors import ConfigError, GlobalFitError
from .joint import JointPosterior, nuisance_prior, sampled_nuisances
from .model import REGISTRY as MODEL_REGISTRY
from .model.base import Model
from .priors import PRIOR_KINDS, Prior, PriorSet
from .units import parse_quantity

TOP_KEYS = ("model", "parameters", "likelihoods", "sampler", "output", "seed", "limits")
PRIOR_KEYS: dict[str, tuple[str, ...]] = {
    "uniform": ("prior", "low", "high", "latex"),
    "log-uniform": ("prior", "low", "high", "latex"),
    "gaussian": ("prior", "mean", "sd", "low", "high", "latex"),
    "fixed": ("prior", "value", "latex"),
}

# name -> (type, default, allowed values or None)
_COMMON_SAMPLER: dict[str, tuple[type | tuple, Any, tuple | None]] = {
    "name": (str, "emcee", ("emcee", "dynesty")),
    "pool": (str, "auto", ("auto", "serial", "processes", "mpi")),
    "n_processes": ((int, type(None)), None, None),
    "progress": ((bool, str), "auto", None),
    "log_every_s": ((int, float), 30.0, None),
}
SAMPLER_KEYS: dict[str, dict[str, tuple[type | tuple, Any, tuple | None]]] = {
    "emcee": {
        **_COMMON_SAMPLER,
        "nwalkers": ((int, type(None)), None, None),
        "max_steps": (int, 20000, None),
        "stop": (str, "autocorr", ("autocorr", "fixed")),
        "check_every": (int, 200, None),
        "tau_factor": ((int, float), 50.0, None),
        "tau_rtol": ((int, float), 0.01, None),
        "min_ess": ((int, float), 1000.0, None),
        "max_rhat": ((int, float, type(None)), 1.01, None),
        "burn_factor": ((int, float), 3.0, None),
        "thin_factor": ((int, float), 0.5, None),
        "moves": (str, "de", ("stretch", "de", "de-snooker")),
    },
    "dynesty": {
        **_COMMON_SAMPLER,
        "dynamic": (bool, False, None),
        "nlive": (int, 500, None),
        "bound": (str, "multi", ("none", "single", "multi", "balls", "cubes")),
        "sample": (str, "auto", ("auto", "unif", "rwalk", "slice", "rslice")),
        "dlogz": ((int, float), 0.1, None),
        "maxiter": ((int, type(None)), None, None),
        "nlive_batch": (int, 250, None),
        "maxbatch": (int, 4, None),
        "pfrac": ((int, float), 1.0, None),
        "checkpoint_every_s": ((int, float), 30.0, None),
        "n_chains": (int, 4, None),
    },
}
OUTPUT_KEYS: dict[str, tuple[type | tuple, Any, tuple | None]] = {
    "name": (str, None, None),
    "directory": (str, "chains", None),
    "plots": (bool, True, None),
}
FILE_OPTION_SUFFIXES = ("_file", "_path", "file", "path")


def _suggest(key: str, options: Any) -> str:
    match = difflib.get_close_matches(str(key), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _type_name(types: type | tuple) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {int: "an integer", float: "a number", bool: "true/false", str: "a string",
             type(None): "null", list: "a list", dict: "a mapping"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_type(value: Any, types: type | tuple) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def _import_target(target: str) -> type:
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def resolve_class(name: str, registry: Mapping[str, str]) -> type:
    """A registered class by name, or any class given as ``"package.module:Class"``."""
    if name in registry:
        return _import_target(registry[name])
    if ":" in name:
        return _import_target(name)
    raise KeyError(name)


def constructor_options(cls: type) -> dict[str, inspect.Parameter]:
    """Keyword options of ``cls.__init__`` (``self`` and ``*args``/``**kwargs`` dropped)."""
    sig = inspect.signature(cls.__init__)
    return {n: p for n, p in sig.parameters.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@dataclass
class FitConfig:
    """A validated configuration: ``resolved`` holds every key with defaults filled in
    (plain YAML-serialisable values, energies in GeV); ``model``, ``likelihoods`` and
    ``posterior`` are the built objects."""
    path: Path
    resolved: dict[str, Any]
    model: Model
    likelihoods: dict[str, Likelihood]
    posterior: JointPosterior
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def run_name(self) -> str:
        return self.resolved["output"]["name"]

    @property
    def run_dir(self) -> Path:
        directory = Path(self.resolved["output"]["directory"])
        if not directory.is_absolute():
            directory = self.path.parent / directory
        return directory / self.run_name

    @property
    def seed(self) -> int:
        return int(self.resolved["seed"])

    @property
    def sampler(self) -> dict[str, Any]:
        return self.resolved["sampler"]


class _Validator:
    def __init__(self, path: Path, display: str) -> None:
        self.path, self.display = path, display

    def fail(self, key: str, message: str) -> None:
        raise ConfigError(f"{self.display}: {key}: {message}" if key else
                          f"{self.display}: {message}")

    def mapping(self, value: Any, key: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, found {type(value).__name__} {value!r}")
        for k in value:
            if not isinstance(k, str):
                self.fail(f"{key}.{k}" if key else str(k), "keys must be strings")
        return value

    def keys(self, value: dict, allowed: Any, key: str, what: str = "unknown key") -> None:
        for k in value:
            if k not in allowed:
                self.fail(f"{key}.{k}" if key else k,
                          f"{what}{_suggest(k, allowed)}")

    def typed(self, section: dict, schema: dict, key: str) -> dict:
        """Check keys and types against ``schema`` and fill in defaults."""
        self.keys(section, schema, key, "unknown option")
        out = {}
        for name, (types, default, choices) in schema.items():
            value = section.get(name, default)
            if name in section:
                if not _check_type(value, types):
                    self.fail(f"{key}.{name}", f"expected {_type_name(types)}, "
                                               f"found {value!r}")
                if choices is not None and value not in choices:
                    self.fail(f"{key}.{name}", f"{value!r} is not one of "
                                               f"{', '.join(map(str, choices))}"
                                               f"{_suggest(value, choices)}")
            out[name] = value
        return out

    def options(self, cls: type, options: dict, key: str) -> dict:
        """Check ``options`` against the constructor of ``cls``; return them resolved with
        the constructor defaults."""
        params = constructor_options(cls)
        self.keys(options, params, key, "unknown option")
        resolved: dict[str, Any] = {}
        for name, p in params.items():
            if name in options:
                value = options[name]
                default = p.default
                if default is not inspect.Parameter.empty and default is not None:
                    expected: type | tuple = type(default)
                    if isinstance(default, float):
                        expected = (int, float)
                    if isinstance(default, (list, tuple)):
                        expected = (list, tuple)
                        if isinstance(default, tuple) and isinstance(value, list):
                            value = tuple(value)
                    if not _check_type(value, expected):
                        self.fail(f"{key}.{name}", f"expected {_type_name(expected)}, "
                                                   f"found {value!r}")
                if name.endswith(FILE_OPTION_SUFFIXES) and isinstance(value, str):
                    file = Path(value)
                    if not file.is_absolute():
                        file = self.path.parent / file
                    if not file.is_file():
                        self.fail(f"{key}.{name}", f"data file not found: {value}")
                    value = str(file)
                resolved[name] = value
            elif p.default is inspect.Parameter.empty:
                self.fail(f"{key}.{name}", "required option missing")
            else:
                resolved[name] = p.default
        return resolved


def _plain(value: Any) -> Any:
    """YAML-serialisable copy (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_yaml(path: Path, display: str | None = None) -> dict:
    """``yaml.safe_load`` of a config file; ConfigError naming the file on failure."""
    display = display or str(path)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError(f"{display}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{display}: {where}{problem}") from None
    if data is None:
        raise ConfigError(f"{display}: empty config")
    if not isinstance(data, dict):
        raise ConfigError(f"{display}: expected a mapping at the top level")
    return data


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> FitConfig:
    """Validate the config at ``path``, build the model, likelihoods and posterior.

    ``overrides`` (e.g. ``{"seed": 3}``) replace top-level keys before validation.
    Raises :class:`ConfigError` (one line: file, key path, problem) on any problem.
    """
    display = str(path)
    path = Path(path).resolve()
    raw = read_yaml(path, display)
    if overrides:
        raw = {**raw, **overrides}
    return validate(raw, path, display)


def validate(raw: dict, path: Path, display: str) -> FitConfig:
    """Validate an already-parsed config (see :func:`load_config`)."""
    v = _Validator(path, display)
    raw = copy.deepcopy(raw)
    v.keys(raw, TOP_KEYS, "")
    for key in ("model", "parameters", "likelihoods"):
        if key not in raw:
            v.fail(key, "required section missing")

    # ---- seed -----------------------------------------------------------------------
    seed = raw.get("seed", 0)
    if not _check_type(seed, int) or isinstance(seed, bool) or seed < 0:
        v.fail("seed", f"expected a non-negative integer, found {seed!r}")

    # ---- model ----------------------------------------------------------------------
    model_raw = raw["model"]
    if isinstance(model_raw, str):
        model_raw = {"name": model_raw}
    model_raw = v.mapping(model_raw, "model")
    v.keys(model_raw, ("name", "options"), "model")
    model_name = model_raw.get("name")
    if not isinstance(model_name, str):
        v.fail("model.name", f"expected a model name, found {model_name!r}")
    try:
        model_cls = resolve_class(model_name, MODEL_REGISTRY)
    except KeyError:
        v.fail("model.name", f"unknown model {model_name!r}{_suggest(model_name, MODEL_REGISTRY)}"
                             f"; known: {', '.join(MODEL_REGISTRY)}")
    except (ImportError, AttributeError) as exc:
        v.fail("model.name", f"cannot import model {model_name!r}: {exc}")
    model_opts = v.options(model_cls, v.mapping(model_raw.get("options"), "model.options"),
                           "model.options")

    # ---- likelihoods ----------------------------------------------------------------
    likes_raw = v.mapping(raw["likelihoods"], "likelihoods")
    like_specs: dict[str, tuple[str, type, dict]] = {}
    seen_types: dict[str, str] = {}
    for label, entry in likes_raw.items():
        key = f"likelihoods.{label}"
        if entry is False:
            continue
        entry = dict(v.mapping(entry, key))
        enabled = entry.pop("enabled", True)
        if not isinstance(enabled, bool):
            v.fail(f"{key}.enabled", f"expected true/false, found {enabled!r}")
        if not enabled:
            continue
        type_name = entry.pop("type", label)
        if not isinstance(type_name, str):
            v.fail(f"{key}.type", f"expected a likelihood name, found {type_name!r}")
        try:
            cls = resolve_class(type_name, LIKELIHOOD_REGISTRY)
        except KeyError:
            where = f"{key}.type" if type_name != label else key
            v.fail(where, f"unknown likelihood {type_name!r}"
                          f"{_suggest(type_name, LIKELIHOOD_REGISTRY)}; "
                          f"known: {', '.join(LIKELIHOOD_REGISTRY)}")
        except (ImportError, AttributeError) as exc:
            v.fail(key, f"cannot import likelihood {type_name!r}: {exc}")
        if "." in label:
            v.fail(key, "a likelihood label must not contain '.'")
        if type_name in seen_types:
            v.fail(key, f"overlapping data sets: likelihoods.{seen_types[type_name]} is "
                        f"also a {type_name!r} likelihood (its data sets overlap; keep one)")
        seen_types[type_name] = label
        like_specs[label] = (type_name, cls, v.options(cls, entry, key))
    if not like_specs:
        v.fail("likelihoods", "no likelihood selected")

    # ---- sampler and output -----------------------------------------------------------
    sampler_raw = v.mapping(raw.get("sampler"), "sampler")
    sampler_name = sampler_raw.get("name", "emcee")
    if sampler_name not in SAMPLER_KEYS:
        v.fail("sampler.name", f"unknown sampler {sampler_name!r}"
                               f"{_suggest(sampler_name, SAMPLER_KEYS)}; known: emcee, dynesty")
    sampler = v.typed(sampler_raw, SAMPLER_KEYS[sampler_name], "sampler")
    if sampler["progress"] not in (True, False, "auto"):
        v.fail("sampler.progress", f"expected true, false or auto, found {sampler['progress']!r}")
    for k in ("max_steps", "check_every", "nlive", "nlive_batch", "maxbatch"):
        if k in sampler and sampler[k] < 1:
            v.fail(f"sampler.{k}", f"must be >= 1, found {sampler[k]}")
    for k in ("tau_factor", "tau_rtol", "dlogz", "log_every_s", "checkpoint_every_s",
              "thin_factor"):
        if k in sampler and not sampler[k] > 0:
            v.fail(f"sampler.{k}", f"must be > 0, found {sampler[k]}")
    if sampler.get("n_processes") is not None and sampler["n_processes"] < 1:
        v.fail("sampler.n_processes", f"must be >= 1, found {sampler['n_processes']}")

    output = v.typed(v.mapping(raw.get("output"), "output"), OUTPUT_KEYS, "output")
    if output["name"] is None:
        output["name"] = path.stem
    if not output["name"] or "/" in output["name"] or output["name"] in (".", ".."):
        v.fail("output.name", f"not a valid run name: {output['name']!r}")

    # ---- build the objects ---------------------------------------------------------------
    try:
        model = model_cls(**model_opts)
    except (GlobalFitError, ValueError, TypeError) as exc:
        v.fail("model.options", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    likelihoods: dict[str, Likelihood] = {}
    for label, (type_name, cls, opts) in like_specs.items():
        try:
            likelihoods[label] = cls(**opts)
        except (GlobalFitError, ValueError, TypeError, OSError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            named = [o for o in likes_raw[label] or {} if o in message]
            where = f"likelihoods.{label}" + (f".{named[0]}" if named else "")
            if named:   # drop the likelihood's own "name.option: " prefix
                for prefix in (f"{type_name}.{named[0]}: ", f"{label}.{named[0]}: ",
                               f"{named[0]}: "):
                    if message.startswith(prefix):
                        message = message[len(prefix):]
                        break
            v.fail(where, message)
        lacking = [o for o in likelihoods[label].requires if o not in model.provides]
        if lacking:
            v.fail(f"likelihoods.{label}", f"requires {', '.join(lacking)}, which model "
                                           f"{model_name!r} does not provide")

    # ---- parameters ------------------------------------------------------------------------
    params_raw = v.mapping(raw["parameters"], "parameters")
    specs = {p.name: ("model", p) for p in model.parameters}
    for label, like in likelihoods.items():
        for nu in sampled_nuisances(like):
            specs[f"{label}.{nu.name}"] = ("nuisance", nu)
    v.keys(params_raw, specs, "parameters", "unknown parameter")
    priors: list[Prior] = []
    resolved_params: dict[str, dict] = {}
    for name, (kind, spec) in specs.items():
        key = f"parameters.{name}"
        if kind == "model":
            if name not in params_raw:
                v.fail(key, "missing (give a prior or 'prior: fixed' with a value)")
            dimension, dom_low, dom_high, latex = (spec.dimension, spec.low, spec.high,
                                                   spec.latex)
        else:
            if name not in params_raw:
                if spec.prior == "uniform" and not (np.isfinite(spec.low)
                                                    and np.isfinite(spec.high)):
                    v.fail(key, f"missing: the likelihood's nuisance has an unbounded uniform "
                                f"prior [{spec.low:g}, {spec.high:g}] {spec.unit}; give a prior")
                prior = nuisance_prior(name.split(".")[0], spec)
                priors.append(prior)
                resolved_params[name] = _prior_dict(prior)
                continue
            dimension, dom_low, dom_high, latex = "1", spec.low, spec.high, name
        entry = params_raw[name]
        if isinstance(entry, (int, float, str)) and not isinstance(entry, bool):
            # a bare value means a fixed parameter
            entry = {"prior": "fixed", "value": entry}
        elif not isinstance(entry, dict):
            v.fail(key, f"expected a mapping (prior, low, high, ...) or a fixed value, "
                        f"found {type(entry).__name__} {entry!r}")
        prior = _parse_prior(v, entry, key, name, dimension, dom_low, dom_high, latex)
        priors.append(prior)
        resolved_params[name] = _prior_dict(prior)
    prior_set = PriorSet(priors)
    if prior_set.ndim == 0:
        v.fail("parameters", "every parameter is fixed; nothing to sample")

    if sampler_name == "emcee":
        ndim = prior_set.ndim
        if sampler["nwalkers"] is None:
            sampler["nwalkers"] = max(32, 4 * ndim)
        if sampler["nwalkers"] < 2 * ndim:
            v.fail("sampler.nwalkers", f"needs at least 2 x {ndim} = {2 * ndim} walkers, "
                                       f"found {sampler['nwalkers']}")
        if sampler["nwalkers"] % 2:
            v.fail("sampler.nwalkers", f"must be even, found {sampler['nwalkers']}")

    posterior = JointPosterior(model, likelihoods, prior_set)
    resolved = {
        "model": {"name": model_name, "options": _plain(model_opts)},
        "parameters": resolved_params,
        "likelihoods": {label: {"type": t, **_plain(opts)}
                        for label, (t, _, opts) in like_specs.items()},
        "sampler": _plain(sampler),
        "output": output,
        "seed": int(seed),
        "limits": copy.deepcopy(raw.get("limits")),   # validated by globalfit.limits
    }
    return FitConfig(path=path, resolved=resolved, model=model, likelihoods=likelihoods,
                     posterior=posterior,
                     labels={label: t for label, (t, _, _) in like_specs.items()})


def _parse_prior(v: _Validator, entry: dict, key: str, name: str, dimension: str,
                 dom_low: float, dom_high: float, latex: str) -> Prior:
    kind = entry.get("prior")
    if kind is None:
        v.fail(f"{key}.prior", f"missing (one of {', '.join(PRIOR_KINDS)})")
    if kind not in PRIOR_KINDS:
        v.fail(f"{key}.prior", f"unknown prior {kind!r}{_suggest(kind, PRIOR_KINDS)}; "
                               f"known: {', '.join(PRIOR_KINDS)}")
    v.keys(entry, PRIOR_KEYS[kind], key, f"not an option of a {kind} prior")
    label = entry.get("latex", latex)
    if not isinstance(label, str):
        v.fail(f"{key}.latex", f"expected a string, found {label!r}")

    def number(k: str, required: bool, default: float = np.nan) -> float:
        if k not in entry:
            if required:
                v.fail(f"{key}.{k}", f"required for a {kind} prior")
            return default
        return parse_quantity(entry[k], dimension, f"{v.display}: {key}.{k}")

    def in_domain(k: str, x: float) -> None:
        if not dom_low <= x <= dom_high:
            v.fail(f"{key}.{k}", f"{entry[k]!r} is outside the physical domain "
                                 f"[{dom_low:g}, {dom_high:g}] of {name}")

    if kind == "fixed":
        value = number("value", True)
        in_domain("value", value)
        return Prior(name, "fixed", value=value, latex=label)
    if kind == "gaussian":
        mean, sd = number("mean", True), number("sd", True)
        if not sd > 0:
            v.fail(f"{key}.sd", f"must be > 0, found {entry['sd']!r}")
        low, high = number("low", False, dom_low), number("high", False, dom_high)
        for k, x in (("low", low), ("high", high)):
            if k in entry:
                in_domain(k, x)
        if not low < high:
            v.fail(f"{key}.high", f"must exceed low ({low:g}), found {high:g}")
        if not low <= mean <= high:
            v.fail(f"{key}.mean", f"{entry['mean']!r} is outside [{low:g}, {high:g}]")
        return Prior(name, "gaussian", low=low, high=high, mean=mean, sd=sd, latex=label)
    low, high = number("low", True), number("high", True)
    in_domain("low", low)
    in_domain("high", high)
    if not low < high:
        v.fail(f"{key}.high", f"must exceed low ({entry['low']!r}), found {entry['high']!r}")
    if kind == "log-uniform" and not low > 0:
        v.fail(f"{key}.low", f"a log-uniform prior needs low > 0, found {entry['low']!r}")
    return Prior(name, kind, low=low, high=high, latex=label)


def _prior_dict(prior: Prior) -> dict[str, Any]:
    keys = PRIOR_KEYS[prior.kind]
    out: dict[str, Any] = {"prior": prior.kind}
    for k in keys[1:]:
        if k == "latex":
            out[k] = prior.latex
        else:
            val = float(getattr(prior, k))
            if np.isfinite(val):        # unbounded gaussian tails are left out
                out[k] = val
    return out


def compatible_for_resume(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Key paths whose change makes a checkpoint unusable (empty list: compatible).

    Stopping rules, logging and plotting may change between a run and its resumption;
    the model, parameters, likelihoods, seed and the sampler's kind and size may not."""
    problems = []
    for key in ("model", "parameters", "likelihoods", "seed"):
        if old.get(key) != new.get(key):
            problems.append(key)
    for key in ("name", "nwalkers", "nlive", "dynamic", "bound", "sample", "moves"):
        if old.get("sampler", {}).get(key) != new.get("sampler", {}).get(key):
            problems.append(f"sampler.{key}")
    return problems
