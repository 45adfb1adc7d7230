"""XENONnT SR0 electronic-recoil likelihood (PRL 129 (2022) 161805) with a dark-photon-mediated
neutrino magnetic moment: data (``data``), response (``response``), signal templates
(``templates``), profiled likelihood (``profile``, ``likelihood``), fast grid (``fast``),
limits report (``report``). See docs/xenonnt.md.
"""
from __future__ import annotations

from .likelihood import XENONnTLikelihood

__all__ = ["XENONnTLikelihood"]
