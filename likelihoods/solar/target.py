"""Scattering targets: how many electrons a detector unit holds and which of them can scatter.

What to use when
----------------
* ``FreeElectrons(electrons)``: every electron scatters as if free and at rest (organic
  scintillator at MeV recoils, where binding energies of ~0.3 keV (carbon K shell) are
  negligible).
* ``AtomicTarget(shell_binding_energies_kev, electrons_per_shell, atoms)``: the stepping
  approximation for atoms: an electron of a shell with binding energy B contributes only at
  recoil energies T > B, so the free-electron cross-section is multiplied by
  Z_eff(T) / Z = sum_shells n_s theta(T - B_s) / sum_shells n_s (J.-W. Chen et al.,
  Phys. Lett. B 731 (2014) 159; used for xenon by XENON1T, PRD 102 (2020) 072004, and XENONnT,
  PRL 129 (2022) 161805). It neglects the atomic form factor near the thresholds.

``electrons`` is the number of target electrons per detector unit (the unit of the rates the
spectra are quoted in, e.g. 100 t of scintillator, 1 t of xenon). ``active_fraction(t_mev)``
is Z_eff(T)/Z in [0, 1]; recoil spectra of ``likelihoods.solar.spectra`` multiply by it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from globalfit.errors import ParameterError


@dataclass(frozen=True)
class FreeElectrons:
    """``electrons`` free electrons per detector unit (no binding)."""
    electrons: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.electrons) and self.electrons > 0):
            raise ParameterError("electrons: must be a finite positive number, "
                                 f"found {self.electrons!r}")

    @property
    def binding(self) -> bool:
        """False: the spectra need no binding factor."""
        return False

    def active_fraction(self, t_mev: ArrayLike) -> np.ndarray:
        """Fraction of electrons that can take recoil energy T: 1 everywhere."""
        return np.ones_like(np.asarray(t_mev, dtype=float))


@dataclass(frozen=True)
class AtomicTarget:
    """``atoms`` atoms per detector unit with shells of the given binding energies (keV) and
    occupations; stepping approximation (module docstring)."""
    shell_binding_energies_kev: Sequence[float]
    electrons_per_shell: Sequence[float]
    atoms: float = 1.0

    def __post_init__(self) -> None:
        b = np.asarray(self.shell_binding_energies_kev, dtype=float)
        n = np.asarray(self.electrons_per_shell, dtype=float)
        if b.ndim != 1 or b.shape != n.shape or b.size == 0:
            raise ParameterError("AtomicTarget: binding energies and occupations must be "
                                 "1-D sequences of the same non-zero length")
        if not (np.all(np.isfinite(b)) and np.all(b >= 0)):
            raise ParameterError("shell_binding_energies_kev: must be finite and >= 0")
        if not (np.all(np.isfinite(n)) and np.all(n >= 0) and n.sum() > 0):
            raise ParameterError("electrons_per_shell: must be finite, >= 0, not all zero")
        if not (math.isfinite(self.atoms) and self.atoms > 0):
            raise ParameterError(f"atoms: must be a finite positive number, found {self.atoms!r}")
        # hashable (spectra are cached per target)
        object.__setattr__(self, "shell_binding_energies_kev", tuple(float(x) for x in b))
        object.__setattr__(self, "electrons_per_shell", tuple(float(x) for x in n))

    @property
    def electrons(self) -> float:
        """Electrons per detector unit: atoms x sum of the occupations."""
        return float(self.atoms * np.sum(self.electrons_per_shell))

    @property
    def binding(self) -> bool:
        """True: the spectra are multiplied by ``active_fraction``."""
        return True

    def active_fraction(self, t_mev: ArrayLike) -> np.ndarray:
        """Z_eff(T)/Z = sum_s n_s theta(T - B_s) / sum_s n_s (shape of ``t_mev``); an electron
        with B_s = 0 is active at every T >= 0."""
        t_kev = np.asarray(t_mev, dtype=float)[..., None] * 1e3
        b = np.asarray(self.shell_binding_energies_kev, dtype=float)
        n = np.asarray(self.electrons_per_shell, dtype=float)
        return (t_kev >= b).astype(float) @ n / n.sum()


Target = FreeElectrons | AtomicTarget
