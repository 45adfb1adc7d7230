"""Config validation: every bad config is one line naming file and key, exit status 2, and
never touches an earlier run's files."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from conftest import cli_command, subprocess_env, toy_config, write_config
from globalfit.cli import main
from globalfit.config import load_config
from globalfit.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def apply(cfg: dict) -> None:
        *head, last = path.split(".")
        node = cfg
        for key in head:
            node = node[key]
        node[last] = value
    return apply


def _delete(path: str) -> Callable[[dict], None]:
    def apply(cfg: dict) -> None:
        *head, last = path.split(".")
        node = cfg
        for key in head:
            node = node[key]
        del node[last]
    return apply


def _overlap(cfg: dict) -> None:
    cfg["likelihoods"]["a2"] = {"type": "toy_gauss", "observable": "toy_y"}


# (id, mutation, key path the message must name, further text it must contain)
BAD: list[tuple[str, Callable[[dict], None], str, str]] = [
    ("top-level typo", _set("sampeler", {}), "sampeler", "did you mean 'sampler'"),
    ("likelihood option typo", _set("likelihoods.a.centre", 1.0), "likelihoods.a.centre",
     "did you mean 'center'"),
    ("unknown likelihood", _set("likelihoods.borexion", {}), "likelihoods.borexion",
     "did you mean 'borexino'"),
    ("likelihood option type", _set("likelihoods.a.center", "abc"), "likelihoods.a.center",
     "expected"),
    ("likelihood option rejected by class", _set("likelihoods.a.mode", "slow"),
     "likelihoods.a.mode", "slow"),
    ("seed type", _set("seed", "seven"), "seed", "integer"),
    ("bad unit", _set("parameters.m_gev.value", "300 MeF"), "parameters.m_gev.value", "MeF"),
    ("unit on dimensionless", _set("parameters.x.low", "1 MeV"), "parameters.x.low", "unit"),
    ("outside physical domain", _set("parameters.x.high", 20), "parameters.x.high",
     "physical domain"),
    ("mass below domain", _set("parameters.m_gev.value", "-5 MeV"), "parameters.m_gev.value",
     "physical domain"),
    ("low >= high", _set("parameters.y.high", -6), "parameters.y.high", "exceed"),
    ("log-uniform low <= 0", _set("parameters.y", {"prior": "log-uniform", "low": 0, "high": 1}),
     "parameters.y.low", "low > 0"),
    ("prior typo", _set("parameters.x.prior", "log-uniforn"), "parameters.x.prior",
     "did you mean 'log-uniform'"),
    ("key not of this prior", _set("parameters.x.value", 1.0), "parameters.x.value",
     "uniform prior"),
    ("missing parameter", _delete("parameters.y"), "parameters.y", "missing"),
    ("unknown parameter", _set("parameters.z", {"prior": "fixed", "value": 1}), "parameters.z",
     "unknown parameter"),
    ("missing data file", _set("likelihoods.a.data_file", "no_such_file.csv"),
     "likelihoods.a.data_file", "not found"),
    ("overlapping data sets", _overlap, "likelihoods.a2", "overlapping"),
    ("sampler typo", _set("sampler.name", "emce"), "sampler.name", "did you mean 'emcee'"),
    ("sampler option type", _set("sampler.nwalkers", "many"), "sampler.nwalkers", "integer"),
    ("too few walkers", _set("sampler.nwalkers", 2), "sampler.nwalkers", "at least"),
    ("bad stop rule", _set("sampler.stop", "autocor"), "sampler.stop",
     "did you mean 'autocorr'"),
    ("dynesty option for emcee", _set("sampler.nlive", 100), "sampler.nlive", "unknown option"),
    ("unknown model", _set("model.name", "dark_tm"), "model.name", "did you mean 'dark_tmm'"),
    ("unknown model option", _set("model.options", {"x_invalid_belo": 1.0}),
     "model.options.x_invalid_belo", "did you mean 'x_invalid_below'"),
    ("observable not provided", _set("likelihoods.a.observable", "toy_z"), "likelihoods.a",
     "toy_z"),
    ("negative gaussian sd", _set("parameters.x", {"prior": "gaussian", "mean": 0, "sd": -1}),
     "parameters.x.sd", "> 0"),
    ("missing section", _delete("likelihoods"), "likelihoods", "missing"),
    ("parameter not a mapping", _set("parameters.x", [1, 2]), "parameters.x", "expected"),
    ("output type", _set("output.plots", "yes"), "output.plots", "true/false"),
    ("unbounded nuisance needs a prior", _set("likelihoods.a.mode", "full"),
     "parameters.a.rate", "unbounded uniform"),
    ("nuisance typo", lambda c: (_set("likelihoods.a.mode", "full")(c),
                                 c["parameters"].update({"a.shiftt": 0.0})),
     "parameters.a.shiftt", "did you mean 'a.shift'"),
]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    directory = tmp_path_factory.mktemp("runs")
    cfg = toy_config(name="shared", sampler={"max_steps": 20})
    assert main(["fit", "--config", str(write_config(directory, cfg)), "--quiet"]) == 0
    run = directory / "chains" / "shared"
    snapshot = {p.name: p.read_bytes() for p in sorted(run.iterdir())}
    assert "posterior.nc" in snapshot
    return directory, snapshot


def test_at_least_twenty_bad_cases() -> None:
    assert len(BAD) >= 20


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_config_exit_2_names_key_and_leaves_earlier_run(
        case: tuple, earlier_run: tuple[Path, dict[str, bytes]],
        capsys: pytest.CaptureFixture) -> None:
    _, mutate, key, text = case
    directory, snapshot = earlier_run
    cfg = toy_config(name="shared", sampler={"max_steps": 20})
    mutate(cfg)
    path = write_config(directory, cfg, "bad.yaml")
    capsys.readouterr()
    status = main(["fit", "--config", str(path), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"{path}: {key}:"), err
    assert text in err, err
    run = directory / "chains" / "shared"
    assert {p.name: p.read_bytes() for p in sorted(run.iterdir())} == snapshot


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model: {name: x\nparameters: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+:"):
        load_config(path)


def test_existing_run_refused_without_flag_and_exit_status_is_2(
        earlier_run: tuple[Path, dict[str, bytes]]) -> None:
    directory, snapshot = earlier_run
    cfg = toy_config(name="shared", sampler={"max_steps": 20})
    path = write_config(directory, cfg, "again.yaml")
    proc = subprocess.run(cli_command("--config", str(path)), capture_output=True, text=True,
                          env=subprocess_env(), cwd=directory, timeout=120)
    assert proc.returncode == 2
    assert "run directory exists" in proc.stderr and "--resume" in proc.stderr
    run = directory / "chains" / "shared"
    assert {p.name: p.read_bytes() for p in sorted(run.iterdir())} == snapshot


def test_unknown_option_message_format_in_subprocess(tmp_path: Path) -> None:
    cfg = toy_config()
    cfg["likelihoods"]["a"]["widht"] = 2.0
    path = write_config(tmp_path, cfg)
    proc = subprocess.run(cli_command("--config", "fit.yaml"), capture_output=True, text=True,
                          env=subprocess_env(), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("fit.yaml: likelihoods.a.widht: unknown option "
                                   "(did you mean 'width'?)")
    assert not (tmp_path / "chains").exists()


def test_resolved_config_fills_defaults_and_parses_units(tmp_path: Path) -> None:
    cfg = toy_config()
    cfg["parameters"]["m_gev"] = {"prior": "fixed", "value": "250 MeV"}
    cfg["likelihoods"]["a"]["mode"] = "full"
    cfg["parameters"]["a.rate"] = {"prior": "uniform", "low": 0, "high": 5}
    fit = load_config(write_config(tmp_path, cfg))
    res = fit.resolved
    assert res["parameters"]["m_gev"] == {"prior": "fixed", "value": 0.25, "latex": "m"}
    assert res["likelihoods"]["a"]["width"] == 0.5 and res["likelihoods"]["b"]["mode"] == "fast"
    assert res["sampler"]["tau_factor"] == 50.0 and res["sampler"]["check_every"] == 200
    # nuisance of the full mode sampled with its Nuisance-spec prior
    assert res["parameters"]["a.shift"]["prior"] == "gaussian"
    assert fit.posterior.names == ("x", "y", "a.shift", "a.rate")
    # the resolved config is itself a valid config giving the same resolution
    again = load_config(write_config(tmp_path, res, "resolved.yaml"))
    assert again.resolved == yaml.safe_load(yaml.safe_dump(res))
    assert fit.run_dir == tmp_path / "chains" / "toy"


def test_bare_value_means_fixed_and_gaussian_truncated_to_domain(tmp_path: Path) -> None:
    cfg = toy_config()
    cfg["parameters"]["m_gev"] = "1 GeV"
    cfg["parameters"]["y"] = {"prior": "gaussian", "mean": 0.0, "sd": 3.0}
    fit = load_config(write_config(tmp_path, cfg))
    assert fit.posterior.priors.fixed["m_gev"] == 1.0
    y = fit.posterior.priors["y"]
    assert (y.low, y.high) == (-10.0, 10.0)
    assert fit.posterior(np.array([[0.0, 11.0]]))[0] == -np.inf


def _is_fit_config(path: Path) -> bool:
    raw = yaml.safe_load(path.read_text())
    return isinstance(raw, dict) and {"parameters", "likelihoods"} <= set(raw)


DEFAULT_CONFIGS = sorted([REPO / "fit.yaml",
                          *filter(_is_fit_config, (REPO / "configs").glob("*.yaml"))])


@pytest.mark.parametrize("path", DEFAULT_CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path) -> None:
    fit = load_config(path)
    assert fit.posterior.ndim >= 1
    raw = yaml.safe_load(path.read_text())
    assert set(fit.likelihoods) == {k for k, v in raw["likelihoods"].items()
                                    if v is not False and (v or {}).get("enabled", True)}
