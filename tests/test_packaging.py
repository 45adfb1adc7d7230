"""A real wheel: built from a copy of the checkout, installed into a fresh virtual environment,
run from a directory outside the checkout with no PYTHONPATH. The wheel carries every data
file (as the package ``globalfit_data``), finds it with importlib.resources, computes the same
cache keys as the checkout, and every registered likelihood evaluates from it."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from globalfit import paths
from likelihoods import _cache as cache

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(".git", ".cache", ".ci-venv", ".venv", "venv", "build", "dist",
                                "*.egg-info", "__pycache__", "*.pyc", "chains", ".pytest_cache",
                                ".hypothesis")

CHECK = r'''
import json, sys
from pathlib import Path
import numpy as np
import globalfit, globalfit_data
from globalfit import paths
from globalfit.config import load_config
from likelihoods import REGISTRY, likelihood_class
from likelihoods import _cache as cache

out = {"globalfit": globalfit.__file__, "data_dir": str(paths.data_dir()),
       "key": cache.cache_key("fast", {"a": 1}, ("likelihoods.borexino.fast",)),
       "data": {}, "loglike": {}}
for rel in json.loads(sys.argv[1]):
    out["data"][rel] = paths.data_file(*Path(rel).parts).read_bytes().hex()[:64]
posterior = load_config("fit.yaml").posterior
theta = posterior.priors.sample(np.random.default_rng(1), 8)
obs = posterior.evaluate(theta).observables
for name in REGISTRY:
    options = {"mode": "fast"} if name == "borexino" else {}
    lk = likelihood_class(name)(**options)
    ll = np.asarray(lk.loglike({k: obs[k] for k in lk.requires}))
    out["loglike"][name] = [None if np.isnan(v) else float(v) for v in ll]
print("RESULT " + json.dumps(out))
'''


def _run(cmd: list, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _data_files() -> list[str]:
    root = REPO / "data"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", tmp / "dist", src], tmp, env, 600)
    (found,) = (tmp / "dist").glob("globalfit_dtmm-*.whl")
    return found


def test_wheel_ships_code_and_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in _data_files():
        assert f"globalfit_data/{rel}" in names, rel
    for package in ("globalfit", "likelihoods"):
        for path in (REPO / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                assert path.relative_to(REPO).as_posix() in names, path
    assert not any(n.startswith(("data/", "tests/", "chains/")) for n in names)


def test_installed_wheel_runs_every_likelihood_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "GLOBALFIT_DATA_DIR", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], tmp_path, env, 300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                tmp_path, env, 60).stdout.strip()
    # the dependencies of the running environment (it may itself be a virtual environment),
    # appended after the new environment's own site-packages: nothing is downloaded
    parent = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    Path(site, "_test_parent_env.pth").write_text("\n".join(parent) + "\n")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
          wheel], tmp_path, env, 600)

    run = tmp_path / "elsewhere"
    run.mkdir()
    shutil.copy(REPO / "fit.yaml", run / "fit.yaml")
    # a temporary cache, seeded with links to the entries of this checkout's cache: the
    # wheel computes the same keys (asserted below), so it reuses them instead of spending
    # minutes on a rebuild; a rebuilt entry replaces the link, never the linked file
    seeded = tmp_path / "cache"
    seeded.mkdir()
    for entry in cache.entries(paths.cache_root()):
        if cache.ENTRY_RE.match(entry.name):
            (seeded / entry.name).symlink_to(entry)
    env.update(GLOBALFIT_CACHE_DIR=str(seeded), MPLBACKEND="Agg")
    proc = _run([python, "-c", CHECK, json.dumps(_data_files())], run, env, 3000)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    out = json.loads(line[len("RESULT "):])

    assert Path(out["globalfit"]).resolve().is_relative_to(venv.resolve())
    assert Path(out["data_dir"]).resolve().is_relative_to(venv.resolve())
    for rel, head in out["data"].items():
        assert head == (REPO / "data" / rel).read_bytes().hex()[:64], rel
    assert out["key"] == cache.cache_key("fast", {"a": 1}, ("likelihoods.borexino.fast",))
    from likelihoods import REGISTRY
    assert set(out["loglike"]) == set(REGISTRY)
    for name, values in out["loglike"].items():
        assert len(values) == 8 and None not in values, name
        if name == "lep":      # fit.yaml's benchmark (m_N = m_E = 100 MeV) is excluded by LEP
            assert all(v == -math.inf for v in values), values
            continue
        assert any(v is not None and v > -1e300 for v in values), name
    for entry in seeded.iterdir():          # the linked entries were read, never written
        assert not entry.is_symlink() or entry.resolve().is_file()

    script = venv / ("Scripts/globalfit.exe" if os.name == "nt" else "bin/globalfit")
    info = _run([script, "cache", "info"], run, env, 300).stdout
    assert str(seeded) in info
