"""Experimental likelihoods, one module per experiment, independent of any dark-sector model.

Each is a ``likelihoods.base.Likelihood``: it requires observables (names in
``globalfit.observables``) and returns a vectorised log-likelihood. Select them by name:

>>> from likelihoods import get_likelihood
>>> meg = get_likelihood("meg", dataset="meg2_2025")          # doctest: +SKIP
"""
from __future__ import annotations

import importlib

from .base import Likelihood, Nuisance

#: name -> "module:Class"; modules are imported only when asked for.
REGISTRY: dict[str, str] = {
    "borexino": "likelihoods.borexino:BorexinoLikelihood",
    "xenonnt": "likelihoods.xenonnt:XENONnTLikelihood",
    "na64": "likelihoods.na64:NA64Likelihood",
    "babar": "likelihoods.babar:BaBarLikelihood",
    "meg": "likelihoods.meg:MEGLikelihood",
    "tau_e_gamma": "likelihoods.meg:TauEGammaLikelihood",
    "tau_mu_gamma": "likelihoods.meg:TauMuGammaLikelihood",
}


def likelihood_class(name: str) -> type[Likelihood]:
    """The class registered under ``name``; KeyError listing the known names otherwise."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown likelihood {name!r}; known: {', '.join(REGISTRY)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_likelihood(name: str, **options: object) -> Likelihood:
    """Construct the likelihood registered under ``name`` with its options."""
    return likelihood_class(name)(**options)


__all__ = ["Likelihood", "Nuisance", "REGISTRY", "get_likelihood", "likelihood_class"]
