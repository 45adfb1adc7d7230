"""Run outputs in ``chains/<run name>/``: ArviZ NetCDF, summary table, manifest, config.

``posterior.nc`` holds the groups ``posterior`` (sampled
parameters and every derived quantity: all model observables and per-likelihood extras such
as expected signal events), ``sample_stats`` (``lp``, the log-posterior), ``log_likelihood``
(one variable per experiment), ``log_prior`` and, for nested sampling, ``nested_samples``
(the weighted samples with ``log_weight``; ``ln Z`` and its error as attributes of
``sample_stats`` and ``nested_samples``). The groups are built with xarray and written
with xarray's NetCDF writer, so the file is the same with ArviZ 0.x and 1.x; open it with
``arviz.from_netcdf`` (an ``InferenceData`` in ArviZ 0.x, an ``xarray.DataTree`` in 1.x) or
``xarray.open_datatree``.
"""
from __future__ import annotations

from collections import abc
import json
import logging
import os
import platform
import subprocess
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

logging.getLogger("arviz").setLevel(logging.WARNING)

from likelihoods.evaluate import nuisance_parameter_name
from .joint import JointPosterior
from .progress import stage
from .samplers import SamplerResult

NETCDF_NAME = "posterior.nc"
PACKAGES = ("numpy", "scipy", "emcee", "dynesty", "arviz", "arviz-base", "arviz-stats",
            "xarray", "h5netcdf", "pandas", "corner", "h5py", "PyYAML", "matplotlib",
            "platformdirs", "mpi4py", "nautilus-sampler", "globalfit-dtmm")


def derived_quantities(posterior: JointPosterior, theta: np.ndarray,
                       block: int = 4096) -> dict[str, np.ndarray]:
    """Observables, likelihood extras, terms, log-prior at ``theta`` ``(n, ndim)``: a dict
    of ``(n,)`` arrays with keys ``obs:<name>``, ``extra:<label>_<name>`` (the declared
    ``derived_names`` of each likelihood, from its ``derived(observables, nuisances)``),
    ``ll:<label>``, ``log_prior`` and ``lp`` (log-posterior), evaluated in blocks of
    ``block`` points."""
    out: dict[str, list[np.ndarray]] = {}

    def add(key: str, arr: np.ndarray) -> None:
        out.setdefault(key, []).append(np.asarray(arr, dtype=float))

    for i in range(0, theta.shape[0], block):
        chunk = theta[i:i + block]
        ev = posterior.evaluate(chunk)
        for name, arr in ev.observables.items():
            add(f"obs:{name}", arr)
        for label, arr in ev.terms.items():
            add(f"ll:{label}", arr)
        add("log_prior", ev.log_prior)
        add("lp", ev.log_post)
        values = posterior.parameter_values(chunk)
        for label, like in posterior.likelihoods.items():
            if not like.derived_names:
                continue
            sub = {k: ev.observables[k] for k in like.requires}
            nuis = {nu.name: values[nuisance_parameter_name(label, nu)]
                    for nu in like.nuisances} or None
            res = like.derived(sub, nuis)
            for name in like.derived_names:
                add(f"extra:{label}_{name}", res[name])
    return {k: np.concatenate(v) for k, v in out.items()}


