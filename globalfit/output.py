"""Run outputs in ``chains/<run name>/``: ArviZ NetCDF, summary table, manifest, config.

``posterior.nc`` holds the groups ``posterior`` (sampled
parameters and every derived quantity: all model observables and per-likelihood extras such
as expected signal events), ``constant_data`` (the fixed parameters), ``sample_stats``
(``lp``, the log-posterior; the sampler's per-chain and per-parameter statistics, e.g.
emcee's ``acceptance_fraction`` (chain) and ``autocorr_time`` (parameter)),
``log_likelihood`` (one variable per experiment), ``log_prior`` and, for nested sampling,
``nested_samples`` (the weighted samples with ``log_weight``; ``ln Z`` and its error as
attributes of ``sample_stats`` and ``nested_samples``). Every variable of ``posterior`` and
``constant_data`` carries ``units``, ``long_name``, ``latex``, ``role``, ``scale`` and its
prior (``prior``, ``prior_low``, ``prior_high``, ...: :func:`globalfit.quantities.netcdf_attrs`);
the root group carries the run's global attributes (status, config hash, versions, git
commit: the manifest's content), nested values as JSON strings. The groups are built with
xarray and written with xarray's NetCDF writer, so the file is the same with ArviZ 0.x and
1.x; open it with ``arviz.from_netcdf`` (an ``InferenceData`` in ArviZ 0.x, an
``xarray.DataTree`` in 1.x) or ``xarray.open_datatree``.
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
from .quantities import Quantity, describe_run, fixed_parameters, netcdf_attrs, scaled
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


def posterior_columns(posterior: JointPosterior, theta: np.ndarray,
                      values: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The variables of the ``posterior`` group at ``theta`` ``(n, ndim)``: the sampled
    parameters, then every observable that is not one of them and every likelihood extra,
    ``(n,)`` each (``values``: :func:`derived_quantities` at ``theta`` if already computed)."""
    values = derived_quantities(posterior, theta) if values is None else values
    out = {name: np.asarray(theta[:, j], dtype=float) for j, name in enumerate(posterior.names)}
    for key, arr in values.items():
        kind, _, name = key.partition(":")
        if kind in ("obs", "extra") and name not in out:
            out[name] = np.asarray(arr, dtype=float)
    return out


class RunData(abc.Mapping):
    """The groups of ``posterior.nc``: ``{group name: xarray.Dataset}``, with attribute access
    (``data.posterior``) as in ArviZ's InferenceData (0.x) and DataTree (1.x)."""

    def __init__(self, groups: Mapping[str, Any], attrs: Mapping[str, Any] | None = None,
                 quantities: Mapping[str, Quantity] | None = None) -> None:
        self._groups = dict(groups)
        self.__dict__["attrs"] = netcdf_safe(attrs or {})
        self.__dict__["quantities"] = dict(quantities or {})

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
        return write_netcdf(self, path, self.attrs)


