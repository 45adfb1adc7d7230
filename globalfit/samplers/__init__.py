"""Sampler adapters: each gets the (vectorised) posterior as an argument and owns seeding,
checkpoints and stopping; each returns a :class:`SamplerResult`. The interface a sampler
implements and the registry of samplers are in :mod:`globalfit.samplers.base`."""
from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SamplerResult:
    """Posterior draws and sampler statistics.

    ``samples``: ``(n_chains, n_draws, ndim)``; ``stats``: JSON-serialisable numbers
    (autocorrelation times, evidence, ...); ``nested``: for nested sampling, the weighted
    samples ``samples (n, ndim)``, ``log_weight``, ``log_likelihood`` and ``logz``,
    ``logzerr``; ``completed`` is False when the run stopped on a signal; ``rejections``:
    counts of points rejected by reason (prior, model domain, NaN likelihood).
    """
    kind: str
    samples: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    nested: dict[str, Any] | None = None
    completed: bool = True
    rejections: dict[str, int] = field(default_factory=dict)


class StopFlag:
    """Set by SIGTERM/SIGINT; samplers poll it between steps, checkpoint and return."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def _handler(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def install(self) -> "StopFlag":
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


__all__ = ["SamplerResult", "StopFlag"]
