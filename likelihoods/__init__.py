"""Experimental likelihoods, one module per experiment, independent of any dark-sector model.

Each is a ``likelihoods.base.Likelihood`` (the contract: options, requires, nuisances, domain,
loglike, derived). Select them by name:

>>> from likelihoods import get_likelihood
>>> meg = get_likelihood("meg", dataset="meg2_2025")          # doctest: +SKIP

A name is either in :data:`REGISTRY` (this package) or a plugin: an installed distribution
that declares an entry point in the group ``globalfit.likelihoods``
(``name = "package.module:Class"``). Nothing else is ever imported by name; a registry name
takes precedence over a plugin of the same name.
"""
from __future__ import annotations

import importlib
from importlib import metadata

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
    "lep": "likelihoods.lep:LEPLikelihood",
}

ENTRY_POINT_GROUP = "globalfit.likelihoods"
"""Entry-point group of third-party likelihoods."""


def plugins() -> dict[str, str]:
    """Installed plugin likelihoods: name -> ``"module:Class"`` (read from the distributions'
    metadata; nothing is imported)."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
            if ep.name not in REGISTRY}


def known() -> dict[str, str]:
    """Every selectable likelihood: registry names, then plugin names."""
    return {**REGISTRY, **plugins()}


def likelihood_class(name: str) -> type[Likelihood]:
    """The class registered (or plugged in) under ``name``.

    KeyError listing the known names for any other name (nothing is imported then);
    TypeError when the target is not a subclass of :class:`Likelihood` (checked before
    anything is instantiated)."""
    targets = REGISTRY if name in REGISTRY else known()   # plugins are looked up only if needed
    if name not in targets:
        raise KeyError(f"unknown likelihood {name!r}; known: {', '.join(targets)}")
    module, _, attr = targets[name].partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Likelihood)):
        raise TypeError(f"likelihood {name!r} ({targets[name]}) is not a subclass of "
                        "likelihoods.base.Likelihood")
    return obj


def get_likelihood(name: str, **options: object) -> Likelihood:
    """Construct the likelihood registered under ``name``; ``options`` are validated
    against its declared options (ConfigError naming the option)."""
    return likelihood_class(name).from_options(options)


__all__ = ["ENTRY_POINT_GROUP", "Likelihood", "Nuisance", "REGISTRY", "get_likelihood",
           "known", "likelihood_class", "plugins"]
