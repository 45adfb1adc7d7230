"""Sampler adapters: each gets the (vectorised) posterior as an argument and owns seeding,
checkpoints and stopping; each returns a :class:`SamplerResult`. The interface a sampler
implements, the result and stop-flag types and the registry of samplers are in
:mod:`globalfit.sampling`."""
from __future__ import annotations

from ..sampling import SamplerResult, StopFlag


__all__ = ["SamplerResult", "StopFlag"]
