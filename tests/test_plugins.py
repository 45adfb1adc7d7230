"""Third-party likelihoods and models register through entry points (groups
``globalfit.likelihoods`` and ``globalfit.models``): a tiny plugin package installed into a
temporary environment runs a fit; a plugin that does not implement the interface is refused
before it is instantiated."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import toy_config, write_config
from globalfit.config import load_config
from globalfit.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

PLUGIN_MODULE = '''\
"""A plugin: a straight-line model and a Gaussian measurement of its observable."""
from typing import Mapping

import numpy as np

from globalfit.model.base import Model, ParameterSpec
from globalfit.options import Option
from likelihoods.base import Likelihood


class LineModel(Model):
    name = "plug_line"
    options = (Option("slope", (float,), 2.0),)
    parameters = (ParameterSpec("a", "1", -10.0, 10.0, "a", "plugin parameter"),)
    provides = ("plug_y",)

    def __init__(self, slope: float = 2.0) -> None:
        self.slope = slope

    def observables(self, params: Mapping[str, np.ndarray]):
        a = np.asarray(params["a"], dtype=float)
        return {"plug_y": self.slope * a}, np.ones(a.shape, dtype=bool)


class PlugGauss(Likelihood):
    name = "plug_gauss"
    citation = "plugin"
    options = (Option("center", (float,), 1.0), Option("width", (float,), 0.5, low=1e-12))
    derived_names = ("pull",)

    def __init__(self, center: float = 1.0, width: float = 0.5) -> None:
        self.center, self.width = center, width
        self.requires = ("plug_y",)
        self.domain = {"plug_y": (-30.0, 30.0)}

    def loglike(self, observables, nuisances=None):
        y = np.asarray(observables["plug_y"], dtype=float)
        ll = -0.5 * ((y - self.center) / self.width) ** 2
        outside = self.outside_domain(observables)
        return ll if outside is None else np.where(outside, -np.inf, ll)

    def derived(self, observables, nuisances=None):
        return {"pull": (np.asarray(observables["plug_y"]) - self.center) / self.width}


class NotALikelihood:
    def __init__(self, **options):
        raise AssertionError("must not be instantiated")
'''

ENTRY_POINTS = """\
[globalfit.likelihoods]
plug_gauss = gf_plugin_demo:PlugGauss
plug_fake = gf_plugin_demo:NotALikelihood

[globalfit.models]
plug_line = gf_plugin_demo:LineModel
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "gf-plugin-demo"
version = "0.1"

[project.entry-points."globalfit.likelihoods"]
plug_gauss = "gf_plugin_demo:PlugGauss"
plug_fake = "gf_plugin_demo:NotALikelihood"

[project.entry-points."globalfit.models"]
plug_line = "gf_plugin_demo:LineModel"

[tool.setuptools]
py-modules = ["gf_plugin_demo"]
"""


def plugin_config(name: str = "plug", likelihood: str = "plug_gauss") -> dict:
    cfg = toy_config(name=name, sampler={"nwalkers": 8, "max_steps": 40, "stop": "fixed"})
    cfg["model"] = {"name": "plug_line", "options": {"slope": 2.0}}
    cfg["parameters"] = {"a": {"prior": "uniform", "low": -5, "high": 5}}
    cfg["likelihoods"] = {"meas": {"type": likelihood, "center": 1.0, "width": 0.5}}
    return cfg


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plugin as an unpacked distribution on sys.path (module + .dist-info)."""
    site = tmp_path / "site"
    info = site / "gf_plugin_demo-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "gf_plugin_demo.py").write_text(PLUGIN_MODULE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gf-plugin-demo\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    return tmp_path


def test_plugins_are_listed_and_used(on_path: Path) -> None:
    import likelihoods
    from globalfit import model
    assert likelihoods.plugins()["plug_gauss"] == "gf_plugin_demo:PlugGauss"
    assert "plug_line" in model.known()
    fit = load_config(write_config(on_path, plugin_config()))
    assert type(fit.model).__name__ == "LineModel" and fit.posterior.names == ("a",)
    assert fit.resolved["likelihoods"]["meas"] == {"type": "plug_gauss", "center": 1.0,
                                                   "width": 0.5}


def test_a_plugin_that_is_not_a_likelihood_is_refused(on_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"likelihoods\.meas\.type: likelihood 'plug_fake' "
                                          r".* is not a subclass of likelihoods\.base\."
                                          r"Likelihood"):
        load_config(write_config(on_path, plugin_config(likelihood="plug_fake")))


def test_plugin_options_are_validated_like_any_other(on_path: Path) -> None:
    cfg = plugin_config()
    cfg["likelihoods"]["meas"]["widht"] = 1.0
    with pytest.raises(ConfigError, match=r"likelihoods\.meas\.widht: unknown option "
                                          r"\(did you mean 'width'\?\)"):
        load_config(write_config(on_path, cfg))
    cfg = plugin_config()
    cfg["model"]["options"] = {"slop": 2.0}
    with pytest.raises(ConfigError, match=r"model\.options\.slop: unknown option "
                                          r"\(did you mean 'slope'\?\)"):
        load_config(write_config(on_path, cfg))


@pytest.mark.slow
def test_installed_plugin_runs_a_fit(tmp_path: Path) -> None:
    """pip-install the plugin into a fresh environment (this interpreter's packages and the
    project from this source tree on its path) and run ``globalfit fit`` with a config naming
    its classes."""
    src = tmp_path / "plugin"
    src.mkdir()
    (src / "gf_plugin_demo.py").write_text(PLUGIN_MODULE)
    (src / "pyproject.toml").write_text(PYPROJECT)
    venv = tmp_path / "venv"
    # without pip: this interpreter's pip and setuptools (on PYTHONPATH, below) do the
    # install, into the environment of the interpreter that runs them
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)],
                   check=True, timeout=300)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    # this interpreter's packages (pip, setuptools >= 77, numpy, ...) on the path: a base
    # interpreter's own site-packages may hold an old setuptools without bdist_wheel, or none
    here = [sysconfig.get_paths()[k] for k in ("purelib", "platlib")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO)] + list(dict.fromkeys(here))),
               PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps",
                              "--no-build-isolation", "--no-index", "-q", str(src)],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert install.returncode == 0, install.stderr
    work = tmp_path / "run"
    work.mkdir()
    write_config(work, plugin_config(name="plugfit"))
    proc = subprocess.run([str(python), "-m", "globalfit.cli", "fit", "--config", "fit.yaml",
                           "--quiet"], capture_output=True, text=True, env=env, cwd=work,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    run = work / "chains" / "plugfit"
    assert (run / "posterior.nc").is_file()
    # the system interpreter (without the plugin) refuses the same config, naming the key
    proc = subprocess.run([sys.executable, "-m", "globalfit.cli", "fit", "--config",
                           "fit.yaml", "--force"], capture_output=True, text=True, env=env,
                          cwd=work, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("fit.yaml: model.name: unknown model 'plug_line'")
    assert (run / "posterior.nc").is_file()
