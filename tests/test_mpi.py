"""Short fits on 2 MPI ranks (mpiexec from the mpich wheel next to the interpreter): rank 0
drives the sampler, rank 1 evaluates half of every vectorised batch; the emcee chain equals
the serial one for the same seed."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, subprocess_env, toy_config, write_config
from globalfit.cli import main
from globalfit.output import _arviz

MPIEXEC = Path(sys.executable).parent / "mpiexec"


def mpi_run(directory: Path) -> subprocess.CompletedProcess:
    if not MPIEXEC.exists() and shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec next to the interpreter")
    exe = str(MPIEXEC) if MPIEXEC.exists() else "mpiexec"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py not installed")
    return subprocess.run([exe, "-n", "2", sys.executable, str(REPO / "run_fit.py"),
                           "--config", "fit.yaml", "--quiet"], cwd=directory,
                          env=subprocess_env(), capture_output=True, text=True, timeout=240)


def test_emcee_on_two_ranks_matches_serial(tmp_path: Path) -> None:
    cfg = toy_config(name="mpi", sampler={"max_steps": 100, "nwalkers": 10})
    (tmp_path / "mpi").mkdir()
    write_config(tmp_path / "mpi", cfg)
    proc = mpi_run(tmp_path / "mpi")
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "mpi" / "chains" / "mpi"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["pool"] == "MPIPool" and manifest["n_processes"] == 2
    (tmp_path / "serial").mkdir()
    cfg["sampler"]["pool"] = "serial"
    assert main(["fit", "--config", str(write_config(tmp_path / "serial", cfg)),
                 "--quiet"]) == 0
    az = _arviz()
    a = az.from_netcdf(run / "posterior.nc")
    b = az.from_netcdf(tmp_path / "serial" / "chains" / "mpi" / "posterior.nc")
    np.testing.assert_array_equal(a.posterior["x"].values, b.posterior["x"].values)
    np.testing.assert_array_equal(a.log_likelihood["a"].values, b.log_likelihood["a"].values)


def test_dynesty_on_two_ranks(tmp_path: Path) -> None:
    cfg = toy_config(name="mpin", sampler={"name": "dynesty", "nlive": 100, "dlogz": 0.5})
    write_config(tmp_path, cfg)
    proc = mpi_run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "chains" / "mpin"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["pool"] == "MPIPool" and manifest["n_processes"] == 2
    st = manifest["sampler"]
    assert abs(st["logz"] - np.log(0.01)) < 3 * st["logzerr"]
    assert _arviz().from_netcdf(run / "posterior.nc").posterior["x"].size > 100


def test_limits_on_two_ranks_match_serial(tmp_path: Path) -> None:
    """`globalfit limits` on 2 MPI ranks (the planes and masses in one map, each plane written
    by the rank that computed it) writes the same CSV files and summary as one process, and
    leaves no folder of its own behind."""
    import yaml
    if not MPIEXEC.exists() and shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec next to the interpreter")
    raw = yaml.safe_load((REPO / "configs" / "limits.yaml").read_text())
    raw["limits"].update({
        "m_aprime": {"low": "1 MeV", "high": "1 GeV", "n_points": 5}, "g_d": [0.3],
        "methods": ["profile"], "direct": "published_rate",
        "eps": {"low": 1e-8, "high": 1e-2, "n_points": 201},
        "plane": {"planes": ["m_eps", "m_mu"], "m_aprime": {"n_points": 9},
                  "eps": {"n_points": 9}, "mu": {"n_points": 13}, "g_d": 0.3}})
    outs = {}
    for kind in ("serial", "mpi"):
        raw["limits"]["pool"] = {"kind": kind}
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(raw))
        cmd = [sys.executable, "-m", "globalfit.limits", "--config", str(path), "--out",
               str(tmp_path / kind), "--quiet"]
        if kind == "mpi":
            cmd = [str(MPIEXEC) if MPIEXEC.exists() else "mpiexec", "-n", "2"] + cmd
        proc = subprocess.run(cmd, cwd=tmp_path, env=subprocess_env(), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs[kind] = sorted(p.name for p in (tmp_path / kind).iterdir())
    assert outs["serial"] == outs["mpi"]
    assert "plane_m_mu_grid.csv" in outs["mpi"] and "exclusion_m_eps.png" in outs["mpi"]
    assert not [n for n in outs["mpi"] if n.startswith(".")]
    for name in outs["serial"]:
        if name.endswith((".csv", ".json")):
            assert (tmp_path / "serial" / name).read_text() == \
                (tmp_path / "mpi" / name).read_text(), name


_MAP_JOB = '''
import json, sys, time
from mpi4py import MPI
from globalfit.samplers.pool import MPIPool


def work(item):
    index, seconds = item
    time.sleep(seconds)
    return index, MPI.COMM_WORLD.Get_rank()


if __name__ == "__main__":
    pool = MPIPool()
    if not pool.is_master:
        pool.wait()
        sys.exit(0)
    # 40 items of uneven cost (1-9 ms), then a map of 2 (emcee's halves)
    items = [(i, 1e-3 * (1 + (7 * i) % 9)) for i in range(40)]
    reported = []
    out = pool.map(work, items, on_result=reported.append)
    halves = pool.map(work, [(0, 0.02), (1, 0.02)])
    pool.close()
    json.dump({"out": out, "reported": reported, "halves": halves}, open(sys.argv[1], "w"))
'''


def test_mpi_pool_map_in_guided_tasks(tmp_path: Path) -> None:
    """MPIPool.map on 2 ranks with tasks of several items (guided_chunks): the results come
    back in the order of the items, each item is reported once to ``on_result``, and both
    ranks evaluate items (the worker from the front, rank 0 from the back)."""
    if not MPIEXEC.exists() and shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec next to the interpreter")
    script = tmp_path / "map_job.py"
    script.write_text(_MAP_JOB)
    exe = str(MPIEXEC) if MPIEXEC.exists() else "mpiexec"
    proc = subprocess.run([exe, "-n", "2", sys.executable, str(script), str(tmp_path / "o.json")],
                          cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "o.json").read_text())
    assert [index for index, _ in res["out"]] == list(range(40))
    assert sorted(res["reported"]) == list(range(40))
    ranks = [rank for _, rank in res["out"]]
    assert ranks[0] == 1 and ranks[-1] == 0            # worker from the front, rank 0 the back
    assert 0 < ranks.count(1) < 40
    assert [index for index, _ in res["halves"]] == [0, 1]
    assert sorted(rank for _, rank in res["halves"]) == [0, 1]
