"""The one evaluation policy shared by the joint posterior and the framework adapters.

Both ``globalfit.joint.JointPosterior`` and ``likelihoods.adapters.LikelihoodBridge`` compute
each likelihood's term with :func:`likelihood_terms`, and both name nuisance parameters with
:func:`nuisance_parameter_name`, so a fit and a Cobaya/Bilby run see the same numbers.

Naming rule
-----------
The nuisance ``nu`` of the likelihood labelled ``label`` is the parameter
``label + separator + nu``, where a nuisance name that already starts with ``label_`` loses
that prefix (``na64_background`` of ``na64`` is ``na64.background``, not
``na64.na64_background``). The fit uses ``separator="."`` (``borexino.cno``): a label may not
contain ``.``, so the name splits unambiguously into label and nuisance, while nuisance names
contain ``_`` (``ext_k40``). Frameworks whose parameter names must be identifiers (Cobaya,
Bilby) use ``separator="_"`` (``borexino_cno``, ``na64_background``): the same rule, with the
separator the framework demands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from globalfit.errors import ParameterError

from .base import Likelihood, Nuisance

FIT_SEPARATOR = "."
"""Separator of label and nuisance in the fit's parameter names."""
IDENTIFIER_SEPARATOR = "_"
"""Separator for frameworks that need identifier-like parameter names."""


def nuisance_parameter_name(label: str, nuisance: Nuisance,
                            separator: str = FIT_SEPARATOR) -> str:
    """Parameter name of ``nuisance`` of the likelihood labelled ``label`` (module docstring)."""
    prefix = f"{label}_"
    short = nuisance.name
    if short.startswith(prefix) and len(short) > len(prefix):
        short = short[len(prefix):]
    return f"{label}{separator}{short}"


@dataclass
class Terms:
    """Per-likelihood log-likelihood ``values`` (``label -> (n,)``, finite or ``-inf``) and
    ``nan_counts`` (``label -> number of NaN values turned into -inf``, only labels with any)."""
    values: dict[str, np.ndarray]
    nan_counts: dict[str, int]


def likelihood_terms(likelihoods: Mapping[str, Likelihood],
                     observables: Mapping[str, np.ndarray],
                     parameters: Mapping[str, np.ndarray],
                     valid: np.ndarray | None = None,
                     separator: str = FIT_SEPARATOR) -> Terms:
    """Each likelihood's ``loglike`` at ``n`` points.

    ``observables``: name -> ``(n,)`` (at least every required one); ``parameters``: name ->
    ``(n,)`` holding every declared nuisance under :func:`nuisance_parameter_name` (with
    ``separator``); ``valid``: ``(n,)`` mask of points inside the model's domain (None: all).
    Likelihoods are called on the valid points only; invalid points get ``-inf``; a NaN from a
    likelihood becomes ``-inf`` and is counted. A missing nuisance is a ParameterError.
    """
    some_invalid = valid is not None and not bool(np.all(valid))
    if some_invalid:
        valid = np.asarray(valid, dtype=bool)
    values: dict[str, np.ndarray] = {}
    nan_counts: dict[str, int] = {}
    for label, like in likelihoods.items():
        nuis: dict[str, np.ndarray] = {}
        for nu in like.nuisances:
            key = nuisance_parameter_name(label, nu, separator)
            try:
                nuis[nu.name] = parameters[key]
            except KeyError:
                raise ParameterError(f"{key}: nuisance parameter of likelihood {label!r} "
                                     "missing") from None
        sub = {k: observables[k] for k in like.requires}
        if not some_invalid:
            val = np.asarray(like.loglike(sub, nuis or None), dtype=float)
        else:
            val = np.full(valid.shape, -np.inf)
            if valid.any():
                val[valid] = like.loglike({k: v[valid] for k, v in sub.items()},
                                          {k: v[valid] for k, v in nuis.items()} or None)
        bad = np.isnan(val)
        if bad.any():
            nan_counts[label] = int(np.count_nonzero(bad))
            val = np.where(bad, -np.inf, val)
        values[label] = val
    return Terms(values, nan_counts)


__all__ = ["FIT_SEPARATOR", "IDENTIFIER_SEPARATOR", "Terms", "likelihood_terms",
           "nuisance_parameter_name"]
