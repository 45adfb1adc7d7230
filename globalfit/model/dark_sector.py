"""Dark transition magnetic moments of Majorana neutrinos mediated by a dark photon.

The model of H. Zhang, arXiv:2603.25704 (field content, MODEL.md section 1) with the project's
reconstruction of the one-loop results (MODEL.md sections 2-4, docs/physics.md). Registered as
``"dark_tmm"`` in ``globalfit.model.REGISTRY``.

Operator normalisation (stated once; docs/physics.md repeats it)
----------------------------------------------------------------
    L_eff = -(1/4) sum_{ij} nubar_i sigma^{mu nu} lambda^D_{ij} nu_j F'_{mu nu}

with 4-component Majorana fields nu_i and an antisymmetric real (flavour basis) lambda^D in
GeV^-1, normalised such that eps * lambda^D_{ij} takes the place of the transition moment
mu_{ij} in the nu-e magnetic-moment cross-section (dsigma/dT proportional to (mu/mu_B)^2,
Canas et al., PLB 753 (2016) 191); moments are reported in Bohr magnetons
mu_B = e/(2 m_e) = ``constants.MU_BOHR_PER_GEV`` GeV^-1.

Reconstructed one-loop dipole (flavour basis a, b = e, mu, tau; MODEL.md section 2):

    lambda^D_{ab} = g_D m_N / (16 pi^2) * (sin 2theta / 2) * (y_a y'_b - y_b y'_a)
                    * [ G(m_N^2/M_1^2)/M_1^2 - G(m_N^2/M_2^2)/M_2^2 ],

G = ``loops.loop_scalar_flip``, M_1 = M_S, M_2 = M_S + dM_S. As a vector
(Lambda_1, Lambda_2, Lambda_3) = (lambda_23, lambda_31, lambda_12) this is
K * (y x y') (cross product). Mass basis lambda^m = U^T lambda U, i.e. for unitary U
Lambda^m = det(U) U^dagger Lambda (written out below; no (n, 3, 3) products in the hot path).

Charged-lepton flavour violation (MODEL.md section 4): the charged partner E (mass m_E; by
default m_E = m_N, option ``charged_mass="parameter"`` samples ``m_e_charged_gev``) and
phi_k give l_1 -> l_2 gamma with couplings C^a_1 = y_a cos(theta) - y'_a sin(theta),
C^a_2 = y_a sin(theta) + y'_a cos(theta) to left-handed leptons. For
L = (e m_1 / 2) lbar_2 sigma^{mu nu} (A_L P_L + A_R P_R) l_1 F_{mu nu} (A in GeV^-2),
BR(l_1 -> l_2 gamma) = 48 pi^3 alpha (|A_L|^2 + |A_R|^2) / G_F^2 * BR(l_1 -> l_2 nu nu)
(Lavoura hep-ph/0302221; Kuno & Okada RMP 73 (2001) 151), with

    A_R = sum_k C^2_k C^1_k [ f(x_k)/2 + kappa_R (m_E/m_1) g(x_k) ] / (16 pi^2 M_k^2)
    A_L = sum_k C^2_k C^1_k [ kappa_R^2 f(x_k)/2 + kappa_R (m_E/m_1) g(x_k) ] / (16 pi^2 M_k^2)

x_k = m_E^2/M_k^2, f = ``loops.loop_fermion_noflip``, g = ``loops.loop_fermion_flip``. With
left-handed couplings only (kappa_R = 0, the default) this is MODEL.md's
BR = 3 alpha/(64 pi G_F^2) |sum_k C^e_k C^mu_k f(x_k)/M_k^2|^2. The option
``right_handed=True`` adds right-handed couplings D^a_k = kappa_R C^a_k (one extra parameter
``kappa_r``), which switches on the chirally enhanced term (m_E/m_1) g; the relative
normalisation of the flip and no-flip terms follows the neutral-scalar g-2 result
(J. P. Leveille, Nucl. Phys. B 137 (1978) 63). Right-handed couplings do not change lambda^D
(no right-handed neutrinos).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import constants as C
from ..errors import ConfigError, ParameterError
from ..options import Option
from .base import Model, ParameterSpec
from .decays import _aprime_widths
from .electroweak import z_to_vectorlike_neutral
from .loops import loop_fermion_flip, loop_fermion_noflip, loop_scalar_flip
from .pmns import pmns_matrix

__all__ = ["DarkTransitionMomentModel", "solar_mass_weights"]

_Y_MAX = math.sqrt(4.0 * math.pi)
"""Perturbativity bound used as the domain of Yukawa and gauge couplings."""

_R_MIN = 1e-300
"""m_N = 0 is evaluated as the limit r = m_N^2/M^2 -> 0 (G = 1/2, f = 1/3 exactly)."""

_COMMON_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("m_aprime_gev", "energy", 0.0, 1.0e3, r"m_{A'}", "dark-photon mass (GeV)"),
    ParameterSpec("eps", "1", 0.0, 1.0, r"\varepsilon", "kinetic mixing (photon basis)"),
    ParameterSpec("g_d", "1", 0.0, _Y_MAX, r"g_D", "U(1)_D gauge coupling"),
    ParameterSpec("m_n_gev", "energy", 0.0, 1.0e3, r"m_N",
                  "mass of the doublet's neutral member N (GeV)"),
    ParameterSpec("m_s_gev", "energy", 1.0e-9, 1.0e3, r"M_S",
                  "lighter dark-scalar mass M_1 = M_S (GeV)"),
    ParameterSpec("dm_s_gev", "energy", 0.0, 1.0e3, r"\Delta M_S",
                  "scalar mass splitting M_2 - M_1 (GeV)"),
    ParameterSpec("theta", "1", -0.5 * math.pi, 0.5 * math.pi, r"\theta",
                  "scalar mixing angle (rad)"),
)
_VECTOR_PARAMETERS: tuple[ParameterSpec, ...] = tuple(
    ParameterSpec(f"{prefix}_{flav}", "1", -_Y_MAX, _Y_MAX, f"{tex}_{{{ftex}}}",
                  f"Yukawa coupling of L_{flav} to Psi and {scalar}")
    for prefix, tex, scalar in (("y", "y", "S_1"), ("yp", "y'", "S_2"))
    for flav, ftex in (("e", "e"), ("mu", r"\mu"), ("tau", r"\tau"))
)
_SCALE_ANGLE_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("y0", "1", 0.0, _Y_MAX, r"y_0", "Yukawa scale |y| = |y'|"),
    ParameterSpec("alpha", "1", -math.pi, math.pi, r"\alpha",
                  "misalignment angle between y and y' (rad)"),
)
_RIGHT_HANDED_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("kappa_r", "1", -10.0, 10.0, r"\kappa_R",
                  "right- to left-handed coupling ratio of charged leptons"),
)
_CHARGED_MASS_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("m_e_charged_gev", "energy", 0.0, 1.0e3, r"m_E",
                  "mass of the doublet's charged member E (GeV)"),
)
_SAFE_VALUES: dict[str, float] = {
    "m_aprime_gev": 0.1, "eps": 1e-3, "g_d": 0.1, "m_n_gev": 0.1, "m_s_gev": 0.3,
    "dm_s_gev": 0.1, "theta": 0.5, "y0": 0.1, "alpha": 0.5, "kappa_r": 0.0,
    "m_e_charged_gev": 0.1,
}
"""Finite in-domain values substituted for invalid points before evaluation."""


# Exact-zero bookkeeping for the flavour algebra. Components that are exactly zero for every
# point (e.g. the tau entries of y and y' for the default n = e, m = mu directions) are carried
# as None and skipped: for finite x, x * 0 = 0, x + 0 = x and 0 - x = -x exactly, so the
# non-zero results are bit-identical to the dense computation (up to the sign of zeros,
# irrelevant because every observable is a square), with fewer array operations.
def _mul(a, b):
    return None if a is None or b is None else a * b


def _add(a, b):
    if a is None:
        return b
    return a if b is None else a + b


def _sub(a, b):
    if b is None:
        return a
    return -b if a is None else a - b


def _scaled(c: float, x: np.ndarray) -> np.ndarray | None:
    """c * x with c a Python float: None for c == 0, x itself for c == 1 (both exact)."""
    if c == 0.0:
        return None
    return x if c == 1.0 else c * x


def _full(x: np.ndarray | None, n: int) -> np.ndarray:
    """x as a fresh (n,) array: zeros for None, broadcast for a reduced (1,) array."""
    if x is None:
        return np.zeros(n)
    if x.shape == (n,):
        return x
    return np.full(n, x[0])

_PROVIDES: tuple[str, ...] = (
    "m_aprime_gev", "eps", "br_inv", "gamma_total_gev", "gamma_inv_gev", "gamma_vis_gev",
    "lam2_1_mub2", "lam2_2_mub2", "lam2_3_mub2", "mu_eff_mub", "mu_eff2_mub2",
    "mu_e2_mub2", "mu_mu2_mub2", "mu_tau2_mub2",
    "br_mu_e_gamma", "br_tau_e_gamma", "br_tau_mu_gamma",
    "m_n_gev", "m_e_charged_gev", "delta_n_nu",
)


def solar_mass_weights(p_e1_2nu: ArrayLike, sin2_theta13: ArrayLike) -> np.ndarray:
    """Weights w_k of |Lambda_k|^2 in mu_eff^2 for solar neutrinos, shape (3, ...).

    P_1 = c13^2 P_e1^{2nu}, P_2 = c13^2 (1 - P_e1^{2nu}), P_3 = s13^2 (incoherent mass-state
    mixture at Earth) and w_1 = P_2 + P_3, w_2 = P_1 + P_3, w_3 = P_1 + P_2 (MODEL.md section 3;
    Grimus et al., NPB 648 (2003) 376; Canas et al., PLB 753 (2016) 191). Both inputs in [0, 1],
    broadcast together. Note w_1 + w_2 + w_3 = 2.
    """
    p = np.asarray(p_e1_2nu, dtype=np.float64)
    s13 = np.asarray(sin2_theta13, dtype=np.float64)
    for name, arr in (("p_e1_2nu", p), ("sin2_theta13", s13)):
        ok = np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0)
        if not ok.all():
            raise ParameterError(
                f"{name}: expected values in [0, 1], found {arr[~ok].ravel()[0]!r}")
    c13_sq = 1.0 - s13
    p1, p2 = c13_sq * p, c13_sq * (1.0 - p)
    p3 = s13 * np.ones_like(p)
    p1, p2, p3 = np.broadcast_arrays(p1, p2, p3)
    return np.stack([p2 + p3, p1 + p3, p1 + p2])


def _unit_vector(value: Sequence[float], name: str) -> np.ndarray:
    vec = np.asarray(value, dtype=np.float64)
    if vec.shape != (3,) or not np.isfinite(vec).all():
        raise ConfigError(f"model option {name}: expected three finite numbers, found {value!r}")
    if abs(float(np.dot(vec, vec)) - 1.0) > 1e-9:
        raise ConfigError(f"model option {name}: expected a unit vector (e, mu, tau), "
                          f"found norm {float(np.linalg.norm(vec)):.6g}")
    return vec


class DarkTransitionMomentModel(Model):
    """Parameters -> observables of the dark transition-moment model (vectorised over points).

    Options
    -------
    yukawa_parametrisation : "scale_angle" (default) samples y0 and alpha with
        y = y0 n, y' = y0 (cos(alpha) n + sin(alpha) m) (alpha = 0: aligned, no moment);
        "vectors" samples y_e, y_mu, y_tau, yp_e, yp_mu, yp_tau.
    n, m : orthonormal flavour directions (e, mu, tau) for "scale_angle";
        default n = (1, 0, 0) (electron), m = (0, 1, 0) (muon).
    right_handed : add parameter kappa_r (right-handed couplings D = kappa_r C), default False.
    charged_mass : "m_n" (default: m_E = m_N, as the seed benchmark implies) or "parameter"
        (adds the parameter m_e_charged_gev).
    q_n, q_s : U(1)_D charges of N and of the scalars (default 1).
    majorana_phases_rad : (alpha_21, alpha_31) of the PMNS matrix (no effect on |Lambda_k|).

    Parameters outside their domain, non-finite values, and M_S < 1e-9 GeV give valid=False
    with finite placeholder observables (0). Parameters not used by the model are ignored.
    """

    name = "dark_tmm"
    options = (
        Option("yukawa_parametrisation", (str,), "scale_angle",
               choices=("scale_angle", "vectors"), doc="sampled Yukawa parameters"),
        Option("n", (tuple,), (1.0, 0.0, 0.0), doc="unit flavour direction (e, mu, tau) of y"),
        Option("m", (tuple,), (0.0, 1.0, 0.0),
               doc="unit flavour direction orthogonal to n (scale_angle)"),
        Option("right_handed", (bool,), False, doc="add parameter kappa_r"),
        Option("q_n", (float,), 1.0, doc="U(1)_D charge of N"),
        Option("q_s", (float,), 1.0, doc="U(1)_D charge of the scalars"),
        Option("majorana_phases_rad", (tuple,), (0.0, 0.0), unit="rad",
               doc="(alpha_21, alpha_31) of the PMNS matrix"),
        Option("charged_mass", (str,), "m_n", choices=("m_n", "parameter"),
               doc="m_E = m_N, or the sampled parameter m_e_charged_gev"),
    )

    def __init__(self, yukawa_parametrisation: str = "scale_angle",
                 n: Sequence[float] = (1.0, 0.0, 0.0), m: Sequence[float] = (0.0, 1.0, 0.0),
                 right_handed: bool = False, q_n: float = 1.0, q_s: float = 1.0,
                 majorana_phases_rad: tuple[float, float] = (0.0, 0.0),
                 charged_mass: str = "m_n") -> None:
        if yukawa_parametrisation not in ("scale_angle", "vectors"):
            raise ConfigError(
                f"model option yukawa_parametrisation: expected 'scale_angle' or 'vectors', "
                f"found {yukawa_parametrisation!r}")
        self.yukawa_parametrisation = yukawa_parametrisation
        self.n = _unit_vector(n, "n")
        self.m = _unit_vector(m, "m")
        if abs(float(np.dot(self.n, self.m))) > 1e-9:
            raise ConfigError("model option m: must be orthogonal to n (alpha is the angle "
                              "between y and y')")
        self.right_handed = bool(right_handed)
        if charged_mass not in ("m_n", "parameter"):
            raise ConfigError(f"model option charged_mass: expected 'm_n' or 'parameter', "
                              f"found {charged_mass!r}")
        self.charged_mass = charged_mass
        for key, q in (("q_n", q_n), ("q_s", q_s)):
            if not math.isfinite(q):
                raise ConfigError(f"model option {key}: expected a finite charge, found {q!r}")
        self.q_n, self.q_s = float(q_n), float(q_s)
        self.parameters = (_COMMON_PARAMETERS
                           + (_SCALE_ANGLE_PARAMETERS if yukawa_parametrisation == "scale_angle"
                              else _VECTOR_PARAMETERS)
                           + (_RIGHT_HANDED_PARAMETERS if self.right_handed else ())
                           + (_CHARGED_MASS_PARAMETERS if charged_mass == "parameter" else ()))
        self.provides = _PROVIDES
        # Parameter-independent work, done once.
        self.pmns = pmns_matrix(majorana_phases_rad=majorana_phases_rad)
        self._u_re = self.pmns.real.copy()
        self._u_im = self.pmns.imag.copy()
        self._mu_b2 = C.MU_BOHR_PER_GEV**2
        self.solar_weights = solar_mass_weights(1.0 - C.SIN2_THETA12, C.SIN2_THETA13)
        """Vacuum-limit weights (P_e1^{2nu} = cos^2 theta12) used for mu_eff."""

    # ---- parameter handling ---------------------------------------------------------------
    def _prepare(self, params: Mapping[str, ArrayLike], reduce_constants: bool = False
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Broadcast the model parameters to (n,), build the validity mask, and replace invalid
        points by safe in-domain values. With ``reduce_constants``, a parameter given as a
        stride-0 broadcast (a fixed parameter, see ``JointPosterior.evaluate``) is returned as
        a (1,) array, so that work depending only on fixed parameters is done once."""
        missing = [s.name for s in self.parameters if s.name not in params]
        if missing:
            raise ParameterError(f"{missing[0]}: parameter missing for model {self.name!r} "
                                 f"(needs {', '.join(s.name for s in self.parameters)})")
        try:
            arrays = np.broadcast_arrays(*(np.asarray(params[s.name], dtype=np.float64)
                                           for s in self.parameters))
        except ValueError as exc:
            raise ParameterError(f"parameters of model {self.name!r} have incompatible "
                                 f"shapes: {exc}") from None
        if arrays[0].ndim > 1:
            raise ParameterError(f"parameters of model {self.name!r}: expected scalars or "
                                 f"(n_points,) arrays, found shape {arrays[0].shape}")
        arrays = [np.atleast_1d(a) for a in arrays]
        shape = arrays[0].shape
        if reduce_constants and shape[0] > 1:
            arrays = [a[:1] if a.strides[0] == 0 else a for a in arrays]
        valid = np.ones(shape, dtype=bool)
        for spec, arr in zip(self.parameters, arrays):
            valid &= np.isfinite(arr) & (arr >= spec.low) & (arr <= spec.high)
        out: dict[str, np.ndarray] = {}
        all_valid = bool(valid.all())
        for spec, arr in zip(self.parameters, arrays):
            out[spec.name] = arr if all_valid else np.where(
                valid, arr, _SAFE_VALUES.get(spec.name, 0.1))
        return out, valid

    def _yukawas(self, p: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray],
                                                              list[np.ndarray]]:
        """(y, y') as lists of three (n,) arrays (e, mu, tau); None marks a component that is
        exactly zero (see ``_mul``)."""
        if self.yukawa_parametrisation == "vectors":
            return ([p["y_e"], p["y_mu"], p["y_tau"]],
                    [p["yp_e"], p["yp_mu"], p["yp_tau"]])
        y0, alpha = p["y0"], p["alpha"]
        ca, sa = y0 * np.cos(alpha), y0 * np.sin(alpha)
        n, m = self.n.tolist(), self.m.tolist()
        y = [_scaled(n[i], y0) for i in range(3)]
        yp = [_add(_scaled(n[i], ca), _scaled(m[i], sa)) for i in range(3)]
        return y, yp

    @staticmethod
    def _mass_ratios(p: Mapping[str, np.ndarray], fermion: str = "m_n_gev"
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(M_1^2, M_2^2, r_1, r_2) with r_k = m_F^2/M_k^2 (clipped below at 1e-300) for the
        fermion mass ``p[fermion]`` (N in the dipole loop, E in the l -> l' gamma loop)."""
        m1 = p["m_s_gev"]
        m2 = m1 + p["dm_s_gev"]
        m1_sq, m2_sq = m1 * m1, m2 * m2
        mf_sq = p[fermion] * p[fermion]
        return (m1_sq, m2_sq, np.maximum(mf_sq / m1_sq, _R_MIN),
                np.maximum(mf_sq / m2_sq, _R_MIN))

    def _charged_mass(self, p: Mapping[str, np.ndarray]) -> np.ndarray:
        """m_E (GeV): the parameter m_e_charged_gev, or m_N (option charged_mass="m_n")."""
        return p["m_e_charged_gev"] if self.charged_mass == "parameter" else p["m_n_gev"]

    def _dipole_vector(self, p: Mapping[str, np.ndarray], y: list[np.ndarray],
                       yp: list[np.ndarray], m1_sq: np.ndarray, m2_sq: np.ndarray,
                       r1: np.ndarray, r2: np.ndarray) -> list[np.ndarray]:
        """(lambda_23, lambda_31, lambda_12) in the flavour basis, GeV^-1, each (n,) (None:
        exactly zero)."""
        bracket = loop_scalar_flip(r1) / m1_sq - loop_scalar_flip(r2) / m2_sq
        k = (p["g_d"] * p["m_n_gev"] / (16.0 * math.pi**2)
             * (0.5 * np.sin(2.0 * p["theta"])) * bracket)
        return [_mul(k, _sub(_mul(y[1], yp[2]), _mul(y[2], yp[1]))),
                _mul(k, _sub(_mul(y[2], yp[0]), _mul(y[0], yp[2]))),
                _mul(k, _sub(_mul(y[0], yp[1]), _mul(y[1], yp[0])))]

    # ---- public helpers -------------------------------------------------------------------
    def dipole_matrix_flavour(self, params: Mapping[str, ArrayLike]) -> np.ndarray:
        """lambda^D in the flavour basis (e, mu, tau), shape (n, 3, 3), GeV^-1 (real,
        antisymmetric). Invalid points are set to 0."""
        p, valid = self._prepare(params)
        y, yp = self._yukawas(p)
        v = self._dipole_vector(p, y, yp, *self._mass_ratios(p))
        v = [_full(x, valid.shape[0]) for x in v]
        lam = np.zeros(v[0].shape + (3, 3))
        lam[:, 1, 2], lam[:, 2, 0], lam[:, 0, 1] = v
        lam[:, 2, 1], lam[:, 0, 2], lam[:, 1, 0] = -v[0], -v[1], -v[2]
        lam[~valid] = 0.0
        return lam

    def dipole_matrix_mass(self, params: Mapping[str, ArrayLike]) -> np.ndarray:
        """lambda^mass = U^T lambda^flavour U, shape (n, 3, 3), complex, GeV^-1
        (antisymmetric; Lambda_1, Lambda_2, Lambda_3 = entries [1, 2], [2, 0], [0, 1])."""
        lam = self.dipole_matrix_flavour(params)
        return np.einsum("ai,nab,bj->nij", self.pmns, lam, self.pmns)

    # ---- observables ----------------------------------------------------------------------
    def observables(self, params: Mapping[str, ArrayLike]
                    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """All observables of ``provides`` as (n,) arrays, and the validity mask (n,).

        Units: widths GeV, lam2_k_mub2 = |eps Lambda_k|^2 / mu_B^2 (mass basis),
        mu_eff_mub = sqrt(sum_k w_k lam2_k_mub2) with vacuum-limit solar weights
        (P_e1^{2nu} = cos^2 theta12, as in Canas et al. 2016), mu_eff2_mub2 = mu_eff_mub^2
        (the energy-independent approximation of the same quantity), mu_a2_mub2 =
        sum_b |eps lambda_ab|^2 / mu_B^2 (flavour moments of nu_e, nu_mu, nu_tau: with
        (v_e, v_mu, v_tau) = (lambda_23, lambda_31, lambda_12), mu_e^2 = v_mu^2 + v_tau^2 etc.),
        BRs dimensionless.
        """
        # Fixed parameters arrive as stride-0 broadcasts and are reduced to (1,) arrays: the
        # loop functions, mass ratios and theta factors are then computed once per call.
        p, valid = self._prepare(params, reduce_constants=True)
        n = valid.shape[0]
        y, yp = self._yukawas(p)
        m1_sq, m2_sq, r1, r2 = self._mass_ratios(p)
        v = self._dipole_vector(p, y, yp, m1_sq, m2_sq, r1, r2)

        # Mass basis: Lambda^m_k = det(U) sum_a conj(U_ak) v_a; |det U| = 1.
        eps_sq = p["eps"] * p["eps"] / self._mu_b2
        u_re, u_im = self._u_re.tolist(), self._u_im.tolist()
        lam2 = []
        for k in range(3):
            re = _add(_add(_mul(u_re[0][k], v[0]), _mul(u_re[1][k], v[1])),
                      _mul(u_re[2][k], v[2]))
            im = _add(_add(_mul(u_im[0][k], v[0]), _mul(u_im[1][k], v[1])),
                      _mul(u_im[2][k], v[2]))
            sq = _add(_mul(re, re), _mul(im, im))
            lam2.append(_full(eps_sq * (0.0 if sq is None else sq), n))
        w = self.solar_weights
        mu_eff2 = w[0] * lam2[0] + w[1] * lam2[1] + w[2] * lam2[2]
        v2 = [_mul(x, x) for x in v]

        def flavour(a: int, b: int) -> np.ndarray:
            s2 = _add(v2[a], v2[b])
            return _full(eps_sq * (0.0 if s2 is None else s2), n)

        m_e = self._charged_mass(p)
        if self.charged_mass == "parameter":
            p_e = {**p, "m_e_charged_gev": m_e}
            br_lfv = self._lfv_branching_ratios(p_e, y, yp,
                                                *self._mass_ratios(p_e, "m_e_charged_gev"))
        else:
            br_lfv = self._lfv_branching_ratios(p, y, yp, m1_sq, m2_sq, r1, r2)
        widths = _aprime_widths(p["m_aprime_gev"], p["eps"], p["g_d"], p["m_n_gev"],
                                p["m_s_gev"], p["m_s_gev"] + p["dm_s_gev"],
                                q_n=self.q_n, q_s=self.q_s, m_e=m_e)
        obs = {
            "m_aprime_gev": _full(p["m_aprime_gev"].copy(), n),
            "eps": _full(p["eps"].copy(), n),
            "br_inv": widths["br_inv"], "gamma_total_gev": widths["gamma_total"],
            "gamma_inv_gev": widths["gamma_inv"], "gamma_vis_gev": widths["gamma_vis"],
            "lam2_1_mub2": lam2[0], "lam2_2_mub2": lam2[1], "lam2_3_mub2": lam2[2],
            "mu_eff2_mub2": mu_eff2, "mu_eff_mub": np.sqrt(mu_eff2),
            "mu_e2_mub2": flavour(1, 2), "mu_mu2_mub2": flavour(0, 2),
            "mu_tau2_mub2": flavour(0, 1),
            **br_lfv,
            "m_n_gev": p["m_n_gev"].copy(), "m_e_charged_gev": m_e.copy(),
            "delta_n_nu": z_to_vectorlike_neutral(p["m_n_gev"]),
        }
        obs = {key: _full(val, n) for key, val in obs.items()}
        if not valid.all():
            obs = {key: np.where(valid, val, 0.0) for key, val in obs.items()}
        return obs, valid

    def _lfv_branching_ratios(self, p: Mapping[str, np.ndarray], y: list[np.ndarray],
                              yp: list[np.ndarray], m1_sq: np.ndarray, m2_sq: np.ndarray,
                              r1: np.ndarray, r2: np.ndarray) -> dict[str, np.ndarray]:
        """BR(mu -> e gamma), BR(tau -> e gamma), BR(tau -> mu gamma) (module docstring)."""
        ct, st = np.cos(p["theta"]), np.sin(p["theta"])
        c1 = [_sub(_mul(y[a], ct), _mul(yp[a], st)) for a in range(3)]   # couplings to phi_1
        c2 = [_add(_mul(y[a], st), _mul(yp[a], ct)) for a in range(3)]   # couplings to phi_2
        norm = 1.0 / (16.0 * math.pi**2)
        # No-flip parts f(x_k) / (2 * 16 pi^2 M_k^2)
        f1 = (0.5 * norm) * loop_fermion_noflip(r1) / m1_sq
        f2 = (0.5 * norm) * loop_fermion_noflip(r2) / m2_sq
        if self.right_handed:
            kappa = p["kappa_r"]
            g1 = norm * self._charged_mass(p) * loop_fermion_flip(r1) / m1_sq
            g2 = norm * self._charged_mass(p) * loop_fermion_flip(r2) / m2_sq
        prefactor = 48.0 * math.pi**3 * C.ALPHA_EM / C.G_FERMI_GEV2**2
        out = {}
        for key, heavy, light, m_heavy, br_nunu in (
                ("br_mu_e_gamma", 1, 0, C.M_MU_GEV, 1.0),
                ("br_tau_e_gamma", 2, 0, C.M_TAU_GEV, C.BR_TAU_E_NU_NU),
                ("br_tau_mu_gamma", 2, 1, C.M_TAU_GEV, C.BR_TAU_MU_NU_NU)):
            pair1 = _mul(c1[light], c1[heavy])
            pair2 = _mul(c2[light], c2[heavy])
            a_noflip = _add(_mul(pair1, f1), _mul(pair2, f2))
            if a_noflip is None:                    # no coupling to this lepton pair
                amp2 = 0.0 * p["eps"]
            elif self.right_handed:
                a_flip = kappa * _add(_mul(pair1, g1), _mul(pair2, g2)) / m_heavy
                a_r = a_noflip + a_flip
                a_l = kappa * kappa * a_noflip + a_flip
                amp2 = a_r * a_r + a_l * a_l
            else:
                amp2 = a_noflip * a_noflip
            out[key] = (prefactor * br_nunu) * amp2
        return out
