"""The run's samples as a GetDist / CosmoMC-style plain-text chain (the format Cobaya also
writes), so that ``getdist.loadMCSamples("chains/<name>/<name>")`` reads them:

* ``<root>.txt``: one row per sample, columns ``weight``, ``-ln posterior``, then the
  parameters (emcee: every flattened draw after burn-in and thinning with weight 1; nested
  sampling: every weighted sample with its importance weight, normalised to sum 1);
* ``<root>.paramnames``: one line per parameter column, ``name  LaTeX``; derived parameters
  carry a trailing ``*``;
* ``<root>.ranges``: the prior bounds of the sampled parameters (``N`` for an open end).

Columns: the sampled parameters, the derived quantities that vary (constant ones are left
out, as are ones that are not finite at every sample), and for every quantity summarised in
log10 (:mod:`globalfit.quantities`) the column ``log10_<name>``, derived, with its bounds
for a log-uniform parameter. Written without importing GetDist.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from .quantities import Quantity, unit_latex


def _log_latex(q: Quantity) -> str:
    tex = q.latex or q.name
    return (rf"\log_{{10}}({tex}/{unit_latex(q.unit)})" if q.has_unit
            else rf"\log_{{10}}{tex}")


def _bound(x: float) -> str:
    return repr(float(x)) if np.isfinite(x) else "N"


def chain_columns(columns: Mapping[str, np.ndarray], quantities: Mapping[str, Quantity]
                  ) -> tuple[list[tuple[str, str, bool, tuple[float, float] | None]],
                             np.ndarray, list[str]]:
    """``(paramnames entries (name, LaTeX, derived, range), matrix (n, n_columns), left out)``
    for the sample values ``columns`` (name -> ``(n,)``) described by ``quantities``."""
    entries, data, dropped = [], [], []
    logs = []
    for name, values in columns.items():
        q = quantities.get(name)
        x = np.asarray(values, dtype=float).ravel()
        derived = q is None or q.derived
        if derived and (not np.all(np.isfinite(x)) or np.all(x == x[0])):
            dropped.append(name)
            continue
        rng = (q.prior.low, q.prior.high) if q is not None and q.prior is not None else None
        entries.append((name, (q.latex if q is not None else "") or name, derived, rng))
        data.append(x)
        if q is not None and q.scale == "log10" and np.all(x > 0):
            lrng = (np.log10(rng[0]), np.log10(rng[1])) if rng and rng[0] > 0 else None
            logs.append(((f"log10_{name}", _log_latex(q), True, lrng), np.log10(x)))
    for entry, x in logs:
        entries.append(entry)
        data.append(x)
    return entries, np.column_stack(data) if data else np.empty((0, 0)), dropped


def write_chain(root: Path, weights: np.ndarray, minus_log_post: np.ndarray,
                columns: Mapping[str, np.ndarray],
                quantities: Mapping[str, Quantity]) -> list[str]:
    """Write ``<root>.txt``, ``.paramnames`` and ``.ranges`` (each atomically); returns the
    columns left out (constant or not finite)."""
    root = Path(root)
    entries, matrix, dropped = chain_columns(columns, quantities)
    table = np.column_stack([np.asarray(weights, dtype=float),
                             np.asarray(minus_log_post, dtype=float), matrix])

    def atomic(suffix: str, write) -> None:
        path = root.with_name(root.name + suffix)
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        os.replace(tmp, path)

    atomic(".txt", lambda p: np.savetxt(p, table, fmt="%.12e", delimiter="  "))
    atomic(".paramnames", lambda p: p.write_text(
        "".join(f"{n}{'*' if d else ''}\t{tex}\n" for n, tex, d, _ in entries)))
    atomic(".ranges", lambda p: p.write_text(
        "".join(f"{n}\t{_bound(r[0])}\t{_bound(r[1])}\n" for n, _, _, r in entries
                if r is not None)))
    return dropped
