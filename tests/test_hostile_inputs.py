"""Hostile and careless input to the command line: every case must end with exit status 2
(130/143 for a signal), ONE line on stderr naming the file or key, no traceback, within a
bounded time, and leave the files of an earlier run (and of a user's own folder) untouched.

The CLI runs as a subprocess (``python -m globalfit.cli``). The cases are prepared once per
module and run a few at a time (they are independent); each test then checks one result.
Configs use the real model and the NA64, BaBar and MEG likelihoods (no on-disk cache); only
the signal tests use Borexino, with an empty cache folder of their own so that start-up is
long (the cache build) and the signal arrives during it.

A case may be marked ``xfail`` with the reason named (none is today).
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LOG_PREFIX = " globalfit"          # "HH:MM:SS globalfit... INFO: ..." log lines
#: a case that is still running after this is a hang (most fail in about a second)
TIMEOUT_S = 60.0
#: address-space cap of every case (a case that tries to allocate an absurd ensemble fails)
MEMORY_CAP = 4 << 30


def base_config(out_dir: Path, name: str = "case") -> dict[str, Any]:
    """A valid fit config (dark_tmm with NA64, BaBar, MEG; a 20-step emcee run)."""
    return {
        "model": {"name": "dark_tmm", "options": {"yukawa_parametrisation": "scale_angle"}},
        "parameters": {
            "m_aprime_gev": {"prior": "log-uniform", "low": "1.1 MeV", "high": "1 GeV",
                             "latex": "m_{A'}"},
            "eps": {"prior": "log-uniform", "low": 1.0e-7, "high": 1.0e-2},
            "g_d": {"prior": "log-uniform", "low": 1.0e-3, "high": 0.5},
            "y0": {"prior": "log-uniform", "low": 1.0e-6, "high": 1.0},
            "alpha": {"prior": "uniform", "low": 0.0, "high": 3.141592653589793},
            "theta": {"prior": "fixed", "value": 0.7853981633974483},
            "m_n_gev": {"prior": "fixed", "value": "100 MeV"},
            "m_s_gev": {"prior": "fixed", "value": "300 MeV"},
            "dm_s_gev": {"prior": "fixed", "value": "100 MeV"},
        },
        "likelihoods": {"na64": {"dataset": "2016-2022"}, "babar": {},
                        "meg": {"dataset": "meg2_2025"}},
        "sampler": {"name": "emcee", "nwalkers": 12, "max_steps": 20, "stop": "fixed",
                    "progress": False, "pool": "serial"},
        "output": {"name": name, "directory": str(out_dir), "plots": False},
        "seed": 1,
    }


def dump(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)


def bomb(levels: int = 9) -> str:
    """A "billion laughs" flow value: 9 levels of 9 aliases each (9^9 leaves)."""
    parts = ['&l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        parts.append(f"&l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "[" + ", ".join(parts) + "]"


def snapshot(root: Path) -> dict[str, bytes]:
    """Relative path -> content hash (or link target) of everything under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = b"->" + os.readlink(path).encode()
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).digest()
        elif path.is_dir():
            out[rel] = b"<dir>"
    return out


