"""Solar neutrinos scattering on electrons: the physics shared by every electron-recoil
experiment (Borexino, XENONnT, ...), independent of any detector.

* ``flux``: B16 SSM fluxes, spectral shapes, MSW-LMA survival and mass-state weights.
* ``xsec``: SM and magnetic-moment nu-e cross-sections, the dark-photon propagator factor P(T).
* ``target``: ``FreeElectrons`` and ``AtomicTarget`` (stepping approximation for bound electrons).
* ``spectra``: true-recoil spectra dR/dT on a target (SM; moment per mass-eigenstate weight).
* ``grid``: ``RecoilGrid``, quadrature nodes and weights used for every integral and fold.
* ``fold``: P(T, m)^2 x signal basis, written once.
* ``gallium``: the radiochemical Ga capture rate predicted from the solar groups.

A detector package adds its target (electrons per unit, binding model), its recoil grid, its
response and its data. This package imports nothing from any detector.
"""
from __future__ import annotations

import hashlib
from pathlib import Path


def source_fingerprint() -> str:
    """SHA-256 of this package's source files (part of a detector's cache keys, so cached
    templates follow changes of the shared physics)."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()
