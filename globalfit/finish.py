"""The end of a run: everything written into ``chains/<name>/`` once the sampler has
returned, and the exit status.

Order: the groups of ``posterior.nc`` are built (derived quantities at every draw), the
ArviZ summary table gives R-hat and ESS, :func:`globalfit.convergence.assess` the verdict;
then ``posterior.nc`` (with the verdict and the manifest's content as global attributes),
``summary.csv``, the physics summary (logged line by line, so ``--quiet`` silences it, and
written to ``summary.md``), the GetDist text chain, the plots and, last, ``manifest.json``
(its presence marks a finished run). An unconverged run logs one WARNING line naming the
failing parameters.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .convergence import Convergence, assess, fmt_number
from .evidence import no_signal_lnl
from .output import build_inference_data, posterior_columns, summary_table, write_json
from .plots import corner_plot, trace_plot
from .quantities import Quantity, axis_label, experiment_label, prior_predictive
from .summary import physics_summary
from .textchain import write_chain

log = logging.getLogger("globalfit")

#: prior draws for the prior-predictive widths of derived quantities
N_PRIOR_DRAWS = 4000
#: posterior draws at which the no-signal ln L is checked against the spectator observables
N_SPECTATORS = 64
#: physics quantities of corner_physics.png, in this order when present and not constant
#: (then the likelihood extras), at most :data:`MAX_PHYSICS_CORNER`
PHYSICS_CORNER = ("mu_eff_mub", "eps", "m_aprime_gev", "br_mu_e_gamma", "br_inv")
MAX_PHYSICS_CORNER = 6


def finish_run(cfg: Any, result: Any, manifest: dict[str, Any], t_start: float,
               manifest_path: Path) -> int:
    """Write every output of the finished sampler ``result`` for the config ``cfg``
    (:class:`globalfit.config.FitConfig`); ``manifest``: the run's manifest so far (run
    name, seed, versions, ...), completed here and written last to ``manifest_path``.
    Returns the exit status (0, or :data:`globalfit.convergence.EXIT_NOT_CONVERGED`)."""
    run_dir: Path = cfg.run_dir
    posterior = cfg.posterior
    names = list(posterior.names)
    data = build_inference_data(result, posterior,
                                attrs={"run_name": cfg.run_name, "seed": cfg.seed,
                                       "sampler": cfg.sampler["name"]})
    quantities: dict[str, Quantity] = data.quantities
    table = summary_table(data, names + [n for n in data.posterior.data_vars if n not in names])
    conv = assess(table, names, result.converged, result.criterion)
    manifest["status"] = conv.status
    manifest["convergence"] = conv.manifest()
    data.attrs.update(_global_attrs(manifest))
    tmp = run_dir / "posterior.nc.tmp"
    data.to_netcdf(tmp)
    os.replace(tmp, run_dir / "posterior.nc")
    table.to_csv(run_dir / "summary.csv", float_format="%.6g")

    summary = _physics(cfg, data, quantities, table, conv, result)
    for line in summary.lines():
        log.info("%s", line)
    (run_dir / "summary.md").write_text(summary.markdown())
    manifest["summary"] = {"prior_dominated": summary.prior_dominated,
                           "constant": sorted(summary.constant),
                           "best_fit": summary.best_fit, "evidence": summary.evidence}
    manifest["getdist_chain_dropped"] = _text_chain(cfg, data, quantities, result)
    if cfg.resolved["output"]["plots"]:
        _plots(cfg, data, quantities, set(summary.constant))
    if conv.verdict in ("not converged", "criteria not met"):
        log.warning("%s: %s", cfg.run_name, conv.message())
    manifest["wall_time_s"] = time.time() - t_start
    manifest["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json(manifest_path, manifest)
    log.info("done in %.1f s (%s): max R-hat %s, min bulk ESS %s -> %s", manifest["wall_time_s"],
             conv.verdict, fmt_number(conv.max_r_hat, ".4f"),
             fmt_number(conv.min_ess_bulk, ".0f"), run_dir)
    return conv.exit_code


def _global_attrs(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's content for the root group of posterior.nc (no wall times: they are
    known only once every file is written)."""
    keys = ("run_name", "status", "seed", "config_file", "config_sha256", "resumed",
            "started_utc", "git_commit", "packages", "n_processes", "pool", "sampler",
            "rejections", "parameters", "likelihoods", "convergence")
    out = {k: manifest[k] for k in keys if k in manifest}
    conv = manifest["convergence"]
    claimed = conv["verdict"] in ("converged", "not converged", "criteria not met")
    out["failing_parameters"] = sorted(conv["failing"]) if claimed else []
    return out


