"""Physics tests of the nu-e elastic cross-sections and the dark-photon propagator factor."""
from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from globalfit import constants as c
from globalfit.errors import ParameterError
from likelihoods.solar import xsec

mp.mp.dps = 30
ME = mp.mpf(c.M_E_GEV) * 1000          # MeV
GF = mp.mpf(c.G_FERMI_GEV2) * mp.mpf("1e-6")  # MeV^-2
HBARC = mp.mpf(c.HBARC_GEV_CM) * 1000  # MeV cm
SW2 = mp.mpf(c.SIN2_THETA_W_LOW_ENERGY)
E_BE7 = mp.mpf("0.8613")


def _tree_couplings(flavour: str) -> tuple[mp.mpf, mp.mpf]:
    return (mp.mpf("0.5") + SW2 if flavour == "e" else mp.mpf("-0.5") + SW2), SW2


def _mp_dsigma(t, e, gl, gr):
    """Vogel & Engel (1989) eq. 1, written out independently, cm^2/MeV."""
    return 2 * GF**2 * ME / mp.pi * HBARC**2 * (gl**2 + gr**2 * (1 - t / e) ** 2 - gl * gr * ME * t / e**2)


def _mp_tmax(e):
    return 2 * e**2 / (ME + 2 * e)


@pytest.mark.parametrize("flavour", ["e", "mu"])
def test_total_cross_section_be7_three_ways(flavour: str) -> None:
    """7Be 862 keV: mpmath integral of dsigma/dT, the hand-integrated closed form (in the
    variable y = T/E), and the module's analytic sigma agree; the module's dsigma/dT
    integrated numerically agrees too."""
    gl, gr = _tree_couplings(flavour)
    tm = _mp_tmax(E_BE7)
    by_mpmath = mp.quad(lambda t: _mp_dsigma(t, E_BE7, gl, gr), [0, tm])
    # by hand: int_0^ym E dy [gl^2 + gr^2 (1-y)^2 - gl gr (m/E) y], ym = Tmax/E
    ym = tm / E_BE7
    by_hand = 2 * GF**2 * ME / mp.pi * HBARC**2 * E_BE7 * (
        gl**2 * ym + gr**2 * (1 - (1 - ym) ** 3) / 3 - gl * gr * ME / E_BE7 * ym**2 / 2)
    assert float(abs(by_hand / by_mpmath - 1)) < 1e-10
    module = float(xsec.sigma_sm_total_cm2(0.8613, flavour, scheme="tree"))
    assert module == pytest.approx(float(by_mpmath), rel=1e-9)
    t = np.linspace(0.0, float(tm), 200001)
    numeric = np.trapezoid(xsec.dsigma_dt_sm_cm2_per_mev(t, 0.8613, flavour, scheme="tree"), t)
    assert numeric == pytest.approx(float(by_mpmath), rel=1e-6)
    # order of magnitude fixed by physics: a few 1e-45 cm^2 (nu_e), ~1e-45 (nu_mu)
    assert 1e-45 < module < 1e-44


def test_high_energy_limit() -> None:
    """For E >> m_e: sigma -> (2 G_F^2 m_e E / pi)(g_L^2 + g_R^2/3) (e.g. 1.5e-45 E/MeV cm^2
    for nu_mu with sW^2 ~ 0.24)."""
    e = 1.0e4
    for flavour in ("e", "mu"):
        gl, gr = xsec.couplings(flavour, "tree")
        limit = xsec.SIGMA0_CM2_PER_MEV * e * (gl**2 + gr**2 / 3.0)
        assert float(xsec.sigma_sm_total_cm2(e, flavour, "tree")) == pytest.approx(limit, rel=1e-3)
    assert float(xsec.sigma_sm_total_cm2(1.0e4, "mu", "tree")) / 1.0e4 == pytest.approx(1.5e-45, rel=0.03)


@pytest.mark.parametrize("scheme", ["tree", "effective"])
def test_nu_e_exceeds_nu_mu(scheme: str) -> None:
    e = np.geomspace(0.1, 20.0, 40)[:, None]
    t = xsec.t_max_mev(e) * np.linspace(0.001, 1.0, 50)[None, :]
    s_e = xsec.dsigma_dt_sm_cm2_per_mev(t, e, "e", scheme)
    s_mu = xsec.dsigma_dt_sm_cm2_per_mev(t, e, "mu", scheme)
    assert np.all(s_e > s_mu) and np.all(s_mu > 0.0)
    assert np.array_equal(s_mu, xsec.dsigma_dt_sm_cm2_per_mev(t, e, "tau", scheme))
    # for solar energies sigma(nu_mu)/sigma(nu_e) is 0.15 - 0.37
    ratio = xsec.sigma_sm_total_cm2(e, "mu", scheme) / xsec.sigma_sm_total_cm2(e, "e", scheme)
    assert np.all((ratio > 0.15) & (ratio < 0.37))


