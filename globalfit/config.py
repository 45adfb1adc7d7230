"""Read, validate and resolve a fit configuration (one YAML file), then build the posterior.

Everything is checked before anything runs; every problem is one line naming the file and
the key path, with a close-match suggestion for misspelt keys::

    fit.yaml: likelihoods.borexino.exposre_days: unknown option (did you mean 'exposure_days'?)

A model or likelihood is named by its registry name or by the name of an installed plugin
(entry-point groups ``globalfit.models``, ``globalfit.likelihoods``); any other name is
rejected before anything is imported. Their options are checked against the options the class
declares (``globalfit.options.validate_options``, the same code for every component); an
option whose ``unit`` is ``"file"`` is a path, resolved against the config's folder and
required to exist. Every prior box of a parameter that a likelihood requires as an observable
must lie inside that likelihood's declared ``domain``. The keys are documented in
``docs/fitting.md``. This module and ``cli.py`` are the only ones that read YAML.
"""
from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from likelihoods import known as known_likelihoods, likelihood_class
from likelihoods.base import Likelihood
from likelihoods.evaluate import nuisance_parameter_name
from .errors import ConfigError, GlobalFitError
from .joint import JointPosterior, nuisance_prior
from .model import known as known_models, model_class
from .model.base import Model
from .observables import OBSERVABLES
from .options import Option, short_repr, suggest, validate_options
from .priors import PRIOR_KINDS, Prior, PriorSet, name_latex
from .sampling import DEFAULT_SAMPLER, Sampler
from .sampling import available as available_samplers
from .sampling import load as load_sampler
from .units import parse_quantity
from .yamlio import load_yaml

TOP_KEYS = ("model", "parameters", "likelihoods", "sampler", "output", "seed", "limits")
PRIOR_KEYS: dict[str, tuple[str, ...]] = {
    "uniform": ("prior", "low", "high", "latex"),
    "log-uniform": ("prior", "low", "high", "latex"),
    "gaussian": ("prior", "mean", "sd", "low", "high", "latex"),
    "fixed": ("prior", "value", "latex"),
}

