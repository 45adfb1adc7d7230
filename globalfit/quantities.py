"""What every quantity of a run is: unit, LaTeX label, description, prior and the scale in
which it is summarised and plotted.

The names are those of the ``posterior`` group of ``posterior.nc``
(:func:`globalfit.output.build_inference_data`): the sampled parameters, the model
observables (:mod:`globalfit.observables`) and the likelihood extras ``<label>_<name>``
(``Likelihood.derived_names``); fixed parameters go to ``constant_data``.

Units: a model parameter of dimension ``energy`` is in GeV, a dimensionless one in ``1``
(``rad`` for the angles, whose ``ParameterSpec.description`` says so); a nuisance carries
its ``Nuisance.unit``; an observable its table entry (else the unit its name's suffix
states, ``_gev``, ``_mub``, ``_mub2``); a likelihood extra the unit the
likelihood declares in an optional ``derived_units`` mapping, else ``events`` for the
expected-signal counts and ``1`` otherwise.

Scale: ``log10`` for a parameter with a log-uniform prior and for a derived quantity that is
positive at every draw and whose central 98 % spans at least one decade
(:data:`LOG_SPAN_DECADES`); ``linear`` otherwise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np

from likelihoods.evaluate import nuisance_parameter_name
from .joint import JointPosterior
from .observables import OBSERVABLES
from .priors import Prior, name_latex

#: a positive derived quantity is shown in log10 when q99 / q1 of its draws is at least this
#: many decades
LOG_SPAN_DECADES = 1.0

#: likelihood extras known by name: unit, LaTeX (``{label}`` is the likelihood label) and
#: description
_EXTRAS: dict[str, tuple[str, str, str]] = {
    "expected_signal": ("events", r"s_\mathrm{{{label}}}", "expected signal events"),
    "expected_signal_events": ("events", r"s_\mathrm{{{label}}}", "expected signal events"),
}

#: LaTeX of the units that occur
_UNIT_LATEX = {"GeV": r"\mathrm{GeV}", "MeV": r"\mathrm{MeV}", "mu_B": r"\mu_B",
               "mu_B^2": r"\mu_B^2", "rad": r"\mathrm{rad}", "events": r"\mathrm{events}"}


@dataclass(frozen=True)
class Quantity:
    """One quantity of a run. ``role``: ``sampled``, ``fixed``, ``observable`` (model) or
    ``extra`` (likelihood); ``unit``: ``"1"`` when dimensionless; ``latex`` without ``$``;
    ``prior``: the prior of a sampled or fixed parameter, None for a derived quantity;
    ``scale``: ``log10`` or ``linear``."""
    name: str
    role: str
    unit: str
    latex: str
    description: str
    prior: Prior | None = None
    scale: str = "linear"

    @property
    def derived(self) -> bool:
        return self.role in ("observable", "extra")

    @property
    def has_unit(self) -> bool:
        return self.unit not in ("", "1")


def _parameter_unit(dimension: str, description: str) -> str:
    if dimension == "energy":
        return "GeV"
    return "rad" if "(rad)" in description else "1"


def _plain(description: str) -> str:
    """A description without its trailing unit in parentheses (the unit is an attribute)."""
    return re.sub(r"\s*\((GeV|rad)\)\s*$", "", description)


def _parameters(posterior: JointPosterior) -> dict[str, Quantity]:
    """Sampled and fixed parameters (model parameters and nuisances), keyed by name."""
    specs = {p.name: p for p in posterior.model.parameters}
    nuisances = {nuisance_parameter_name(label, nu): nu
                 for label, like in posterior.likelihoods.items() for nu in like.nuisances}
    out: dict[str, Quantity] = {}
    for prior in posterior.priors.priors:
        role = "sampled" if prior.sampled else "fixed"
        scale = "log10" if prior.kind == "log-uniform" else "linear"
        if prior.name in specs:
            spec = specs[prior.name]
            unit = _parameter_unit(spec.dimension, spec.description)
            latex, text = prior.latex or spec.latex, _plain(spec.description)
        else:
            nu = nuisances.get(prior.name)
            unit = (nu.unit or "1") if nu is not None else "1"
            latex = prior.latex or name_latex(prior.name)
            text = ((nu.description or f"nuisance {nu.name}") if nu is not None
                    else prior.name)
        out[prior.name] = Quantity(prior.name, role, unit, latex, text, prior, scale)
    return out


def describe_run(posterior: JointPosterior) -> dict[str, Quantity]:
    """The quantities of the ``posterior`` group of a run of ``posterior``: sampled
    parameters, model observables and likelihood extras, keyed by name."""
    out = {k: q for k, q in _parameters(posterior).items() if q.role == "sampled"}
    for name in posterior.model.provides:
        if name in out:
            continue          # the observable is the sampled parameter itself
        obs = OBSERVABLES.get(name)
        out[name] = Quantity(name, "observable", obs.unit if obs else suffix_unit(name),
                             obs.latex if obs else name_latex(name),
                             obs.description if obs else name)
    for label, like in posterior.likelihoods.items():
        declared = getattr(like, "derived_units", None) or {}
        for name in like.derived_names:
            unit, latex, text = _EXTRAS.get(name, ("1", "", name.replace("_", " ")))
            if not latex:
                latex = name_latex(f"{label} {name}")
            out[f"{label}_{name}"] = Quantity(
                f"{label}_{name}", "extra", declared.get(name, unit),
                latex.format(label=experiment_name(like).replace(" ", r"\ "))
                if "{label}" in latex else latex,
                f"{text} of likelihood {label} ({experiment_label(like)})")
    return out


#: the project's unit suffixes of names (``m_n_gev``, ``mu_eff_mub``)
_SUFFIXES = (("_gev", "GeV"), ("_mub2", "mu_B^2"), ("_mub", "mu_B"))


def suffix_unit(name: str) -> str:
    """The unit a name's suffix states (``_gev``: GeV, ``_mub``: mu_B, ``_mub2``: mu_B^2),
    else ``1``; for observables missing from :mod:`globalfit.observables`."""
    for suffix, unit in _SUFFIXES:
        if name.endswith(suffix):
            return unit
    return "1"


def fixed_parameters(posterior: JointPosterior) -> dict[str, Quantity]:
    """The fixed parameters of ``posterior`` (the ``constant_data`` group), keyed by name."""
    return {k: q for k, q in _parameters(posterior).items() if q.role == "fixed"}


def experiment_name(like: Any) -> str:
    """The collaboration named first in the likelihood's citation (``"NA64"``), else the
    likelihood's name."""
    citation = str(getattr(like, "citation", "") or "")
    head = citation.split(",")[0].replace(" Collaboration", "").strip()
    return head if head and len(head) <= 40 else str(getattr(like, "name", ""))


