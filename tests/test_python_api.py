"""docs/python_api.md runs as written: every ```python block, in order, in one namespace, from
the top of the checkout (the blocks load fit.yaml); their asserts check the physics (the joint
is the sum of the experiments' terms, NA64's ln L = -s with no event seen, ...)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from test_tutorial import DOCS, _run_blocks, python_blocks


def test_python_api_examples_run(monkeypatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert len(python_blocks(DOCS / "python_api.md")) >= 8
    ns = _run_blocks(DOCS / "python_api.md")
    # what the blocks computed: a 2000-point batch and the two-point hand-built posterior
    assert ns["batch"].shape == (2000, 5) and ns["pts"].shape == (2, 3)
    assert np.all(np.isfinite(ns["e"].log_like))
