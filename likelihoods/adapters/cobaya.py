"""Cobaya external-likelihood classes for every experiment and for the joint likelihood.

Needs the optional extra ``adapters`` (``pip install "globalfit-dtmm[adapters]"``); importing
this module without Cobaya raises ImportError saying so. Each class is a
``cobaya.likelihood.Likelihood`` whose input parameters are those of a
:class:`likelihoods.adapters.LikelihoodBridge` (observables, or model parameters, plus the
nuisances a sampler must supply); ``logp`` returns the bridge's log-likelihood at the point.

Options (keys of the likelihood block in the Cobaya YAML):

- ``options``: keyword arguments of the project's likelihood class (e.g. ``dataset``,
  ``background`` for NA64, ``variant`` and ``mode`` for Borexino);
- ``fixed``: observables held at constants (``{br_inv: 1.0}``), removed from the inputs;
- ``Joint`` only: ``likelihoods`` (``{label: {type: registered name, **options}}``) and
  ``model`` (optional, for model-parameter inputs:
  ``{class: "globalfit.model.dark_sector:DarkTransitionMomentModel", **options}``).

Example (MEG II mu -> e gamma alone)::

    likelihood:
      meg:
        class: likelihoods.adapters.cobaya.MEG
        options: {dataset: meg2_2025}
    params:
      br_mu_e_gamma: {prior: {min: 0.0, max: 1.0e-12}, proposal: 5.0e-14}
    sampler:
      mcmc: {max_samples: 5000}

The priors of nuisance parameters are the framework's business; :func:`nuisance_params`
returns Cobaya parameter blocks for them (Gaussian constraints as truncated normals).
Cobaya: J. Torrado and A. Lewis, JCAP 05 (2021) 057, arXiv:2005.05290.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

try:
    from cobaya.likelihood import Likelihood as _CobayaLikelihood
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("likelihoods.adapters.cobaya needs Cobaya: "
                      "pip install 'globalfit-dtmm[adapters]'") from exc

from . import LikelihoodBridge, experiment_bridge, joint_bridge


def nuisance_params(bridge: LikelihoodBridge) -> dict[str, dict[str, Any]]:
    """Cobaya ``params`` entries for the bridge's nuisances: Gaussian constraints become
    ``scipy.stats.truncnorm`` priors on [low, high], uniform ones ``{min, max}`` (both must be
    finite: a ConfigError-style ValueError names the nuisance otherwise)."""
    out: dict[str, dict[str, Any]] = {}
    for name, nu in bridge.nuisance_priors().items():
        if nu.prior == "gaussian":
            a = (nu.low - nu.center) / nu.width
            b = (nu.high - nu.center) / nu.width
            out[name] = {"prior": {"dist": "truncnorm", "a": float(max(a, -1e3)),
                                   "b": float(min(b, 1e3)), "loc": nu.center,
                                   "scale": nu.width},
                         "ref": nu.center, "proposal": 0.5 * nu.width}
        elif np.isfinite(nu.low) and np.isfinite(nu.high):
            out[name] = {"prior": {"min": nu.low, "max": nu.high},
                         "proposal": 0.1 * (nu.high - nu.low)}
        else:
            raise ValueError(f"{name}: uniform nuisance with an infinite bound "
                             f"[{nu.low}, {nu.high}]; give its prior in the Cobaya params block")
    return out


class _BridgeLikelihood(_CobayaLikelihood):
    """Common part: build the bridge in ``initialize``; inputs are the bridge's parameters."""

    options: dict = {}
    fixed: dict = {}
    bridge: LikelihoodBridge

    def make_bridge(self) -> LikelihoodBridge:  # pragma: no cover - overridden
        raise NotImplementedError

    def initialize(self) -> None:
        self.bridge = self.make_bridge()

    def get_can_support_params(self) -> tuple[str, ...]:
        return self.bridge.parameters

    def logp(self, **params_values: Any) -> float:
        params_values.pop("_derived", None)
        return self.bridge.loglike_point(params_values)


class _Experiment(_BridgeLikelihood):
    _experiment: str = ""

    def make_bridge(self) -> LikelihoodBridge:
        return experiment_bridge(self._experiment, dict(self.options or {}),
                                 dict(self.fixed or {}))


class Borexino(_Experiment):
    """Borexino Phase-II spectrum (``likelihoods.borexino.BorexinoLikelihood``)."""
    _experiment = "borexino"


class XENONnT(_Experiment):
    """XENONnT SR0 electron recoils (``likelihoods.xenonnt.XENONnTLikelihood``)."""
    _experiment = "xenonnt"


class LEP(_Experiment):
    """LEP invisible Z width and heavy charged leptons (``likelihoods.lep.LEPLikelihood``)."""
    _experiment = "lep"


class NA64(_Experiment):
    """NA64 missing-energy count (``likelihoods.na64.NA64Likelihood``)."""
    _experiment = "na64"


class BaBar(_Experiment):
    """BaBar mono-photon (``likelihoods.babar.BaBarLikelihood``)."""
    _experiment = "babar"


class MEG(_Experiment):
    """MEG / MEG II mu -> e gamma (``likelihoods.meg.MEGLikelihood``)."""
    _experiment = "meg"


class TauEGamma(_Experiment):
    """tau -> e gamma (``likelihoods.meg.TauEGammaLikelihood``)."""
    _experiment = "tau_e_gamma"


class TauMuGamma(_Experiment):
    """tau -> mu gamma (``likelihoods.meg.TauMuGammaLikelihood``)."""
    _experiment = "tau_mu_gamma"


class Joint(_BridgeLikelihood):
    """Sum of several likelihoods: observable inputs, or model-parameter inputs if ``model``
    is given (model -> observables -> sum; ``-inf`` outside the model's domain)."""

    likelihoods: dict = {}
    model: Mapping[str, Any] | str | None = None

    def make_bridge(self) -> LikelihoodBridge:
        return joint_bridge(dict(self.likelihoods or {}), model=self.model,
                            fixed=dict(self.fixed or {}))


__all__ = ["BaBar", "Borexino", "Joint", "LEP", "MEG", "NA64", "TauEGamma", "TauMuGamma",
           "XENONnT",
           "nuisance_params"]
