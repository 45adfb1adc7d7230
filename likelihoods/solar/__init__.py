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
(Cached arrays built from this layer follow its changes through ``likelihoods._cache``, whose
key covers the source of every module a cached computation imports.)
"""
from __future__ import annotations
