"""Solar neutrinos: B16 fluxes, spectral shapes and the MSW-LMA survival probability.

What to use when
----------------
* ``ssm_flux_cm2_s`` / ``ssm_flux_fractional_uncertainty``: B16 SSM fluxes (GS98 or AGSS09met).
* ``spectrum_shape_per_mev`` (continuum sources) and ``LINES`` (7Be, pep): energy spectra,
  each normalised to one neutrino (lines are delta functions with their branching ratios).
* ``p_ee``, ``p_e1_2nu``, ``mass_state_probabilities``, ``mass_weights``: flavour and mass-state
  content at Earth, averaged over the production region of each source.

Sources are ``SOURCES`` = pp, pep, hep, be7, b8, n13, o15, f17. Detectors fit ``GROUPS`` =
pp, be7, pep, cno (= 13N + 15O + 17F), b8; ``GROUP_SOURCES`` maps one to the other. hep is
kept as a source but belongs to no group: its rate is ~1e-4 of 8B's and is ignored.
All energies are in MeV.

Survival probability (adiabatic MSW-LMA, three flavours; S. P. Mikheyev and A. Yu. Smirnov,
Sov. J. Nucl. Phys. 42 (1985) 913; L. Wolfenstein, Phys. Rev. D 17 (1978) 2369; review:
M. C. Gonzalez-Garcia and Y. Nir, Rev. Mod. Phys. 75 (2003) 345):

    P_ee = c13^4 P_ee^2nu + s13^4,   P_ee^2nu = 1/2 + 1/2 cos 2th12 <cos 2th_m>,
    cos 2th_m = (cos 2th12 - beta) / sqrt((cos 2th12 - beta)^2 + sin^2 2th12),
    beta = 2 sqrt(2) G_F c13^2 n_e(r) E / dm21^2,

with the matter mixing angle th_m taken at the production point and averaged over the
production-radius distribution of the source (the adiabatic conversion then carries each mass
state of matter to the same vacuum mass state; oscillation phases average out, no Earth
matter / day-night effect). The two-flavour electron content of mass state 1 is
P_e1^2nu = cos^2 th_m = (1 + <cos 2th_m>)/2, and MODEL.md sec. 3 gives
P_1 = c13^2 P_e1^2nu, P_2 = c13^2 (1 - P_e1^2nu), P_3 = s13^2.

Electron density and production distributions: the B16-GS98 SSM table (Vinyoles et al.,
ApJ 835 (2017) 202), shipped as ``data/solar/b16_gs98_production_profile.csv`` (radius step
0.005 R_sun). It is used for both flux models (the AGSS09met production profiles differ by a
few per cent in radius, a negligible change of P_ee). For 0.17 < r < 0.4 R_sun the table
agrees with Bahcall's exponential fit n_e = 245 N_A exp(-10.54 r/R_sun) cm^-3 (Bahcall,
Neutrino Astrophysics, 1989) to 8 %; in the core, where 7Be and 8B neutrinos are made, the
fit overshoots the SSM (245 vs 101 N_A at r = 0), which is why the table is used.
"""
from __future__ import annotations

import functools
import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from globalfit import constants as c
from globalfit.errors import DataFileError, ParameterError
from globalfit.paths import data_file

from .grid import trapezoid_weights

SOURCES: Final = ("pp", "pep", "hep", "be7", "b8", "n13", "o15", "f17")
GROUPS: Final = ("pp", "be7", "pep", "cno", "b8")
GROUP_SOURCES: Final[dict[str, tuple[str, ...]]] = {
    "pp": ("pp",), "be7": ("be7",), "pep": ("pep",), "cno": ("n13", "o15", "f17"), "b8": ("b8",),
}
FLUX_MODELS: Final = ("GS98", "AGSS09met")

