"""Command line: ``globalfit fit --config fit.yaml [--resume | --force]``.

``globalfit limits ...`` and ``globalfit validate ...`` are handed to the ``main`` of
globalfit.limits and globalfit.validate.

Exit status: 0 done (converged, or a fixed-length run that makes no convergence claim),
2 bad input (one line on stderr naming file and key), 3 stopped at the sampler's cap before
converging (:data:`globalfit.convergence.EXIT_NOT_CONVERGED`; the outputs are written with
``"status": "not converged"`` and ``--resume`` with a larger cap continues the chain),
128 + signal number when stopped by SIGTERM/SIGINT after writing a checkpoint. Under ``mpirun -n N`` every
rank runs this same code: all validate the config, rank 0 drives the sampler and writes the
output, the other ranks evaluate blocks of the vectorised posterior.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from .errors import ConfigError, GlobalFitError
from .rundir import (CONFIG_NAME, LOCK_NAME, MANIFEST_NAME, MARKER_NAME, RunDirClaim,
                     is_run_dir, lock_holder)

log = logging.getLogger("globalfit")


def checkpoint_path(cfg: Any) -> Path:
    """The checkpoint of a run: the file name its sampler declares, in the run directory."""
    from .sampling import load
    return cfg.run_dir / load(cfg.sampler["name"]).checkpoint_name


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


#: what a SIGTERM/SIGINT that reaches :func:`main` interrupted (for its one-line message)
_PHASE = ["during start-up; nothing was written"]


class Interrupted(BaseException):
    """Raised by the start-up signal handler: SIGTERM/SIGINT before the sampler runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``globalfit`` console script; returns the exit status.

    Until a sampler installs its own checkpointing handler, SIGTERM and SIGINT stop the
    process at once (exit 143 / 130, one line); every :class:`GlobalFitError` (bad input)
    is one line on stderr and exit 2."""
    from .memory import keep_large_allocations
    keep_large_allocations()          # this process is ours: reuse freed large arrays
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, _raise_interrupted)
        except ValueError:       # not the main thread (embedding): keep the defaults
            pass
    try:
        return _main(argv)
    except GlobalFitError as exc:
        print(_one_line(exc), file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
        print(f"globalfit: stopped by {signal.Signals(signum).name} {_PHASE[0]}",
              file=sys.stderr)
        return 128 + signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


#: longest error line printed (a message that quotes a huge user value is cut)
MAX_MESSAGE = 800


def _one_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, at most :data:`MAX_MESSAGE` characters."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 5] + " ..."


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in DELEGATED:
        import importlib
        return int(importlib.import_module(DELEGATED[argv[0]]).main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    from .progress import configure
    configure(args.quiet)
    if args.command == "fit":
        return fit_command(args.config, resume=args.resume, force=args.force)
    return 2  # pragma: no cover - argparse rejects unknown commands


# ---- the run directory ----------------------------------------------------------------------
def _prepare_run_dir(cfg: Any, resume: bool, force: bool) -> str:
    """Check the run directory against the flags; return ``"new"``, ``"resume"``,
    ``"replace"`` (``--force`` on an earlier run) or ``"complete"``. Touches no file;
    raises ConfigError (one line) when refusing."""
    from .config import compatible_for_resume
    run_dir = cfg.run_dir
    if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
        raise ConfigError(f"{run_dir}: output path exists and is not a run directory "
                          "(a file or a symbolic link); choose another output.name")
    try:
        exists = run_dir.exists() and any(run_dir.iterdir())
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot read the run directory "
                          f"({exc.strerror or type(exc).__name__})") from None
    if not exists:
        return "new"
    if not is_run_dir(run_dir):
        raise ConfigError(f"{run_dir}: exists and is not a run directory of globalfit (no "
                          f"{MARKER_NAME}); refusing to "
                          f"{'resume' if resume else 'replace' if force else 'write into'} "
                          "it; choose another output.name or output.directory")
    holder = lock_holder(run_dir)
    if holder:
        raise ConfigError(f"{run_dir}: this run is already running ({holder}; lock "
                          f"{run_dir / LOCK_NAME}); wait for it or stop it first")
    if force:
        return "replace"
    if not resume:
        raise ConfigError(f"{run_dir}: run directory exists; use --resume to continue it or "
                          "--force to overwrite it")
    from .yamlio import load_yaml
    old_path = run_dir / CONFIG_NAME
    try:
        old = load_yaml(old_path)
    except GlobalFitError as exc:
        raise ConfigError(f"{_one_line(exc)}; cannot resume (use --force to start over)"
                          ) from None
    if not isinstance(old, dict):
        raise ConfigError(f"{old_path}: not a run configuration; cannot resume "
                          "(use --force to start over)")
    problems = compatible_for_resume(old, cfg.resolved)
    if problems:
        raise ConfigError(f"{cfg.path.name}: {problems[0]}: differs from the run being resumed "
                          f"({old_path}); changed: {', '.join(problems)} "
                          "(use --force to start over)")
    manifest = run_dir / MANIFEST_NAME
    if manifest.is_file():
        import json
        try:
            status = json.loads(manifest.read_bytes()[:1 << 20]).get("status")
        except (OSError, ValueError, AttributeError):
            raise ConfigError(f"{manifest}: unreadable; cannot resume "
                              "(use --force to start over)") from None
        if status == "complete":
            return "complete"
    return "resume"


def fit_command(config: str | os.PathLike, resume: bool = False, force: bool = False) -> int:
    """Validate ``config``, run its sampler and write ``chains/<name>/``; exit status."""
    from .samplers.pool import MPIPool, make_pool, mpi_world_size, register
    from .sampling import load

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
            print(_one_line(decision), file=sys.stderr)
        return 2
    if decision == "complete":
        if rank == 0:
            log.info("%s is already complete; nothing to do", cfg.run_dir)
        return 0

    register("posterior", cfg.posterior)
    # build the likelihoods' on-disk caches now, while a signal still stops the process
    # at once (the sampler's handler only sets a flag polled between steps)
    _warm_up(cfg, comm, rank)
    claim = RunDirClaim(cfg, decision, checkpoint_path(cfg)) if rank == 0 else None
    try:
        sampler_opts = cfg.sampler
        pool = make_pool("mpi" if mpi else sampler_opts["pool"],
                         sampler_opts.get("n_processes"), sampler_opts.get("min_task_ms", 2.0),
                         backoff_ms=load(sampler_opts["name"]).mpi_backoff_ms)
        if isinstance(pool, MPIPool) and not pool.is_master:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
            pool.wait()
            return 0
        try:
            _PHASE[0] = f"(any checkpoint in {cfg.run_dir} is kept; continue with --resume)"
            return _run(cfg, "resume" if decision == "resume" else "new", pool)
        finally:
            pool.close()
    finally:
        _PHASE[0] = "during start-up; nothing was written"
        if claim is not None:
            claim.finish()


def _warm_up(cfg: Any, comm: Any, rank: int) -> None:
    """Rank 0 evaluates the posterior once (building any on-disk caches of the likelihoods)
    while the other ranks wait without spinning, so that N ranks do not build the same
    cache N times."""
    import numpy as np

    from .progress import stage
    if rank == 0:
        theta = cfg.posterior.priors.sample(np.random.default_rng(cfg.seed), 1)
        with stage("preparing the likelihoods (on-disk caches are built on first use)"):
            cfg.posterior.evaluate(theta)
    if comm is None:
        return
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.05)


def _run(cfg: Any, decision: str, pool: Any) -> int:
    """Run the sampler into ``cfg.run_dir`` and hand its result to
    :func:`globalfit.finish.finish_run`; the exit status (module docstring)."""
    import hashlib

    import yaml

    from .finish import finish_run
    from .output import git_commit, package_versions
    from .sampling import StopFlag, load

    t_start = time.time()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = decision == "resume"
    # on --resume too: only changes compatible with the checkpoint get here (caps, stopping
    # rules, logging), and the run is then the one this config describes
    config_text = yaml.safe_dump(cfg.resolved, sort_keys=False)
    tmp = run_dir / (CONFIG_NAME + ".tmp")
    tmp.write_text(config_text)
    os.replace(tmp, run_dir / CONFIG_NAME)
    opts = cfg.sampler
    sampler = load(opts["name"])()
    checkpoint = checkpoint_path(cfg)
    posterior = cfg.posterior
    log.info("run %s: %s on %d parameter(s) (%s), %d process(es)%s", cfg.run_name, opts["name"],
             posterior.ndim, ", ".join(posterior.names), pool.size,
             ", resuming" if resume else "")
    stop = StopFlag().install()
    try:
        result = sampler.run(posterior, opts, checkpoint, resume, cfg.seed, pool, stop)
    except GlobalFitError as exc:       # e.g. a corrupt checkpoint on --resume
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 2
    finally:
        stop.restore()
    if not result.completed:
        print(f"{run_dir}: stopped by signal {stop.signum}; checkpoint saved, continue with "
              "--resume", file=sys.stderr)
        return 128 + int(stop.signum or 0)

    manifest: dict[str, Any] = {
        "run_name": cfg.run_name,
        "config_file": str(cfg.path),
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
        "status": "complete",
        "seed": cfg.seed,
        "resumed": resume,
        "started_utc": started,
        "git_commit": git_commit(Path(__file__).resolve().parents[1]),
        "packages": package_versions(),
        "n_processes": pool.size,
        "pool": type(pool).__name__,
        "sampler": result.stats,
        "rejections": dict(result.rejections),
        "parameters": list(posterior.names),
        "likelihoods": dict(cfg.labels),
    }
    return finish_run(cfg, result, manifest, t_start, run_dir / MANIFEST_NAME)


if __name__ == "__main__":  # python -m globalfit.cli
    sys.exit(main())
