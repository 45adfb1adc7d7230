"""Exports of the project's likelihoods to formats other tools read.

- ``likelihoods.export.pyhf_na64``: the NA64 counting model as a HistFactory JSON workspace
  (loaded by pyhf; pyhf itself is only needed to *use* the workspace, not to write it).
"""
from __future__ import annotations

from .pyhf_na64 import (cls_asymptotic, cls_exact_zero_events, mu_upper_limit, na64_workspace,
                        reference_signal, write_workspace)

__all__ = ["cls_asymptotic", "cls_exact_zero_events", "mu_upper_limit", "na64_workspace",
           "reference_signal", "write_workspace"]
