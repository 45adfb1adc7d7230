"""Dark-sector models: parameters -> observables, selected by name in a fit config.

A name is either in :data:`REGISTRY` or a plugin: an installed distribution declaring an entry
point in the group ``globalfit.models`` (``name = "package.module:Class"``). Nothing else is
imported by name; a registry name takes precedence over a plugin of the same name.
"""
from __future__ import annotations

import importlib
from importlib import metadata

from .base import Model, ParameterSpec

#: name -> "module:Class"; imported when asked for.
REGISTRY: dict[str, str] = {
    "dark_tmm": "globalfit.model.dark_sector:DarkTransitionMomentModel",
}

ENTRY_POINT_GROUP = "globalfit.models"
"""Entry-point group of third-party models."""


def plugins() -> dict[str, str]:
    """Installed plugin models: name -> ``"module:Class"`` (metadata only, nothing imported)."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
            if ep.name not in REGISTRY}


def known() -> dict[str, str]:
    """Every selectable model: registry names, then plugin names."""
    return {**REGISTRY, **plugins()}


def model_class(name: str) -> type[Model]:
    """The model class registered (or plugged in) under ``name``; KeyError listing known
    names otherwise (nothing imported); TypeError if the target is not a :class:`Model`."""
    targets = REGISTRY if name in REGISTRY else known()   # plugins are looked up only if needed
    if name not in targets:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(targets)}")
    module, _, attr = targets[name].partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Model)):
        raise TypeError(f"model {name!r} ({targets[name]}) is not a subclass of "
                        "globalfit.model.base.Model")
    return obj


def get_model(name: str, **options: object) -> Model:
    """Construct the model registered under ``name``; ``options`` validated against its
    declared options."""
    return model_class(name).from_options(options)


__all__ = ["ENTRY_POINT_GROUP", "Model", "ParameterSpec", "REGISTRY", "get_model", "known",
           "model_class", "plugins"]