OUTPUT_KEYS: dict[str, tuple[type | tuple, Any, tuple | None]] = {
    "name": (str, None, None),
    "directory": (str, "chains", None),
    "plots": (bool, True, None),
}
FILE_UNIT = "file"
"""``Option.unit`` of an option that names a file (resolved against the config's folder)."""


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
            self.fail(key, f"expected a mapping, found {type(value).__name__} "
                           f"{short_repr(value)}")
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

    def options(self, schema: tuple[Option, ...], options: Any, key: str) -> dict:
        """Check ``options`` against the declared ``schema`` (``validate_options``: unknown
        keys, types, choices, bounds); return them resolved with the defaults. File options
        (``unit == "file"``) are resolved against the config's folder and must exist."""
        resolved = validate_options(schema, self.mapping(options, key), f"{self.display}: {key}")
        for opt in schema:
            value = resolved[opt.name]
            if opt.unit == FILE_UNIT and isinstance(value, str):
                file = Path(value)
                if not file.is_absolute():
                    file = self.path.parent / file
                if not file.is_file():
                    self.fail(f"{key}.{opt.name}", f"data file not found: {short_repr(value)}")
                resolved[opt.name] = str(file)
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
    """A config file read by :func:`globalfit.yamlio.load_yaml` (regular file, size cap,
    UTF-8, no aliases or duplicate keys); ConfigError naming the file on failure."""
    display = display or str(path)
    data = load_yaml(path, display)
    if data is None:
        raise ConfigError(f"{display}: empty config")
    if not isinstance(data, dict):
        raise ConfigError(f"{display}: expected a mapping at the top level, "
                          f"found {type(data).__name__}")
    return data


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> FitConfig:
    """Validate the config at ``path``, build the model, likelihoods and posterior.

    ``overrides`` (e.g. ``{"seed": 3}``) replace top-level keys before validation.
    Raises :class:`ConfigError` (one line: file, key path, problem) on any problem.
    """
    display = str(path)
    raw = read_yaml(Path(path), display)      # before resolve(): a symlink loop is named
    path = Path(path).resolve()
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
    models = known_models()
    if model_name not in models:
        v.fail("model.name", f"unknown model {short_repr(model_name)}"
                             f"{_suggest(model_name, models)}; known: {', '.join(models)}")
    try:
        model_cls = model_class(model_name)
    except TypeError as exc:
        v.fail("model.name", str(exc))
    except (ImportError, AttributeError) as exc:
        v.fail("model.name", f"cannot import model {model_name!r}: {exc}")
    model_opts = v.options(model_cls.options, model_raw.get("options"), "model.options")

    # ---- likelihoods ----------------------------------------------------------------
    likes_raw = v.mapping(raw["likelihoods"], "likelihoods")
    like_specs: dict[str, tuple[str, type, dict]] = {}
    seen_types: dict[str, str] = {}
    available = known_likelihoods()
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
        if type_name not in available:
            where = f"{key}.type" if type_name != label else key
            v.fail(where, f"unknown likelihood {short_repr(type_name)}"
                          f"{_suggest(type_name, available)}; known: {', '.join(available)}")
        try:
            cls = likelihood_class(type_name)
        except TypeError as exc:
            v.fail(f"{key}.type" if type_name != label else key, str(exc))
        except (ImportError, AttributeError) as exc:
            v.fail(key, f"cannot import likelihood {type_name!r}: {exc}")
        if "." in label:
            v.fail(key, "a likelihood label must not contain '.'")
        if type_name in seen_types:
            v.fail(key, f"overlapping data sets: likelihoods.{seen_types[type_name]} is "
                        f"also a {type_name!r} likelihood (its data sets overlap; keep one)")
        seen_types[type_name] = label
        like_specs[label] = (type_name, cls, v.options(cls.options, entry, key))
    if not like_specs:
        v.fail("likelihoods", "no likelihood selected")

    # ---- sampler and output -----------------------------------------------------------
    sampler_cls, sampler = _sampler_section(v, v.mapping(raw.get("sampler"), "sampler"))

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
            v.fail(f"likelihoods.{label}",
                   str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        lacking = [o for o in likelihoods[label].requires if o not in model.provides]
        if lacking:
            v.fail(f"likelihoods.{label}", f"requires {', '.join(lacking)}, which model "
                                           f"{model_name!r} does not provide")

    # ---- parameters ------------------------------------------------------------------------
    params_raw = v.mapping(raw["parameters"], "parameters")
    specs = {p.name: ("model", p) for p in model.parameters}
    nuisance_labels: dict[str, str] = {}
    for label, like in likelihoods.items():
        for nu in like.nuisances:
            specs[nuisance_parameter_name(label, nu)] = ("nuisance", nu)
            nuisance_labels[nuisance_parameter_name(label, nu)] = label
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
                prior = nuisance_prior(nuisance_labels[name], spec)
                priors.append(prior)
                resolved_params[name] = _prior_dict(prior)
                continue
            dimension, dom_low, dom_high, latex = "1", spec.low, spec.high, name_latex(name)
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
    _check_domains(v, priors, likelihoods, like_specs)
    prior_set = PriorSet(priors)
    if prior_set.ndim == 0:
        v.fail("parameters", "every parameter is fixed; nothing to sample")

    sampler = sampler_cls.check_options(sampler, prior_set.ndim, f"{display}: sampler")

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


def _check_domains(v: _Validator, priors: list[Prior], likelihoods: Mapping[str, Likelihood],
                   like_specs: Mapping[str, tuple[str, type, dict]]) -> None:
    """Every prior box (fixed value, or [low, high]) of a parameter that a likelihood requires
    as an observable of the same name lies inside that likelihood's declared ``domain``."""
    for prior in priors:
        for label, like in likelihoods.items():
            if prior.name not in like.requires or prior.name not in like.domain:
                continue
            lo, hi = (float(x) for x in like.domain[prior.name])
            unit = OBSERVABLES[prior.name].unit if prior.name in OBSERVABLES else ""
            unit = "" if unit in ("", "1") else f" {unit}"
            bounds = ((("value", prior.value),) if prior.kind == "fixed" else
                      (("low", prior.low), ("high", prior.high)))
            for k, x in bounds:
                if not lo <= x <= hi:
                    v.fail(f"parameters.{prior.name}.{k}",
                           f"{x:g}{unit} is outside the domain [{lo:g}, {hi:g}]{unit} of "
                           f"likelihoods.{label} ({like_specs[label][0]}: the range its data "
                           "cover)")


def _sampler_section(v: _Validator, section: dict) -> tuple[type[Sampler], dict[str, Any]]:
    """The registered sampler named by ``sampler.name`` and its options validated against
    its declared schema (:mod:`globalfit.sampling`)."""
    name = section.get("name", DEFAULT_SAMPLER)
    known = available_samplers()
    if not isinstance(name, str) or name not in known:
        v.fail("sampler.name", f"unknown sampler {short_repr(name)}{suggest(name, known)}; "
                               f"known: {', '.join(known)}")
    try:
        cls = load_sampler(name)
    except ConfigError as exc:
        v.fail("", str(exc))
    return cls, validate_options(cls.schema(), section, f"{v.display}: sampler")


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
    the model, parameters, likelihoods, seed, the sampler and the options its adapter
    declares in ``resume_keys`` may not."""
    problems = []
    for key in ("model", "parameters", "likelihoods", "seed"):
        if old.get(key) != new.get(key):
            problems.append(key)
    old_s, new_s = old.get("sampler") or {}, new.get("sampler") or {}
    if old_s.get("name", DEFAULT_SAMPLER) != new_s.get("name", DEFAULT_SAMPLER):
        return problems + ["sampler.name"]
    try:
        keys = load_sampler(new_s.get("name", DEFAULT_SAMPLER)).resume_keys
    except (KeyError, ConfigError):
        return problems + ["sampler.name"]
    for key in keys:
        if old_s.get(key) != new_s.get(key):
            problems.append(f"sampler.{key}")
    return problems
