"""Run every benchmark and print one Markdown table (optionally written to a file).

    python benchmarks/run_all.py [--quick] [--out benchmarks/results.md] [--update-readme]

``--quick`` (~20 min): batches up to 1e4 (full mode 2048), fewer repeats, the cold start-up
(in its own empty cache) and a warm one, the serial emcee fit, the full-systematics fit on
1 rank and short fixed-work MPI runs. The full run (~40 min on 2 cores) adds batch 1e5,
dynesty, the full-systematics fit on 2 ranks, longer MPI runs and the accelerator/model
throughput scripts, all in the cache the cold start built. Throughputs are measured on one core (BLAS
threads = 1) as the best of several repeats; fits run as separate processes. What each
number means: benchmarks/README.md.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import bench_fit  # noqa: E402
import bench_joint  # noqa: E402

TARGETS = {
    "fast": 1e6,          # points/s/core, batches >= 1e4
    "full": 1e4,          # points/s
    "fit_s": 60.0,        # default fit to convergence
    "full_fit_s": 600.0,  # full-systematics fit to convergence, 2 cores
    "mpi": 1.7,           # speed-up on 2 ranks for the workloads worth parallelising
    "cold_s": 20.0,       # empty cache -> first likelihood value, 2 cores
    "warm_s": 1.0,        # warm cache -> first likelihood value
    "limits_s": 30.0,     # globalfit limits, default grid, warm, 2 cores
    "floor_frac": 0.6,    # full mode / bare matmul floor
}


def machine() -> dict[str, str]:
    """CPU, cores, memory, Python/numpy versions and the load average."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": mem,
            "python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "load": load}


def _ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _n(n: int) -> str:
    return f"1e{int(np.log10(n))}" if n >= 10 and 10 ** int(np.log10(n)) == n else str(n)


def _row(lines: list[str], what: str, measured: str, target: str = "", met: bool | None = None
         ) -> None:
    lines.append(f"| {what} | {measured} | {target} | {'' if met is None else _ok(met)} |")