def env_for(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    env.update(extra)
    return env


def _cap_memory() -> None:   # pragma: no cover - runs in the child
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@dataclasses.dataclass
class Run:
    """What a case runs: ``args`` after ``python -m globalfit.cli``; ``expect`` must appear
    in the one stderr line; ``watch`` are extra folders that must stay byte-identical."""
    args: list[str]
    expect: str | tuple[str, ...]
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    status: int = 2
    watch: tuple[Path, ...] = ()
    absent: tuple[Path, ...] = ()        # files that must not exist afterwards
    timeout: float = TIMEOUT_S


@dataclasses.dataclass
class Case:
    name: str
    setup: Callable[["Workspace"], Run]
    xfail: str | None = None
    skip: str | None = None


class Workspace:
    """tmp root with ``protected/`` (an earlier run, a running run, a user's folder) and one
    folder per case."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.protected = root / "protected"
        self.chains = self.protected / "chains"
        self.earlier = self.chains / "earlier"
        self.running = self.chains / "running"
        self.userdata = self.protected / "userdata"
        self.resolved = resolved_config(root)
        for run in (self.earlier, self.running):
            fake_run(run, self.resolved)
        (self.userdata / "sub").mkdir(parents=True)
        (self.userdata / "measurements.csv").write_text("x,y\n1,2\n")
        (self.userdata / "sub" / "notes.txt").write_text("do not delete\n")
        (self.protected / "notes.txt").write_text("a plain file\n")
        os.symlink(self.earlier, self.chains / "link")
        self.case_dir: Path = root

    def case(self, name: str) -> Path:
        self.case_dir = self.root / "cases" / name
        self.case_dir.mkdir(parents=True)
        return self.case_dir

    def config(self, text: str | bytes | dict, name: str = "fit.yaml") -> str:
        path = self.case_dir / name
        if isinstance(text, dict):
            text = dump(text)
        if isinstance(text, str):
            text = text.encode()
        path.write_bytes(text)
        return str(path)

    def cfg(self, **output: Any) -> dict[str, Any]:
        cfg = base_config(self.case_dir / "chains")
        cfg["output"].update(output)
        return cfg

    def data_copy(self) -> Path:
        target = self.case_dir / "data"
        shutil.copytree(REPO / "data", target)
        return target


def resolved_config(directory: Path) -> dict[str, Any]:
    """The resolved form of :func:`base_config` (what a run writes as its config.yaml)."""
    from globalfit.config import load_config
    path = directory / "resolved-source.yaml"
    path.write_text(dump(base_config(directory / "chains")))
    return load_config(path).resolved


def fake_run(run: Path, cfg: dict[str, Any]) -> None:
    """A run directory as ``globalfit fit`` leaves it (marker, config, manifest, outputs)."""
    run.mkdir(parents=True)
    (run / ".globalfit-run.json").write_text(json.dumps({"run_name": run.name}) + "\n")
    (run / "config.yaml").write_text(dump(cfg))
    (run / "manifest.json").write_text(json.dumps({"run_name": run.name,
                                                   "status": "complete"}) + "\n")
    (run / "checkpoint.h5").write_bytes(bytes(range(256)) * 64)
    (run / "posterior.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(1000))
    (run / "summary.csv").write_text(",mean\nx,1\n")


CASES: list[Case] = []


def case(xfail: str | None = None, skip: str | None = None) -> Callable:
    def register(fn: Callable[[Workspace], Run]) -> Callable[[Workspace], Run]:
        CASES.append(Case(fn.__name__.removeprefix("case_"), fn, xfail, skip))
        return fn
    return register


def fit(*args: str) -> list[str]:
    return ["fit", *args]


# ---- what the config file is -------------------------------------------------------------
@case()
def case_config_missing(w: Workspace) -> Run:
    return Run(fit("--config", str(w.case_dir / "nope.yaml")), "nope.yaml: file not found")


@case()
def case_config_is_directory(w: Workspace) -> Run:
    return Run(fit("--config", str(w.case_dir)), "not a regular file")


@case()
def case_config_dev_zero(w: Workspace) -> Run:
    return Run(fit("--config", "/dev/zero"), "/dev/zero: not a regular file")


@case()
def case_config_fifo(w: Workspace) -> Run:
    path = w.case_dir / "fifo.yaml"
    os.mkfifo(path)                     # opening it for reading would block forever
    return Run(fit("--config", str(path)), "fifo.yaml: not a regular file")


@case()
def case_config_symlink_loop(w: Workspace) -> Run:
    a, b = w.case_dir / "a.yaml", w.case_dir / "b.yaml"
    os.symlink(b, a)
    os.symlink(a, b)
    return Run(fit("--config", str(a)), ("a.yaml", "cannot read"))


@case()
def case_config_ten_megabytes(w: Workspace) -> Run:
    text = dump(w.cfg()) + ("# padding " + "x" * 90 + "\n") * 100_000
    return Run(fit("--config", w.config(text)), "file too large")


# ---- encoding ---------------------------------------------------------------------------------
@case()
def case_config_latin1(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("latex: m_{A'}", "latex: 'caf\xe9'").encode("latin-1")
    return Run(fit("--config", w.config(text)), ("fit.yaml", "not UTF-8", "offset"))


@case()
def case_config_utf16(w: Workspace) -> Run:
    return Run(fit("--config", w.config(dump(w.cfg()).encode("utf-16"))),
               ("fit.yaml", "not UTF-8"))


@case()
def case_config_nul_in_key(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("seed: 1", "se\x00ed: 1")
    return Run(fit("--config", w.config(text)), ("fit.yaml", "NUL byte"))


@case()
def case_bom_crlf_negative_seed(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["seed"] = -3
    text = b"\xef\xbb\xbf" + dump(cfg).replace("\n", "\r\n").encode()
    return Run(fit("--config", w.config(text)), ("fit.yaml: seed", "-3"))


@case()
def case_tab_indentation(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("  name: emcee", "\tname: emcee")
    return Run(fit("--config", w.config(text)), ("fit.yaml: line",))


# ---- YAML structure ---------------------------------------------------------------------------
@case()
def case_top_level_list(w: Workspace) -> Run:
    return Run(fit("--config", w.config("- model\n- parameters\n")),
               "expected a mapping at the top level")


@case()
def case_top_level_scalar(w: Workspace) -> Run:
    return Run(fit("--config", w.config("just a string\n")), "expected a mapping at the top level")


@case()
def case_empty_config(w: Workspace) -> Run:
    return Run(fit("--config", w.config("# nothing here\n")), "fit.yaml: empty config")


@case()
def case_duplicate_top_key(w: Workspace) -> Run:
    return Run(fit("--config", w.config(dump(w.cfg()) + "seed: 2\n")),
               ("fit.yaml: line", "duplicate key 'seed'"))


@case()
def case_duplicate_nested_key(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("  g_d:", "  eps: {prior: uniform, low: 0, high: 1}\n  g_d:")
    return Run(fit("--config", w.config(text)), ("fit.yaml: line", "duplicate key 'eps'"))


@case()
def case_alias_bomb_in_seed(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("seed: 1", "seed: " + bomb())
    return Run(fit("--config", w.config(text)), ("fit.yaml: line", "anchors"))


@case()
def case_alias_bomb_in_prior_bound(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["eps"]["low"] = "__BOMB__"
    return Run(fit("--config", w.config(dump(cfg).replace("__BOMB__", bomb()))), "anchors")


@case()
def case_alias_bomb_in_likelihood_option(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["likelihoods"]["na64"]["dataset"] = "__BOMB__"
    return Run(fit("--config", w.config(dump(cfg).replace("__BOMB__", bomb()))), "anchors")


@case()
def case_alias_bomb_in_latex_label(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["y0"]["latex"] = "__BOMB__"
    return Run(fit("--config", w.config(dump(cfg).replace("__BOMB__", bomb()))), "anchors")


@case()
def case_merge_key(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("sampler:\n", "sampler:\n  <<: {nwalkers: 14}\n")
    return Run(fit("--config", w.config(text)), "merge keys")


@case()
def case_python_object_tag(w: Workspace) -> Run:
    pwned = w.case_dir / "pwned"
    text = dump(w.cfg()).replace("seed: 1", f"seed: !!python/object/apply:os.system "
                                            f"['touch {pwned}']")
    return Run(fit("--config", w.config(text)), ("fit.yaml: line", "constructor"),
               absent=(pwned,))


@case()
def case_deep_nesting(w: Workspace) -> Run:
    return Run(fit("--config", w.config("seed: " + "[" * 50_000 + "]" * 50_000 + "\n")),
               ("fit.yaml", "nested too deeply"))


@case()
def case_unterminated_quote(w: Workspace) -> Run:
    text = dump(w.cfg()).replace("latex: m_{A'}", "latex: \"m_{A'}")
    return Run(fit("--config", w.config(text)), "fit.yaml: line")


# ---- seed -------------------------------------------------------------------------------------
@case()
def case_negative_seed(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["seed"] = -1
    return Run(fit("--config", w.config(cfg)), "fit.yaml: seed")


@case()
def case_huge_seed_string(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["seed"] = "9" * 100_000
    return Run(fit("--config", w.config(cfg)), "fit.yaml: seed")


@case()
def case_boolean_seed(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["seed"] = True
    return Run(fit("--config", w.config(cfg)), "fit.yaml: seed")


@case()
def case_float_seed(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["seed"] = 1.5
    return Run(fit("--config", w.config(cfg)), "fit.yaml: seed")


# ---- priors -----------------------------------------------------------------------------------
@case()
def case_prior_low_above_high(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["eps"].update(low=1e-2, high=1e-7)
    return Run(fit("--config", w.config(cfg)), "parameters.eps.high")


@case()
def case_prior_wrong_units(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["m_aprime_gev"]["low"] = "1 kg"
    return Run(fit("--config", w.config(cfg)), "parameters.m_aprime_gev.low")


@case()
def case_prior_nan_bound(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["alpha"]["low"] = "__NAN__"
    return Run(fit("--config", w.config(dump(cfg).replace("__NAN__", ".nan"))),
               "parameters.alpha")


@case()
def case_prior_infinite_bound(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["alpha"]["high"] = float("inf")
    return Run(fit("--config", w.config(cfg)), "parameters.alpha.high")


@case()
def case_log_uniform_zero_low(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["g_d"]["low"] = 0
    return Run(fit("--config", w.config(cfg)), "parameters.g_d.low")


@case()
def case_latex_label_not_a_string(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["eps"]["latex"] = ["\\frac{"] * 20_000
    return Run(fit("--config", w.config(cfg)), "parameters.eps.latex")


# ---- keys -------------------------------------------------------------------------------------
@case()
def case_unknown_top_key(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampeler"] = cfg.pop("sampler")
    return Run(fit("--config", w.config(cfg)), ("fit.yaml: sampeler", "sampler"))


@case()
def case_unknown_likelihood_option(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["likelihoods"]["na64"] = {"datset": "2016-2022"}
    return Run(fit("--config", w.config(cfg)), "likelihoods.na64.datset")


@case()
def case_unknown_likelihood(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["likelihoods"]["superk"] = {}
    return Run(fit("--config", w.config(cfg)), "likelihoods.superk")


@case()
def case_missing_parameters_section(w: Workspace) -> Run:
    cfg = w.cfg()
    del cfg["parameters"]
    return Run(fit("--config", w.config(cfg)), "fit.yaml: parameters")


@case()
def case_output_name_with_slash(w: Workspace) -> Run:
    return Run(fit("--config", w.config(w.cfg(name="../../escape"))), "output.name")


@case()
def case_output_name_dotdot(w: Workspace) -> Run:
    return Run(fit("--config", w.config(w.cfg(name=".."))), "output.name")


# ---- the run directory (issue 11 item 1) ------------------------------------------------------
@case()
def case_force_on_user_directory(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.protected), name="userdata")
    return Run(fit("--config", w.config(cfg), "--force"), ("userdata", "not a run directory"))


@case()
def case_resume_on_user_directory(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.protected), name="userdata")
    return Run(fit("--config", w.config(cfg), "--resume"), ("userdata", "not a run directory"))


@case()
def case_new_run_on_user_directory(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.protected), name="userdata")
    return Run(fit("--config", w.config(cfg)), ("userdata", "not a run directory", "write into"))


@case()
def case_force_on_data_folder_of_repo(w: Workspace) -> Run:
    """The example of the issue: ``{directory: ., name: data}`` next to a data/ folder."""
    shutil.copytree(REPO / "data" / "flavour", w.case_dir / "data")
    cfg = w.cfg(directory=".", name="data")
    return Run(fit("--config", w.config(cfg), "--force"), ("data", "not a run directory"),
               watch=(w.case_dir / "data",))


@case()
def case_run_dir_is_a_file(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.protected), name="notes.txt")
    return Run(fit("--config", w.config(cfg), "--force"), ("notes.txt", "not a run directory"))


@case()
def case_run_dir_is_a_symlink(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.chains), name="link")
    return Run(fit("--config", w.config(cfg), "--force"), ("link", "symbolic link"))


@case()
def case_existing_run_without_flag(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.chains), name="earlier")
    return Run(fit("--config", w.config(cfg)), ("earlier", "--resume"))


@case()
def case_resume_changed_seed(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.chains), name="earlier")
    cfg["seed"] = 99
    return Run(fit("--config", w.config(cfg), "--resume"), "fit.yaml: seed: differs")


@case()
def case_resume_of_running_run(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.chains), name="running")
    return Run(fit("--config", w.config(cfg), "--resume"), ("running", "already running"))


@case()
def case_force_on_running_run(w: Workspace) -> Run:
    cfg = w.cfg(directory=str(w.chains), name="running")
    return Run(fit("--config", w.config(cfg), "--force"), ("running", "already running"))


@case()
def case_stale_lock_is_ignored(w: Workspace) -> Run:
    """A lock file left by a process that died does not block: the run goes on to the
    resume check (which refuses here because the config changed)."""
    stale = w.case_dir / "chains" / "stale"
    fake_run(stale, w.resolved)
    (stale / ".globalfit-run.lock").write_text("999999999\n")
    cfg = w.cfg(name="stale")
    cfg["seed"] = 5
    return Run(fit("--config", w.config(cfg), "--resume"), "fit.yaml: seed: differs",
               watch=(stale,))


@case()
def case_chains_is_a_file(w: Workspace) -> Run:
    (w.case_dir / "blocker").write_text("not a folder\n")
    cfg = w.cfg(directory=str(w.case_dir / "blocker" / "chains"))
    return Run(fit("--config", w.config(cfg)), ("cannot write the run directory",),
               watch=())


@case(skip="root ignores permissions" if os.geteuid() == 0 else None)
def case_chains_not_writable(w: Workspace) -> Run:  # pragma: no cover - not as root
    ro = w.case_dir / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    cfg = w.cfg(directory=str(ro / "chains"))
    return Run(fit("--config", w.config(cfg)), ("cannot write the run directory",))


# ---- data files (issue 11 item 5), through GLOBALFIT_DATA_DIR ---------------------------------
def _edit(path: Path, fn: Callable[[str], str]) -> None:
    path.write_text(fn(path.read_text()))


def _data_rows(text: str) -> list[int]:
    lines = text.splitlines()
    return [i for i, ln in enumerate(lines) if ln and not ln.startswith("#")][1:]


def _replace_line(text: str, index: int, new: str | None) -> str:
    lines = text.splitlines()
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    return "\n".join(lines) + "\n"


@case()
def case_data_na64_curve_nan(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "na64_2023_eps90.csv"
    rows = _data_rows(path.read_text())
    _edit(path, lambda t: _replace_line(t, rows[10], t.splitlines()[rows[10]].split(",")[0]
                                        + ",nan"))
    return Run(fit("--config", w.config(w.cfg())),
               ("na64_2023_eps90.csv", f"line {rows[10] + 1}", "eps_90"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_babar_missing_row(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "babar_2017_single_photon.csv"
    rows = _data_rows(path.read_text())
    _edit(path, lambda t: _replace_line(t, rows[-1], None))
    return Run(fit("--config", w.config(w.cfg())),
               ("babar_2017_single_photon.csv", "rows"), env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_babar_masses_not_increasing(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "babar_2017_single_photon.csv"
    lines = path.read_text().splitlines()
    rows = _data_rows(path.read_text())
    lines[rows[5]], lines[rows[6]] = lines[rows[6]], lines[rows[5]]
    path.write_text("\n".join(lines) + "\n")
    return Run(fit("--config", w.config(w.cfg())),
               ("babar_2017_single_photon.csv", "line", "increase"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_babar_not_utf8(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "babar_2017_single_photon.csv"
    path.write_bytes(b"# \xff\xfe\n" + path.read_bytes())
    return Run(fit("--config", w.config(w.cfg())),
               ("babar_2017_single_photon.csv", "not UTF-8"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_babar_table_is_a_directory(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "babar_2017_single_photon.csv"
    path.unlink()
    path.mkdir()
    return Run(fit("--config", w.config(w.cfg())), "babar_2017_single_photon.csv",
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_na64_datasets_duplicate_key(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "na64_datasets.yaml"
    _edit(path, lambda t: t.replace("    n_obs: 0\n", "    n_obs: 0\n    n_obs: 3\n", 1))
    return Run(fit("--config", w.config(w.cfg())),
               ("na64_datasets.yaml", "duplicate key 'n_obs'"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_na64_datasets_nan_exposure(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "accelerator" / "na64_datasets.yaml"
    _edit(path, lambda t: t.replace("    eot: 9.37e+11\n", "    eot: .nan\n", 1))
    return Run(fit("--config", w.config(w.cfg())), ("na64_datasets.yaml", "eot"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_clfv_limits_alias(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "flavour" / "clfv_limits.yaml"
    _edit(path, lambda t: t.replace("      cl: 0.90\n", "      cl: &c 0.90\n", 1)
          .replace("      cl: 0.90\n", "      cl: *c\n", 1))
    return Run(fit("--config", w.config(w.cfg())), ("clfv_limits.yaml", "anchors"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


@case()
def case_data_clfv_limits_bad_cl(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "flavour" / "clfv_limits.yaml"
    _edit(path, lambda t: t.replace("      cl: 0.90\n", "      cl: 90\n", 1))
    return Run(fit("--config", w.config(w.cfg())), ("clfv_limits.yaml", ".cl"),
               env={"GLOBALFIT_DATA_DIR": str(data)})


# ---- fixed on other branches ------------------------------------------------------------------
@case()
def case_type_names_arbitrary_callable(w: Workspace) -> Run:
    pwned = w.case_dir / "pwned"
    cfg = w.cfg()
    cfg["likelihoods"]["evil"] = {"type": "subprocess:Popen", "args": ["touch", str(pwned)]}
    return Run(fit("--config", w.config(cfg)), "likelihoods.evil", absent=(pwned,))


@case()
def case_prior_box_outside_data_domain(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["parameters"]["m_aprime_gev"].update(low="1 keV", high="100 GeV")
    return Run(fit("--config", w.config(cfg)), "parameters.m_aprime_gev")


@case()
def case_sampler_burn_factor_nan(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampler"]["burn_factor"] = "__NAN__"
    return Run(fit("--config", w.config(dump(cfg).replace("__NAN__", ".nan"))),
               "sampler.burn_factor")


@case()
def case_sampler_thin_factor_inf(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampler"]["thin_factor"] = float("inf")
    return Run(fit("--config", w.config(cfg)), "sampler.thin_factor")


@case()
def case_sampler_nwalkers_huge(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampler"]["nwalkers"] = 200_000_000
    return Run(fit("--config", w.config(cfg)), "sampler.nwalkers")


@case()
def case_sampler_max_rhat_nan(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampler"]["max_rhat"] = "__NAN__"
    return Run(fit("--config", w.config(dump(cfg).replace("__NAN__", ".nan"))),
               "sampler.max_rhat")


@case()
def case_dynesty_zero_chains(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampler"] = {"name": "dynesty", "nlive": 40, "dlogz": 5.0, "maxiter": 200,
                      "n_chains": 0, "progress": False, "pool": "serial"}
    return Run(fit("--config", w.config(cfg)), "sampler.n_chains")


@case()
def case_dynesty_huge_chains(w: Workspace) -> Run:
    cfg = w.cfg()
    cfg["sampler"] = {"name": "dynesty", "nlive": 40, "dlogz": 5.0, "maxiter": 200,
                      "n_chains": 10**12, "progress": False, "pool": "serial"}
    return Run(fit("--config", w.config(cfg)), "sampler.n_chains")


@case()
def case_resume_corrupt_checkpoint(w: Workspace) -> Run:
    from globalfit.config import load_config
    cfg = w.cfg(name="broken")
    path = w.config(cfg)
    run = w.case_dir / "chains" / "broken"
    run.mkdir(parents=True)
    (run / ".globalfit-run.json").write_text(json.dumps({"run_name": "broken"}) + "\n")
    (run / "config.yaml").write_text(dump(load_config(path).resolved))
    (run / "checkpoint.h5").write_bytes(b"this is not HDF5" * 100)
    return Run(fit("--config", path, "--resume"), ("checkpoint.h5", "--force"),
               watch=(run,))


@case()
def case_data_borexino_spectrum_nan(w: Workspace) -> Run:
    data = w.data_copy()
    path = data / "borexino" / "phase2_spectrum.csv"
    lines = path.read_text().splitlines()
    i = [k for k, ln in enumerate(lines) if ln and not ln.startswith("#")][20]
    cells = lines[i].split(",")
    cells[-1] = "nan"
    lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    cfg = w.cfg()
    cfg["likelihoods"] = {"borexino": {"mode": "fast"}}
    return Run(fit("--config", w.config(cfg)), ("phase2_spectrum.csv", f"{i + 1}"),
               env={"GLOBALFIT_DATA_DIR": str(data),
                    "GLOBALFIT_CACHE_DIR": str(w.case_dir / "cache")})


@case()
def case_limits_empty_config(w: Workspace) -> Run:
    return Run(["limits", "--config", w.config("# empty\n", "limits.yaml"),
                "--out", str(w.case_dir / "out")], "limits.yaml",
               env={"GLOBALFIT_CACHE_DIR": str(w.case_dir / "cache")})


@case()
def case_limits_duplicate_key(w: Workspace) -> Run:
    text = (REPO / "configs" / "limits.yaml").read_text() + "\nname: again\nname: twice\n"
    return Run(["limits", "--config", w.config(text, "limits.yaml"),
                "--out", str(w.case_dir / "out")], ("limits.yaml", "duplicate key"),
               env={"GLOBALFIT_CACHE_DIR": str(w.case_dir / "cache")})


# ---- the runner ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Result:
    run: Run
    status: int | None
    stderr: str
    seconds: float
    watched: dict[Path, dict[str, bytes]] = dataclasses.field(default_factory=dict)


def _execute(run: Run, cwd: Path) -> Result:
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "globalfit.cli", *run.args], cwd=cwd,
                              env=env_for(**run.env), capture_output=True, text=True,
                              errors="replace", timeout=run.timeout, stdin=subprocess.DEVNULL,
                              preexec_fn=_cap_memory)
        return Result(run, proc.returncode, proc.stderr, time.monotonic() - t0)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return Result(run, None, err, time.monotonic() - t0)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = Workspace(tmp_path_factory.mktemp("hostile"))
    # a run that is running: this process holds its lock for the module's lifetime
    fd = os.open(w.running / ".globalfit-run.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    before = snapshot(w.protected)
    yield w, before
    os.close(fd)


@pytest.fixture(scope="module")
def results(workspace: Any) -> dict[str, Result]:
    w, _ = workspace
    runs: dict[str, tuple[Run, Path]] = {}
    for c in CASES:
        if c.skip:
            continue
        cwd = w.case(c.name)
        run = c.setup(w)
        run.watch = tuple(run.watch)
        runs[c.name] = (run, cwd, {p: snapshot(p) for p in run.watch})
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_execute, run, cwd) for name, (run, cwd, _) in runs.items()}
        out = {name: f.result() for name, f in futures.items()}
    for name, (_, _, snaps) in runs.items():
        out[name].watched = snaps
    return out


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = []
        if c.xfail:
            marks.append(pytest.mark.xfail(strict=False, reason=c.xfail))
        if c.skip:
            marks.append(pytest.mark.skip(reason=c.skip))
        out.append(pytest.param(c.name, marks=marks, id=c.name))
    return out


def error_lines(stderr: str) -> list[str]:
    """stderr without the log lines (``HH:MM:SS globalfit...``) and blank lines."""
    return [ln for ln in stderr.splitlines()
            if ln.strip() and not (len(ln) > 9 and ln[2] == ":" and ln[8:].startswith(LOG_PREFIX))]


def test_at_least_forty_cli_cases() -> None:
    assert len([c for c in CASES if not c.xfail]) >= 40


@pytest.mark.parametrize("name", _params())
def test_hostile_case(name: str, results: dict[str, Result], workspace: Any) -> None:
    w, before = workspace
    res = results[name]
    run = res.run
    assert res.status is not None, f"still running after {run.timeout:.0f} s (a hang)"
    lines = error_lines(res.stderr)
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.status == run.status, res.stderr[-2000:]
    assert len(lines) == 1, res.stderr[-2000:]
    for part in ((run.expect,) if isinstance(run.expect, str) else run.expect):
        assert part in lines[0], lines[0]
    assert len(lines[0]) < 1000, "unbounded value rendered in the message"
    assert snapshot(w.protected) == before, "files of the earlier run changed"
    for path, snap in res.watched.items():
        assert snapshot(path) == snap, f"{path} changed"
    for path in run.absent:
        assert not path.exists(), f"{path} was created: config content was executed"
    print(f"{name}: exit {res.status} in {res.seconds:.1f} s: {lines[0]}")


# ---- signals during start-up (issue 11 item 3b) ---------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_start_up_stops_promptly(tmp_path: Path, signum: int,
                                               workspace: Any) -> None:
    """Borexino with an empty cache folder: start-up builds its templates (minutes); a signal
    during that build stops the process within seconds, one line, 128 + signum, and leaves
    no run directory and no unreadable cache entry."""
    w, before = workspace
    cfg = base_config(tmp_path / "chains", "bx")
    cfg["likelihoods"] = {"borexino": {"mode": "fast"}}
    path = tmp_path / "fit.yaml"
    path.write_text(dump(cfg))
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-m", "globalfit.cli", "fit", "--config",
                             str(path)], cwd=tmp_path, stdin=subprocess.DEVNULL,
                            env=env_for(GLOBALFIT_CACHE_DIR=str(cache)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if not line or "preparing the likelihoods" in line:
                break
        assert "preparing the likelihoods" in seen[-1], "".join(seen)
        time.sleep(1.0)
        assert proc.poll() is None, "start-up finished before the signal"
        t0 = time.monotonic()
        proc.send_signal(signum)
        rest = proc.communicate(timeout=15)[1]
        stopped_after = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, rest
    assert stopped_after < 10.0
    assert "Traceback" not in rest
    lines = error_lines(rest)
    assert len(lines) == 1 and signal.Signals(signum).name in lines[0], rest
    assert not (tmp_path / "chains" / "bx").exists()
    for entry in cache.glob("*.npz"):
        with np.load(entry) as f:
            _ = [f[k] for k in f.files]
    assert snapshot(w.protected) == before
    print(f"{signal.Signals(signum).name}: exit {proc.returncode} after "
          f"{stopped_after:.1f} s: {lines[0]}")


# ---- the run directory, in process: lock and moving an earlier run aside --------------------
class _Cfg:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.path = run_dir, run_dir.parent / "fit.yaml"


def test_run_lock_is_exclusive_and_stale_locks_are_taken_over(tmp_path: Path) -> None:
    from globalfit.rundir import LOCK_NAME, RunLock
    from globalfit.errors import ConfigError
    (tmp_path / LOCK_NAME).write_text("999999999\n")        # left by a dead process
    first = RunLock(tmp_path)
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    # flock is per open file: a second lock, even from this process, is refused
    with pytest.raises(ConfigError, match="already running"):
        RunLock(tmp_path)
    first.release()
    RunLock(tmp_path).release()


@pytest.mark.parametrize("checkpointed", [False, True])
def test_force_moves_the_earlier_run_aside_until_a_checkpoint(tmp_path: Path,
                                                              checkpointed: bool) -> None:
    """``--force``: the earlier run is renamed, not deleted; it comes back if the new run
    stops before its first checkpoint and is deleted once the new run has one."""
    from globalfit.cli import _prepare_run_dir
    from globalfit.rundir import RunDirClaim
    run = tmp_path / "chains" / "old"
    fake_run(run, {"seed": 1})
    before = snapshot(run)
    cfg = _Cfg(run)
    assert _prepare_run_dir(cfg, resume=False, force=True) == "replace"
    claim = RunDirClaim(cfg, "replace", run / "checkpoint.h5")
    assert snapshot(run) != before and (run / ".globalfit-run.json").is_file()
    trash = [p for p in run.parent.iterdir() if p.name != "old"]
    assert len(trash) == 1 and snapshot(trash[0]) == before
    if checkpointed:
        (run / "checkpoint.h5").write_bytes(b"new")
    claim.finish()
    assert [p.name for p in run.parent.iterdir()] == ["old"]
    if checkpointed:
        assert snapshot(run) != before and (run / "checkpoint.h5").read_bytes() == b"new"
    else:
        assert snapshot(run) == before


# ---- Python API ---------------------------------------------------------------------------------
@pytest.mark.parametrize("u", [1.5, -0.1, float("nan"), float("inf")])
def test_prior_transform_rejects_u_outside_unit_interval(u: float) -> None:
    from globalfit.errors import ParameterError
    from globalfit.priors import Prior, PriorSet
    prior = Prior("x", "uniform", low=0.0, high=2.0)
    with pytest.raises(ParameterError, match="x"):
        prior.transform(np.array([0.5, u]))
    priors = PriorSet([prior, Prior("y", "log-uniform", low=1.0, high=10.0)])
    with pytest.raises(ParameterError, match="prior_transform"):
        priors.transform(np.array([[0.5, 0.5], [0.2, u]]))
    # inside the cube the transform is the inverse CDF
    np.testing.assert_allclose(priors.transform(np.array([[0.0, 1.0], [0.25, 0.5]])),
                               [[0.0, 10.0], [0.5, np.sqrt(10.0)]])


def test_prior_transform_rejects_wrong_width() -> None:
    from globalfit.errors import ParameterError
    from globalfit.priors import Prior, PriorSet
    priors = PriorSet([Prior("x", "uniform", low=0.0, high=1.0),
                       Prior("y", "uniform", low=0.0, high=1.0)])
    with pytest.raises(ParameterError, match="2 coordinates"):
        priors.transform(np.full((1, 3), 0.5))


@pytest.fixture(scope="module")
def posterior(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from globalfit.config import load_config
    directory = tmp_path_factory.mktemp("api")
    path = directory / "fit.yaml"
    path.write_text(dump(base_config(directory / "chains")))
    return load_config(path).posterior


def test_posterior_rejects_wrong_shape(posterior: Any) -> None:
    from globalfit.errors import ParameterError
    with pytest.raises(ParameterError):
        posterior.log_posterior(np.full((1, posterior.ndim + 2), 0.5))


def test_likelihoods_give_minus_inf_outside_domain(posterior: Any) -> None:
    for label, like in posterior.likelihoods.items():
        low, high = like.domain["m_aprime_gev"] if "m_aprime_gev" in like.domain else (0, 0)
        if high <= low:
            continue
        obs = {name: np.full(2, 1e-3) for name in like.requires}
        obs["m_aprime_gev"] = np.array([2 * high, low / 2 if low > 0 else -1.0])
        assert np.all(like.loglike(obs) == -np.inf), label


# ---- the cache promise ----------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip"], ids=["empty", "corrupt"])
def test_bad_cache_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    content: bytes) -> None:
    from likelihoods import _cache as cache
    monkeypatch.setenv("GLOBALFIT_CACHE_DIR", str(tmp_path))
    entry = tmp_path / (cache.cache_key("hostile_test", {"n": 3}) + ".npz")
    entry.write_bytes(content)
    out = cache.cached_arrays("hostile_test", {"n": 3}, lambda: {"a": np.arange(3.0)})
    np.testing.assert_array_equal(out["a"], [0.0, 1.0, 2.0])
    with np.load(entry) as f:
        np.testing.assert_array_equal(f["a"], [0.0, 1.0, 2.0])


def test_interrupted_cache_write_leaves_nothing(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from likelihoods import _cache as cache

    def broken_savez(file: Any, **arrays: Any) -> None:     # a path or an open file
        if hasattr(file, "write"):
            file.write(b"PK\x03\x04 half")
            file.flush()
        else:
            Path(file).write_bytes(b"PK\x03\x04 half")
        raise KeyboardInterrupt

    monkeypatch.setenv("GLOBALFIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        cache.cached_arrays("hostile_test", {"n": 4}, lambda: {"a": np.arange(4.0)})
    assert list(tmp_path.iterdir()) == []
