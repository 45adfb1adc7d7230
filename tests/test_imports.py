"""The import graph runs one way (docs/architecture.md):

    leaves -> model | likelihoods (never each other) -> joint -> samplers -> run description
    -> output -> run end -> config/cli

Every module of the two packages belongs to exactly one layer of :data:`LAYERS`; a module may
import modules of its own component or of a lower layer, never of a higher one nor of another
component of its own layer (so the model and the likelihoods never import each other); leaves
import nothing from the package but leaves; heavy libraries are imported only inside the
functions that adapt them."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"emcee", "dynesty", "arviz", "matplotlib", "corner", "mpi4py", "contourpy",
         "hepdata_lib"}   # contourpy, hepdata_lib: the 2-D limits and their HEPData export

#: (layer, components): a component is a module or package prefix. Order = import direction.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("leaves", ("globalfit", "globalfit.errors", "globalfit.units", "globalfit.constants",
                "globalfit.options", "globalfit.progress", "globalfit.paths",
                "globalfit.observables", "globalfit.yamlio", "globalfit.memory")),
    ("physics", ("globalfit.model", "likelihoods", "globalfit.priors")),
    ("joint", ("globalfit.joint",)),
    ("sampler interface", ("globalfit.sampling",)),
    ("samplers", ("globalfit.samplers",)),
    # what the quantities of a run are, its convergence verdict, its no-signal reference
    ("run description", ("globalfit.quantities", "globalfit.convergence",
                         "globalfit.evidence")),
    ("output", ("globalfit.output", "globalfit.plots", "globalfit.summary",
                "globalfit.textchain")),
    # the end of a run: every output written, the exit status
    ("run end", ("globalfit.finish",)),
    # the application layer (cli is the entry point); globalfit.limits holds its submodules
    # (settings, planes, grids, contours, exclusion, plane_plot, hepdata, labels, ...)
    ("application", ("globalfit.config", "globalfit.limits", "globalfit.validate",
                     "globalfit.rundir", "globalfit.cachecmd", "globalfit.cli")),
)
SHARED_LAYERS = {"leaves", "application"}   # layers whose modules may use each other
LEAVES = set(LAYERS[0][1])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def placement(name: str) -> tuple[int, str] | None:
    """(layer index, component) of module ``name``: the longest matching component."""
    best: tuple[int, str] | None = None
    for rank, (_, components) in enumerate(LAYERS):
        for comp in components:
            if name == comp or (name.startswith(comp + ".") and comp != "globalfit"):
                if best is None or len(comp) > len(best[1]):
                    best = (rank, comp)
    return best


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
            "likelihoods.evaluate", "globalfit.model.base"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_module_has_a_layer(path: Path) -> None:
    name = module_name(path)
    assert placement(name) is not None, (
        f"{name} belongs to no layer: add it to LAYERS in tests/test_imports.py and to the "
        "diagram in docs/architecture.md")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_import_direction(path: Path) -> None:
    name = module_name(path)
    rank, comp = placement(name) or (len(LAYERS), name)
    internal = [m for m, _ in imports(path) if m.split(".")[0] in ("globalfit", "likelihoods")]
    if name in LEAVES and name != "globalfit":
        bad = [m for m in internal if m not in LEAVES]
        assert not bad, f"leaf {name} imports {bad}"
    for target in internal:
        where = placement(target)
        if where is None or where[1] == comp or target == "globalfit":
            continue
        t_rank, t_comp = where
        layer = LAYERS[rank][0]
        assert t_rank < rank or (t_rank == rank and layer in SHARED_LAYERS), (
            f"{name} ({layer}) imports {target} ({LAYERS[t_rank][0]}): imports run "
            "leaves -> model | likelihoods -> joint -> samplers -> output -> config/cli")
    heavy_top = [m for m, top in imports(path) if top and m.split(".")[0] in HEAVY]
    assert not heavy_top, f"{name} imports {heavy_top} at module level"


def test_layer_rules_catch_the_forbidden_directions() -> None:
    """The rule itself: the model and the likelihoods never import each other; no physics
    module imports the joint posterior, a sampler or the config."""
    def allowed(importer: str, target: str) -> bool:
        (rank, comp), (t_rank, t_comp) = placement(importer), placement(target)
        return t_comp == comp or t_rank < rank or (
            t_rank == rank and LAYERS[rank][0] in SHARED_LAYERS)

    assert not allowed("likelihoods.na64", "globalfit.model.base")
    assert not allowed("globalfit.model.dark_sector", "likelihoods.base")
    assert not allowed("likelihoods.evaluate", "globalfit.joint")
    assert not allowed("globalfit.joint", "globalfit.samplers")
    assert not allowed("globalfit.samplers.emcee_adapter", "globalfit.output")
    assert not allowed("globalfit.output", "globalfit.config")
    assert allowed("globalfit.joint", "likelihoods.evaluate")
    assert allowed("globalfit.cli", "globalfit.config")
    assert allowed("likelihoods.adapters", "likelihoods.evaluate")


def test_config_import_stays_light() -> None:
    code = ("import sys, globalfit.config, globalfit.cli, globalfit.joint; "
            f"print(sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