def experiment_label(like: Any) -> str:
    """``"NA64 2023"``: :func:`experiment_name` and the first year in the citation."""
    year = re.search(r"\((19|20)\d\d\)", str(getattr(like, "citation", "") or ""))
    name = experiment_name(like)
    return f"{name} {year.group(0)[1:-1]}" if year else name


def choose_scale(q: Quantity, values: np.ndarray) -> Quantity:
    """``q`` with its summary scale: a sampled parameter keeps the scale of its prior; a
    derived quantity is log10 when every finite draw is positive and q99 / q1 spans at least
    :data:`LOG_SPAN_DECADES` decades."""
    if not q.derived:
        return q
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size and np.all(x > 0):
        lo, hi = np.percentile(x, [1, 99])
        if np.log10(hi / lo) >= LOG_SPAN_DECADES:
            return replace(q, scale="log10")
    return replace(q, scale="linear")


def in_scale(q: Quantity, values: np.ndarray) -> np.ndarray:
    """``values`` in the scale of ``q`` (log10 of the non-positive ones is NaN)."""
    x = np.asarray(values, dtype=float)
    if q.scale != "log10":
        return x
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(x)
    out[~(x > 0)] = np.nan
    return out


def unit_latex(unit: str) -> str:
    """LaTeX (math mode, no ``$``) of a unit string such as ``GeV`` or ``mu_B^2``."""
    return _UNIT_LATEX.get(unit, rf"\mathrm{{{unit}}}")


