"""XENONnT SR0 data: the released events, background B0, efficiency, and the published scalars.

Files (``data/xenonnt/``, converted without change from the XENON collaboration's release for
PRL 129 (2022) 161805, arXiv:2207.11330; each file's header cites it):

* ``events_1to30kev.csv``: the 433 reconstructed ER energies in (1, 30) keV (keV).
* ``background_b0.csv``: best-fit background B0, events/(t yr keV) in reconstructed energy
  (efficiency and resolution included), 0.1 keV grid of bin centres.
* ``efficiency.csv``: total efficiency vs reconstructed energy (fraction).
* ``binned_1kev.csv``: the same events in 1 keV bins (plots only).
* ``measurements.yaml``: exposure, window, published limit, resolution, xenon shells.

Every loader raises ``DataFileError`` naming the file (and key) on a missing or malformed entry;
no published number is a literal in the code.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from globalfit.errors import DataFileError
from globalfit.paths import data_file

from .._stats import read_table

FOLDER = "xenonnt"
MEASUREMENTS = "measurements.yaml"


@functools.cache
def measurements() -> dict[str, Any]:
    """The parsed ``measurements.yaml`` (a mapping)."""
    path = data_file(FOLDER, MEASUREMENTS)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path}: cannot read ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise DataFileError(f"{path}: expected a mapping at the top level")
    return doc


def value(key: str, unit: str) -> float:
    """The finite ``value`` of the dotted ``key`` in measurements.yaml, whose unit must be ``unit``."""
    path = data_file(FOLDER, MEASUREMENTS)
    entry: Any = measurements()
    for part in key.split("."):
        if not isinstance(entry, dict) or part not in entry:
            raise DataFileError(f"{path}: missing key {key}")
        entry = entry[part]
    if not isinstance(entry, dict):
        raise DataFileError(f"{path}: {key}: expected a mapping with value, unit, citation")
    raw = entry.get("value")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise DataFileError(f"{path}: {key}.value: expected a finite number")
    if entry.get("unit") != unit:
        raise DataFileError(f"{path}: {key}.unit: expected {unit!r}, found {entry.get('unit')!r}")
    return float(raw)


def constraint(key: str, unit: str) -> tuple[float, float]:
    """(value, uncertainty) of the dotted ``key``; the uncertainty must be finite and > 0."""
    central = value(key, unit)
    entry: Any = measurements()
    for part in key.split("."):
        entry = entry[part]
    err = entry.get("uncertainty")
    if isinstance(err, bool) or not isinstance(err, (int, float)) or not (err > 0) or err == math.inf:
        raise DataFileError(f"{data_file(FOLDER, MEASUREMENTS)}: {key}.uncertainty: "
                            "expected a finite positive number")
    return central, float(err)


@dataclass(frozen=True)
class Shells:
    """Xenon subshells: names, binding energies (keV), occupations (electrons per atom)."""
    names: tuple[str, ...]
    binding_kev: tuple[float, ...]
    electrons: tuple[float, ...]


@functools.cache
def xenon_shells() -> Shells:
    """Subshell binding energies and occupations of xenon (X-ray Data Booklet Table 1-1)."""
    path = data_file(FOLDER, MEASUREMENTS)
    entry = measurements().get("shells")
    try:
        b, n = entry["binding_kev"], entry["electrons"]
        if entry["unit"] != "keV" or set(b) != set(n):
            raise ValueError("unit or shell names")
        names = tuple(b)
        be = tuple(float(b[k]) for k in names)
        ne = tuple(float(n[k]) for k in names)
    except (TypeError, KeyError, ValueError) as exc:
        raise DataFileError(f"{path}: shells: malformed ({exc})") from None
    z = value("xenon.atomic_number", "electrons/atom")
    if not all(math.isfinite(x) and x >= 0 for x in be + ne) or abs(sum(ne) - z) > 1e-9:
        raise DataFileError(f"{path}: shells: occupations must be >= 0 and sum to Z = {z:g}")
    return Shells(names, be, ne)


def atoms_per_tonne() -> float:
    """Xenon atoms in one tonne: 1e6 g / M(Xe) x N_A."""
    return 1e6 / value("xenon.molar_mass", "g/mol") * value("xenon.avogadro", "1/mol")


def exposure_t_s() -> float:
    """Exposure in tonne x seconds (1.16 t yr x Julian year)."""
    return value("exposure", "t x yr") * value("year_seconds", "s")


def window_kev() -> tuple[float, float]:
    """The (1, 30) keV region of interest in reconstructed energy."""
    return value("window_kev.low", "keV"), value("window_kev.high", "keV")


@dataclass(frozen=True)
class Release:
    """The release's arrays (energies in keV)."""
    events_kev: np.ndarray          # (433,)
    b0_kev: np.ndarray              # B0 grid (bin centres)
    b0_rate: np.ndarray             # events/(t yr keV)
    eff_kev: np.ndarray
    eff: np.ndarray


@functools.cache
def release() -> Release:
    """Load and check the four release files."""
    ev = read_table(data_file(FOLDER, "events_1to30kev.csv"), ("energy_kev",))["energy_kev"]
    b0 = read_table(data_file(FOLDER, "background_b0.csv"), ("energy_kev", "rate_per_t_yr_kev"))
    ef = read_table(data_file(FOLDER, "efficiency.csv"), ("energy_kev", "efficiency"))
    lo, hi = window_kev()
    if not (ev.size > 0 and np.all((ev > lo) & (ev < hi))):
        raise DataFileError(f"{data_file(FOLDER, 'events_1to30kev.csv')}: events must lie in "
                            f"({lo:g}, {hi:g}) keV")
    for name, x, y in (("background_b0.csv", b0["energy_kev"], b0["rate_per_t_yr_kev"]),
                       ("efficiency.csv", ef["energy_kev"], ef["efficiency"])):
        if np.any(np.diff(x) <= 0) or np.any(y < 0):
            raise DataFileError(f"{data_file(FOLDER, name)}: energies must increase, values >= 0")
    if np.any(ef["efficiency"] > 1):
        raise DataFileError(f"{data_file(FOLDER, 'efficiency.csv')}: efficiency above 1")
    return Release(np.sort(ev), b0["energy_kev"], b0["rate_per_t_yr_kev"],
                   ef["energy_kev"], ef["efficiency"])
