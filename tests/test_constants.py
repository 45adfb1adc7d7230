"""Natural-unit constants checked against independent SI numbers."""
from __future__ import annotations

import math

import pytest

from globalfit import constants as C

# Exact SI defining constants (SI 2019 redefinition)
E_SI_C = 1.602176634e-19          # elementary charge, C
H_SI_JS = 6.62607015e-34          # Planck constant, J s
HBAR_SI_JS = H_SI_JS / (2 * math.pi)
C_SI_M_PER_S = 299792458.0        # speed of light, m/s
J_PER_GEV = 1.602176634e-10       # 1 GeV in J (exact)
MU_B_J_PER_T_CODATA2022 = 9.2740100657e-24   # CODATA 2022, relative uncertainty 3.1e-10


def _mu_b_natural(mu_b_ev_per_t: float) -> float:
    """mu_B [GeV^-1] = (mu_B * 1 T)[GeV] / B(1 T)[GeV^2].

    In natural Heaviside-Lorentz units e_nat * B_nat equals e_SI * B_SI * hbar * c^2 expressed
    in GeV^2 (both are m_e times the cyclotron energy), so B(1 T) = e_SI hbar c^2 /
    (e_nat J_per_GeV^2) with e_nat = sqrt(4 pi alpha)."""
    e_nat = math.sqrt(4 * math.pi * C.ALPHA_EM)
    b_one_tesla_gev2 = E_SI_C * HBAR_SI_JS * C_SI_M_PER_S**2 / J_PER_GEV**2 / e_nat
    return mu_b_ev_per_t * 1e-9 / b_one_tesla_gev2


def test_bohr_magneton_natural_units_from_si():
    """e/(2 m_e) from CODATA 2022 alpha and m_e equals the CODATA 2022 mu_B in J/T converted
    to natural units, to its 3e-10 uncertainty."""
    mu_b = _mu_b_natural(MU_B_J_PER_T_CODATA2022 / E_SI_C)
    assert C.MU_BOHR_PER_GEV == pytest.approx(mu_b, rel=1e-9)
    assert C.MU_BOHR_PER_GEV == pytest.approx(296.3, rel=1e-3)


def test_bohr_magneton_ev_per_tesla_constant():
    """constants.BOHR_MAGNETON_EV_PER_T (CODATA 2022, 5.7883817982e-5 eV/T) agrees with
    e/(2 m_e) from the CODATA 2022 alpha and m_e within the adjustment's 3e-10 uncertainty."""
    assert C.MU_BOHR_PER_GEV == pytest.approx(_mu_b_natural(C.BOHR_MAGNETON_EV_PER_T),
                                              rel=1e-9)


def test_hbar_c_consistency():
    assert C.HBAR_GEV_S * C.C_CM_PER_S == pytest.approx(C.HBARC_GEV_CM, rel=1e-9)
    assert C.HBAR_GEV_S == pytest.approx(HBAR_SI_JS / J_PER_GEV, rel=1e-9)
    assert C.HBARC_GEV_CM == pytest.approx(HBAR_SI_JS * C_SI_M_PER_S * 100 / J_PER_GEV,
                                           rel=1e-9)


def test_magnetic_moment_cross_section_prefactor():
    assert C.SIGMA_MU_PREFACTOR_CM2 == pytest.approx(2.495e-25, rel=1e-3)


def test_fermi_constant_reproduces_muon_lifetime():
    """tau_mu = 2.1969811e-6 s (PDG 2024) from Gamma = G_F^2 m_mu^5/(192 pi^3) (1 - 8 m_e^2/
    m_mu^2) (1 + (alpha/2pi)(25/4 - pi^2)) to 1e-4 (the O(alpha^2) terms are ~1e-5)."""
    x = (C.M_E_GEV / C.M_MU_GEV) ** 2
    phase_space = 1 - 8 * x + 8 * x**3 - x**4 - 12 * x**2 * math.log(x)
    qed = 1 + C.ALPHA_EM / (2 * math.pi) * (25 / 4 - math.pi**2)
    gamma = C.G_FERMI_GEV2**2 * C.M_MU_GEV**5 / (192 * math.pi**3) * phase_space * qed
    assert C.HBAR_GEV_S / gamma == pytest.approx(2.1969811e-6, rel=1e-4)


def test_solar_mixing_angles_are_physical():
    for s2 in (C.SIN2_THETA12, C.SIN2_THETA13, C.SIN2_THETA23):
        assert 0.0 < s2 < 1.0
    # vacuum-limit P_e1 = cos^2 theta12 used for mu_eff (Canas et al. 2016 quote ~0.69)
    assert 1 - C.SIN2_THETA12 == pytest.approx(0.69, abs=0.01)
