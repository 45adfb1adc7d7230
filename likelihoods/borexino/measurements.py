"""Borexino's published scalars, read from ``data/borexino/measurements.yaml`` (validated).

What to use when: ``measurement("constraints.cno_rate", unit="cpd/100 t")`` returns the entry
(value, uncertainty, unit, citation) of a dotted key, checked on load; ``value(key, unit)`` only
its value. A missing key, a missing or non-finite number, or a unit other than the one the code
expects is a ``DataFileError`` naming the file and the key: no published number is a literal in
the code.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import yaml

from globalfit.errors import DataFileError
from globalfit.paths import data_file

FILE = "measurements.yaml"


@dataclass(frozen=True)
class Measurement:
    """One published number: ``value`` +- ``uncertainty`` (nan when it is not a constraint)."""
    value: float
    uncertainty: float
    unit: str
    citation: str


def _load() -> dict[str, Any]:
    return _load_path(str(data_file("borexino", FILE)))


@functools.cache
def _load_path(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path}: cannot read ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level")
    return doc


def _number(path: Any, key: str, entry: dict, field: str) -> float:
    raw = entry.get(field)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise DataFileError(f"{path}: {key}.{field}: expected a finite number")
    return float(raw)


def measurement(key: str, unit: str, constraint: bool = False) -> Measurement:
    """The entry at dotted ``key``; its ``unit`` must be ``unit``; with ``constraint`` it
    must carry a positive ``uncertainty``."""
    path = data_file("borexino", FILE)
    entry: Any = _load()
    for part in key.split("."):
        if not isinstance(entry, dict) or part not in entry:
            raise DataFileError(f"{path}: {key}: missing")
        entry = entry[part]
    if not isinstance(entry, dict):
        raise DataFileError(f"{path}: {key}: expected a mapping with value, unit, citation")
    val = _number(path, key, entry, "value")
    unc = _number(path, key, entry, "uncertainty") if constraint else math.nan
    if constraint and unc <= 0:
        raise DataFileError(f"{path}: {key}.uncertainty: must be > 0")
    if entry.get("unit") != unit:
        raise DataFileError(f"{path}: {key}.unit: expected {unit!r}")
    citation = entry.get("citation")
    if not isinstance(citation, str) or not citation.strip():
        raise DataFileError(f"{path}: {key}.citation: missing")
    return Measurement(val, unc, unit, citation)


def value(key: str, unit: str) -> float:
    """The value of the entry at dotted ``key`` (unit checked)."""
    return measurement(key, unit).value
