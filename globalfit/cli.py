"""Command line: ``globalfit fit --config fit.yaml [--resume | --force]``.

``globalfit limits ...`` and ``globalfit validate ...`` are handed to the ``main`` of
globalfit.limits and globalfit.validate.

Exit status: 0 done, 2 bad input (one line on stderr naming file and key), 128 + signal
number when stopped by SIGTERM/SIGINT after writing a checkpoint. Under ``mpirun -n N`` every
rank runs this same code: all validate the config, rank 0 drives the sampler and writes the
output, the other ranks evaluate blocks of the vectorised posterior.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from .errors import ConfigError, GlobalFitError

log = logging.getLogger("globalfit")

CONFIG_NAME = "config.yaml"
MANIFEST_NAME = "manifest.json"
CHECKPOINT_NAMES = {"emcee": "checkpoint.h5", "dynesty": "checkpoint.dynesty"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="globalfit", description="Bayesian global fit of dark transition magnetic moments.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    fit = sub.add_parser("fit", help="run a fit described by a YAML config")
    fit.add_argument("--config", default="fit.yaml", help="fit config (default: fit.yaml)")
    mode = fit.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the run in chains/<name>/ from its checkpoint")
    mode.add_argument("--force", action="store_true",
                      help="delete an existing run directory of the same name first")
    fit.add_argument("--quiet", action="store_true", help="log warnings only")
    sub.add_parser("limits", help="upper-limit curves (globalfit limits --help)",
                   add_help=False)
    sub.add_parser("validate", help="cross-checks against published results "
                                    "(globalfit validate --help)", add_help=False)
    return parser


#: subcommands implemented by other modules: name -> module with ``main(argv) -> int``
DELEGATED = {"limits": "globalfit.limits", "validate": "globalfit.validate",
             "cache": "globalfit.cachecmd"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``globalfit`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        import importlib
        return int(importlib.import_module(DELEGATED[argv[0]]).main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    if args.quiet:
        from .progress import set_quiet
        set_quiet(True)
    if args.command == "fit":
        return fit_command(args.config, resume=args.resume, force=args.force)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _prepare_run_dir(cfg: Any, resume: bool, force: bool) -> str:
    """Check the run directory against the flags; return ``"new"``, ``"resume"`` or
    ``"complete"``. Raises ConfigError without touching files when refusing."""
    import yaml

    from .config import compatible_for_resume
    run_dir = cfg.run_dir
    exists = run_dir.exists() and any(run_dir.iterdir())
    if not exists:
        return "new"
    if force:
        shutil.rmtree(run_dir)
        return "new"
    if not resume:
        raise ConfigError(f"{run_dir}: run directory exists; use --resume to continue it or "
                          "--force to overwrite it")
    old_path = run_dir / CONFIG_NAME
    try:
        old = yaml.safe_load(old_path.read_text())
    except (OSError, yaml.YAMLError):
        raise ConfigError(f"{old_path}: missing or unreadable; cannot resume "
                          "(use --force to start over)") from None
    problems = compatible_for_resume(old, cfg.resolved)
    if problems:
        raise ConfigError(f"{cfg.path.name}: {problems[0]}: differs from the run being resumed "
                          f"({old_path}); changed: {', '.join(problems)} "
                          "(use --force to start over)")
    manifest = run_dir / MANIFEST_NAME
    if manifest.is_file():
        import json
        if json.loads(manifest.read_text()).get("status") == "complete":
            return "complete"
    return "resume"


def fit_command(config: str | os.PathLike, resume: bool = False, force: bool = False) -> int:
    """Validate ``config``, run its sampler and write ``chains/<name>/``; exit status."""
    from .samplers.pool import MPIPool, make_pool, mpi_world_size, register

    mpi = mpi_world_size() > 1
    comm = None
    rank = 0
    if mpi:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        rank = comm.Get_rank()
    decision: Any = None
    try:
        from .config import load_config
        from .progress import stage
        with stage(f"config {config}: loading, building the likelihoods"):
            cfg = load_config(config)
        if rank == 0:
            decision = _prepare_run_dir(cfg, resume, force)
    except GlobalFitError as exc:
        decision = exc
    if comm is not None:
        decision = comm.bcast(decision if rank == 0 else None, root=0)
    if isinstance(decision, GlobalFitError):
        if rank == 0:
            print(str(decision).splitlines()[0], file=sys.stderr)
        return 2
    if decision == "complete":
        if rank == 0:
            log.info("%s is already complete; nothing to do", cfg.run_dir)
        return 0

    register("posterior", cfg.posterior)
    if comm is not None:
        _warm_up(cfg, comm, rank)
    sampler_opts = cfg.sampler
    pool = make_pool("mpi" if mpi else sampler_opts["pool"], sampler_opts.get("n_processes"))
    if isinstance(pool, MPIPool) and not pool.is_master:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        pool.wait()
        return 0
    try:
        return _run(cfg, decision, pool)
    finally:
        pool.close()


def _warm_up(cfg: Any, comm: Any, rank: int) -> None:
    """Rank 0 evaluates the posterior once (building any on-disk caches of the likelihoods)
    while the other ranks wait without spinning, so that N ranks do not build the same
    cache N times."""
    import numpy as np
    if rank == 0:
        theta = cfg.posterior.priors.sample(np.random.default_rng(cfg.seed), 1)
        cfg.posterior.evaluate(theta)
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.05)


def _run(cfg: Any, decision: str, pool: Any) -> int:
    import yaml

    from .output import (build_inference_data, git_commit, package_versions, summary_table,
                         write_json)
    from .samplers import StopFlag
    from .samplers.pool import ChunkedFunction, Ref

    t_start = time.time()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = decision == "resume"
    if not resume:
        tmp = run_dir / (CONFIG_NAME + ".tmp")
        tmp.write_text(yaml.safe_dump(cfg.resolved, sort_keys=False))
        os.replace(tmp, run_dir / CONFIG_NAME)
    opts = cfg.sampler
    checkpoint = run_dir / CHECKPOINT_NAMES[opts["name"]]
    posterior = cfg.posterior
    log.info("run %s: %s on %d parameter(s) (%s), %d process(es)%s", cfg.run_name, opts["name"],
             posterior.ndim, ", ".join(posterior.names), pool.size,
             ", resuming" if resume else "")
    stop = StopFlag().install()
    try:
        if opts["name"] == "emcee":
            from .samplers.emcee_adapter import run_emcee
            fn = ChunkedFunction(Ref("posterior", "log_posterior_sampling"), pool)
            result = run_emcee(fn, posterior.priors, opts, cfg.seed, checkpoint, resume, stop)
            rejections = dict(fn.counts)
        else:
            from .samplers.dynesty_adapter import run_dynesty
            result = run_dynesty(Ref("posterior", "loglike_point"),
                                 Ref("posterior", "prior_transform_point"), posterior.ndim,
                                 opts, cfg.seed, checkpoint, resume, stop, pool)
            rejections = dict(posterior.rejections)
    finally:
        stop.restore()
    if not result.completed:
        print(f"{run_dir}: stopped by signal {stop.signum}; checkpoint saved, continue with "
              "--resume", file=sys.stderr)
        return 128 + int(stop.signum or 0)

    manifest: dict[str, Any] = {
        "run_name": cfg.run_name,
        "config_file": str(cfg.path),
        "status": "complete",
        "seed": cfg.seed,
        "resumed": resume,
        "started_utc": started,
        "git_commit": git_commit(Path(__file__).resolve().parents[1]),
        "packages": package_versions(),
        "n_processes": pool.size,
        "pool": type(pool).__name__,
        "sampler": result.stats,
        "rejections": rejections,
        "parameters": list(posterior.names),
        "likelihoods": dict(cfg.labels),
    }
    idata = build_inference_data(result, posterior,
                                 attrs={"run_name": cfg.run_name, "seed": cfg.seed,
                                        "sampler": opts["name"]})
    tmp = run_dir / "posterior.nc.tmp"
    idata.to_netcdf(str(tmp))
    os.replace(tmp, run_dir / "posterior.nc")
    names = list(posterior.names)
    table = summary_table(idata, names + [n for n in idata.posterior.data_vars
                                          if n not in names])
    table.to_csv(run_dir / "summary.csv", float_format="%.6g")
    (run_dir / "summary.txt").write_text(table.to_string(float_format=lambda x: f"{x:.4g}")
                                         + "\n")
    sampled = table.loc[names]
    manifest["convergence"] = {
        "max_r_hat": float(sampled["r_hat"].max()),
        "min_ess_bulk": float(sampled["ess_bulk"].min()),
        "min_ess_tail": float(sampled["ess_tail"].min()),
        "r_hat_below_1.01": bool((sampled["r_hat"] < 1.01).all()),
        "ess_bulk_at_least_1000": bool((sampled["ess_bulk"] >= 1000).all()),
    }
    if cfg.resolved["output"]["plots"]:
        from .plots import corner_plot, trace_plot
        log_names = {n for n in names if posterior.priors[n].kind == "log-uniform"}
        latex = {n: posterior.priors[n].latex for n in names}
        corner_plot(idata, names, run_dir / "corner.png", log_names, latex)
        trace_plot(idata, names, run_dir / "trace.png", log_names, latex)
    manifest["wall_time_s"] = time.time() - t_start
    manifest["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json(run_dir / MANIFEST_NAME, manifest)
    conv = manifest["convergence"]
    log.info("done in %.1f s: max R-hat %.4f, min bulk ESS %.0f -> %s", manifest["wall_time_s"],
             conv["max_r_hat"], conv["min_ess_bulk"], run_dir)
    return 0


if __name__ == "__main__":  # python -m globalfit.cli
    sys.exit(main())
