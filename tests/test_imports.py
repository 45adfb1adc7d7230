"""The import graph runs one way (docs/fitting.md, STYLE.md):
leaves -> model | likelihoods (never each other) -> priors/joint -> samplers -> output/plots
-> config -> cli; leaves import nothing from the package but leaves; heavy libraries are
imported only inside the functions that adapt them."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LEAVES = {"globalfit.errors", "globalfit.units", "globalfit.constants", "globalfit.paths",
          "globalfit.observables", "globalfit"}
HEAVY = {"emcee", "dynesty", "arviz", "matplotlib", "corner", "mpi4py"}
# module prefix -> package prefixes it must never import
FORBIDDEN = {
    "globalfit.model": ("likelihoods", "globalfit.joint", "globalfit.samplers",
                        "globalfit.output", "globalfit.config", "globalfit.cli",
                        "globalfit.plots", "globalfit.priors"),
    "likelihoods": ("globalfit.model", "globalfit.joint", "globalfit.samplers",
                    "globalfit.output", "globalfit.config", "globalfit.cli", "globalfit.plots",
                    "globalfit.priors"),
    "globalfit.priors": ("globalfit.joint", "globalfit.samplers", "globalfit.output",
                         "globalfit.config", "globalfit.cli", "likelihoods", "globalfit.model"),
    "globalfit.joint": ("globalfit.samplers", "globalfit.output", "globalfit.config",
                        "globalfit.cli", "globalfit.plots"),
    "globalfit.samplers": ("globalfit.output", "globalfit.config", "globalfit.cli",
                           "globalfit.plots"),
    "globalfit.output": ("globalfit.config", "globalfit.cli"),
    "globalfit.plots": ("globalfit.config", "globalfit.cli", "globalfit.output"),
    "globalfit.config": ("globalfit.cli", "globalfit.samplers", "globalfit.output"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at module top level?)`` for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, id(node) in top))
            # "from . import x" imports submodule x
            if not node.module:
                out += [(f"{target}.{a.name}", id(node) in top) for a in node.names]
    return out


FILES = sorted(p for d in ("globalfit", "likelihoods") for p in (REPO / d).rglob("*.py"))


def test_found_the_package() -> None:
    names = {module_name(p) for p in FILES}
    assert {"globalfit.joint", "globalfit.config", "globalfit.cli", "likelihoods.base",
            "globalfit.model.base"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_import_direction(path: Path) -> None:
    name = module_name(path)
    internal = [(m, top) for m, top in imports(path)
                if m.split(".")[0] in ("globalfit", "likelihoods")]
    if name in LEAVES and name != "globalfit":
        bad = [m for m, _ in internal if m not in LEAVES]
        assert not bad, f"leaf {name} imports {bad}"
    for prefix, forbidden in FORBIDDEN.items():
        if name == prefix or name.startswith(prefix + "."):
            bad = [m for m, _ in internal
                   if any(m == f or m.startswith(f + ".") for f in forbidden)]
            assert not bad, f"{name} imports {bad}"
    heavy_top = [m for m, top in imports(path) if top and m.split(".")[0] in HEAVY]
    assert not heavy_top, f"{name} imports {heavy_top} at module level"


def test_config_import_stays_light() -> None:
    code = ("import sys, globalfit.config, globalfit.cli, globalfit.joint; "
            f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
