"""Dark-photon decay widths, the invisible branching ratio and the lab decay length.

What to use when
----------------
``aprime_widths`` gives every partial width of A' (GeV) and BR_inv for arrays of points;
``r_ratio`` is the hadronic R ratio approximation used for A' -> hadrons;
``decay_length_cm`` turns a total width into the mean lab decay length.

Conventions
-----------
Kinetic mixing in the photon basis: A' couples to the electromagnetic current with strength
eps * e (e = sqrt(4 pi alpha), alpha at q^2 = 0). The dark states (Dirac fermion N with U(1)_D
charge ``q_n``; complex scalars phi_1, phi_2 with charge ``q_s``) couple with g_D times their
charge, alpha_D = g_D^2 / (4 pi). N and phi_k are invisible. Because S_1 and S_2 carry the same
U(1)_D charge, the dark current stays diagonal after scalar mixing: A' -> phi_1 phi_2^* does not
occur. A' -> nu nu through Z mixing or the dipole is negligible and not included.

Formulas (M. Fabbrichesi, E. Gabrielli, G. Lanfranchi, "The Physics of the Dark Photon",
arXiv:2005.01515, sections 2.3-2.4; MODEL.md section 5):

    Gamma(A' -> l+ l-)     = (alpha eps^2 m / 3) (1 + 2 m_l^2/m^2) sqrt(1 - 4 m_l^2/m^2)
    Gamma(A' -> N Nbar)    = (alpha_D q_n^2 m / 3) (1 + 2 m_N^2/m^2) sqrt(1 - 4 m_N^2/m^2)
    Gamma(A' -> phi phi^*) = (alpha_D q_s^2 m / 12) (1 - 4 M^2/m^2)^(3/2)
    Gamma(A' -> E+ E-)     = (alpha_D q_n^2 m / 3) (1 + 2 m_E^2/m^2) sqrt(1 - 4 m_E^2/m^2)
    Gamma(A' -> hadrons)   = Gamma(A' -> mu+ mu-) R(m)      (for m > 2 m_pi)

E is the charged member of the vector-like doublet (N, E), with the U(1)_D charge of N
(MODEL.md section 5): A' -> E+ E- is the Dirac-fermion width with alpha_D and m_E and is
*visible* (E is electrically charged), so it lowers BR_inv once open; with m_E = m_N it opens
at the N Nbar threshold and roughly halves BR_inv. It is included when ``m_e_charged_gev`` is
given (the model always gives it; ``m_E = m_N`` unless configured).
(The hadronic relation as in B. Batell, M. Pospelov, A. Ritz, PRD 80 (2009) 095024;
P. Ilten, Y. Soreq, M. Williams, W. Xue, JHEP 06 (2018) 004, arXiv:1801.04847;
M. Buschmann, J. Kopp, J. Liu, P. Machado, JHEP 07 (2015) 045, arXiv:1505.07459).
Each width is exactly zero at and below its threshold, so for 2 m_e < m_A' < min(2 m_N, 2 M_1)
BR_inv = 0 exactly. If no channel is open (m_A' <= 2 m_e and below the invisible thresholds)
Gamma_total = 0: the A' is then stable on collider scales (its A' -> 3 gamma mode is loop- and
eps^2 alpha^3-suppressed and not included) and BR_inv is defined as 0.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .. import constants as C
from ..errors import ParameterError

__all__ = ["aprime_widths", "r_ratio", "decay_length_cm", "WIDTH_KEYS"]

WIDTH_KEYS: tuple[str, ...] = (
    "gamma_ee", "gamma_mumu", "gamma_tautau", "gamma_had", "gamma_vis",
    "gamma_nn", "gamma_ss", "gamma_ech", "gamma_inv", "gamma_total", "br_inv",
)
"""Keys of the dict returned by ``aprime_widths`` (widths in GeV, br_inv dimensionless)."""

# --- Parameters of the R-ratio approximation (PDG 2024, Phys. Rev. D 110 (2024) 030001) ----
# (mass GeV, total width GeV, electronic width GeV)
_RHO = (0.77526, 0.1491, 7.04e-6)                      # rho(770): Gamma_ee = 7.04 keV
_OMEGA = (0.78266, 8.68e-3, 7.38e-5 * 8.68e-3)         # omega(782): B(ee) = 7.38e-5
_PHI = (1.019461, 4.249e-3, 2.979e-4 * 4.249e-3)       # phi(1020): B(ee) = 2.979e-4
_M_D0_GEV = 1.86484                                    # open-charm threshold 2 m_D0
_M_B_GEV = 5.27966                                     # open-beauty threshold 2 m_B
# Light-quark continuum switched on smoothly between these masses (GeV), see r_ratio.
_CONTINUUM_ON = (1.1, 1.5)


def _check(name: str, value: ArrayLike, allow_negative: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr) if allow_negative else ~(np.isfinite(arr) & (arr >= 0.0))
    if bad.any():
        raise ParameterError(
            f"{name}: expected finite{'' if allow_negative else ' non-negative'} values, "
            f"found {arr[bad].ravel()[0]!r}")
    return arr


def _inverse_mass(m: np.ndarray) -> np.ndarray:
    """1/max(m, 1e-300): finite for every m >= 0 (shared by all channels of one call)."""
    return 1.0 / np.maximum(m, 1e-300)


def _beta_sq(m: np.ndarray, inv_m: np.ndarray, m_daughter: ArrayLike) -> np.ndarray:
    """beta^2 = (1 - q)(1 + q), q = 2 m_d/m, where the channel is open (m > 2 m_d, an exact
    floating-point comparison) and exactly 0 at and below threshold. q is clipped at 1, so no
    overflow for any finite m >= 0 (m = 0 and subnormal m included)."""
    two_md = 2.0 * np.asarray(m_daughter, dtype=np.float64)
    q = np.minimum(two_md * inv_m, 1.0)
    return np.where(m > two_md, (1.0 - q) * (1.0 + q), 0.0)


def _vector_to_fermions(m: np.ndarray, inv_m: np.ndarray, m_f: ArrayLike) -> np.ndarray:
    """(1 + 2 m_f^2/m^2) sqrt(1 - 4 m_f^2/m^2) above threshold, 0 below (dimensionless)."""
    beta_sq = _beta_sq(m, inv_m, m_f)
    return (1.5 - 0.5 * beta_sq) * np.sqrt(beta_sq)


def _vector_to_scalars(m: np.ndarray, inv_m: np.ndarray, m_s: ArrayLike) -> np.ndarray:
    """(1 - 4 M^2/m^2)^(3/2) above threshold, 0 below (dimensionless)."""
    beta_sq = _beta_sq(m, inv_m, m_s)
    return beta_sq * np.sqrt(beta_sq)


def _breit_wigner_r(s: np.ndarray, mass: float, width: np.ndarray | float,
                    gamma_ee: float) -> np.ndarray:
    """R of one vector resonance: sigma(ee -> V -> hadrons) / sigma_pt(ee -> mu mu) with
    sigma = 12 pi Gamma_ee Gamma(s) / ((s - M^2)^2 + M^2 Gamma(s)^2) and
    sigma_pt = 4 pi alpha^2 / (3 s):  R = 9 s Gamma_ee Gamma(s) / (alpha^2 [...]).
    At the peak R = 9 Gamma_ee / (alpha^2 Gamma) (PDG review "Plots of cross sections and
    related quantities"; narrow-resonance normalisation)."""
    m2 = mass * mass
    return (9.0 * s * gamma_ee * width
            / (C.ALPHA_EM**2 * ((s - m2) ** 2 + m2 * width * width)))


def _open_flavour(m: np.ndarray, inv_m: np.ndarray, m_meson: float,
                  charge2_nc: float) -> np.ndarray:
    """N_c Q^2 * beta (3 - beta^2) / 2 above 2 m_meson (vector-current threshold factor)."""
    beta_sq = _beta_sq(m, inv_m, m_meson)
    return (0.5 * charge2_nc) * np.sqrt(beta_sq) * (3.0 - beta_sq)


def r_ratio(m_gev: ArrayLike) -> np.ndarray:
    """Approximate R(sqrt(s) = m) = sigma(e+e- -> hadrons) / sigma_pt(e+e- -> mu+mu-).

    A deliberately simple, documented approximation: peaks of rho, omega, phi right by
    construction, but off by tens of per cent (up to ~50 % low between the resonances, e.g.
    near 0.9 and 1.2 GeV where rho', omega' and 4 pi are missing) in the resonance region, and
    ~10 % low in the continuum where the O(alpha_s) correction is neglected:

    * 0 below 2 m_pi+;
    * rho(770) -> pi pi: R = beta_pi^3 |F_pi(s)|^2 / 4 with a Breit-Wigner pion form factor
      with P-wave running width Gamma(s) = Gamma_rho (M/sqrt(s)) (p(s)/p(M))^3, normalised to
      the PDG Gamma(rho -> ee) at the peak (no rho-omega interference, no rho', rho'');
    * omega(782) and phi(1020): Breit-Wigners with constant widths and PDG Gamma_ee (all their
      non-ee decays counted as hadronic, i.e. visible);
    * u, d, s continuum: quark counting N_c sum Q^2 = 2 switched on with a smooth cubic step
      between 1.1 and 1.5 GeV (stands in for the 4 pi, omega pi, K K pi ... channels);
    * c and b: N_c Q^2 (4/3 and 1/3) times beta(3 - beta^2)/2 above 2 m_D0 and 2 m_B; narrow
      charmonium and bottomonium resonances are NOT included (A' masses within a few widths of
      J/psi, psi(2S), Upsilon(nS) get a too small hadronic width).
    Meant for m below the Z pole (A'-Z mixing is not included). ``m_gev`` any shape, GeV.
    """
    m = _check("m_gev", m_gev)
    return _r_ratio(m, _inverse_mass(m))


def _r_ratio(m: np.ndarray, inv_m: np.ndarray) -> np.ndarray:
    """``r_ratio`` for checked masses ``m`` (GeV) and their ``_inverse_mass``."""
    is_open = m > 2.0 * C.M_PI_CHARGED_GEV
    if not is_open.any():
        return np.zeros_like(m)
    if not is_open.all():
        out = np.zeros_like(m)
        out[is_open] = _r_ratio(m[is_open], inv_m[is_open])
        return out
    s = m * m
    # rho -> pi pi: R = beta_pi^3 |F_pi|^2 / 4 with |F_pi|^2 = N^2 M^4 / ((M^2 - s)^2 + M^2
    # Gamma(s)^2), running P-wave width Gamma(s) = Gamma_rho (M/sqrt(s)) (p(s)/p(M))^3,
    # p(s)^2 = s beta_pi^2(s)/4, and N^2 fixed by the peak value R(M^2) = 9 Gamma_ee/(alpha^2
    # Gamma_rho) of the narrow-resonance normalisation.
    m_rho, g_rho, gee_rho = _RHO
    m2_rho = m_rho * m_rho
    beta_sq_rho = 1.0 - 4.0 * C.M_PI_CHARGED_GEV**2 / m2_rho
    norm_sq = 36.0 * gee_rho * g_rho / (C.ALPHA_EM**2 * beta_sq_rho**1.5 * m2_rho)
    beta_sq = _beta_sq(m, inv_m, C.M_PI_CHARGED_GEV)
    x = beta_sq * s / (beta_sq_rho * m2_rho)
    width_rho = (g_rho * m_rho) * inv_m * (x * np.sqrt(x))
    r = (0.25 * norm_sq * m2_rho * m2_rho) * beta_sq * np.sqrt(beta_sq) / (
        (m2_rho - s) ** 2 + m2_rho * width_rho * width_rho)
    r += _breit_wigner_r(s, *_OMEGA)
    r += _breit_wigner_r(s, *_PHI)
    lo, hi = _CONTINUUM_ON
    t = np.clip((m - lo) / (hi - lo), 0.0, 1.0)
    r += 2.0 * t * t * (3.0 - 2.0 * t)
    r += _open_flavour(m, inv_m, _M_D0_GEV, 4.0 / 3.0)
    r += _open_flavour(m, inv_m, _M_B_GEV, 1.0 / 3.0)
    return r


def aprime_widths(m_aprime_gev: ArrayLike, eps: ArrayLike, g_d: ArrayLike,
                  m_n_gev: ArrayLike, m_s1_gev: ArrayLike, m_s2_gev: ArrayLike,
                  q_n: float = 1.0, q_s: float = 1.0,
                  m_e_charged_gev: ArrayLike | None = None) -> dict[str, np.ndarray]:
    """Partial and total widths of the dark photon (GeV) and BR_inv, broadcast over the inputs.

    Returns a dict with keys ``WIDTH_KEYS``: gamma_ee, gamma_mumu, gamma_tautau, gamma_had
    (= gamma_mumu * R, see ``r_ratio``), gamma_ech (A' -> E+ E-, 0 when ``m_e_charged_gev`` is
    None), gamma_vis (the sum of these visible widths), gamma_nn (A' -> N Nbar, Dirac),
    gamma_ss (A' -> phi_1 phi_1^* + phi_2 phi_2^*), gamma_inv (= gamma_nn + gamma_ss),
    gamma_total, br_inv = gamma_inv / gamma_total (0 where gamma_total = 0).
    Masses in GeV (>= 0; m_A' = 0 gives all widths 0), eps and g_d dimensionless (signs
    irrelevant), q_n and q_s the U(1)_D charges of N and of the scalars.
    Formulas and references: module docstring. ParameterError names a bad argument.
    """
    m = _check("m_aprime_gev", m_aprime_gev)
    eps_ = _check("eps", eps, allow_negative=True)
    g = _check("g_d", g_d, allow_negative=True)
    m_n = _check("m_n_gev", m_n_gev)
    m_s1 = _check("m_s1_gev", m_s1_gev)
    m_s2 = _check("m_s2_gev", m_s2_gev)
    for name, q in (("q_n", q_n), ("q_s", q_s)):
        if not math.isfinite(q):
            raise ParameterError(f"{name}: expected a finite charge, found {q!r}")
    if m_e_charged_gev is None:
        m, eps_, g, m_n, m_s1, m_s2 = np.broadcast_arrays(m, eps_, g, m_n, m_s1, m_s2)
        out = _aprime_widths(m, eps_, g, m_n, m_s1, m_s2, q_n, q_s)
    else:
        m_e = _check("m_e_charged_gev", m_e_charged_gev)
        m, eps_, g, m_n, m_s1, m_s2, m_e = np.broadcast_arrays(m, eps_, g, m_n, m_s1, m_s2,
                                                               m_e)
        out = _aprime_widths(m, eps_, g, m_n, m_s1, m_s2, q_n, q_s, m_e)
    return {key: np.asarray(value, dtype=np.float64) for key, value in out.items()}


def _aprime_widths(m: np.ndarray, eps_: np.ndarray, g: np.ndarray, m_n: np.ndarray,
                   m_s1: np.ndarray, m_s2: np.ndarray, q_n: float = 1.0,
                   q_s: float = 1.0, m_e: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``aprime_widths`` for inputs already checked (finite, masses >= 0) by the caller, with
    plain numpy broadcasting (a (1,) mass of a fixed parameter stays (1,), so its threshold
    factors are not repeated per point). Used by the model on its validated parameters."""
    inv_m = _inverse_mass(m)
    visible_scale = (C.ALPHA_EM / 3.0) * eps_ * eps_ * m
    gamma_ee = visible_scale * _vector_to_fermions(m, inv_m, C.M_E_GEV)
    gamma_mumu = visible_scale * _vector_to_fermions(m, inv_m, C.M_MU_GEV)
    gamma_tautau = visible_scale * _vector_to_fermions(m, inv_m, C.M_TAU_GEV)
    gamma_had = gamma_mumu * _r_ratio(m, inv_m)
    alpha_d_m = g * g / (4.0 * math.pi) * m
    gamma_ech = (alpha_d_m * (q_n * q_n / 3.0) * _vector_to_fermions(m, inv_m, m_e)
                 if m_e is not None else np.zeros_like(gamma_ee))
    gamma_vis = gamma_ee + gamma_mumu + gamma_tautau + gamma_had + gamma_ech

    gamma_nn = alpha_d_m * (q_n * q_n / 3.0) * _vector_to_fermions(m, inv_m, m_n)
    gamma_ss = alpha_d_m * (q_s * q_s / 12.0) * (_vector_to_scalars(m, inv_m, m_s1)
                                                 + _vector_to_scalars(m, inv_m, m_s2))
    gamma_inv = gamma_nn + gamma_ss
    gamma_total = gamma_vis + gamma_inv
    br_inv = np.divide(gamma_inv, gamma_total, out=np.zeros_like(gamma_total),
                       where=gamma_total > 0.0)
    out = {
        "gamma_ee": gamma_ee, "gamma_mumu": gamma_mumu, "gamma_tautau": gamma_tautau,
        "gamma_had": gamma_had, "gamma_vis": gamma_vis, "gamma_nn": gamma_nn,
        "gamma_ss": gamma_ss, "gamma_ech": gamma_ech, "gamma_inv": gamma_inv,
        "gamma_total": gamma_total,
        "br_inv": br_inv,
    }
    return out


def decay_length_cm(gamma_total_gev: ArrayLike, m_aprime_gev: ArrayLike,
                    e_aprime_gev: ArrayLike) -> np.ndarray:
    """Mean lab-frame decay length L = beta gamma c tau = (p / m) (hbar c / Gamma), in cm.

    ``gamma_total_gev`` (GeV, >= 0), ``m_aprime_gev`` (GeV, > 0), ``e_aprime_gev`` (lab energy,
    GeV, >= m); broadcast. Where Gamma = 0 the A' is stable and L = +inf (the only non-finite
    output, and intended). ParameterError names a bad argument.
    """
    gamma = _check("gamma_total_gev", gamma_total_gev)
    m = _check("m_aprime_gev", m_aprime_gev)
    e = _check("e_aprime_gev", e_aprime_gev)
    gamma, m, e = np.broadcast_arrays(gamma, m, e)
    if (m <= 0.0).any():
        raise ParameterError("m_aprime_gev: decay length needs a massive A' (m > 0)")
    if (e < m).any():
        raise ParameterError("e_aprime_gev: lab energy below the A' mass")
    p_over_m = np.sqrt((e - m) * (e + m)) / m
    stable = gamma == 0.0
    length = np.divide(p_over_m * C.HBARC_GEV_CM, gamma, out=np.full(gamma.shape, np.inf),
                       where=~stable)
    return length
