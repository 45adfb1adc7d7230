"""Where users feel the speed: the full-systematics fit, MPI on 2 ranks, cold start, limits.

Run: ``python benchmarks/bench_scaling.py [--quick]``. Every number is the wall time of a
fresh process (``run_fit.py`` / ``globalfit limits``), measured in this run:

* ``full_fit``: ``configs/benchmark_borexino_full.yaml`` (25 sampled parameters, every Borexino
  nuisance live; emcee) run to the project's convergence criteria (split R-hat < 1.01 and
  bulk ESS >= 1000 for every sampled parameter), on 1 rank and on 2 MPI ranks; ESS per second
  is the minimum bulk ESS over the wall time.
* ``mpi``: the same amount of work on 1 and 2 ranks (best of two runs each, interleaved), for
  the workloads worth parallelising:
  the full-systematics emcee fit for a fixed number of steps (``stop: fixed``), dynesty with
  1000 live points and random-slice proposals for a fixed number of iterations, nautilus on
  the full-systematics posterior for a fixed number of likelihood calls, and the ``limits``
  default grid (``configs/limits.yaml``, both methods, every curve). The ratio of the wall
  times is the speed-up; from the 1-rank time and the 2-rank time the serial part s and the
  parallel part p of a call are solved (t_N = s + p / N) and projected to 8-64 ranks (an upper
  bound: it ignores the per-task communication that grows with N).
* ``cold``: interpreter start to the first likelihood value of the default fit with an empty
  cache (``bench_fit.startup``), i.e. the Borexino templates, SM fit and fast grid built on both
  cores.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_fit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "configs" / "benchmark_borexino_full.yaml"
LIMITS = ROOT / "configs" / "limits.yaml"

def _command(ranks: int, args: list[str]) -> list[str]:
    cmd = [sys.executable] + args
    return [str(bench_fit.mpiexec()), "-n", str(ranks)] + cmd if ranks > 1 else cmd


def run_config(cfg: dict, name: str, ranks: int, workdir: Path, cache_dir: str | None
               ) -> dict[str, Any]:
    """``bench_fit.run_config`` without plots (they are not what is timed here)."""
    return bench_fit.run_config(cfg, name, ranks, workdir, cache_dir, plots=False)


def full_fit(ranks: int, workdir: Path, cache_dir: str | None) -> dict[str, Any]:
    """The full-systematics fit to convergence."""
    cfg = yaml.safe_load(FULL.read_text())
    rec = run_config(cfg, f"full_fit_{ranks}", ranks, workdir, cache_dir)
    rec["ess_per_s"] = rec["min_ess_bulk"] / rec["wall_s"] if rec["min_ess_bulk"] else None
    return rec


def fixed_work_fit(sampler: str, ranks: int, workdir: Path, cache_dir: str | None,
                   quick: bool) -> dict[str, Any]:
    """The full-systematics posterior, a fixed amount of sampler work."""
    cfg = yaml.safe_load(FULL.read_text())
    if sampler == "emcee":
        # 256 walkers: 128 points per call (emcee's red-blue halves), ~5 ms of work, enough to
        # split; at 64 walkers a call is ~1.3 ms, about one MPI round trip, and stays whole
        cfg["sampler"] = {"name": "emcee", "nwalkers": 256, "stop": "fixed",
                          "max_steps": 300 if quick else 1500}
    elif sampler == "dynesty":
        # many live points, random slices: each pool task is one slice-sampling chain of
        # ~140 likelihood calls (~0.25 s), so the tasks are large against a round trip
        cfg["sampler"] = {"name": "dynesty", "nlive": 1000, "sample": "rslice",
                          "maxiter": 1500 if quick else 3000}
    else:
        cfg["sampler"] = {"name": "nautilus", "n_live": 2000,
                          "maxcall": 20_000 if quick else 100_000}
    return run_config(cfg, f"{sampler}_fixed_{ranks}", ranks, workdir, cache_dir)


def limits_grid(ranks: int, workdir: Path, cache_dir: str | None) -> dict[str, Any]:
    """``globalfit limits`` on the default grid (warm cache), serial or on MPI ranks."""
    out = workdir / f"limits_{ranks}"
    args = ["-m", "globalfit.limits", "--config", str(LIMITS), "--out", str(out), "--force",
            "--quiet"]
    if ranks == 1:
        cfg = yaml.safe_load(LIMITS.read_text())
        cfg["limits"]["pool"] = {"kind": "serial"}
        path = workdir / "limits_serial.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        args[3] = str(path)
    t0 = time.perf_counter()
    proc = subprocess.run(_command(ranks, args), capture_output=True, text=True,
                          env=bench_fit._env(cache_dir), cwd=ROOT, timeout=3600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"limits on {ranks} rank(s) failed:\n{proc.stderr[-2000:]}")
    return {"ranks": ranks, "wall_s": wall}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of ``runs`` with the shortest wall time."""
    return min(runs, key=lambda rec: rec["wall_s"])


