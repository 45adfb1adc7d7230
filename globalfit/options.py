"""Typed options: the one way a likelihood, a model or a sampler declares what it accepts.

A leaf module (imports only ``errors``). A component lists its options as a tuple of
:class:`Option`; :func:`validate_options` checks a mapping of user values against it (unknown
keys with a did-you-mean, types, choices, finiteness and bounds of numbers) and returns the
resolved values with defaults filled in. Every problem is one :class:`ConfigError` line
``<where>.<key>: <problem>`` whose rendered values are truncated (:func:`short_repr`), so no
input can make an error message unbounded. The same code validates every component, after
the Cobaya convention of declared, typed options (``cobaya/likelihood.py``).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import ConfigError

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "<required>"})()
"""Sentinel default of an option without a default (the user must give it)."""

MAX_REPR = 60
"""Characters of a user value shown in an error message at most."""


def short_repr(value: Any, limit: int = MAX_REPR) -> str:
    """``repr(value)`` cut to ``limit`` characters (containers are not rendered whole:
    a YAML alias bomb or a huge list must not make an error message unbounded)."""
    if isinstance(value, (list, tuple, dict, set)):
        kind = type(value).__name__
        try:
            size = len(value)
        except Exception:  # pragma: no cover - defensive
            size = -1
        if size > 8:
            return f"<{kind} of {size} items>"
        try:
            text = repr(value) if _shallow(value) else f"<{kind} of {size} items>"
        except RecursionError:  # pragma: no cover - self-referencing container
            text = f"<{kind}>"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _shallow(value: Any, depth: int = 0) -> bool:
    """True when ``value`` nests at most 2 containers deep with at most 8 items each."""
    if isinstance(value, (list, tuple, set)):
        return depth < 2 and len(value) <= 8 and all(_shallow(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return depth < 2 and len(value) <= 8 and all(_shallow(v, depth + 1)
                                                     for v in value.values())
    return True


def suggest(key: Any, candidates: Sequence[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``candidates``, or ``""``."""
    match = difflib.get_close_matches(str(key)[:MAX_REPR], [str(c) for c in candidates],
                                      n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true/false", str: "a string",
               type(None): "null", list: "a list", tuple: "a list", dict: "a mapping"}


def type_name(types: tuple[type, ...]) -> str:
    """Human name of a tuple of accepted types (``"an integer or null"``)."""
    return " or ".join(dict.fromkeys(_TYPE_NAMES.get(t, t.__name__) for t in types))


def type_ok(value: Any, types: tuple[type, ...]) -> bool:
    """``isinstance`` with the YAML conventions: a bool is not a number, an int is a float,
    a list is accepted where a tuple is."""
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    if isinstance(value, list) and tuple in types:
        return True
    return isinstance(value, types)


@dataclass(frozen=True)
class Option:
    """One declared option.

    ``types``: accepted Python types (YAML scalars); ``default``: :data:`REQUIRED` when the
    user must give it; ``choices``: allowed values or None; ``low``/``high``: inclusive
    bounds of a number (a number must also be finite unless ``allow_inf``); ``unit`` and
    ``doc`` document it (``docs/fitting.md`` lists them).
    """
    name: str
    types: tuple[type, ...]
    default: Any = REQUIRED
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    doc: str = ""
    allow_inf: bool = False

    def check(self, value: Any, where: str) -> Any:
        """The validated value (lists become tuples where a tuple is declared);
        ConfigError ``<where>.<name>: ...`` otherwise."""
        key = f"{where}.{self.name}" if where else self.name
        if not type_ok(value, self.types):
            raise ConfigError(f"{key}: expected {type_name(self.types)}, "
                              f"found {short_repr(value)}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{key}: {short_repr(value)} is not one of "
                              f"{', '.join(map(str, self.choices))}"
                              f"{suggest(value, self.choices)}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            x = float(value)
            if math.isnan(x) or (math.isinf(x) and not self.allow_inf):
                raise ConfigError(f"{key}: must be a finite number, found {short_repr(value)}")
            if self.low is not None and x < self.low:
                raise ConfigError(f"{key}: must be >= {self.low:g}, found {short_repr(value)}")
            if self.high is not None and x > self.high:
                raise ConfigError(f"{key}: must be <= {self.high:g}, found {short_repr(value)}")
        if isinstance(value, list) and tuple in self.types:
            value = tuple(value)
        return value


def validate_options(schema: Sequence[Option], values: Mapping[str, Any] | None,
                     where: str) -> dict[str, Any]:
    """Check ``values`` against ``schema``; return every option resolved (defaults filled).

    ``where`` is the key path shown in messages (``"fit.yaml: likelihoods.na64"``).
    Raises ConfigError (one line) for an unknown key, a wrong type or value, or a missing
    required option.
    """
    values = dict(values or {})
    names = [o.name for o in schema]
    for key in values:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: option names must be strings, found {short_repr(key)}")
        if key not in names:
            raise ConfigError(f"{where}.{short_repr(key)[1:-1]}: unknown option"
                              f"{suggest(key, names)}")
    out: dict[str, Any] = {}
    for opt in schema:
        if opt.name in values:
            out[opt.name] = opt.check(values[opt.name], where)
        elif opt.default is REQUIRED:
            raise ConfigError(f"{where}.{opt.name}: required option missing")
        else:
            out[opt.name] = opt.default
    return out


__all__ = ["MAX_REPR", "Option", "REQUIRED", "short_repr", "suggest", "type_name", "type_ok",
           "validate_options"]
