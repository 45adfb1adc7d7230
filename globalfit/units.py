"""Parse quantities with units from configs ("300 MeV", "1e-3 GeV", 0.3) into GeV.

A leaf module. Only energy/mass units are needed by the model; dimensionless parameters
take plain numbers. Errors name the offending key.
"""
from __future__ import annotations

import math
import re

from .errors import ConfigError

ENERGY_UNITS_GEV: dict[str, float] = {
    "eV": 1e-9, "keV": 1e-6, "MeV": 1e-3, "GeV": 1.0, "TeV": 1e3,
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")


def parse_quantity(value: object, dimension: str, key: str = "value") -> float:
    """Return ``value`` as a float in GeV (``dimension='energy'``) or as a plain number
    (``dimension='1'``). Strings like ``"300 MeV"`` are accepted for energies; a bare number
    for an energy is taken to be in GeV. Raises ConfigError naming ``key`` otherwise."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number, found {value!r}")
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if match is None:
            raise ConfigError(f"{key}: cannot read {value!r} as a number with a unit")
        number, unit = float(match.group(1)), match.group(2)
    else:
        raise ConfigError(f"{key}: expected a number, found {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise ConfigError(f"{key}: value {value!r} is not finite")
    if dimension == "energy":
        if unit == "":
            return number
        if unit not in ENERGY_UNITS_GEV:
            raise ConfigError(
                f"{key}: unknown energy unit {unit!r} in {value!r} "
                f"(use one of {', '.join(ENERGY_UNITS_GEV)})")
        return number * ENERGY_UNITS_GEV[unit]
    if dimension == "1":
        if unit:
            raise ConfigError(f"{key}: dimensionless parameter given with unit {unit!r}")
        return number
    raise ValueError(f"unknown dimension {dimension!r}")
