"""Bilby likelihood classes for every experiment and for the joint likelihood.

Needs the optional extra ``adapters`` (``pip install "globalfit-dtmm[adapters]"``); importing
this module without Bilby raises ImportError saying so. Each class is a
``bilby.core.likelihood.Likelihood`` whose parameters are the inputs of a
:class:`likelihoods.adapters.LikelihoodBridge` (observables, or model parameters, plus the
nuisances a sampler must supply); ``log_likelihood(parameters)`` returns the bridge's
log-likelihood at that point.

Example (NA64 at one mass, flat prior in eps^2 via a power law p(eps) ~ eps)::

    import bilby
    from likelihoods.adapters.bilby import NA64
    like = NA64(fixed={"br_inv": 1.0})
    priors = bilby.core.prior.PriorDict({
        "m_aprime_gev": bilby.core.prior.DeltaFunction(0.01),
        "eps": bilby.core.prior.PowerLaw(alpha=1, minimum=0.0, maximum=2e-5)})
    result = bilby.run_sampler(like, priors, sampler="dynesty", nlive=200)

:func:`nuisance_priors` returns Bilby priors for the nuisances (Gaussian constraints as
``TruncatedGaussian``). Bilby: G. Ashton et al., ApJS 241 (2019) 27, arXiv:1811.02042.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

try:
    import bilby as _bilby
    from bilby.core.likelihood import Likelihood as _BilbyLikelihood
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("likelihoods.adapters.bilby needs Bilby: "
                      "pip install 'globalfit-dtmm[adapters]'") from exc

from . import LikelihoodBridge, experiment_bridge, joint_bridge


def nuisance_priors(bridge: LikelihoodBridge) -> dict[str, Any]:
    """Bilby priors for the bridge's nuisances: Gaussian constraints truncated to [low, high]
    (``TruncatedGaussian``), uniform ones ``Uniform`` (bounds must be finite)."""
    prior = _bilby.core.prior
    out: dict[str, Any] = {}
    for name, nu in bridge.nuisance_priors().items():
        if nu.prior == "gaussian":
            low = nu.low if np.isfinite(nu.low) else nu.center - 1e3 * nu.width
            high = nu.high if np.isfinite(nu.high) else nu.center + 1e3 * nu.width
            out[name] = prior.TruncatedGaussian(mu=nu.center, sigma=nu.width, minimum=low,
                                                maximum=high, name=name, unit=nu.unit)
        elif np.isfinite(nu.low) and np.isfinite(nu.high):
            out[name] = prior.Uniform(nu.low, nu.high, name=name, unit=nu.unit)
        else:
            raise ValueError(f"{name}: uniform nuisance with an infinite bound "
                             f"[{nu.low}, {nu.high}]; give its prior explicitly")
    return out


class _BridgeLikelihood(_BilbyLikelihood):
    """Common part: a bridge and a ``log_likelihood(parameters)`` reading its inputs."""

    def __init__(self, bridge: LikelihoodBridge) -> None:
        self.bridge = bridge
        super().__init__()

    @property
    def input_names(self) -> tuple[str, ...]:
        """The parameter names this likelihood reads (the bridge's inputs)."""
        return self.bridge.parameters

    def log_likelihood(self, parameters: Mapping[str, Any] | None = None) -> float:
        """Joint log-likelihood at ``parameters`` (falls back to the deprecated
        ``self.parameters`` state of older Bilby versions when None)."""
        if parameters is None:
            parameters = self.__dict__.get("_parameters", self.__dict__.get("parameters", {}))
        return self.bridge.loglike_point(parameters)


class _Experiment(_BridgeLikelihood):
    _experiment: str = ""

    def __init__(self, options: Mapping[str, Any] | None = None,
                 fixed: Mapping[str, float] | None = None) -> None:
        """``options``: keyword arguments of the project's likelihood class; ``fixed``:
        observables held at constants (removed from the parameters)."""
        super().__init__(experiment_bridge(self._experiment, options, fixed))


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
    """Sum of several likelihoods (``{label: {"type": name, **options}}``): observable
    parameters, or model parameters if ``model`` (a Model object or
    ``{"class": "module:Class", **options}``) is given: model -> observables -> sum, ``-inf``
    outside the model's domain."""

    def __init__(self, likelihoods: Mapping[str, Any], model: Any | None = None,
                 fixed: Mapping[str, float] | None = None) -> None:
        super().__init__(joint_bridge(likelihoods, model=model, fixed=fixed))


__all__ = ["BaBar", "Borexino", "Joint", "LEP", "MEG", "NA64", "TauEGamma", "TauMuGamma",
           "XENONnT",
           "nuisance_priors"]