def amdahl(t1: float, t2: float, ranks: tuple[int, ...] = (8, 16, 32, 64)) -> dict[int, float]:
    """Speed-ups at ``ranks`` of t_N = s + p / N fitted to the 1- and 2-rank times."""
    p = 2.0 * (t1 - t2)
    s = t1 - p
    if p <= 0:
        return {n: 1.0 for n in ranks}
    s = max(s, 0.0)
    return {n: t1 / (s + p / n) for n in ranks}


def main(quick: bool = False, cache_dir: str | None = None) -> dict[str, Any]:
    """Every measurement of the module docstring (``quick``: shorter fixed-work runs, no
    converged full fit on 2 ranks)."""
    res: dict[str, Any] = {"mpi": {}}
    with tempfile.TemporaryDirectory(prefix="globalfit-scaling-") as tmp:
        work = Path(tmp)
        bench_fit.startup(cache_dir, FULL)              # untimed: builds what the full mode needs
        res["full_fit"] = [full_fit(1, work, cache_dir)]
        print("full-systematics fit:", res["full_fit"][-1], flush=True)
        if not quick:
            res["full_fit"].append(full_fit(2, work, cache_dir))
            print("full-systematics fit:", res["full_fit"][-1], flush=True)
        for sampler in ("emcee", "dynesty", "nautilus"):
            # best of two runs each, interleaved (1, 2, 1, 2 ranks): a run of the same code
            # moves by up to ~30 % from one minute to the next on the 2-core machines
            runs = [fixed_work_fit(sampler, r, work, cache_dir, quick) for r in (1, 2, 1, 2)]
            one, two = best(runs[0::2]), best(runs[1::2])
            res["mpi"][f"{sampler} (full systematics, fixed work)"] = (one, two)
            print(f"{sampler} fixed work:", one, two, flush=True)
        bench_fit.startup(cache_dir, LIMITS)
        runs = [limits_grid(r, work, cache_dir) for r in (1, 2, 1, 2)]     # as above
        one, two = best(runs[0::2]), best(runs[1::2])
        res["mpi"]["limits default grid"] = (one, two)
        res["limits"] = {"serial_s": one["wall_s"], "mpi2_s": two["wall_s"]}
        print("limits:", one, two, flush=True)
    for key, (one, two) in res["mpi"].items():
        res["mpi"][key] = {"t1_s": one["wall_s"], "t2_s": two["wall_s"],
                           "speedup": one["wall_s"] / two["wall_s"],
                           "projection": amdahl(one["wall_s"], two["wall_s"])}
        if one.get("sampling_s") and two.get("sampling_s"):
            # the sampler's own loop, without start-up and output (the same on any rank count)
            res["mpi"][key]["sampling_speedup"] = one["sampling_s"] / two["sampling_s"]
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    print(json.dumps(main(parser.parse_args().quick), indent=1, default=str))