def test_effective_couplings() -> None:
    """PDG effective couplings: g_V = g_L + g_R, g_A = g_L - g_R for nu_mu; nu_e adds +1 to g_L;
    the one-loop corrections lower sigma(nu_e, 7Be) by 2-4 % relative to tree level."""
    gl, gr = xsec.couplings("mu", "effective")
    assert gl + gr == pytest.approx(xsec.G_V_NUMU_E_EFFECTIVE)
    assert gl - gr == pytest.approx(xsec.G_A_NUMU_E_EFFECTIVE)
    assert xsec.couplings("e", "effective")[0] == pytest.approx(gl + 1.0)
    change = float(xsec.sigma_sm_total_cm2(0.8613, "e", "effective") / xsec.sigma_sm_total_cm2(0.8613, "e", "tree")) - 1
    assert -0.04 < change < -0.02


def test_zero_outside_kinematics_and_inverse_kinematics() -> None:
    e = np.array([0.3843, 0.8613, 1.442, 10.0])
    tm = xsec.t_max_mev(e)
    assert np.allclose(xsec.e_min_mev(tm), e, rtol=1e-12)
    for f in (lambda t, e: xsec.dsigma_dt_sm_cm2_per_mev(t, e, "e"), xsec.dsigma_dt_mm_cm2_per_mev):
        assert np.all(f(tm * (1 + 1e-9), e) == 0.0)
        assert np.all(f(np.zeros_like(e), e) == 0.0)
        assert np.all(f(-0.1, e) == 0.0)
        assert np.all(f(tm * (1 - 1e-6), e) > 0.0)
    # 7Be Compton-like edge: 664 keV
    assert float(xsec.t_max_mev(0.8613)) == pytest.approx(0.6643, abs=2e-4)


def test_magnetic_moment_cross_section_integral_vs_mpmath() -> None:
    """int_{T1}^{Tmax} (pi alpha^2/m_e^2)(1/T - 1/E) dT by mpmath vs the module function
    integrated on a geometric grid, and the closed form ln(Tmax/T1) - (Tmax - T1)/E."""
    assert c.SIGMA_MU_PREFACTOR_CM2 == pytest.approx(2.495e-25, rel=1e-3)
    pref = mp.pi * mp.mpf(c.ALPHA_EM) ** 2 / (mp.mpf(c.M_E_GEV) ** 2) * mp.mpf(c.HBARC_GEV_CM) ** 2
    e = E_BE7
    t1, tm = mp.mpf("0.01"), _mp_tmax(e)
    exact = mp.quad(lambda t: pref * (1 / t - 1 / e), [t1, tm])
    closed = pref * (mp.log(tm / t1) - (tm - t1) / e)
    assert float(abs(exact / closed - 1)) < 1e-10
    t = np.geomspace(0.01, float(tm), 400001)
    numeric = np.trapezoid(xsec.dsigma_dt_mm_cm2_per_mev(t, 0.8613), t)
    assert numeric == pytest.approx(float(exact), rel=1e-7)
    # scale: for mu = 1e-10 mu_B the moment and the nu_e weak cross-sections are comparable at
    # T ~ 0.2 MeV, which is why Borexino probes moments of a few 1e-11 mu_B
    ratio = 1e-20 * xsec.dsigma_dt_mm_cm2_per_mev(0.2, 0.8613) / xsec.dsigma_dt_sm_cm2_per_mev(0.2, 0.8613, "e")
    assert 0.5 < float(ratio) < 2.0


def test_propagator_factor_limits_and_broadcasting() -> None:
    t = np.linspace(0.0, 3.0, 31)
    m = np.array([0.0, 1e-4, 1e-3, 1e-2, 1.0])
    p = xsec.propagator_factor(t[:, None], m[None, :])
    assert p.shape == (31, 5)
    assert np.all(p[:, 0] == 1.0)                       # m = 0: exactly 1, also at T = 0
    assert np.all(np.diff(p[1:], axis=1) < 0.0)          # heavier mediator: more suppression
    assert np.all(np.diff(p[:, 1:], axis=0) >= 0.0)      # grows with T
    # large m: P -> 2 m_e T / m^2 with relative correction 2 m_e T / m^2
    q2 = 2.0 * xsec.M_E_MEV * t[1:]
    m_big_mev = 1e3
    approx = q2 / m_big_mev**2
    exact = xsec.propagator_factor(t[1:], 1.0)
    assert np.allclose(exact / approx, 1.0 / (1.0 + approx), rtol=1e-12)
    assert np.allclose(exact, approx, rtol=1e-5)
    # P = 1/2 where 2 m_e T = m^2
    assert float(xsec.propagator_factor(1.0, np.sqrt(2.0 * xsec.M_E_MEV) * 1e-3)) == pytest.approx(0.5)


def test_bad_inputs_raise_named_errors() -> None:
    with pytest.raises(ParameterError, match="m_aprime_gev"):
        xsec.propagator_factor(1.0, -1.0)
    with pytest.raises(ParameterError, match="m_aprime_gev"):
        xsec.propagator_factor(1.0, np.nan)
    with pytest.raises(ParameterError, match="flavour"):
        xsec.dsigma_dt_sm_cm2_per_mev(0.1, 1.0, "sterile")
    with pytest.raises(ParameterError, match="scheme"):
        xsec.sigma_sm_total_cm2(1.0, "e", "two-loop")
