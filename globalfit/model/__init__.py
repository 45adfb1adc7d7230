"""Dark-sector models: parameters -> observables, selected by name in a fit config."""
from __future__ import annotations

import importlib

from .base import Model, ParameterSpec

#: name -> "module:Class"; imported when asked for.
REGISTRY: dict[str, str] = {
    "dark_tmm": "globalfit.model.dark_sector:DarkTransitionMomentModel",
}


def model_class(name: str) -> type[Model]:
    """The model class registered under ``name``; KeyError listing known names otherwise."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_model(name: str, **options: object) -> Model:
    """Construct the model registered under ``name`` with its options."""
    return model_class(name)(**options)


__all__ = ["Model", "ParameterSpec", "REGISTRY", "get_model", "model_class"]
