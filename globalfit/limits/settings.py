"""The ``limits:`` section of a fit config (``globalfit limits --config fit.yaml``).

The model, ``parameters`` and ``likelihoods`` blocks are the fit's, validated by
``globalfit.config.load_config``; this module validates the ``limits:`` section with
``globalfit.options.validate_options`` and derives what the construction holds fixed from the
``parameters`` block (docs/limits.md lists every key). Every problem is one ConfigError line
naming the file and the key.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..options import Option, short_repr, suggest, validate_options
from ..units import parse_quantity
from . import planes
from .indirect import ModelSetup
from .stats import METHODS
from .terms import is_direct

log = logging.getLogger("globalfit.limits")
CURVES = ("borexino", "indirect", "combined")
DIRECT_CHOICES = ("likelihood", "published_rate")
FORMATS = ("csv", "hepdata")
AXES = ("m_aprime_gev", "eps", "g_d")

_NUM = (int, float)
SCHEMA = (
    Option("m_aprime", (dict,), {}, doc="mass grid: low, high (energies), n_points"),
    Option("g_d", (tuple, float), (0.1, 0.3, 0.5), doc="one curve per U(1)_D coupling"),
    Option("methods", (tuple,), ("profile", "bayes"), doc="profile and/or bayes"),
    Option("curves", (tuple,), CURVES, doc="borexino, indirect, combined"),
    Option("eps", (dict,), {}, doc="range of eps at fixed mu: low, high, n_points"),
    Option("coupling_scale", (str, tuple), "y0",
           doc="parameter(s) scaled together by s (mu ~ s^2, BR ~ s^4)"),
    Option("fixed", (dict,), {}, doc="values of parameters the fit samples"),
    Option("direct", (str,), "likelihood", choices=DIRECT_CHOICES,
           doc="likelihood: the config's direct likelihoods (Borexino spectrum); "
               "published_rate: the published Borexino limit recast"),
    Option("rate_threshold_mev", _NUM, 0.2, low=0.0, unit="MeV",
           doc="recoil threshold of the published-rate recast"),
    Option("likelihoods", (dict,), {}, doc="label -> options merged over the fit's block"),
    Option("pool", (dict,), {}, doc="kind (auto|serial|processes|mpi), n_processes"),
    Option("output", (dict,), {}, doc="name, directory"),
    Option("plane", (dict, type(None)), {}, doc="2-D exclusions (limits.plane, planes.py); "
                                                "null: none"),
    Option("format", (str,), "csv", choices=FORMATS,
           doc="csv: CSV, JSON and figures; hepdata: also a HEPData submission"),
)
M_SCHEMA = (Option("low", (str, float), "1 keV", unit="GeV"),
            Option("high", (str, float), "1 GeV", unit="GeV"),
            Option("n_points", (int,), 61, low=2, high=10000))
EPS_SCHEMA = (Option("low", _NUM, 1.0e-8, low=0.0, high=1.0),
              Option("high", _NUM, 1.0e-2, low=0.0, high=1.0),
              Option("n_points", (int,), 801, low=50, high=100000))
POOL_SCHEMA = (Option("kind", (str,), "auto", choices=("auto", "serial", "processes", "mpi")),
               Option("n_processes", (int, type(None)), None, low=1, high=1024))
OUTPUT_SCHEMA = (Option("name", (str, type(None)), None), Option("directory", (str, type(None)), None))


@dataclass
class LimitsConfig:
    """A validated ``limits:`` section with the fit config it belongs to."""
    name: str
    out_dir: Path
    masses_gev: np.ndarray
    g_d: tuple[float, ...]
    methods: tuple[str, ...]
    curves: tuple[str, ...]
    setup: ModelSetup
    direct: str = "likelihood"
    direct_likelihoods: dict[str, Any] = field(default_factory=dict)
    rate_threshold_mev: float = 0.2
    pool: dict = field(default_factory=lambda: {"kind": "serial", "n_processes": None})
    resolved: dict = field(default_factory=dict)
    plane: planes.PlaneSettings | None = None
    format: str = "csv"


def section(raw: Mapping[str, Any], display: str) -> dict:
    """The ``limits:`` mapping of a parsed config, validated at the top level."""
    value = raw.get("limits")
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"{display}: limits: expected a mapping, found {short_repr(value)}")
    return validate_options(SCHEMA, value or {}, f"{display}: limits")


def merged_likelihoods(raw: Mapping[str, Any], lim: Mapping[str, Any], display: str) -> dict:
    """The fit's ``likelihoods`` block with ``limits.likelihoods.<label>`` options merged in,
    and ``weights: universal`` for every likelihood that has a ``weights`` option (Borexino,
    XENONnT) unless ``limits.likelihoods.<label>.weights`` says otherwise: the limits are on
    the flavour-universal moment, which a likelihood sees directly only with universal
    weights (with ``weights: mass`` it would be an indirect probe through the model)."""
    block = copy.deepcopy(raw.get("likelihoods"))
    if not isinstance(block, dict):
        return block
    for label, opts in lim["likelihoods"].items():
        key = f"{display}: limits.likelihoods.{short_repr(label)[1:-1]}"
        if label not in block:
            raise ConfigError(f"{key}: not a likelihood of the config{suggest(label, block)}")
        if not isinstance(opts, dict) or not isinstance(block[label] or {}, dict):
            raise ConfigError(f"{key}: expected a mapping of options, found {short_repr(opts)}")
        block[label] = {**(block[label] or {}), **opts}
    for label, entry in block.items():
        if "weights" in (lim["likelihoods"].get(label) or {}) or not (
                entry is None or isinstance(entry, dict)) or not _has_weights(entry, label):
            continue
        entry = dict(entry or {})
        if entry.get("weights", "universal") != "universal":
            log.info("limits: likelihoods.%s.weights: universal (the limits are on the "
                     "flavour-universal moment; set limits.likelihoods.%s.weights to keep %r)",
                     label, label, entry["weights"])
        block[label] = {**entry, "weights": "universal"}
    return block


def _has_weights(entry: Mapping[str, Any] | None, label: str) -> bool:
    """True when the likelihood class of a block entry declares a ``weights`` option (an
    unknown or broken entry is left to ``globalfit.config.validate`` to report)."""
    from likelihoods import likelihood_class
    try:
        cls = likelihood_class(str((entry or {}).get("type", label)))
    except Exception:          # reported, with its key, by the config validation
        return False
    return any(opt.name == "weights" for opt in cls.options)


def _quantity(value: Any, dimension: str, where: str) -> float:
    x = parse_quantity(value, dimension, where)
    if not np.isfinite(x):
        raise ConfigError(f"{where}: must be finite, found {short_repr(value)}")
    return float(x)


def parse(fit: Any, lim: Mapping[str, Any], display: str) -> LimitsConfig:
    """Build the :class:`LimitsConfig` of a validated fit config ``fit``
    (``globalfit.config.FitConfig``) and its validated ``limits:`` section ``lim``."""
    where = f"{display}: limits"
    for key, allowed in (("methods", METHODS), ("curves", CURVES)):
        bad = [x for x in lim[key] if x not in allowed]
        if bad or not lim[key]:
            raise ConfigError(f"{where}.{key}: {short_repr(bad[0] if bad else [])} is not one "
                              f"of {', '.join(allowed)}{suggest(bad[0], allowed) if bad else ''}")
    model = fit.model
    specs = {p.name: p for p in model.parameters}
    scale = (lim["coupling_scale"],) if isinstance(lim["coupling_scale"], str) \
        else tuple(lim["coupling_scale"])
    missing = [p for p in AXES + scale if p not in specs]
    if missing or "mu_eff_mub" not in model.provides:
        need = f"parameter {missing[0]}" if missing else "observable mu_eff_mub"
        raise ConfigError(f"{where}: model {model.name!r} lacks {need} (the limits need "
                          "parameters m_aprime_gev, eps, g_d, limits.coupling_scale and the "
                          "observable mu_eff_mub)")
    if not scale or any(p in AXES for p in scale):
        raise ConfigError(f"{where}.coupling_scale: {short_repr(scale)} must name parameters "
                          "other than m_aprime_gev, eps, g_d")
    params = fit.resolved["parameters"]
    for key in lim["fixed"]:
        if key not in specs or key in AXES:
            what = "is an axis of the limits" if key in AXES else \
                f"is not a parameter of model {model.name!r}{suggest(key, list(specs))}"
            raise ConfigError(f"{where}.fixed.{short_repr(key)[1:-1]}: {what}")
    fixed: dict[str, float] = {}
    ref: dict[str, float] = {}
    for name, spec in specs.items():
        if name in AXES:
            continue
        if name in lim["fixed"]:
            value = _quantity(lim["fixed"][name], spec.dimension, f"{where}.fixed.{name}")
            if not spec.low <= value <= spec.high:
                raise ConfigError(f"{where}.fixed.{name}: {value:g} is outside the domain "
                                  f"[{spec.low:g}, {spec.high:g}] of {name}")
        elif params[name]["prior"] == "fixed":
            value = float(params[name]["value"])
        elif name in scale and len(scale) == 1:
            value = 1.0
        else:
            raise ConfigError(f"{where}.fixed.{name}: required: parameters.{name} is sampled "
                              "in the fit, the limits hold it fixed (give its value)")
        (ref if name in scale else fixed)[name] = value
    if not any(v != 0 for v in ref.values()):
        raise ConfigError(f"{where}.coupling_scale: every reference value is 0")
    s_max = min((specs[k].high if v > 0 else -specs[k].low) / abs(v)
                for k, v in ref.items() if v != 0)

    m = validate_options(M_SCHEMA, lim["m_aprime"], f"{where}.m_aprime")
    lo = _quantity(m["low"], "energy", f"{where}.m_aprime.low")
    hi = _quantity(m["high"], "energy", f"{where}.m_aprime.high")
    sm = specs["m_aprime_gev"]
    if not (0 < lo < hi and sm.low <= lo and hi <= sm.high):
        raise ConfigError(f"{where}.m_aprime: need 0 < low < high inside [{sm.low:g}, "
                          f"{sm.high:g}] GeV, found {lo:g}, {hi:g} GeV")
    eps = validate_options(EPS_SCHEMA, lim["eps"], f"{where}.eps")
    if not 0 < eps["low"] < eps["high"] <= specs["eps"].high:
        raise ConfigError(f"{where}.eps: need 0 < low < high <= {specs['eps'].high:g}, found "
                          f"{eps['low']:g}, {eps['high']:g}")
    g_d = (lim["g_d"],) if isinstance(lim["g_d"], (int, float)) else tuple(lim["g_d"])
    sg = specs["g_d"]
    if not g_d or any(isinstance(g, bool) or not isinstance(g, (int, float))
                      or not 0 < g <= sg.high for g in g_d):
        raise ConfigError(f"{where}.g_d: expected numbers in (0, {sg.high:g}], found "
                          f"{short_repr(list(g_d))}")
    pool = validate_options(POOL_SCHEMA, lim["pool"], f"{where}.pool")
    out = validate_options(OUTPUT_SCHEMA, lim["output"], f"{where}.output")
    name = out["name"] or f"{fit.resolved['output']['name']}_limits"
    if "/" in name or name in (".", ".."):
        raise ConfigError(f"{where}.output.name: not a valid name: {short_repr(name)}")
    directory = Path(out["directory"] or fit.resolved["output"]["directory"])
    if not directory.is_absolute():
        directory = fit.path.parent / directory

    direct = {k: lk for k, lk in fit.likelihoods.items() if is_direct(lk)}
    indirect = {k: lk for k, lk in fit.likelihoods.items() if k not in direct}
    curves = tuple(dict.fromkeys(lim["curves"]))
    if lim["direct"] == "likelihood" and not direct and set(curves) & {"borexino", "combined"}:
        raise ConfigError(f"{where}.curves: 'borexino' and 'combined' need a likelihood that "
                          "requires only mu_eff2_mub2 and m_aprime_gev (Borexino in fast mode "
                          "with weights: universal), or limits.direct: published_rate")
    if not indirect and set(curves) & {"indirect", "combined"}:
        raise ConfigError(f"{where}.curves: 'indirect' and 'combined' need a likelihood of "
                          "the model's couplings (NA64, BaBar, MEG, ...)")
    setup = ModelSetup(model=model, fixed=fixed, scale_ref=ref, s_max=float(s_max),
                       likelihoods=indirect, eps_range=(float(eps["low"]), float(eps["high"])),
                       n_eps=int(eps["n_points"]), display=display)
    resolved = {"m_aprime": {"low": lo, "high": hi, "n_points": m["n_points"]},
                "g_d": [float(g) for g in g_d], "methods": list(dict.fromkeys(lim["methods"])),
                "curves": list(curves), "eps": dict(eps), "coupling_scale": list(scale),
                "fixed": {**fixed, **ref}, "direct": lim["direct"],
                "rate_threshold_mev": float(lim["rate_threshold_mev"]),
                "likelihoods": copy.deepcopy(lim["likelihoods"]), "pool": pool,
                "output": {"name": name, "directory": str(out["directory"] or
                                                          fit.resolved["output"]["directory"])},
                "format": lim["format"]}
    plane = None
    if lim["plane"] is not None:
        plane = planes.parse(lim["plane"], f"{where}.plane", m_range=(lo, hi),
                             m_max=sm.high, eps_range=(float(eps["low"]), float(eps["high"])),
                             eps_max=specs["eps"].high, g_d=g_d, g_d_max=sg.high,
                             s_max=float(s_max))
        if not plane.planes:
            plane = None
    resolved["plane"] = plane.resolved if plane else None
    return LimitsConfig(name=name, out_dir=directory / name,
                        masses_gev=np.geomspace(lo, hi, m["n_points"]),
                        g_d=tuple(float(g) for g in g_d),
                        methods=tuple(resolved["methods"]), curves=curves, setup=setup,
                        direct=lim["direct"], direct_likelihoods=direct,
                        rate_threshold_mev=float(lim["rate_threshold_mev"]), pool=pool,
                        resolved=resolved, plane=plane, format=lim["format"])


def from_mapping(raw: Mapping[str, Any], path: str | Path = "limits.yaml",
                 display: str | None = None) -> tuple[Any, LimitsConfig]:
    """Validate a parsed fit config with a ``limits:`` section (the ``limits.likelihoods``
    options merged into the likelihood block first, then ``globalfit.config.validate``, the
    code behind ``load_config``); return ``(FitConfig, LimitsConfig)``."""
    from ..config import validate
    display = str(path) if display is None else display
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{display}: expected a mapping at the top level")
    lim = section(raw, display)
    raw = dict(raw)
    if "likelihoods" in raw:
        raw["likelihoods"] = merged_likelihoods(raw, lim, display)
    fit = validate(raw, Path(path).resolve(), display)
    return fit, parse(fit, lim, display)


def load(path: str | Path, overrides: Mapping[str, Any] | None = None
         ) -> tuple[Any, LimitsConfig]:
    """Read a fit config (``globalfit.config.read_yaml``: size, encoding, empty file) and
    validate it and its ``limits:`` section (:func:`from_mapping`). ``overrides`` replace keys
    of the ``limits:`` section (the command-line flags)."""
    from ..config import read_yaml
    display = str(path)
    raw = read_yaml(Path(path), display)
    if overrides:
        section(raw, display)
        raw = {**raw, "limits": {**(raw.get("limits") or {}), **overrides}}
    return from_mapping(raw, path, display)


__all__ = ["CURVES", "FORMATS", "LimitsConfig", "SCHEMA", "from_mapping", "load", "parse",
           "section"]