def axis_label(q: Quantity) -> str:
    r"""Matplotlib label in the quantity's scale with its unit: ``$\log_{10}(m_{A'}/\mathrm{
    GeV})$``, ``$\log_{10}\varepsilon$``, ``$\alpha$ [rad]``."""
    tex = q.latex or q.name.replace("_", r"\_")
    if q.scale == "log10":
        if q.has_unit:
            return rf"$\log_{{10}}({tex}/{unit_latex(q.unit)})$"
        return rf"$\log_{{10}}{tex}$"
    return rf"${tex}$ [${unit_latex(q.unit)}$]" if q.has_unit else f"${tex}$"


def text_label(q: Quantity) -> str:
    """Plain-text form of :func:`axis_label`: ``log10(m_aprime_gev / GeV)``, ``alpha [rad]``."""
    if q.scale == "log10":
        return f"log10({q.name} / {q.unit})" if q.has_unit else f"log10({q.name})"
    return f"{q.name} [{q.unit}]" if q.has_unit else q.name


def prior_sd(q: Quantity) -> float:
    """Standard deviation of a sampled parameter's prior in the quantity's scale (exact:
    (b - a) / sqrt(12) for uniform in x or in log10 x; the truncated normal's sd)."""
    p = q.prior
    if p is None or not p.sampled:
        return float("nan")
    if p.kind == "uniform":
        return (p.high - p.low) / np.sqrt(12.0)
    if p.kind == "log-uniform":
        return (np.log10(p.high) - np.log10(p.low)) / np.sqrt(12.0)
    from scipy import stats
    a, b = (p.low - p.mean) / p.sd, (p.high - p.mean) / p.sd
    return float(stats.truncnorm(a, b, loc=p.mean, scale=p.sd).std())


def prior_predictive(posterior: JointPosterior, n: int, seed: int) -> dict[str, np.ndarray]:
    """Derived quantities (observables and likelihood extras, keyed as in the posterior
    group) at ``n`` prior draws (seeded), at the draws inside the model's domain. No
    likelihood is evaluated, only the model and the likelihoods' ``derived``."""
    theta = posterior.priors.sample(np.random.default_rng([seed, 2]), n)
    values = posterior.parameter_values(theta)
    params = {k: values[k] for k in posterior.model_parameters}
    obs, valid = posterior.model.observables(params)
    valid = np.asarray(valid, dtype=bool)
    out = {name: np.asarray(arr, dtype=float)[valid] for name, arr in obs.items()}
    for label, like in posterior.likelihoods.items():
        if not like.derived_names:
            continue
        sub = {k: out[k] for k in like.requires}
        nuis = {nu.name: np.asarray(values[nuisance_parameter_name(label, nu)])[valid]
                for nu in like.nuisances} or None
        with np.errstate(all="ignore"):
            res = like.derived(sub, nuis)
        for name in like.derived_names:
            out[f"{label}_{name}"] = np.asarray(res[name], dtype=float)
    return out


def netcdf_attrs(q: Quantity) -> dict[str, Any]:
    """Variable attributes of ``q`` in posterior.nc: ``units``, ``long_name``, ``latex``,
    ``role``, ``scale`` and the prior (``prior`` kind, ``prior_low``/``prior_high``, and
    ``prior_mean``/``prior_sd`` for a gaussian; ``prior: derived`` for derived quantities)."""
    attrs: dict[str, Any] = {"units": q.unit or "1", "long_name": q.description,
                             "latex": q.latex, "role": q.role, "scale": q.scale}
    p = q.prior
    if p is None:
        attrs["prior"] = "derived"
        return attrs
    attrs["prior"] = p.kind
    if p.kind == "fixed":
        attrs["value"] = float(p.value)
        return attrs
    attrs["prior_low"], attrs["prior_high"] = float(p.low), float(p.high)
    if p.kind == "gaussian":
        attrs["prior_mean"], attrs["prior_sd"] = float(p.mean), float(p.sd)
    return attrs


def scaled(quantities: Mapping[str, Quantity], posterior_group: Any) -> dict[str, Quantity]:
    """The quantities of a posterior group with their summary scale chosen from its draws
    (:func:`choose_scale`); names absent from the group are left out."""
    out = {}
    for name, q in quantities.items():
        if name not in posterior_group:
            continue
        out[name] = choose_scale(q, np.asarray(posterior_group[name]))
    return out
