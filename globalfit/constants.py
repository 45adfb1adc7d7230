"""Physical constants in natural units (GeV, GeV^-1), each with its source.

A leaf module: no imports from the package. Energies and masses are in GeV unless the name
says otherwise; cross-sections in cm^2 where the name ends in ``_cm2``.

Sources
-------
CODATA 2022: E. Tiesinga et al. / P. J. Mohr et al., "CODATA recommended values of the
fundamental physical constants: 2022" (NIST SP 961, 2024).
PDG 2024: S. Navas et al. (Particle Data Group), Phys. Rev. D 110 (2024) 030001.
NuFIT 6.0: I. Esteban et al., JHEP 12 (2024) 216, arXiv:2410.05380 (www.nu-fit.org),
normal ordering, global fit without Super-Kamiokande atmospheric data.
"""
from __future__ import annotations

import math

# --- CODATA 2022 -----------------------------------------------------------------------
ALPHA_EM: float = 7.2973525643e-3
"""Fine-structure constant at q^2 = 0 (CODATA 2022), dimensionless."""

M_E_GEV: float = 0.51099895069e-3
"""Electron mass (CODATA 2022), GeV."""

M_MU_GEV: float = 0.1056583755
"""Muon mass (CODATA 2022), GeV."""

HBARC_GEV_CM: float = 1.973269804e-14
"""hbar * c (CODATA 2022, exact in SI), GeV cm."""

HBAR_GEV_S: float = 6.582119569e-25
"""hbar (CODATA 2022, exact in SI), GeV s."""

C_CM_PER_S: float = 2.99792458e10
"""Speed of light (exact), cm/s."""

AVOGADRO_PER_MOL: float = 6.02214076e23
"""Avogadro constant N_A (exact in SI since 2019), mol^-1; solar electron densities are quoted in N_A cm^-3."""

BOHR_MAGNETON_EV_PER_T: float = 5.7883817982e-5
"""mu_B in eV/T (CODATA 2022); used only to cross-check the natural-unit value."""

# --- PDG 2024 --------------------------------------------------------------------------
M_TAU_GEV: float = 1.77693
"""Tau mass (PDG 2024), GeV."""

G_FERMI_GEV2: float = 1.1663788e-5
"""Fermi constant G_F / (hbar c)^3 (PDG 2024), GeV^-2."""

M_PI_CHARGED_GEV: float = 0.13957039
"""Charged-pion mass (PDG 2024), GeV."""

BR_TAU_E_NU_NU: float = 0.1782
"""BR(tau -> e nu nu) (PDG 2024)."""

BR_TAU_MU_NU_NU: float = 0.1739
"""BR(tau -> mu nu nu) (PDG 2024)."""

SIN2_THETA_W_LOW_ENERGY: float = 0.2386
"""Weak mixing angle in the MS-bar scheme at q^2 -> 0 (PDG 2024 electroweak review,
sin^2 theta_W(0) = 0.23857); used in tree-level nu-e scattering."""

# --- Derived ---------------------------------------------------------------------------
E_CHARGE: float = math.sqrt(4.0 * math.pi * ALPHA_EM)
"""Positron charge in natural (Heaviside-Lorentz) units, e = sqrt(4 pi alpha)."""

MU_BOHR_PER_GEV: float = E_CHARGE / (2.0 * M_E_GEV)
"""Bohr magneton mu_B = e / (2 m_e) in GeV^-1 (about 296.2 GeV^-1)."""

GEV2_TO_CM2: float = HBARC_GEV_CM**2
"""Conversion of a cross-section from GeV^-2 to cm^2 (multiply)."""

SIGMA_MU_PREFACTOR_CM2: float = math.pi * ALPHA_EM**2 / M_E_GEV**2 * GEV2_TO_CM2
"""pi alpha^2 / m_e^2 in cm^2 (about 2.495e-25 cm^2): prefactor of the magnetic-moment
nu-e cross-section (Vogel & Engel, Phys. Rev. D 39 (1989) 3378)."""

# --- Neutrino oscillation parameters (NuFIT 6.0, normal ordering) -----------------------
SIN2_THETA12: float = 0.307
SIN2_THETA13: float = 0.02195
SIN2_THETA23: float = 0.561
DELTA_CP_DEG: float = 177.0
DM21_EV2: float = 7.49e-5
DM31_EV2: float = 2.534e-3

M_Z_GEV: float = 91.1880
"""Z-boson mass, GeV (PDG 2024, Phys. Rev. D 110 (2024) 030001: 91.1880 +- 0.0020)."""
