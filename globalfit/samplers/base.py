"""The sampler interface and the sampler registry.

A sampler is one module with one :class:`Sampler` subclass that declares what the framework
needs from it and nothing else is read from it:

* ``name`` (config ``sampler.name``), ``citation``;
* ``options``: its typed options (:class:`globalfit.options.Option`), validated together
  with :data:`COMMON_OPTIONS` by :func:`globalfit.options.validate_options`;
* ``checkpoint_name``: the file in the run directory it checkpoints to;
* ``resume_keys``: the options whose change makes a checkpoint unusable (``--resume``
  refuses a config that changes them; every other option may change between runs);
* :meth:`Sampler.check_options`: checks across options once the number of sampled
  parameters is known (at validation, before anything runs);
* :meth:`Sampler.run`: sample the posterior and return a :class:`SamplerResult`.

Built-in samplers are listed in :data:`REGISTRY` (``name -> "module:Class"``, imported only
when used); installed packages add samplers through the entry-point group
``globalfit.samplers`` (``name = "package.module:Class"``). A loaded class is used only if it
subclasses :class:`Sampler`.
"""
from __future__ import annotations

import contextlib
import importlib
from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np

from ..errors import ConfigError, GlobalFitError
from ..options import Option, short_repr
from . import SamplerResult, StopFlag

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
                          "globalfit.samplers.base.Sampler")
    return cls


def default_options(name: str) -> dict[str, Any]:
    """Resolved default options of sampler ``name``."""
    return load(name).default_options()


@contextlib.contextmanager
def sampler_progress(options: dict[str, Any], total: int | None, desc: str,
                     unit: str) -> Iterator[Any]:
    """:func:`globalfit.progress.progress` for a sampling loop: a bar on a terminal unless
    ``progress: false`` (then plain log lines every ``log_every_s`` seconds)."""
    from .. import progress as pg
    pg.set_plain(options.get("progress", "auto") is False,
                 float(options.get("log_every_s", 30.0)))
    try:
        with pg.progress(total, desc, unit=unit) as bar:
            yield bar
    finally:
        pg.set_plain(False)


def equal_weight_chains(samples: np.ndarray, log_weight: np.ndarray, n_draws: int,
                        n_chains: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_chains, n_draws // n_chains, ndim)`` equal-weight draws from weighted samples.

    Systematic resampling (Kitagawa, J. Comput. Graph. Stat. 5 (1996) 1): ``n_draws``
    positions ``(r + i) / n_draws`` on the cumulative weights, one uniform ``r``; the draws
    are shuffled and split into chains, so ArviZ's R-hat and ESS can be computed as for MCMC.
    """
    w = np.exp(log_weight - np.max(log_weight))
    cdf = np.cumsum(w) / np.sum(w)
    positions = (rng.random() + np.arange(n_draws)) / n_draws
    idx = np.minimum(np.searchsorted(cdf, positions), len(cdf) - 1)
    draws = rng.permutation(samples[idx])
    per_chain = n_draws // n_chains
    return draws[:n_chains * per_chain].reshape(n_chains, per_chain, samples.shape[1])


__all__ = ["COMMON_OPTIONS", "CheckpointError", "DEFAULT_SAMPLER", "ENTRY_POINT_GROUP",
           "REGISTRY", "Sampler", "available", "corrupt_checkpoint", "default_options",
           "equal_weight_chains", "load", "sampler_progress"]
