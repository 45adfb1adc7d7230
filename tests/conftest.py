"""Shared test helpers: small toy model and likelihoods with analytic posteriors/evidence.

The toys implement the real interfaces (globalfit.model.base.Model,
likelihoods.base.Likelihood) and are plugins: ``tests/globalfit_test_toys-0.dist-info``
declares them as entry points (model ``toy``, likelihoods ``toy_gauss``, ``toy_gauss_b``), so
configs name them like any registered class and subprocesses find them with ``tests/`` on
PYTHONPATH.
"""
from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pytest
import yaml

from globalfit.model.base import Model, ParameterSpec
from globalfit.options import Option
from likelihoods.base import Likelihood, Nuisance

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent


class ToyModel(Model):
    """Two dimensionless parameters and one mass; observables are the parameters themselves.

    Points with ``x < x_invalid_below`` are outside the model's domain (valid = False)."""
    name = "toy"
    parameters = (
        ParameterSpec("x", "1", -10.0, 10.0, "x", "toy coordinate"),
        ParameterSpec("y", "1", -10.0, 10.0, "y", "toy coordinate"),
        ParameterSpec("m_gev", "energy", 0.0, 10.0, "m", "toy mass"),
    )
    provides = ("toy_x", "toy_y", "toy_m_gev", "toy_r2")
    options = (Option("x_invalid_below", (float,), -np.inf, allow_inf=True),)

    def __init__(self, x_invalid_below: float = -np.inf) -> None:
        self.x_invalid_below = float(x_invalid_below)

    def observables(self, params: Mapping[str, np.ndarray]
                    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        x, y, m = (np.asarray(params[k], dtype=float) for k in ("x", "y", "m_gev"))
        obs = {"toy_x": x, "toy_y": y, "toy_m_gev": m, "toy_r2": x * x + y * y}
        return obs, x >= self.x_invalid_below


class GaussLikelihood(Likelihood):
    """Normal measurement of one observable: ln L = ln N(obs + shift; center, width).

    ``mode="full"`` adds a nuisance ``shift`` ~ N(0, shift_width) that is sampled."""
    name = "toy_gauss"
    citation = "toy"
    options = (
        Option("observable", (str,), "toy_x"),
        Option("center", (float,), 0.0),
        Option("width", (float,), 1.0),
        Option("mode", (str,), "fast", choices=("fast", "full")),
        Option("shift_width", (float,), 0.5),
        Option("data_file", (str, type(None)), None, unit="file"),
        Option("delay_s", (float,), 0.0, low=0.0, unit="s"),
    )
    derived_names = ("expected_signal_events",)

    def __init__(self, observable: str = "toy_x", center: float = 0.0, width: float = 1.0,
                 mode: str = "fast", shift_width: float = 0.5,
                 data_file: str | None = None, delay_s: float = 0.0) -> None:
        if mode not in ("fast", "full"):
            raise ValueError(f"mode: expected 'fast' or 'full', found {mode!r}")
        if not width > 0:
            raise ValueError(f"width: must be > 0, found {width}")
        self.delay_s = float(delay_s)      # slows the toy down for kill/resume tests
        self.requires = (observable,)
        self.observable, self.center, self.width = observable, center, width
        # "full" mode: the sampler supplies them; "fast" mode profiles them (here: the
        # constraint is centred on 0, so the profile sets shift = 0 and rate is unused)
        self.mode = mode
        self.nuisances = (Nuisance("shift", "1", "gaussian", 0.0, shift_width),
                          Nuisance("rate", "1/day", "uniform", low=0.0, high=np.inf),
                          ) if mode == "full" else ()

    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        x = np.asarray(observables[self.observable], dtype=float)
        if self.mode == "full":
            if not nuisances or "shift" not in nuisances or "rate" not in nuisances:
                raise KeyError("full mode needs the nuisances shift and rate")
            x = x + nuisances["shift"]
        z = (x - self.center) / self.width
        return -0.5 * z * z - np.log(self.width * np.sqrt(2 * np.pi))

    def expected_signal_events(self, observables: Mapping[str, np.ndarray],
                               nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Toy 'signal events': 10 x obs^2 (exercises the derived-quantity hook)."""
        return 10.0 * np.asarray(observables[self.observable]) ** 2

    def derived(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        return {"expected_signal_events": self.expected_signal_events(observables, nuisances)}


class GaussLikelihoodB(GaussLikelihood):
    """The same toy, registered as a second experiment (a different data set)."""
    name = "toy_gauss_b"


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Quantile ``q`` of samples ``x`` with weights ``w`` (midpoint CDF, linear)."""
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cdf, x))


def toy_config(name: str = "toy", sampler: Mapping[str, Any] | None = None,
               **updates: Any) -> dict[str, Any]:
    """A small fit config: x ~ U(-5, 5) measured as 1 +- 0.5, y ~ U(-5, 5) measured as
    -1 +- 1, m fixed; emcee with a handful of walkers and a fixed number of steps."""
    cfg: dict[str, Any] = {
        "model": {"name": "toy"},
        "parameters": {
            "x": {"prior": "uniform", "low": -5, "high": 5, "latex": "x"},
            "y": {"prior": "uniform", "low": -5, "high": 5},
            "m_gev": {"prior": "fixed", "value": "300 MeV"},
        },
        "likelihoods": {
            "a": {"type": "toy_gauss", "observable": "toy_x", "center": 1.0,
                  "width": 0.5},
            "b": {"type": "toy_gauss_b", "observable": "toy_y", "center": -1.0,
                  "width": 1.0},
        },
        "sampler": {"name": "emcee", "nwalkers": 8, "max_steps": 60, "stop": "fixed",
                    "progress": False, "pool": "serial"},
        "output": {"name": name, "directory": "chains", "plots": False},
        "seed": 7,
    }
    if sampler and sampler.get("name", "emcee") != "emcee":
        cfg["sampler"] = {"progress": False, "pool": "serial"}
    if sampler:
        cfg["sampler"].update(sampler)
    for key, value in updates.items():
        cfg[key] = value
    return copy.deepcopy(cfg)


def write_config(directory: Path, cfg: Mapping[str, Any], filename: str = "fit.yaml") -> Path:
    path = Path(directory) / filename
    path.write_text(yaml.safe_dump(dict(cfg), sort_keys=False))
    return path


def subprocess_env() -> dict[str, str]:
    """Environment for running the CLI in a subprocess that can import the toys."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), str(REPO),
                                         env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    env["HDF5_USE_FILE_LOCKING"] = "FALSE"    # tests read checkpoints of running fits
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "run_fit.py"), *args]


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    return tmp_path
