"""The sampler interface, its result type, the stop flag and the sampler registry.

A sampler is one module with one :class:`Sampler` subclass that declares what the framework
needs from it and nothing else is read from it:

* ``name`` (config ``sampler.name``), ``citation``;
* ``options``: its typed options (:class:`globalfit.options.Option`), validated together
  with :data:`COMMON_OPTIONS` by :func:`globalfit.options.validate_options`;
* ``checkpoint_name``: the file in the run directory it checkpoints to;
* ``resume_keys``: the options whose change makes a checkpoint unusable (``--resume``
  refuses a config that changes them; every other option may change between runs);
* ``mpi_backoff_ms``: the longest sleep of an idle MPI rank between polls, suited to the
  size of the sampler's pool tasks (:func:`globalfit.samplers.pool.make_pool`);
* :meth:`Sampler.check_options`: checks across options once the number of sampled
  parameters is known (at validation, before anything runs);
* :meth:`Sampler.run`: sample the posterior and return a :class:`SamplerResult`.

Built-in samplers are listed in :data:`REGISTRY` (``name -> "module:Class"``, imported only
when used); installed packages add samplers through the entry-point group
``globalfit.samplers`` (``name = "package.module:Class"``). A loaded class is used only if it
subclasses :class:`Sampler`.

This module sits below the adapters (``globalfit.samplers.*`` import it) and below the
config (which validates ``sampler`` sections with the declared options); it imports only
leaves, and an adapter module is imported only when its name is looked up.
"""
from __future__ import annotations

import importlib
import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .errors import ConfigError, GlobalFitError
from .options import Option, short_repr


@dataclass
class SamplerResult:
    """Posterior draws and sampler statistics.

    ``samples``: ``(n_chains, n_draws, ndim)``; ``stats``: JSON-serialisable numbers
    (autocorrelation times, evidence, ...); ``nested``: for nested sampling, the weighted
    samples ``samples (n, ndim)``, ``log_weight``, ``log_likelihood`` and ``logz``,
    ``logzerr``; ``completed`` is False when the run stopped on a signal; ``rejections``:
    counts of points rejected by reason (prior, model domain, NaN likelihood).

    ``converged``: whether the sampler's own stopping rule was met (``False``: it stopped at
    its cap, e.g. emcee's ``max_steps``, dynesty's ``maxiter``, nautilus' ``maxcall``;
    ``None``: a fixed-length run or a sampler without a rule, no convergence claim);
    ``criterion``: that rule in words (for the run summary); ``chain_stats``: ``(n_chains,)``
    arrays written to ``sample_stats`` (emcee: per-walker acceptance fraction);
    ``parameter_stats``: ``(ndim,)`` arrays, one value per sampled parameter (emcee: the
    integrated autocorrelation time in steps).
    """
    kind: str
    samples: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    nested: dict[str, Any] | None = None
    completed: bool = True
    rejections: dict[str, int] = field(default_factory=dict)
    converged: bool | None = None
    criterion: str = ""
    chain_stats: dict[str, np.ndarray] = field(default_factory=dict)
    parameter_stats: dict[str, np.ndarray] = field(default_factory=dict)


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


#: built-in samplers: name -> "module:Class" (adding one = one module + one line here)
REGISTRY: dict[str, str] = {
    "emcee": "globalfit.samplers.emcee_adapter:EmceeSampler",
    "dynesty": "globalfit.samplers.dynesty_adapter:DynestySampler",
    "nautilus": "globalfit.samplers.nautilus_adapter:NautilusSampler",
}
ENTRY_POINT_GROUP = "globalfit.samplers"
DEFAULT_SAMPLER = "emcee"

#: options every sampler accepts (``name`` is checked against the registered names first)
COMMON_OPTIONS: tuple[Option, ...] = (
    Option("name", (str,), DEFAULT_SAMPLER, doc="a registered sampler"),
    Option("pool", (str,), "auto", choices=("auto", "serial", "processes", "mpi"),
           doc="auto: MPI under mpirun with > 1 rank, else serial"),
    Option("n_processes", (int, type(None)), None, low=1, high=4096,
           doc="workers of pool: processes (default: CPU count)"),
    Option("min_task_ms", (int, float), 2.0, low=0.0, high=1e6, unit="ms",
           doc="a vectorised batch is split over the pool only into blocks of at least this "
               "much estimated work (0: always split)"),
    Option("progress", (bool, str), "auto", choices=(True, False, "auto"),
           doc="progress bar on a terminal (auto); false: periodic log lines"),
    Option("log_every_s", (int, float), 30.0, low=0.01, high=86400.0, unit="s",
           doc="seconds between progress log lines without a bar"),
)