def _physics(cfg: Any, data: Any, quantities: Mapping[str, Quantity], table: Any,
             conv: Convergence, result: Any) -> Any:
    posterior = cfg.posterior
    post = data.posterior
    prior = prior_predictive(posterior, N_PRIOR_DRAWS, cfg.seed)
    flat = {k: np.asarray(post[k]).ravel()[:N_SPECTATORS] for k in post.data_vars}
    no_signal = no_signal_lnl(posterior.likelihoods, flat)
    n_chain, n_draw = np.asarray(post[posterior.names[0]]).shape
    header = (f"physics summary of run {cfg.run_name}: {cfg.sampler['name']}, "
              f"{posterior.ndim} sampled parameters, {n_chain * n_draw} draws "
              f"({n_chain} chains x {n_draw})")
    experiments = {label: experiment_label(like)
                   for label, like in posterior.likelihoods.items()}
    return physics_summary(data, quantities, prior, table, conv, no_signal, experiments,
                           header, result.nested, list(posterior.names))


def _text_chain(cfg: Any, data: Any, quantities: Mapping[str, Quantity],
                result: Any) -> list[str]:
    """``<run name>.txt`` / ``.paramnames`` / ``.ranges``: the equal-weight draws (MCMC) or
    the weighted nested samples; returns the columns left out."""
    root = cfg.run_dir / cfg.run_name
    if result.nested is not None:
        theta = np.asarray(result.nested["samples"], dtype=float)
        columns = posterior_columns(cfg.posterior, theta)
        lp = cfg.posterior.log_posterior(theta)
        w = np.exp(np.asarray(result.nested["log_weight"], dtype=float))
        keep = w > 0
        return write_chain(root, w[keep] / w.sum(), -lp[keep],
                           {k: v[keep] for k, v in columns.items()}, quantities)
    post = data.posterior
    columns = {k: np.asarray(post[k]).ravel() for k in post.data_vars}
    lp = np.asarray(data.sample_stats["lp"]).ravel()
    return write_chain(root, np.ones(lp.size), -lp, columns, quantities)


def _zero_fraction(values: np.ndarray) -> float:
    """Fraction of the draws at which a quantity is exactly 0 (e.g. BR_inv and NA64's
    signal while A' -> N N is closed): a point mass that neither a linear nor a log10 axis
    of a corner plot shows; such quantities are left out of corner_physics.png."""
    return float(np.mean(np.asarray(values, dtype=float) == 0.0))


def _plots(cfg: Any, data: Any, quantities: Mapping[str, Quantity], constant: set[str]) -> None:
    run_dir = cfg.run_dir
    names = list(cfg.posterior.names)
    labels = {n: axis_label(q) for n, q in quantities.items()}
    logs = {n for n, q in quantities.items() if q.scale == "log10"}
    corner_plot(data, names, run_dir / "corner.png", logs, labels=labels,
                title=f"run {cfg.run_name}: sampled parameters")
    trace_plot(data, names, run_dir / "trace.png", logs, labels=labels)
    post = data.posterior
    wanted = [n for n in PHYSICS_CORNER if n in quantities and n not in constant]
    wanted += [n for n, q in quantities.items()
               if q.role == "extra" and n not in constant and n not in wanted]
    zero = [n for n in wanted if _zero_fraction(np.asarray(post[n])) > 0.01]
    physics = [n for n in wanted if n not in zero][:MAX_PHYSICS_CORNER]
    note = f"run {cfg.run_name}: physics quantities"
    if zero:
        tex = ", ".join(f"${quantities[n].latex}$" for n in zero)
        note += f"\nnot shown, exactly 0 at part of the draws (see summary.md): {tex}"
    if len(physics) >= 2:
        corner_plot(data, physics, run_dir / "corner_physics.png", logs, labels=labels,
                    title=note)
    else:
        log.info("corner_physics.png: fewer than two physics quantities vary; not drawn")