#: Mono-energetic sources: (energy MeV, branching fraction). 7Be electron capture to the 7Li
#: ground state (0.8613 MeV, 89.56 %) and to its 478 keV excited state (0.3843 MeV, 10.44 %)
#: (D. R. Tilley et al., Nucl. Phys. A 708 (2002) 3; the values of EXPERIMENTS.md sec. 1);
#: pep: 1.442 MeV.
LINES: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    "be7": ((0.8613, 0.8956), (0.3843, 0.1044)),
    "pep": ((1.442, 1.0),),
}
CONTINUUM_SOURCES: Final = ("pp", "hep", "b8", "n13", "o15", "f17")

#: sqrt(2) G_F N_A (hbar c)^3 in eV: the charged-current potential per unit n_e / (N_A cm^-3)
#: (7.63e-14 eV).
_V_CC_EV_PER_NA_CM3: Final[float] = (
    math.sqrt(2.0) * c.G_FERMI_GEV2 * 1e-18 * c.AVOGADRO_PER_MOL * (c.HBARC_GEV_CM * 1e9) ** 3
)

_C13_SQ: Final[float] = 1.0 - c.SIN2_THETA13
_S13_SQ: Final[float] = c.SIN2_THETA13
_COS_2TH12: Final[float] = 1.0 - 2.0 * c.SIN2_THETA12
_SIN_2TH12_SQ: Final[float] = 1.0 - _COS_2TH12**2
_CHUNK: Final[int] = 16384