class RunData(abc.Mapping):
    """The groups of ``posterior.nc``: ``{group name: xarray.Dataset}``, with attribute access
    (``data.posterior``) as in ArviZ's InferenceData (0.x) and DataTree (1.x)."""

    def __init__(self, groups: Mapping[str, Any]) -> None:
        self._groups = dict(groups)

    def __getitem__(self, name: str) -> Any:
        return self._groups[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_groups"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_netcdf(self, path: str | os.PathLike) -> Path:
        """Write every group to ``path`` (one NetCDF-4/HDF5 group each), the layout
        ``arviz.from_netcdf`` reads in ArviZ 0.x and 1.x."""
        return write_netcdf(self, path)


def write_netcdf(groups: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``{group: xarray.Dataset}`` to the NetCDF file ``path`` with xarray directly
    (engine h5netcdf), one group per dataset; no ArviZ object is involved, so the file is
    the same whichever ArviZ is installed."""
    path = Path(path)
    with stage(f"writing {path.name.removesuffix('.tmp')}"):
        for i, (name, ds) in enumerate(groups.items()):
            ds.to_netcdf(path, mode="w" if i == 0 else "a", group=name, engine="h5netcdf")
    return path


def build_inference_data(result: SamplerResult, posterior: JointPosterior,
                         attrs: Mapping[str, Any] | None = None) -> RunData:
    """The groups of ``posterior.nc`` for ``result`` (see the module docstring), built as
    ``xarray.Dataset`` objects, with derived quantities recomputed at every posterior draw
    (one vectorised pass)."""
    import xarray as xr

    samples = result.samples
    n_chain, n_draw, ndim = samples.shape
    flat = samples.reshape(-1, ndim)
    with stage(f"derived quantities at {flat.shape[0]} draws"):
        values = derived_quantities(posterior, flat)

    def shaped(arr: np.ndarray) -> np.ndarray:
        return np.asarray(arr, dtype=float).reshape(n_chain, n_draw)

    post = {name: samples[:, :, j] for j, name in enumerate(posterior.names)}
    for key, arr in values.items():
        kind, _, name = key.partition(":")
        if kind in ("obs", "extra") and name not in post:
            post[name] = shaped(arr)
    attrs = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
             for k, v in (attrs or {}).items() if v is not None}
    attrs["created_by"] = f"globalfit-dtmm {_version('globalfit-dtmm')}"
    stats_attrs = dict(attrs)
    if result.nested is not None:
        stats_attrs.update(logz=float(result.nested["logz"]),
                           logzerr=float(result.nested["logzerr"]))
    coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    dims = ("chain", "draw")

    def dataset(data: Mapping[str, np.ndarray], group_attrs: Mapping[str, Any]) -> Any:
        return xr.Dataset({k: (dims, np.asarray(v)) for k, v in data.items()}, coords=coords,
                          attrs=dict(group_attrs))

    groups = {
        "posterior": dataset(post, attrs),
        "sample_stats": dataset({"lp": shaped(values["lp"])}, stats_attrs),
        "log_likelihood": dataset({label: shaped(values[f"ll:{label}"])
                                   for label in posterior.likelihoods}, attrs),
        "log_prior": dataset({"log_prior": shaped(values["log_prior"])}, attrs),
    }
    if result.nested is not None:
        nest = result.nested
        data = {name: (("sample",), nest["samples"][:, j])
                for j, name in enumerate(posterior.names)}
        data["log_weight"] = (("sample",), nest["log_weight"])
        data["log_likelihood"] = (("sample",), nest["log_likelihood"])
        groups["nested_samples"] = xr.Dataset(
            data, coords={"sample": np.arange(len(nest["log_weight"]))},
            attrs={"logz": float(nest["logz"]), "logzerr": float(nest["logzerr"])})
    return RunData(groups)


def summary_table(idata: Any, var_names: list[str]) -> Any:
    """``pandas.DataFrame``: mean, sd, 5/50/95 % quantiles, R-hat, bulk and tail ESS of the
    ``posterior`` group of ``idata`` (RunData, ArviZ 0.x InferenceData or 1.x DataTree)."""
    import pandas as pd
    az = _arviz()

    rows = {}
    post = _dataset(idata.posterior)[var_names]
    with stage(f"summary table of {len(var_names)} quantities"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # R-hat of constant quantities
        rhat = az.rhat(post, var_names=var_names)
        ess_bulk = az.ess(post, var_names=var_names, method="bulk")
        ess_tail = az.ess(post, var_names=var_names, method="tail")
    for name in var_names:
        x = np.asarray(post[name]).ravel()
        finite = x[np.isfinite(x)]
        q = np.percentile(finite, [5, 50, 95]) if finite.size else [np.nan] * 3
        rows[name] = {
            "mean": float(np.mean(finite)) if finite.size else np.nan,
            "sd": float(np.std(finite, ddof=1)) if finite.size > 1 else np.nan,
            "q5": q[0], "q50": q[1], "q95": q[2],
            "r_hat": float(rhat[name]), "ess_bulk": float(ess_bulk[name]),
            "ess_tail": float(ess_tail[name]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _dataset(group: Any) -> Any:
    """An ``xarray.Dataset`` of a group (a DataTree node in ArviZ 1.x, a Dataset before)."""
    import xarray as xr
    return group if isinstance(group, xr.Dataset) else group.to_dataset()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _arviz() -> Any:
    """Import ArviZ without its refactoring announcements (0.x FutureWarning, 1.x
    MigrationWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz
    return arviz


def git_commit(root: Path) -> str | None:
    """The checked-out commit of ``root`` (None outside a git repository)."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON atomically (temporary file + rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