def netcdf_safe(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes NetCDF can hold: dicts and lists as JSON strings, booleans as 0/1,
    None left out."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, (dict, list, tuple)):
            v = json.dumps(v, sort_keys=True, default=_json_default)
        elif isinstance(v, (bool, np.bool_)):
            v = int(v)
        out[k] = v
    return out


def write_netcdf(groups: Mapping[str, Any], path: str | os.PathLike,
                 attrs: Mapping[str, Any] | None = None) -> Path:
    """Write ``{group: xarray.Dataset}`` to the NetCDF file ``path`` with xarray directly
    (engine h5netcdf), one group per dataset, and ``attrs`` on the root group; no ArviZ
    object is involved, so the file is the same whichever ArviZ is installed."""
    import xarray as xr
    path = Path(path)
    with stage(f"writing {path.name.removesuffix('.tmp')}"):
        xr.Dataset(attrs=netcdf_safe(attrs or {})).to_netcdf(path, mode="w",
                                                              engine="h5netcdf")
        for name, ds in groups.items():
            ds.to_netcdf(path, mode="a", group=name, engine="h5netcdf")
    return path


def build_inference_data(result: SamplerResult, posterior: JointPosterior,
                         attrs: Mapping[str, Any] | None = None,
                         global_attrs: Mapping[str, Any] | None = None) -> RunData:
    """The groups of ``posterior.nc`` for ``result`` (see the module docstring), built as
    ``xarray.Dataset`` objects, with derived quantities recomputed at every posterior draw
    (one vectorised pass). ``attrs`` go on every group, ``global_attrs`` on the root; the
    quantities of the posterior group (with their scale) are ``RunData.quantities``."""
    import xarray as xr

    samples = result.samples
    n_chain, n_draw, ndim = samples.shape
    flat = samples.reshape(-1, ndim)
    with stage(f"derived quantities at {flat.shape[0]} draws"):
        values = derived_quantities(posterior, flat)

    def shaped(arr: np.ndarray) -> np.ndarray:
        return np.asarray(arr, dtype=float).reshape(n_chain, n_draw)

    post = {k: shaped(v) for k, v in posterior_columns(posterior, flat, values).items()}
    attrs = netcdf_safe(attrs or {})
    attrs["created_by"] = f"globalfit-dtmm {_version('globalfit-dtmm')}"
    stats_attrs = dict(attrs)
    if result.nested is not None:
        stats_attrs.update(logz=float(result.nested["logz"]),
                           logzerr=float(result.nested["logzerr"]))
    coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    dims = ("chain", "draw")
    quantities = scaled(describe_run(posterior), post)

    def dataset(data: Mapping[str, np.ndarray], group_attrs: Mapping[str, Any]) -> Any:
        return xr.Dataset({k: (dims, np.asarray(v),
                               netcdf_attrs(quantities[k]) if k in quantities else {})
                           for k, v in data.items()}, coords=coords, attrs=dict(group_attrs))

    stats = dataset({"lp": shaped(values["lp"])}, stats_attrs)
    stats["lp"].attrs.update(units="1", long_name="log posterior density (unnormalised)")
    for key, arr in result.chain_stats.items():
        stats[key] = (("chain",), np.asarray(arr, dtype=float))
    if result.parameter_stats:
        stats = stats.assign_coords(parameter=np.array(posterior.names, dtype=object))
        for key, arr in result.parameter_stats.items():
            stats[key] = (("parameter",), np.asarray(arr, dtype=float))
    if "autocorr_time" in stats:
        stats["autocorr_time"].attrs.update(units="steps",
                                            long_name="integrated autocorrelation time")
    if "acceptance_fraction" in stats:
        stats["acceptance_fraction"].attrs.update(
            units="1", long_name="fraction of accepted proposals over the whole chain")
    fixed = fixed_parameters(posterior)
    groups = {
        "posterior": dataset(post, attrs),
        "sample_stats": stats,
        "log_likelihood": dataset({label: shaped(values[f"ll:{label}"])
                                   for label in posterior.likelihoods}, attrs),
        "log_prior": dataset({"log_prior": shaped(values["log_prior"])}, attrs),
    }
    for label in posterior.likelihoods:
        groups["log_likelihood"][label].attrs.update(units="1", long_name=f"ln L of {label}")
    if fixed:
        groups["constant_data"] = xr.Dataset(
            {name: ((), float(q.prior.value), netcdf_attrs(q)) for name, q in fixed.items()},
            attrs=dict(attrs))
    if result.nested is not None:
        nest = result.nested
        data = {name: (("sample",), nest["samples"][:, j])
                for j, name in enumerate(posterior.names)}
        data["log_weight"] = (("sample",), nest["log_weight"])
        data["log_likelihood"] = (("sample",), nest["log_likelihood"])
        groups["nested_samples"] = xr.Dataset(
            data, coords={"sample": np.arange(len(nest["log_weight"]))},
            attrs={"logz": float(nest["logz"]), "logzerr": float(nest["logzerr"])})
        groups["nested_samples"]["log_weight"].attrs.update(
            units="1", long_name="ln of the normalised importance weight")
    return RunData(groups, global_attrs, quantities)


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
        if finite.size == x.size and finite.size and np.all(finite == finite[0]):
            # identical at every draw: exact value, no spread, and no convergence
            # diagnostic (ArviZ gives NaN R-hat and an ESS equal to the number of draws)
            rows[name].update(mean=float(finite[0]), sd=0.0, q5=float(finite[0]),
                              q50=float(finite[0]), q95=float(finite[0]), r_hat=np.nan,
                              ess_bulk=np.nan, ess_tail=np.nan)
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