# ------------------------------------------------------------------------------- data files
def _read_csv(name: str) -> tuple[list[str], np.ndarray]:
    """Read a shipped '#'-commented CSV file: (column names, (n_rows, n_cols) float array)."""
    path = data_file("solar", name)
    header: list[str] | None = None
    rows: list[list[float]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = [f.strip() for f in text.split(",")]
            if header is None:
                header = fields
                continue
            try:
                rows.append([float(f) for f in fields])
            except ValueError:
                raise DataFileError(f"{path}:{number}: cannot read a number in {text!r}") from None
            if len(fields) != len(header):
                raise DataFileError(f"{path}:{number}: expected {len(header)} columns, found {len(fields)}")
    if header is None or not rows:
        raise DataFileError(f"{path}: no data rows")
    return header, np.asarray(rows, dtype=float)


@functools.cache
def _flux_table() -> dict[str, dict[str, tuple[float, float]]]:
    """{model: {source: (flux cm^-2 s^-1, fractional 1-sigma)}} from data/solar/b16_fluxes.csv."""
    path = data_file("solar", "b16_fluxes.csv")
    table: dict[str, dict[str, tuple[float, float]]] = {m: {} for m in FLUX_MODELS}
    with open(path, encoding="utf-8") as handle:
        lines = [ln.strip() for ln in handle if ln.strip() and not ln.lstrip().startswith("#")]
    expected = ["source", "flux_gs98_cm2_s", "frac_unc_gs98", "flux_agss09met_cm2_s", "frac_unc_agss09met"]
    if [f.strip() for f in lines[0].split(",")] != expected:
        raise DataFileError(f"{path}: header must be {','.join(expected)}")
    for line in lines[1:]:
        fields = [f.strip() for f in line.split(",")]
        try:
            gs, dgs, ag, dag = (float(f) for f in fields[1:])
        except ValueError:
            raise DataFileError(f"{path}: cannot read the row {line!r}") from None
        table["GS98"][fields[0]] = (gs, dgs)
        table["AGSS09met"][fields[0]] = (ag, dag)
    if set(table["GS98"]) != set(SOURCES):
        raise DataFileError(f"{path}: expected sources {SOURCES}, found {tuple(table['GS98'])}")
    return table


def _check_source(source: str, allowed: tuple[str, ...] = SOURCES) -> None:
    if source not in allowed:
        raise ParameterError(f"source: unknown solar neutrino source {source!r} (use one of {', '.join(allowed)})")


def _check_model(model: str) -> None:
    if model not in FLUX_MODELS:
        raise ParameterError(f"flux_model: unknown solar model {model!r} (use one of {', '.join(FLUX_MODELS)})")


def ssm_flux_cm2_s(source: str, model: str = "GS98") -> float:
    """B16 SSM flux of ``source`` at Earth (no oscillation), cm^-2 s^-1 (Vinyoles et al. 2017,
    Table 6). For a group ("cno") the sum of its sources."""
    _check_model(model)
    if source in GROUP_SOURCES and source not in SOURCES:
        return float(sum(ssm_flux_cm2_s(s, model) for s in GROUP_SOURCES[source]))
    _check_source(source)
    return float(_flux_table()[model][source][0])


def ssm_flux_fractional_uncertainty(source: str, model: str = "GS98") -> float:
    """Fractional 1-sigma model uncertainty of the B16 flux of ``source`` (e.g. 0.006 for pp).
    For "cno" the errors of 13N, 15O, 17F are added linearly (they are strongly correlated
    through the CN abundance), weighted by flux."""
    _check_model(model)
    if source in GROUP_SOURCES and source not in SOURCES:
        parts = GROUP_SOURCES[source]
        total = sum(ssm_flux_cm2_s(s, model) for s in parts)
        return float(sum(ssm_flux_cm2_s(s, model) * _flux_table()[model][s][1] for s in parts) / total)
    _check_source(source)
    return float(_flux_table()[model][source][1])


# ------------------------------------------------------------------------------- spectra
@functools.cache
def spectrum_table(source: str) -> tuple[np.ndarray, np.ndarray]:
    """Tabulated spectrum of a continuum source: (e_mev, shape_per_mev), with the shape
    rescaled so that its linear interpolant integrates to exactly 1 (trapezoid rule)."""
    _check_source(source, CONTINUUM_SOURCES)
    _, values = _read_csv(f"{source}_spectrum_shape.csv")
    e, shape = values[:, 0].copy(), values[:, 1].copy()
    if np.any(np.diff(e) <= 0) or np.any(shape < 0):
        raise DataFileError(f"solar/{source}_spectrum_shape.csv: energies must increase and shapes be >= 0")
    shape /= np.trapezoid(shape, e)
    e.setflags(write=False)
    shape.setflags(write=False)
    return e, shape


def spectrum_endpoint_mev(source: str) -> float:
    """Largest neutrino energy of ``source`` (continuum endpoint or highest line), MeV."""
    if source in LINES:
        return max(energy for energy, _ in LINES[source])
    return float(spectrum_table(source)[0][-1])


def spectrum_shape_per_mev(source: str, e_mev: ArrayLike) -> np.ndarray:
    """Normalised spectrum dN/dE of a continuum source, MeV^-1 (linear interpolation of
    Bahcall's tables; zero outside them). Lines (be7, pep) have no density: use ``LINES``."""
    e_tab, shape = spectrum_table(source)
    e = np.asarray(e_mev, dtype=float)
    return np.interp(e, e_tab, shape, left=0.0, right=0.0)


# ------------------------------------------------------------------------------- MSW-LMA
@functools.cache
def production_profile() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """B16-GS98 profile: (r / R_sun, n_e in N_A cm^-3, {source: normalised quadrature weights}).

    The weights are the production density times trapezoid weights in r, normalised to sum
    to 1, so that <f> = sum_i weight_i f(r_i) is the production-averaged value of f."""
    header, values = _read_csv("b16_gs98_production_profile.csv")
    col = {name: i for i, name in enumerate(header)}
    r = values[:, col["r_rsun"]]
    ne_na = 10.0 ** values[:, col["log10_ne_na"]]
    trap = trapezoid_weights(r)
    weights = {}
    for source in SOURCES:
        w = values[:, col[source]] * trap
        weights[source] = w / w.sum()
    return r, ne_na, weights


def _source_weights(source: str) -> np.ndarray:
    _check_source(source)
    return production_profile()[2][source]


def cos2theta_matter(e_mev: ArrayLike, ne_na: ArrayLike) -> np.ndarray:
    """cos 2 theta_12^m at electron density ``ne_na`` (N_A cm^-3) and energy ``e_mev``
    (broadcast), with the c13^2-reduced potential (formula in the module docstring)."""
    e = np.asarray(e_mev, dtype=float)
    beta = 2.0 * _V_CC_EV_PER_NA_CM3 * _C13_SQ * np.asarray(ne_na, dtype=float) * e * 1e6 / c.DM21_EV2
    x = _COS_2TH12 - beta
    return x / np.sqrt(x**2 + _SIN_2TH12_SQ)


def _mean_cos2theta_m(e_mev: ArrayLike, source: str) -> np.ndarray:
    """Production-averaged cos 2 theta_m for one source; same shape as ``e_mev``."""
    e = np.asarray(e_mev, dtype=float)
    if np.any(~(e >= 0.0)):
        raise ParameterError("e_mev: neutrino energies must be >= 0 and not NaN")
    _, ne_na, _ = production_profile()
    w = _source_weights(source)
    flat = e.reshape(-1)
    out = np.empty(flat.shape)
    for start in range(0, flat.size, _CHUNK):  # bounded memory: chunk x n_r floats at a time
        block = flat[start:start + _CHUNK]
        out[start:start + _CHUNK] = cos2theta_matter(block[:, None], ne_na) @ w
    return out.reshape(e.shape)


def _group_mean_cos2theta_m(e_mev: ArrayLike, source: str, flux_model: str) -> np.ndarray:
    """Like ``_mean_cos2theta_m``; for "cno" the flux x spectrum weighted mixture of its sources."""
    if source in SOURCES:
        return _mean_cos2theta_m(e_mev, source)
    if source != "cno":
        _check_source(source, SOURCES + ("cno",))
    e = np.asarray(e_mev, dtype=float)
    num = np.zeros(e.shape)
    den = np.zeros(e.shape)
    for s in GROUP_SOURCES["cno"]:
        weight = ssm_flux_cm2_s(s, flux_model) * spectrum_shape_per_mev(s, e)
        num += weight * _mean_cos2theta_m(e, s)
        den += weight
    # beyond every endpoint fall back to 15O's production region (the dominant CNO source)
    return np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), _mean_cos2theta_m(e, "o15"))


