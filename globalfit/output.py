"""Run outputs in ``chains/<run name>/``: ArviZ NetCDF, summary table, manifest, config.

``posterior.nc`` (ArviZ ``InferenceData``) holds the groups ``posterior`` (sampled
parameters and every derived quantity: all model observables and per-likelihood extras such
as expected signal events), ``sample_stats`` (``lp``, the log-posterior), ``log_likelihood``
(one variable per experiment), ``log_prior`` and, for nested sampling, ``nested_samples``
(the weighted samples with ``log_weight``; ``ln Z`` and its error as attributes of
``sample_stats`` and ``nested_samples``). Open it with ``arviz.from_netcdf``.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np

logging.getLogger("arviz").setLevel(logging.WARNING)

from likelihoods.evaluate import nuisance_parameter_name
from .joint import JointPosterior
from .samplers import SamplerResult

NETCDF_NAME = "posterior.nc"
PACKAGES = ("numpy", "scipy", "emcee", "dynesty", "arviz", "corner", "h5py", "PyYAML",
            "matplotlib", "mpi4py", "globalfit-dtmm")


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


def build_inference_data(result: SamplerResult, posterior: JointPosterior,
                         attrs: Mapping[str, Any] | None = None) -> Any:
    """ArviZ ``InferenceData`` for ``result`` with derived quantities recomputed at every
    posterior draw (one vectorised pass)."""
    import xarray as xr
    az = _arviz()

    samples = result.samples
    n_chain, n_draw, ndim = samples.shape
    flat = samples.reshape(-1, ndim)
    values = derived_quantities(posterior, flat)

    def shaped(arr: np.ndarray) -> np.ndarray:
        return arr.reshape(n_chain, n_draw)

    post = {name: samples[:, :, j] for j, name in enumerate(posterior.names)}
    for key, arr in values.items():
        kind, _, name = key.partition(":")
        if kind in ("obs", "extra") and name not in post:
            post[name] = shaped(arr)
    attrs = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
             for k, v in (attrs or {}).items() if v is not None}
    stats_attrs = dict(attrs)
    if result.nested is not None:
        stats_attrs.update(logz=result.nested["logz"], logzerr=result.nested["logzerr"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = az.from_dict(
            posterior=post,
            sample_stats={"lp": shaped(values["lp"])},
            log_likelihood={label: shaped(values[f"ll:{label}"])
                            for label in posterior.likelihoods},
            attrs=attrs,
        )
        idata.sample_stats.attrs.update(stats_attrs)
        coords = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
        log_prior = xr.Dataset({"log_prior": (("chain", "draw"),
                                              shaped(values["log_prior"]))}, coords=coords)
        groups = {"log_prior": log_prior}
        if result.nested is not None:
            nest = result.nested
            data = {name: (("sample",), nest["samples"][:, j])
                    for j, name in enumerate(posterior.names)}
            data["log_weight"] = (("sample",), nest["log_weight"])
            data["log_likelihood"] = (("sample",), nest["log_likelihood"])
            groups["nested_samples"] = xr.Dataset(
                data, coords={"sample": np.arange(len(nest["log_weight"]))},
                attrs={"logz": nest["logz"], "logzerr": nest["logzerr"]})
        idata.add_groups(groups)
    return idata


def summary_table(idata: Any, var_names: list[str]) -> Any:
    """``pandas.DataFrame``: mean, sd, 5/50/95 % quantiles, R-hat, bulk and tail ESS."""
    import pandas as pd
    az = _arviz()

    rows = {}
    post = idata.posterior
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # R-hat of constant quantities
        rhat = az.rhat(idata, var_names=var_names)
        ess_bulk = az.ess(idata, var_names=var_names, method="bulk")
        ess_tail = az.ess(idata, var_names=var_names, method="tail")
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


def _arviz() -> Any:
    """Import ArviZ without its refactoring announcement (a FutureWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
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
