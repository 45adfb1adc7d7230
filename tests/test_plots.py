"""The corner plot: which draws are drawn as dots, and that nothing falls off the figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from globalfit import plots  # noqa: E402


def test_dot_rows_subset():
    assert np.array_equal(plots.dot_rows(10, max_dots=20), np.arange(10))
    rows = plots.dot_rows(50_000, max_dots=4000)
    assert len(rows) == len(np.unique(rows)) == 4000
    assert np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] < 50_000
    # the same figure when redrawn from the same run
    assert np.array_equal(rows, plots.dot_rows(50_000, max_dots=4000))
    # spread over the whole chain, not its beginning: chains are stored chain after chain
    assert rows.mean() == pytest.approx(25_000, rel=0.05)


def _drawn(monkeypatch, tmp_path, n_par: int, n_draws: int) -> Figure:
    """The figure ``plots._corner`` saves (captured at savefig), after a draw."""
    saved = {}
    real = Figure.savefig

    def capture(fig, path, **kw):
        saved["fig"] = fig
        return real(fig, path, **kw)

    monkeypatch.setattr(Figure, "savefig", capture)
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(8, n_draws // 8)) for _ in range(n_par)]
    labels = [f"parameter {i} [unit]" for i in range(n_par)]
    plots._corner(arrays, labels, tmp_path / "c.png", "run test: sampled parameters")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    return saved["fig"]


def test_dots_are_the_subset_and_the_note_says_so(monkeypatch, tmp_path):
    fig = _drawn(monkeypatch, tmp_path, 3, 9600)
    # the lower triangle and the diagonal are left (the empty upper triangle is removed)
    assert len(fig.axes) == 6
    panels = [ax for ax in fig.axes if any(ln.get_marker() == "o" for ln in ax.get_lines())]
    assert len(panels) == 3
    for ax in panels:
        dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
        assert len(dots) == 1 and len(dots[0].get_xdata()) == plots.MAX_DOTS
    note = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert f"{plots.MAX_DOTS:,} of the 9,600 posterior draws" in note
    assert "run test: sampled parameters" in note


@pytest.mark.parametrize("n_par", [2, 3, 6])
def test_labels_titles_and_note_inside_the_figure(monkeypatch, tmp_path, n_par):
    # the fixed 12 % margins cut off the axis labels of a 2-parameter figure
    fig = _drawn(monkeypatch, tmp_path, n_par, 800)
    renderer = FigureCanvasAgg(fig).get_renderer()     # the run closed the figure
    width, height = fig.bbox.width, fig.bbox.height
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title]
    shown = [t for t in texts if t.get_visible() and t.get_text()]
    assert len(shown) >= 2 * n_par + 1          # n titles, n x labels, n - 1 y labels, note
    for t in shown:
        box = t.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1, t.get_text()
        assert box.x1 <= width + 1 and box.y1 <= height + 1, t.get_text()
    # the note overlaps no panel
    note = fig.texts[-1].get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_visible() and ax.get_frame_on():
            assert not note.overlaps(ax.get_window_extent(renderer))


def test_nuisance_labels_are_their_names_upright():
    # a nuisance's default label was the bare name: "_s" of po210_skew came out a subscript
    from globalfit.joint import nuisance_prior
    from globalfit.priors import name_latex
    from likelihoods.base import Nuisance
    nu = Nuisance("po210_skew", "1", "gaussian", center=0.1, width=0.05)
    prior = nuisance_prior("borexino", nu)
    assert prior.latex == name_latex("borexino.po210_skew") == r"\mathrm{borexino.po210\_skew}"
    # no underscore left for mathtext to take as a subscript; the underscore is printed (the
    # label is wider than the name without it, and wider than the subscripted bare name)
    import re
    from matplotlib.mathtext import MathTextParser
    assert not re.search(r"(?<!\\)_", prior.latex)
    parser = MathTextParser("agg")
    width = {k: parser.parse(f"${k}$", dpi=72).width for k in
             (prior.latex, r"\mathrm{borexino.po210skew}", "borexino.po210_skew")}
    assert width[prior.latex] > width[r"\mathrm{borexino.po210skew}"]
    assert width[prior.latex] > width["borexino.po210_skew"]
