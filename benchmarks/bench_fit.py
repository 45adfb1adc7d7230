"""Wall time, peak memory and start-up time of whole fits (each in a fresh process).

Run: ``python benchmarks/bench_fit.py [--quick]``. Measured:

* ``fit``: the default fit (``fit.yaml``, emcee) and its dynesty variant
  (``configs/benchmark_dynesty.yaml``) run to convergence with ``run_fit.py`` in a
  subprocess, on 1 rank and on 2 MPI ranks (``mpiexec`` next to the Python interpreter):
  wall time of the process, the sampler's own time, steps/iterations, convergence (max split
  R-hat, min bulk ESS, as in docs/fitting.md) and the peak resident memory
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of each rank, the largest one reported).
  Outputs go to a temporary directory; the configs are copied there with
  ``output.directory`` pointing to it.
* ``startup``: time from interpreter start to the first joint log-likelihood value of the
  default fit (imports, config validation, model and likelihood construction, one call),
  with a cold cache (an empty temporary ``GLOBALFIT_CACHE_DIR``: every Borexino template,
  the SM fit and the fast-mode grid are built) and then warm (the same directory again),
  with the peak memory of each (the cold one is the memory of building the templates).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"emcee": ROOT / "fit.yaml", "dynesty": ROOT / "configs" / "benchmark_dynesty.yaml"}

_FIT_CHILD = """
import json, resource, sys
from globalfit.cli import main
rc = main(["fit", "--config", sys.argv[1], "--force"])
print("BENCH " + json.dumps({"rc": rc,
      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
"""

_STARTUP_CHILD = """
import time
t0 = time.perf_counter()
import json, resource, sys
import numpy as np
from globalfit.config import load_config
t_import = time.perf_counter()
post = load_config(sys.argv[1]).posterior
t_config = time.perf_counter()
value = post.log_likelihood(post.priors.sample(np.random.default_rng(0), 1))
t_first = time.perf_counter()
print("BENCH " + json.dumps({"import_s": t_import - t0, "config_s": t_config - t_import,
      "first_call_s": t_first - t_config, "total_s": t_first - t0,
      "finite": bool(np.isfinite(value).all()),
      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
"""


def mpiexec() -> Path:
    """The ``mpiexec`` of the MPI installation next to the running interpreter."""
    path = Path(sys.executable).parent / "mpiexec"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no mpiexec next to the Python interpreter")
    return path


def _env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    if cache_dir is not None:
        env["GLOBALFIT_CACHE_DIR"] = cache_dir
    return env


def _child_records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in stdout.splitlines() if line.startswith("BENCH ")]


def run_config(cfg: dict[str, Any], name: str, ranks: int, workdir: Path,
               cache_dir: str | None = None, timeout_s: float = 3600.0,
               plots: bool = True) -> dict[str, Any]:
    """Run a fit config (a parsed YAML mapping) as run ``name`` in ``workdir`` on ``ranks``
    MPI ranks (1: a plain process): wall time, exit status, the manifest's numbers and the
    peak memory of the largest rank. RuntimeError when the run wrote no manifest."""
    cfg = dict(cfg, output=dict(cfg.get("output", {}), directory=str(workdir), name=name,
                                plots=plots))
    cfg_path = workdir / f"{name}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-c", _FIT_CHILD, str(cfg_path)]
    if ranks > 1:
        cmd = [str(mpiexec()), "-n", str(ranks)] + cmd
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(cache_dir),
                          cwd=workdir, timeout=timeout_s)
    wall = time.perf_counter() - t0
    records = _child_records(proc.stdout)
    manifest_path = workdir / name / "manifest.json"
    if not records or not manifest_path.is_file():
        raise RuntimeError(f"fit {name} failed (status {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    manifest = json.loads(manifest_path.read_text())
    stats = manifest.get("sampler", {})
    conv = manifest.get("convergence", {})
    return {
        "name": name, "ranks": ranks, "wall_s": wall, "rc": proc.returncode,
        "status": manifest.get("status"),
        "sampling_s": stats.get("wall_time_sampling_s"),
        # emcee: the sampling time's log-posterior calls and stopping-rule checks
        "likelihood_s": stats.get("wall_time_likelihood_s"),
        "checks_s": stats.get("wall_time_checks_s"),
        "run_s": manifest.get("wall_time_s"),
        "steps": stats.get("n_steps", stats.get("n_iterations")),
        "likelihood_calls": stats.get("n_calls"),
        "max_rhat": conv.get("max_r_hat"), "min_ess_bulk": conv.get("min_ess_bulk"),
        "converged": bool(conv.get("r_hat_below_1.01") and conv.get("ess_bulk_at_least_1000")),
        "maxrss_mb": max(r["maxrss_mb"] for r in records),
    }


def run_fit(sampler: str, ranks: int, workdir: Path, cache_dir: str | None = None,
            timeout_s: float = 900.0) -> dict[str, Any]:
    """Run the default fit with ``sampler`` ("emcee" or "dynesty") on ``ranks`` MPI ranks
    (1: a plain process) in ``workdir``; wall time, manifest numbers and peak memory."""
    # untimed warm-up: (re)builds the cache if it is missing or stale (its key hashes the
    # Borexino sources), so that the timed fit measures sampling, not template building
    startup(cache_dir, CONFIGS[sampler])
    cfg = yaml.safe_load(CONFIGS[sampler].read_text())
    rec = run_config(cfg, f"bench_{sampler}_{ranks}", ranks, workdir, cache_dir, timeout_s)
    if rec["rc"] != 0:
        raise RuntimeError(f"fit {rec['name']} exited with status {rec['rc']}")
    return dict(rec, sampler=sampler)


def startup(cache_dir: str | None, config: Path = CONFIGS["emcee"],
            timeout_s: float = 900.0) -> dict[str, Any]:
    """Interpreter start -> first joint log-likelihood of ``config`` (default: the default
    fit), in a fresh process using ``cache_dir`` (None: the project's cache); times in s,
    memory in MB."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _STARTUP_CHILD, str(config)],
                          capture_output=True, text=True, env=_env(cache_dir), cwd=ROOT,
                          timeout=timeout_s)
    wall = time.perf_counter() - t0
    records = _child_records(proc.stdout)
    if proc.returncode != 0 or not records:
        raise RuntimeError(f"start-up run failed (status {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return dict(records[0], process_wall_s=wall)


def main(quick: bool = False, cache_dir: str | None = None) -> dict[str, Any]:
    """Start-up (cold, then warm) and the fits; one line per measurement.

    ``cache_dir``: the cache to use; it must be empty for a meaningful cold start (default:
    a new temporary directory; with ``quick``, the project's cache, built if needed)."""
    results: dict[str, Any] = {"fits": []}
    with tempfile.TemporaryDirectory(prefix="globalfit-bench-") as tmp:
        tmp_path = Path(tmp)
        if cache_dir is None and not quick:
            cache_dir = str(tmp_path / "cache")
            Path(cache_dir).mkdir()
        if quick:
            # the cold start in its own empty cache (~15 s), then the project's cache, built
            # if needed, for the warm start and the fits
            cold_dir = tmp_path / "cold-cache"
            cold_dir.mkdir()
            results["startup_cold"] = startup(str(cold_dir))
            startup(cache_dir)
        else:
            results["startup_cold"] = startup(cache_dir)
        print("start-up, cold cache:", results["startup_cold"])
        results["startup_warm"] = min((startup(cache_dir) for _ in range(2 if quick else 3)),
                                      key=lambda r: r["total_s"])
        print("start-up, warm cache:", results["startup_warm"])
        # the default fit is not worth parallelising (a call is ~0.05 ms, far below an MPI
        # round trip): its MPI runs stay on rank 0 (sampler.min_task_ms) and are not timed
        plan = [("emcee", 1)] if quick else [("emcee", 1), ("dynesty", 1)]
        for sampler, ranks in plan:
            rec = run_fit(sampler, ranks, tmp_path, cache_dir)
            results["fits"].append(rec)
            print("fit:", rec)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="warm start-up and emcee only")
    main(parser.parse_args().quick)
