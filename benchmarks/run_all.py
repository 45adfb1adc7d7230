"""Run every benchmark and print one Markdown table (optionally written to a file).

    python benchmarks/run_all.py [--quick] [--out benchmarks/results.md]

``--quick`` (~0.5 min): batches up to 1e4 (full mode 2048), fewer repeats, a warm start-up
and the serial emcee fit only. The full run (~5-8 min on 2 cores) adds batch 1e5, the
cold-cache start-up (every Borexino template built in an empty temporary cache), the fits
on 2 MPI ranks and dynesty, and the accelerator/model throughput scripts. Throughputs are measured on one core (BLAS
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
    "speedup": 1e3,       # x the per-point reference
    "fit_s": 60.0,        # default fit to convergence
    "startup_s": 2.0,     # warm cache, to the first likelihood value
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


def markdown(res: dict[str, Any], info: dict[str, str], load_end: str, wall_s: float,
             quick: bool) -> str:
    """The results as Markdown: the target table, then the details."""
    lines = ["| Quantity | Measured | Target | Met |", "|---|---|---|---|"]
    fast, full = res["joint"]["fast"], res["joint"]["full"]
    for n, rate in fast.items():
        target = f">= {TARGETS['fast']:.0e}" if n >= 10_000 else ""
        met = _ok(rate >= TARGETS["fast"]) if n >= 10_000 else ""
        lines.append(f"| Joint log-posterior, fast mode, batch {_n(n)} (points/s/core) | "
                     f"{rate:.3g} | {target} | {met} |")
    for n, rate in full.items():
        target = f">= {TARGETS['full']:.0e}" if n >= 1000 else ""
        met = _ok(rate >= TARGETS["full"]) if n >= 1000 else ""
        lines.append(f"| Joint log-posterior, full mode (20 live Borexino nuisances), batch "
                     f"{_n(n)} (points/s/core) | {rate:.3g} | {target} | {met} |")
    fl = res["joint"]["floor"]
    n_full = max(full)
    lines.append(f"| Full mode: bare matmul floor of the Borexino response products "
                 f"(points/s/core) | {fl['points_per_s']:.3g} (we are at "
                 f"{full[n_full] / fl['points_per_s']:.0%} of it at batch {_n(n_full)}) | | |")
    ref = res["joint"]["reference"]
    lines.append(f"| Borexino signal, per-point scipy quad reference (s/point) | "
                 f"{ref['ref_s_per_point']:.3g} | | |")
    lines.append(f"| Borexino signal, vectorised (s/point, batch 2048) | "
                 f"{ref['vec_s_per_point']:.3g} (agrees to {ref['max_rel_diff']:.1e}) | | |")
    lines.append(f"| Speed-up, vectorised signal / reference | {ref['speedup']:.3g} x | "
                 f">= {TARGETS['speedup']:.0e} x | {_ok(ref['speedup'] >= TARGETS['speedup'])} |")
    sp_full = ref["ref_s_per_point"] * full[n_full]
    lines.append(f"| Speed-up, whole full-mode joint (batch {_n(n_full)}) / reference | "
                 f"{sp_full:.3g} x | >= {TARGETS['speedup']:.0e} x | "
                 f"{_ok(sp_full >= TARGETS['speedup'])} |")
    fits = {(f["sampler"], f["ranks"]): f for f in res["fit"]["fits"]}
    for (sampler, ranks), f in fits.items():
        lines.append(
            f"| Default fit, {sampler}, {ranks} rank{'s' if ranks > 1 else ''}: wall time to "
            f"convergence (s) | {f['wall_s']:.1f} (sampling {f['sampling_s']:.1f}; "
            f"{f['steps']} {'steps' if sampler == 'emcee' else 'iterations'}; R-hat "
            f"{f['max_rhat']:.4f}, bulk ESS {f['min_ess_bulk']:.0f}) | <= {TARGETS['fit_s']:.0f} | "
            f"{_ok(f['wall_s'] <= TARGETS['fit_s'] and f['converged'])} |")
    for sampler in ("emcee", "dynesty"):
        if (sampler, 1) in fits and (sampler, 2) in fits:
            t1, t2 = fits[(sampler, 1)]["sampling_s"], fits[(sampler, 2)]["sampling_s"]
            lines.append(f"| MPI scaling 1 -> 2 ranks, {sampler} (sampling-time ratio) | "
                         f"{t1 / t2:.2f} x | | |")
    for (sampler, ranks), f in fits.items():
        lines.append(f"| Peak memory, default fit, {sampler}, {ranks} rank"
                     f"{'s' if ranks > 1 else ''} (MB per process) | {f['maxrss_mb']:.0f} | | |")
    cold = res["fit"].get("startup_cold")
    if cold:
        lines.append(f"| Peak memory, building the Borexino templates (cold start, MB) | "
                     f"{cold['maxrss_mb']:.0f} | | |")
        lines.append(f"| Start-up to first likelihood value, cold cache (s) | "
                     f"{cold['total_s']:.1f} (first call {cold['first_call_s']:.1f}) | | |")
    warm = res["fit"]["startup_warm"]
    lines.append(f"| Start-up to first likelihood value, warm cache (s) | {warm['total_s']:.2f} "
                 f"(imports {warm['import_s']:.2f}, config {warm['config_s']:.2f}, first call "
                 f"{warm['first_call_s']:.2f}; process {warm['process_wall_s']:.2f}) | "
                 f"<= {TARGETS['startup_s']:.0f} | "
                 f"{_ok(warm['total_s'] <= TARGETS['startup_s'])} |")

    out = ["## Benchmarks", "", *lines, ""]
    for key, title in (("fast_modules", "fast mode, batch 1e4"),
                       ("full_modules", f"full mode, batch {_n(n_full)}")):
        out += [f"Per module ({title}, points/s/core):", "", "| Module | points/s |", "|---|---|"]
        out += [f"| {m} | {r:.3g} |" for m, r in res["joint"][key].items()]
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
            f"Load average (1, 5, 15 min) at start {info['load']}, at end {load_end} "
            "(the machine is shared). Run: `python benchmarks/run_all.py"
            f"{' --quick' if quick else ''}` ({wall_s / 60:.1f} min).", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~0.5 min)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table to this file")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
