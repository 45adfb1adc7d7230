"""The documentation runs as written: every ```python block of docs/tutorial.md, in order, in one
namespace (its own asserts check the physics: NA64 limit = published curve, 1/sqrt(BR_inv)
scaling, n = 0 likelihood = -s, Borexino fast = full + nuisance priors at the SM best fit);
likewise docs/likelihood_api.md when Cobaya, Bilby and pyhf are installed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[str]:
    """The ```python fenced blocks of a Markdown file, in order."""
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


def _run_blocks(path: Path) -> dict:
    blocks = python_blocks(path)
    assert blocks, f"{path.name}: no python blocks"
    namespace: dict = {"__name__": f"doc_{path.stem}"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{path.name}[block {i + 1}]", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - re-raised with the block number
            raise AssertionError(f"{path.name} block {i + 1} failed: {exc!r}\n{code}") from exc
    return namespace


def test_block_extraction():
    text = "a\n```python\nx = 1\n```\n```yaml\ny: 2\n```\n```python\nz = 3\n```\n"
    assert _BLOCK.findall(text) == ["x = 1\n", "z = 3\n"]


def test_tutorial_runs_as_written():
    ns = _run_blocks(DOCS / "tutorial.md")
    # the tutorial computed the NA64 limit and a Borexino scan
    assert ns["eps_up"] > 0 and ns["delta_chi2"].shape == (6,)


@pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated",
                            "ignore::FutureWarning")
def test_likelihood_api_examples_run(tmp_path, monkeypatch):
    for mod in ("cobaya", "bilby", "pyhf"):
        pytest.importorskip(mod)
    monkeypatch.chdir(tmp_path)
    ns = _run_blocks(DOCS / "likelihood_api.md")
    assert float(ns["obs"]) == pytest.approx(ns["mu_upper_limit"](0.05)["asymptotic"],
                                             rel=1e-4)


def test_docs_link_targets_exist():
    for name in ("tutorial.md", "likelihood_api.md"):
        for target in re.findall(r"\]\(([^)#]+\.md)\)", (DOCS / name).read_text()):
            assert (DOCS / target).is_file(), f"{name} links to missing {target}"

