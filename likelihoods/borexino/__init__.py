"""Borexino Phase-II electron-recoil spectrum: solar neutrinos, detector response, backgrounds and
the spectral likelihood with a dark-photon-mediated neutrino transition moment.

>>> from likelihoods.borexino import BorexinoLikelihood       # doctest: +SKIP
>>> lk = BorexinoLikelihood(variant="radiochemical", mode="fast")  # doctest: +SKIP
"""
from __future__ import annotations


def __getattr__(name: str):
    if name == "BorexinoLikelihood":
        from .likelihood import BorexinoLikelihood
        return BorexinoLikelihood
    raise AttributeError(name)


__all__ = ["BorexinoLikelihood"]