class CheckpointError(GlobalFitError):
    """A checkpoint that cannot be resumed (corrupt, truncated, another shape); the message
    names the file and suggests ``--force``."""


def corrupt_checkpoint(path: Path, why: str) -> CheckpointError:
    """The one-line error for an unusable checkpoint (the file is left as it is)."""
    return CheckpointError(f"{path}: corrupt or incompatible checkpoint ({why}); cannot "
                           "resume (use --force to start over)")


class Sampler(ABC):
    """One sampling algorithm (see the module docstring for what is declared)."""
    name: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    checkpoint_name: ClassVar[str] = ""
    resume_keys: ClassVar[tuple[str, ...]] = ()
    #: longest sleep (ms) of an idle MPI rank between polls. Rank 0's polling thread wakes
    #: this often while rank 0 computes, and takes the GIL each time: at 0.1 ms a one-point
    #: full-mode call of a dynesty chain took 0.55-0.61 ms on 2 ranks against 0.48 ms at
    #: 1 ms, and an emcee run that keeps its calls whole (they do not pay to split) was
    #: slower than serial (benchmarks/README.md, "MPI"). A shorter back-off pays only for
    #: tasks of a few ms, which the MPI round trip makes not worth splitting anyway.
    mpi_backoff_ms: ClassVar[float] = 1.0

    @classmethod
    def schema(cls) -> tuple[Option, ...]:
        """Every option of this sampler: :data:`COMMON_OPTIONS` + :attr:`options`."""
        return COMMON_OPTIONS + tuple(cls.options)

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        """The resolved options of an empty ``sampler`` section naming this sampler."""
        return {o.name: (cls.name if o.name == "name" else o.default) for o in cls.schema()}

    @classmethod
    def check_options(cls, options: dict[str, Any], ndim: int, where: str) -> dict[str, Any]:
        """Checks across options once ``ndim`` sampled parameters are known; fills
        defaults that depend on ``ndim``. ConfigError ``<where>.<key>: ...`` (one line)."""
        return options

    @abstractmethod
    def run(self, posterior: Any, options: dict[str, Any], checkpoint: Path, resume: bool,
            seed: int, pool: Any, stop: StopFlag) -> SamplerResult:
        """Sample ``posterior`` (:class:`globalfit.joint.JointPosterior`, registered in
        every process for ``pool``: :func:`globalfit.samplers.pool.handle`).

        ``options``: the resolved ``sampler`` section; ``checkpoint``: the file to write
        (continue from it when ``resume`` and it exists; a file that cannot be resumed
        raises :class:`CheckpointError` before anything is written); ``seed``: the same
        seed gives the same samples; ``stop``: poll it between iterations, checkpoint and
        return ``completed=False``."""


def available() -> list[str]:
    """Names of the built-in and the installed (entry-point) samplers."""
    names = list(REGISTRY)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in names:
            names.append(ep.name)
    return names


def load(name: str) -> type[Sampler]:
    """The :class:`Sampler` subclass registered as ``name``. KeyError for an unknown name;
    ConfigError (one line) when a registered target cannot be imported or is not a
    Sampler."""
    if name in REGISTRY:
        target = REGISTRY[name]
    else:
        found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
                 if ep.name == name]
        if not found:
            raise KeyError(name)
        target = found[0].value
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"sampler.name: cannot load sampler {name!r} ({target}): "
                          f"{short_repr(str(exc), 120)}") from None
    if not (isinstance(cls, type) and issubclass(cls, Sampler)):
        raise ConfigError(f"sampler.name: {target} (registered as {name!r}) is not a "
                          "globalfit.sampling.Sampler")
    return cls


def default_options(name: str) -> dict[str, Any]:
    """Resolved default options of sampler ``name``."""
    return load(name).default_options()


__all__ = ["COMMON_OPTIONS", "CheckpointError", "DEFAULT_SAMPLER", "ENTRY_POINT_GROUP",
           "REGISTRY", "Sampler", "SamplerResult", "StopFlag", "available",
           "corrupt_checkpoint", "default_options", "load"]