def markdown(res: dict[str, Any], info: dict[str, str], load_end: str, wall_s: float,
             quick: bool) -> str:
    """The results as Markdown: the target table, then the details."""
    lines = ["| Quantity | Measured | Target | Met |", "|---|---|---|---|"]
    joint, fit = res["joint"], res["fit"]
    fast, full = joint["fast"], joint["full"]
    n_fast, n_full = max(fast), max(full)
    pp = joint["per_point"]
    for n in (1, 10_000):
        if n in fast:
            _row(lines, f"Joint log-posterior, fast mode, batch {_n(n)} (points/s/core)",
                 f"{fast[n]:.3g}", f">= {TARGETS['fast']:.0e}" if n > 1 else "",
                 fast[n] >= TARGETS["fast"] if n > 1 else None)
    _row(lines, "Fast mode: batch 1e4 vs the same likelihood one point per call",
         f"{fast[10_000] / pp['fast']:.0f} x ({pp['fast']:.3g} points/s one at a time)")
    for n in (1, n_full):
        _row(lines, f"Joint log-posterior, full mode (20 live Borexino nuisances), batch "
             f"{_n(n)} (points/s/core)", f"{full[n]:.3g}",
             f">= {TARGETS['full']:.0e}" if n > 1 else "", full[n] >= TARGETS["full"] if n > 1 else None)
    nv = joint["naive_full"]
    _row(lines, "Full mode: batch vs one point per call / vs a per-point numpy implementation "
         "with the same matrices", f"{full[n_full] / pp['full']:.0f} x / "
         f"{full[n_full] / nv['naive_points_per_s']:.0f} x ({nv['naive_points_per_s']:.3g} "
         f"points/s per point; agrees to {nv['max_rel_diff']:.0e})")
    fl, ff = joint["floor"], joint["floor_fraction"]
    # the verdict from the two timed in alternation (bench_joint.floor_fraction); beside it
    # the ratio of the throughput row above to the floor measured a minute later
    frac = ff["fraction"]
    _row(lines, "Full mode / bare matmul floor of its response products (BLAS throughput)",
         f"{frac:.0%} ({ff['full_points_per_s']:.3g} / {ff['floor_points_per_s']:.3g} points/s, "
         f"timed in alternation; {full[n_full] / fl['points_per_s']:.0%} from the row above and "
         f"a separate floor of {fl['points_per_s']:.3g} points/s at {fl['gflops']:.1f} GFLOP/s; "
         f"products + the deviance's logarithm per bin ({fl['log_ns']:.1f} ns each): "
         f"ceiling {fl['ceiling']:.0%})",
         f">= {TARGETS['floor_frac']:.0%}", frac >= TARGETS["floor_frac"])
    bytes_pt = joint["stream_gb_s"] * 1e9 / fast[n_fast]
    _row(lines, "Fast mode, cost per point in memory traffic (bandwidth bound)",
         f"{bytes_pt:.0f} B/point at {joint['stream_gb_s']:.1f} GB/s")
    fits = {(f["sampler"], f["ranks"]): f for f in fit["fits"]}
    for (sampler, ranks), f in fits.items():
        _row(lines, f"Default fit, {sampler}: wall time to convergence (s)",
             f"{f['wall_s']:.1f} (sampling {f['sampling_s']:.1f}; R-hat {f['max_rhat']:.4f}, "
             f"bulk ESS {f['min_ess_bulk']:.0f})", f"<= {TARGETS['fit_s']:.0f}",
             f["wall_s"] <= TARGETS["fit_s"] and f["converged"])
    sc = res.get("scaling")
    if sc:
        for rec in sc["full_fit"]:
            _row(lines, f"Full-systematics fit (25 parameters, emcee), {rec['ranks']} rank"
                 f"{'s' if rec['ranks'] > 1 else ''}: wall time to convergence (s)",
                 f"{rec['wall_s']:.0f} ({rec['steps']} steps; R-hat {rec['max_rhat']:.4f}, "
                 f"bulk ESS {rec['min_ess_bulk']:.0f}; {rec['ess_per_s']:.1f} ESS/s"
                 f"{_time_split(rec)})",
                 f"<= {TARGETS['full_fit_s']:.0f}",
                 rec["wall_s"] <= TARGETS["full_fit_s"] and rec["converged"])
        for key, m in sc["mpi"].items():
            proj = ", ".join(f"{n}: {x:.1f}" for n, x in m["projection"].items())
            loop = (f"; sampling loop alone {m['sampling_speedup']:.2f} x"
                    if m.get("sampling_speedup") else "")
            calls = joint.get("full_call_s")
            if key.startswith("emcee") and calls and 128 in calls:
                # the 256-walker run's 128-point calls, split over N ranks with free
                # communication: t(128) / t(128 / N), from the measured call times
                more = ", ".join(f"{n}: {calls[128] / calls[128 // n]:.1f} x"
                                 for n in (8, 16, 32, 64) if 128 // n in calls)
                loop += (f"; a 128-point call takes {1e3 * calls[128]:.1f} ms, "
                         f"{1e3 * calls[64]:.1f} ms at 64 points and {1e3 * calls[2]:.1f} ms "
                         f"at 2, so even with free communication a split call could be at "
                         f"most {calls[128] / calls[64]:.2f} x faster on 2 ranks ({more} "
                         f"ranks)")
                loop += _converged_fit_ceiling(sc["full_fit"][0], calls)
            _row(lines, f"MPI 1 -> 2 ranks, {key} (wall-time ratio)",
                 f"{m['speedup']:.2f} x ({m['t1_s']:.0f} s -> {m['t2_s']:.0f} s{loop}; "
                 f"projected {proj} ranks)", f">= {TARGETS['mpi']}",
                 m["speedup"] >= TARGETS["mpi"])
        lim = sc["limits"]["mpi2_s"]
        _row(lines, "globalfit limits, default grid (61 masses x 3 g_D, both methods), warm, "
             "2 ranks (s)", f"{lim:.1f} (serial {sc['limits']['serial_s']:.1f})",
             f"<= {TARGETS['limits_s']:.0f}", lim <= TARGETS["limits_s"])
    cold = fit.get("startup_cold")
    if cold:
        _row(lines, "Start-up to first likelihood value, cold cache, 2 cores (s)",
             f"{cold['total_s']:.1f} (peak memory {cold['maxrss_mb']:.0f} MB)",
             f"<= {TARGETS['cold_s']:.0f}", cold["total_s"] <= TARGETS["cold_s"])
    warm = fit["startup_warm"]
    _row(lines, "Start-up to first likelihood value, warm cache (s)",
         f"{warm['total_s']:.2f} (imports {warm['import_s']:.2f}, config {warm['config_s']:.2f}, "
         f"first call {warm['first_call_s']:.2f})", f"<= {TARGETS['warm_s']:.0f}",
         warm["total_s"] <= TARGETS["warm_s"])

    out = ["## Benchmarks", "", *lines, ""]
    out += ["Throughput by batch size (points/s/core): fast mode "
            + ", ".join(f"{_n(n)}: {r:.3g}" for n, r in fast.items()) + "; full mode "
            + ", ".join(f"{_n(n)}: {r:.3g}" for n, r in full.items()) + ".", ""]
    for key, title in (("fast_modules", "fast mode, batch 1e4"),
                       ("full_modules", f"full mode, batch {_n(n_full)}")):
        out += [f"Per module ({title}, points/s/core):", "", "| Module | points/s |", "|---|---|"]
        out += [f"| {m} | {r:.3g} |" for m, r in joint[key].items()]
        out.append("")
    if "accelerator" in res:
        out += ["Single likelihoods at 1e6 points (`bench_accelerator.py`, points/s/core): "
                + ", ".join(f"{k} {v:.3g}" for k, v in res["accelerator"].items()), ""]
    if "model" in res:
        out += ["Model observables at 1e6 points, all parameters per point (`bench_model.py`): "
                + ", ".join(f"{k} {1e6 / v:.3g} points/s" for k, v in res["model"].items()), ""]
    out += [f"Floor: {fl['shapes']} per 2048-point block, {fl['gflops']:.1f} GFLOP/s.", "",
            f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; "
            f"{info['platform']}; Python {info['python']}, numpy {info['numpy']}. "
            f"Load average (1, 5, 15 min) at start {info['load']}, at end {load_end}. "
            "Run: `python benchmarks/run_all.py"
            f"{' --quick' if quick else ''}` ({wall_s / 60:.1f} min).", ""]
    return "\n".join(out)


def _time_split(rec: dict[str, Any]) -> str:
    """"; sampling X s = calls + checks + the rest" of an emcee run record ("" without it)."""
    if rec.get("likelihood_s") is None or rec.get("checks_s") is None:
        return ""
    rest = rec["sampling_s"] - rec["likelihood_s"] - rec["checks_s"]
    return (f"; sampling {rec['sampling_s']:.0f} s = log-posterior calls "
            f"{rec['likelihood_s']:.0f} s + convergence checks {rec['checks_s']:.0f} s + "
            f"emcee's moves and the checkpoint {rest:.0f} s")


def _converged_fit_ceiling(rec: dict[str, Any], calls: dict[int, float]) -> str:
    """What 2 ranks could give the converged full-systematics fit itself (64 walkers: calls of
    32 points): its log-posterior calls split perfectly, t(16) / t(32) of their time, with
    free communication, and everything else (the stopping rule's checks, emcee's moves, the
    checkpoint) unchanged, as it runs on rank 0 between the calls."""
    if rec.get("likelihood_s") is None or 32 not in calls or 16 not in calls:
        return ""
    t1 = rec["sampling_s"]
    t2 = t1 - rec["likelihood_s"] * (1.0 - calls[16] / calls[32])
    return (f". The converged fit itself (64 walkers, 32-point calls of "
            f"{1e3 * calls[32]:.2f} ms, {1e3 * calls[16]:.2f} ms at 16) spends "
            f"{rec['likelihood_s']:.0f} s of its {t1:.0f} s of sampling in calls: split "
            f"perfectly over 2 ranks it could be at most {t1 / t2:.2f} x faster")


README = Path(__file__).resolve().parent / "README.md"
PROJECT_README = Path(__file__).resolve().parents[1] / "README.md"
MARKERS = ("<!-- benchmark-table -->", "<!-- /benchmark-table -->")


def update_readme(text: str, path: Path = README) -> None:
    """Replace what lies between the two ``MARKERS`` lines of ``path`` by ``text`` (the table
    without its heading); the rest of the file is kept as it is."""
    old = path.read_text(encoding="utf-8")
    start, end = old.find(MARKERS[0]), old.find(MARKERS[1])
    if start < 0 or end < start:
        raise SystemExit(f"{path}: no {MARKERS[0]} ... {MARKERS[1]} block to replace")
    body = text.split("\n", 2)[2] if text.startswith("## Benchmarks") else text
    path.write_text(old[:start + len(MARKERS[0])] + "\n" + body.strip() + "\n"
                    + old[end:], encoding="utf-8")


def target_table(text: str) -> str:
    """The target table of :func:`markdown`'s ``text`` and its machine line (the project
    README shows these; benchmarks/README.md the whole text)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Quantity"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")),
               len(lines))
    machine_line = next((line for line in lines if line.startswith("Machine: ")), "")
    return "\n".join(lines[start:end] + ["", machine_line])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~20 min)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    parser.add_argument("--update-readme", action="store_true",
                        help="replace the tables between the benchmark-table markers of "
                             "benchmarks/README.md and README.md with this run's")
    args = parser.parse_args(argv)
    info = machine()
    t0 = time.perf_counter()
    res: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="globalfit-cache-") as cache:
        if not args.quick:
            # cold start in an empty cache; everything after it uses that (now warm) cache
            os.environ["GLOBALFIT_CACHE_DIR"] = cache
        res["fit"] = bench_fit.main(args.quick, cache if not args.quick else None)
        res["joint"] = bench_joint.main(args.quick)
        import bench_scaling
        res["scaling"] = bench_scaling.main(args.quick, cache if not args.quick else None)
    if not args.quick:
        import bench_accelerator
        import bench_model
        res["accelerator"] = bench_accelerator.main(1_000_000, repeat=3)
        res["model"] = bench_model.main(1_000_000, repeat=3)
    load_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = markdown(res, info, load_end, time.perf_counter() - t0, args.quick)
    print()
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    if args.update_readme:
        update_readme(text)
        update_readme(target_table(text), PROJECT_README)
    return 0


if __name__ == "__main__":
    sys.exit(main())
