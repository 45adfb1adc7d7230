"""The numbers behind the physics summary, on draws with known answers: prior widths,
the prior-dominated test, scale choice, constant quantities, the convergence verdict."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from globalfit.convergence import EXIT_NOT_CONVERGED, assess, fmt_number
from globalfit.priors import Prior
from globalfit.quantities import Quantity, choose_scale, prior_sd
from globalfit.summary import PRIOR_DOMINATED, constant_value, quantity_row


def _sampled(kind: str, low: float, high: float, **kw: float) -> Quantity:
    prior = Prior("p", kind, low=low, high=high, **kw)
    return Quantity("p", "sampled", "1", "p", "test", prior,
                    "log10" if kind == "log-uniform" else "linear")


def test_prior_sd_is_exact() -> None:
    rng = np.random.default_rng(0)
    q = _sampled("log-uniform", 1e-7, 1e-2)
    assert prior_sd(q) == pytest.approx(5 / np.sqrt(12), rel=1e-12)
    # and it is the sd of log10 of prior draws (2e5 draws: sd known to 0.2 %)
    draws = q.prior.sample(rng, 200_000)
    assert np.std(np.log10(draws)) == pytest.approx(prior_sd(q), rel=0.01)
    assert prior_sd(_sampled("uniform", 0, np.pi)) == pytest.approx(np.pi / np.sqrt(12))
    g = _sampled("gaussian", 0.0, np.inf, mean=0.0, sd=1.0)      # a half-normal
    assert prior_sd(g) == pytest.approx(np.sqrt(1 - 2 / np.pi), rel=1e-9)


def test_posterior_equal_to_prior_is_prior_dominated() -> None:
    rng = np.random.default_rng(1)
    q = _sampled("uniform", -5, 5)
    row = quantity_row(q, rng.uniform(-5, 5, 40_000), None, 1.0, 5000.0)
    assert row.width_ratio == pytest.approx(1.0, abs=0.02) and row.prior_dominated
    x = rng.normal(0.3, 0.1, 40_000)          # the data pin it down: ratio 0.1 / 2.89
    row = quantity_row(q, x, None, 1.0, 5000.0)
    assert row.width_ratio == pytest.approx(0.1 / (10 / np.sqrt(12)), rel=0.02)
    assert not row.prior_dominated
    assert row.upper95 == np.percentile(x, 95) and row.upper90 == np.percentile(x, 90)
    assert row.interval68 == tuple(np.percentile(x, [16, 84]))


def test_gaussian_threshold() -> None:
    """Gaussian prior sd s_p, likelihood sd s_L: posterior sd (s_p^-2 + s_L^-2)^-1/2 crosses
    s_p / sqrt(2) exactly at s_L = s_p."""
    s_p = 1.0
    for s_l, dominated in ((0.9, False), (1.1, True)):
        post = (s_p ** -2 + s_l ** -2) ** -0.5
        assert (post / s_p > PRIOR_DOMINATED) is dominated


def test_derived_quantity_uses_the_prior_predictive() -> None:
    rng = np.random.default_rng(2)
    q = Quantity("mu_eff_mub", "observable", "mu_B", r"\mu", "moment", None, "linear")
    prior = 10 ** rng.uniform(-30, -18, 20_000)
    post = prior[prior < 1e-21]                        # an upper cut at 1e-21
    q = choose_scale(q, post)
    assert q.scale == "log10"
    row = quantity_row(q, post, prior, 1.0, 5000.0)
    assert row.width_ratio == pytest.approx(9 / 12, rel=0.03)   # uniform over 9 of 12 decades
    assert row.upper95 == pytest.approx(np.percentile(np.log10(post), 95))
    assert row.upper95_value == pytest.approx(10 ** row.upper95)


def test_scale_choice() -> None:
    q = Quantity("b", "observable", "1", "b", "b", None)
    assert choose_scale(q, np.geomspace(1e-5, 1e-1, 100)).scale == "log10"
    assert choose_scale(q, np.r_[0.0, np.geomspace(1e-5, 1e-1, 100)]).scale == "linear"
    assert choose_scale(q, np.linspace(1.0, 5.0, 100)).scale == "linear"
    sampled = _sampled("log-uniform", 1e-3, 1.0)
    assert choose_scale(sampled, np.linspace(0.5, 0.6, 10)).scale == "log10"   # its prior's


def test_constant_value() -> None:
    assert constant_value(np.full((4, 10), 0.1)) == 0.1
    assert constant_value(np.r_[np.zeros(9), 1e-300]) is None
    assert np.isnan(constant_value(np.full(5, np.nan)))


def _table(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame({k: {"r_hat": r, "ess_bulk": e, "ess_tail": e}
                         for k, (r, e) in rows.items()}).T


def test_convergence_verdicts_and_exit_codes() -> None:
    good = _table({"a": (1.002, 5000.0), "b": (1.005, 1200.0)})
    bad = _table({"a": (1.002, 5000.0), "b": (np.nan, 900.0)})
    conv = assess(good, ["a", "b"], True, "rule")
    assert (conv.verdict, conv.status, conv.exit_code) == ("converged", "complete", 0)
    conv = assess(bad, ["a", "b"], False, "rule")
    assert (conv.verdict, conv.status, conv.exit_code) == ("not converged", "not converged",
                                                           EXIT_NOT_CONVERGED)
    assert conv.failing == {"b": {"r_hat": None, "ess_bulk": 900.0}}
    assert "b (R-hat n/a, bulk ESS 900)" in conv.message() and "nan" not in conv.message()
    assert not conv.manifest()["r_hat_below_1.01"]
    # the sampler stopped at its cap although R-hat and ESS pass: still not converged
    assert assess(good, ["a", "b"], False, "rule").exit_code == EXIT_NOT_CONVERGED
    conv = assess(bad, ["a", "b"], True, "rule")
    assert (conv.verdict, conv.status, conv.exit_code) == ("criteria not met", "complete", 0)
    conv = assess(bad, ["a", "b"], None, "fixed length")
    assert (conv.verdict, conv.exit_code) == ("no claim", 0)
    assert conv.message().startswith("no convergence claim: fixed length")
    assert fmt_number(float("nan"), ".4f") == "n/a" and fmt_number(1.0, ".2f") == "1.00"
