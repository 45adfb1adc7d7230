"""The declared likelihood and model contract is what the framework uses, and all it uses:
typed options validated by one code path, declared nuisances, domains checked at validation
and -inf outside them, declared derived quantities, one evaluation and one naming rule shared
by the joint posterior and the adapters, and only registered classes in a config."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Mapping

import numpy as np
import pytest
import yaml

from conftest import GaussLikelihood, GaussLikelihoodB, ToyModel, toy_config, write_config
from globalfit.cli import main
from globalfit.config import load_config
from globalfit.errors import ConfigError, ParameterError
from globalfit.joint import JointPosterior, nuisance_prior
from globalfit.model import REGISTRY as MODEL_REGISTRY, model_class
from globalfit.options import Option
from globalfit.output import derived_quantities
from globalfit.priors import Prior, PriorSet
from likelihoods import REGISTRY, get_likelihood, likelihood_class
from likelihoods.adapters import LikelihoodBridge
from likelihoods.base import Likelihood, Nuisance
from likelihoods.evaluate import nuisance_parameter_name

REPO = Path(__file__).resolve().parents[1]
CHEAP = ("na64", "babar", "meg", "tau_e_gamma", "tau_mu_gamma")


def _benchmark(**likelihoods: dict) -> dict:
    """fit.yaml with the given likelihoods (the dark_tmm model and its parameter block)."""
    raw = yaml.safe_load((REPO / "fit.yaml").read_text())
    raw["likelihoods"] = likelihoods
    return raw


# ---- declared options -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registered_likelihood_declares_typed_options(name: str) -> None:
    cls = likelihood_class(name)
    assert issubclass(cls, Likelihood) and cls.name == name
    assert cls.options and all(isinstance(o, Option) for o in cls.options)


@pytest.mark.parametrize("name", CHEAP)
def test_defaults_construct_and_declarations_are_consistent(name: str) -> None:
    like = likelihood_class(name).from_options({})
    assert set(like.domain) <= set(like.requires)
    for low, high in like.domain.values():
        assert low < high
    obs = {k: np.full(3, 0.01) for k in like.requires}
    obs.setdefault("br_inv", np.ones(3))
    obs = {k: v for k, v in obs.items() if k in like.requires}
    assert set(like.derived(obs)) == set(like.derived_names)


def test_model_declares_options_validated_by_the_same_code() -> None:
    cls = model_class("dark_tmm")
    assert all(isinstance(o, Option) for o in cls.options)
    assert MODEL_REGISTRY["dark_tmm"].endswith(":DarkTransitionMomentModel")
    with pytest.raises(ConfigError, match=r"dark_tmm\.yukawa_parametrisaton: unknown option "
                                          r"\(did you mean 'yukawa_parametrisation'\?\)"):
        cls.from_options({"yukawa_parametrisaton": "vectors"})


def test_option_messages_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw = _benchmark(na64={"datset": "2016-2022"})
    path = write_config(tmp_path, raw)
    assert main(["fit", "--config", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"{path}: likelihoods.na64.datset: unknown option "
                   "(did you mean 'dataset'?)")
    raw = _benchmark(meg={"dataset": "meg2_2024"})
    with pytest.raises(ConfigError, match=r"likelihoods\.meg\.dataset: 'meg2_2024' is not one "
                                          r"of .*did you mean 'meg2_2025'"):
        load_config(write_config(tmp_path, raw))
    with pytest.raises(ConfigError, match=r"na64\.background: 'integrated' is not one of"):
        get_likelihood("na64", background="integrated")


# ---- domains ---------------------------------------------------------------------------------
def _outside_points(like: Likelihood) -> list[dict[str, np.ndarray]]:
    out = []
    for name, (low, high) in like.domain.items():
        for x in (low - abs(low) * 0.5 - 1e-3, high * 1.5 + 1.0):
            if np.isfinite(x) and not low <= x <= high:
                obs = {k: np.array([1e-3]) for k in like.requires}
                if "br_inv" in like.requires:
                    obs["br_inv"] = np.array([1.0])
                obs[name] = np.array([x])
                out.append(obs)
    return out


@pytest.mark.parametrize("name", CHEAP)
def test_outside_the_domain_every_likelihood_gives_minus_inf(name: str) -> None:
    like = get_likelihood(name)
    points = _outside_points(like)
    assert points, f"{name} declares no bounded domain"
    for obs in points:
        assert like.loglike(obs)[0] == -np.inf


@pytest.mark.parametrize("name", ["na64", "babar"])
def test_flat_mode_has_an_unbounded_mass_domain(name: str) -> None:
    like = get_likelihood(name, out_of_range="flat")
    assert like.domain["m_aprime_gev"] == (0.0, np.inf)
    obs = {"m_aprime_gev": np.array([9.0]), "eps": np.array([1e-2]), "br_inv": np.array([1.0])}
    assert like.loglike(obs)[0] == 0.0


def test_prior_box_outside_a_domain_is_rejected_at_validation(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw = _benchmark(na64={}, babar={})
    raw["parameters"]["m_aprime_gev"]["high"] = "2 GeV"
    path = write_config(tmp_path, raw)
    assert main(["fit", "--config", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{path}: parameters.m_aprime_gev.high: 2 GeV is outside the domain "
                          "[0.0010284, 1.4261] GeV of likelihoods.na64"), err
    raw["parameters"]["m_aprime_gev"]["low"] = "0.5 MeV"
    raw["parameters"]["m_aprime_gev"]["high"] = "1 GeV"
    with pytest.raises(ConfigError, match=r"parameters\.m_aprime_gev\.low: 0\.0005 GeV"):
        load_config(write_config(tmp_path, raw))
    raw["parameters"]["m_aprime_gev"] = {"prior": "fixed", "value": "9 GeV"}
    raw["likelihoods"] = {"na64": {"out_of_range": "flat"}, "babar": {}}
    with pytest.raises(ConfigError, match=r"parameters\.m_aprime_gev\.value: .*likelihoods\."
                                          r"babar"):
        load_config(write_config(tmp_path, raw))
    # with out_of_range: flat the domain is unbounded and the same box is accepted
    raw["parameters"]["m_aprime_gev"] = {"prior": "log-uniform", "low": "0.5 MeV",
                                         "high": "2 GeV"}
    raw["likelihoods"] = {"na64": {"out_of_range": "flat"}, "babar": {"out_of_range": "flat"}}
    fit = load_config(write_config(tmp_path, raw))
    assert fit.posterior.ndim == 5


# ---- the joint posterior's input -------------------------------------------------------------
def _posterior(mode: str = "fast") -> JointPosterior:
    likes = {"a": GaussLikelihood("toy_x", 1.0, 0.5, mode=mode),
             "b": GaussLikelihoodB("toy_y", -1.0, 2.0)}
    priors = [Prior("x", "uniform", low=-5, high=5), Prior("y", "uniform", low=-5, high=5),
              Prior("m_gev", "fixed", value=0.3)]
    for label, like in likes.items():
        for nu in like.nuisances:
            priors.append(nuisance_prior(label, nu) if nu.name != "rate" else
                          Prior(nuisance_parameter_name(label, nu), "fixed", value=1.0))
    return JointPosterior(ToyModel(), likes, PriorSet(priors))


def test_wrong_shapes_and_types_are_one_parameter_error() -> None:
    post = _posterior()
    assert post.ndim == 2
    with pytest.raises(ParameterError, match=r"expected shape \(n, 2\) or \(2,\), found shape "
                                             r"\(1, 7\)"):
        post.evaluate(np.zeros((1, 7)))
    for bad in (np.zeros(5), np.zeros((2, 2, 2)), np.zeros(())):
        with pytest.raises(ParameterError, match=r"\(n, 2\)"):
            post.log_posterior(bad)
    with pytest.raises(ParameterError, match="real numbers"):
        post.evaluate([["a", "b"]])
    with pytest.raises(ParameterError, match="non-numeric"):
        post.log_likelihood(np.array([["a", 1.0]], dtype=object))
    with pytest.raises(ParameterError, match="real numbers"):
        post(np.array([[1 + 1j, 0.0]]))
    one = post.evaluate(np.array([0.5, -0.5]))               # one point, 1-D
    assert one.log_post.shape == (1,) and np.isfinite(one.log_post[0])
    assert post.evaluate(np.zeros((0, 2))).log_post.shape == (0,)


def test_a_declared_nuisance_without_a_prior_is_refused() -> None:
    likes = {"a": GaussLikelihood("toy_x", mode="full")}
    priors = PriorSet([Prior("x", "uniform", low=-5, high=5), Prior("y", "fixed", value=0.0),
                       Prior("m_gev", "fixed", value=0.3)])
    with pytest.raises(ValueError, match=r"a\.shift, a\.rate"):
        JointPosterior(ToyModel(), likes, priors)


# ---- one evaluation, one naming rule ---------------------------------------------------------
def test_naming_rule() -> None:
    cno = Nuisance("cno", "cpd/100t", "gaussian", 4.9, 0.5)
    bkg = Nuisance("na64_background", "events", "gaussian", 0.43, 0.16)
    assert nuisance_parameter_name("borexino", cno) == "borexino.cno"
    assert nuisance_parameter_name("borexino", cno, "_") == "borexino_cno"
    assert nuisance_parameter_name("na64", bkg) == "na64.background"
    assert nuisance_parameter_name("na64", bkg, "_") == "na64_background"
    assert nuisance_parameter_name("na64b", bkg) == "na64b.na64_background"


def test_joint_posterior_and_bridge_give_the_same_terms() -> None:
    post = _posterior(mode="full")
    assert post.names == ("x", "y", "a.shift")
    bridge = LikelihoodBridge(post.likelihoods, model=ToyModel())
    assert bridge.parameters == ("x", "y", "m_gev", "a_shift", "a_rate")
    rng = np.random.default_rng(4)
    theta = np.column_stack([rng.uniform(-4, 4, 40), rng.uniform(-4, 4, 40),
                             rng.normal(0, 0.5, 40)])
    ev = post.evaluate(theta)
    terms = bridge.terms({"x": theta[:, 0], "y": theta[:, 1], "m_gev": 0.3,
                          "a_shift": theta[:, 2], "a_rate": 1.0})
    for label in ("a", "b"):
        np.testing.assert_array_equal(terms[label], ev.terms[label])


def test_nuisances_are_what_is_declared_not_a_mode_attribute(tmp_path: Path) -> None:
    """A likelihood whose ``mode`` attribute reads "fast" but which declares nuisances gets
    them sampled; one that declares none gets none, whatever its attributes say."""
    cfg = toy_config()
    cfg["likelihoods"]["a"]["mode"] = "full"
    cfg["parameters"]["a.rate"] = {"prior": "fixed", "value": 1.0}
    fit = load_config(write_config(tmp_path, cfg))
    fit.likelihoods["a"].mode = "fast"              # an attribute, not a declaration
    post = JointPosterior(fit.model, fit.likelihoods, fit.posterior.priors)
    assert post.names == ("x", "y", "a.shift")
    assert load_config(write_config(tmp_path, toy_config())).posterior.names == ("x", "y")


def test_derived_quantities_are_the_declared_ones() -> None:
    class Undeclared(GaussLikelihoodB):
        derived_names = ()

        def expected_signal(self, observables: Mapping[str, np.ndarray]) -> np.ndarray:
            raise AssertionError("an undeclared method must not be called")

    post = _posterior()
    post = JointPosterior(post.model, {"a": post.likelihoods["a"],
                                       "b": Undeclared("toy_y", -1.0, 2.0)}, post.priors)
    theta = np.array([[0.5, 1.0], [2.0, -1.0]])
    out = derived_quantities(post, theta)
    np.testing.assert_allclose(out["extra:a_expected_signal_events"], 10 * theta[:, 0] ** 2)
    assert not [k for k in out if k.startswith("extra:b_")]


# ---- only registered classes ------------------------------------------------------------------
@pytest.fixture
def trap_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module that leaves a marker file when imported, importable from the config's folder."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "trap_mod.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')\n"
        "class Thing:\n    def __init__(self, *a, **k):\n"
        f"        Path({str(marker)!r}).write_text('called')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


@pytest.mark.parametrize("where", ["likelihood", "model"])
@pytest.mark.parametrize("target", ["subprocess:Popen", "trap_mod:Thing", "os.system"])
def test_a_config_names_only_registered_classes(
        tmp_path: Path, trap_module: Path, capsys: pytest.CaptureFixture,
        where: str, target: str) -> None:
    cfg = toy_config()
    if where == "likelihood":
        cfg["likelihoods"]["a"] = {"type": target, "args": ["touch", str(tmp_path / "ran")]}
        key = "likelihoods.a.type"
    else:
        cfg["model"] = {"name": target}
        key = "model.name"
    path = write_config(tmp_path, cfg)
    assert main(["fit", "--config", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"{path}: {key}: unknown"), err
    assert "known:" in err
    assert not trap_module.exists() and not (tmp_path / "ran").exists()


def test_config_rejects_before_anything_is_built(tmp_path: Path) -> None:
    cfg = copy.deepcopy(toy_config())
    cfg["likelihoods"]["c"] = {"type": "subprocess:Popen", "args": ["true"]}
    with pytest.raises(ConfigError, match=r"likelihoods\.c\.type: unknown likelihood "
                                          r"'subprocess:Popen'"):
        load_config(write_config(tmp_path, cfg))