def p_e1_2nu(e_mev: ArrayLike, source: str, flux_model: str = "GS98") -> np.ndarray:
    """Two-flavour probability that a solar nu_e leaves the Sun as mass state 1,
    P_e1^2nu = <cos^2 theta_m> = (1 + <cos 2 theta_m>)/2 (adiabatic). Shape of ``e_mev``.
    ``source`` is one of SOURCES or "cno" (flux-weighted mixture of 13N, 15O, 17F)."""
    return 0.5 * (1.0 + _group_mean_cos2theta_m(e_mev, source, flux_model))


def p_ee(e_mev: ArrayLike, source: str, flux_model: str = "GS98") -> np.ndarray:
    """nu_e survival probability at Earth, P_ee = c13^4 P_ee^2nu + s13^4 with
    P_ee^2nu = 1/2 + 1/2 cos 2th12 <cos 2th_m> (adiabatic MSW-LMA). Shape of ``e_mev``."""
    p2 = 0.5 + 0.5 * _COS_2TH12 * _group_mean_cos2theta_m(e_mev, source, flux_model)
    return _C13_SQ**2 * p2 + _S13_SQ**2


def mass_state_probabilities(e_mev: ArrayLike, source: str, flux_model: str = "GS98") -> np.ndarray:
    """(P_1, P_2, P_3) of MODEL.md sec. 3: probabilities that a solar nu_e arrives as mass state
    k; shape (3,) + shape of ``e_mev``; they sum to 1."""
    pe1 = p_e1_2nu(e_mev, source, flux_model)
    return np.stack([_C13_SQ * pe1, _C13_SQ * (1.0 - pe1), np.full_like(pe1, _S13_SQ)])


def mass_weights(e_mev: ArrayLike, source: str, flux_model: str = "GS98") -> np.ndarray:
    """Weights of |Lambda_k|^2 in mu_eff^2 (MODEL.md sec. 3): w_1 = P_2 + P_3, w_2 = P_1 + P_3,
    w_3 = P_1 + P_2; shape (3,) + shape of ``e_mev``; they sum to 2."""
    p = mass_state_probabilities(e_mev, source, flux_model)
    return 1.0 - p
