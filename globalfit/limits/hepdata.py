"""HEPData submission of the limits (``format: hepdata``, ``--format hepdata``).

Written with ``hepdata_lib`` (optional extra ``hepdata``) into ``<out>/hepdata/``:
``submission.yaml``, one YAML table per limit curve (independent variable m_A' in GeV,
dependent variable eps*lambda^D in mu_B) and per segment of every 2-D contour line (m_A' in
GeV against eps or eps*lambda^D), each with the confidence level, the statistic, g_D and the
citation of every input experiment as qualifiers, the figures as additional resources, and
``<out>/hepdata.tar.gz`` (the archive HEPData accepts). The numbers are the CSV files' numbers
(nine significant digits), written unrounded, so each table reads back exactly as its CSV.
Format: https://hepdata-submission.readthedocs.io (schema checked by ``hepdata_validator``
in the tests).
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml

from ..errors import ConfigError

DIRECTORY = "hepdata"
ARCHIVE = "hepdata.tar.gz"
"""The archive, beside the directory (HEPData's validator refuses unlisted files in it)."""
_DIGITS = 17          # hepdata_lib rounds to this many significant digits: keep them all
_PHRASES = ["Dark photon", "Neutrino magnetic moment", "Kinetic mixing", "Exclusion limit"]


def _csv_number(x: float) -> float:
    """The value as the CSV files write it (9 significant digits)."""
    return float(f"{float(x):.8e}")


def _variable(name: str, values: Sequence[float], units: str, independent: bool,
              qualifiers: Sequence[tuple[str, Any, str]] = ()) -> Any:
    from hepdata_lib import Variable
    var = Variable(name, is_independent=independent, is_binned=False, units=units,
                   values=[_csv_number(v) for v in values])
    var.digits = _DIGITS
    for qname, value, unit in qualifiers:
        var.add_qualifier(qname, value, unit)
    return var


def _table(name: str, description: str, location: str, x_gev: Sequence[float],
           y_name: str, y: Sequence[float], y_units: str,
           qualifiers: Sequence[tuple[str, Any, str]]) -> Any:
    from hepdata_lib import Table
    table = Table(name)
    table.description = description
    table.location = location
    table.keywords["phrases"] = list(_PHRASES)
    table.add_variable(_variable("$m_{A'}$", x_gev, "GeV", True))
    table.add_variable(_variable(y_name, y, y_units, False, qualifiers))
    return table


def table_file(name: str) -> str:
    """The YAML file hepdata_lib writes for a table called ``name``."""
    return name.lower().replace(" ", "_") + ".yaml"


def written_files(directory: Path) -> list[Path]:
    """The files an earlier HEPData export wrote into ``directory`` (from its
    ``submission.yaml``: the tables and copied resources, the archive, itself)."""
    sub = directory / "submission.yaml"
    if not sub.is_file():
        return []
    names = {"submission.yaml"}
    try:
        for doc in yaml.safe_load_all(sub.read_text(encoding="utf-8")):
            doc = doc or {}
            if doc.get("data_file"):
                names.add(str(doc["data_file"]))
            for res in doc.get("additional_resources", ()) or ():
                loc = str(res.get("location", ""))
                if loc and "/" not in loc:
                    names.add(loc)
    except (OSError, yaml.YAMLError, AttributeError, TypeError):
        return []
    return [directory / n for n in sorted(names) if (directory / n).is_file()]


def write_hepdata(out_dir: Path, tables: Sequence[Any], comment: str,
                  figures: Sequence[Path] = ()) -> list[Path]:
    """Write the submission of ``tables`` (hepdata_lib Tables) into ``out_dir/hepdata``.
    An earlier export there is replaced (only its own files); other YAML files there are
    refused (they would enter the archive)."""
    try:
        from hepdata_lib import Submission
    except ImportError:
        raise ConfigError("limits.format: hepdata needs the hepdata_lib package (pip install "
                          "'globalfit-dtmm[hepdata]')") from None
    directory = out_dir / DIRECTORY
    for path in written_files(directory):
        path.unlink()
    if directory.is_dir() and any(p.suffix in (".yaml", ".png") for p in directory.iterdir()):
        raise ConfigError(f"{directory}: holds files an export did not write; refusing to "
                          "pack them into the HEPData archive")
    directory.mkdir(parents=True, exist_ok=True)
    sub = Submission()
    sub.comment = comment
    for fig in figures:
        if fig.is_file():
            sub.add_additional_resource(f"Figure {fig.stem}", str(fig.resolve()), copy_file=True)
    for table in tables:
        sub.add_table(table)
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        sub.create_files(str(directory.resolve()), validate=False, remove_old=False)
        shutil.move(Path(tmp) / "submission.tar.gz", out_dir / ARCHIVE)   # written to the cwd
    return written_files(directory) + [out_dir / ARCHIVE]


def curve_tables(curves: Mapping[str, np.ndarray], masses_gev: np.ndarray,
                 sources: Mapping[str, tuple[str, str]], fixed: Sequence[tuple[str, Any, str]],
                 model: str) -> list[Any]:
    """One table per limit curve (``br_inv`` curves are not limits and are left out).
    ``sources``: curve group (``borexino``, ``indirect``, ``combined``, ...) -> (legend
    name, citations)."""
    tables = []
    for key, values in curves.items():
        parts = key.split("/")
        if parts[0] == "br_inv":
            continue
        group, method = parts[0], parts[-1]
        label, cites = sources.get(group, (group, ""))
        stat = ("profile likelihood, Delta chi^2 = 2.71 above the best fit (mu >= 0)"
                if method == "profile" else "Bayesian, prior flat in mu^2, log-uniform in "
                "eps; 90% quantile")
        g = parts[1] if len(parts) == 3 else None
        name = f"Limit {group}" + (f" gD={g}" if g else "") + f" {method}"
        quals = [("CL", "90%", ""), ("Statistic", stat, "")]
        quals += ([("g_D", float(g), "")] if g else []) + list(fixed)
        quals.append(("Inputs", cites or label, ""))
        desc = (f"90% C.L. upper limit on eps*lambda^D (the flavour-universal effective "
                f"moment, m_A' -> 0 normalisation) versus m_A', from {label}"
                + (f", g_D = {g}" if g else "") + f"; model {model}.")
        tables.append(_table(name, desc, "limits.png", masses_gev, "$\\varepsilon\\lambda^D$",
                             values, "mu_B", quals))
    return tables


def contour_tables(plane: str, lines: Mapping[str, list[np.ndarray]],
                   labels: Mapping[str, str], cites: Mapping[str, str], level: float,
                   dof: int, plane_qualifiers: Sequence[tuple[str, Any, str]],
                   model: str) -> list[Any]:
    """One table per segment of every 90 % C.L. contour line of a plane."""
    y_name, y_units = (("$\\varepsilon$", "") if plane == "m_eps" else
                       ("$\\varepsilon\\lambda^D$", "mu_B"))
    ref = "the best fit at the same m_A'" if dof == 1 else "the best fit in the plane"
    tables = []
    for curve, segments in lines.items():
        for i, seg in enumerate(segments, start=1):
            name = f"Contour {plane} {curve} {i}"
            quals = [("CL", "90%", ""),
                     ("Delta chi^2", f"{level:.4f} above {ref} ({dof} d.o.f.)", ""),
                     *plane_qualifiers, ("Inputs", cites.get(curve) or labels.get(curve, curve),
                                         "")]
            desc = (f"90% C.L. exclusion contour of {labels.get(curve, curve)} in the "
                    f"(m_A', {y_name.strip('$')}) plane, segment {i} of {len(segments)} "
                    f"(the excluded side is where Delta chi^2 > {level:.2f}); model {model}.")
            tables.append(_table(name, desc, f"exclusion_{plane}.png", seg[:, 0], y_name,
                                 seg[:, 1], y_units, quals))
    return tables


__all__ = ["ARCHIVE", "DIRECTORY", "contour_tables", "curve_tables", "table_file",
           "write_hepdata", "written_files"]
