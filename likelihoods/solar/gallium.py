"""Gallium radiochemical capture rate (GALLEX/GNO + SAGE) predicted from the solar groups.

What to use when: ``gallium_rate_coefficients_snu`` gives c_s (SNU) per Borexino group at the
SSM flux with MSW-LMA, so that a fit with flux scalings f_s predicts the Ga rate
sum_s c_s f_s, to be compared with the measured 66.1 +- 3.1 SNU (GALLEX+GNO, F. Kaether et al.,
Phys. Lett. B 685 (2010) 47; SAGE, J. N. Abdurashitov et al., Phys. Rev. C 80 (2009) 015807;
the combination of EXPERIMENTS.md sec. 1). ``ga71_cross_section_cm2`` is the capture
cross-section.

c_s = sum_{sources in s} Phi_source int lambda(E) P_ee(E) sigma_Ga(E) dE / (1e-36 s^-1)
(1 SNU = 1e-36 captures per target atom per second). Cross-sections: J. N. Bahcall,
Phys. Rev. C 56 (1997) 3391 (best estimate, including the excited-state contributions),
shipped as ``data/solar/ga71_capture_cross_section.csv``. hep (0.1 SNU without oscillation) is
not in any group and is left out, as in the Borexino analysis.
"""
from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike

from globalfit.errors import DataFileError, ParameterError
from globalfit.paths import data_file
from . import flux as solar

GA71_THRESHOLD_MEV: float = 0.2332
"""Threshold of 71Ga(nu_e, e-)71Ge, MeV (Q-value 232.7 keV; Bahcall PRC 56 (1997) 3391)."""

SNU_PER_S: float = 1e-36
"""1 SNU = 1e-36 captures per target atom per second."""

_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)


@functools.cache
def _xsec_table() -> tuple[np.ndarray, np.ndarray]:
    path = data_file("solar", "ga71_capture_cross_section.csv")
    rows = []
    with open(path, encoding="utf-8") as handle:
        lines = [ln.strip() for ln in handle if ln.strip() and not ln.lstrip().startswith("#")]
    for line in lines[1:]:
        try:
            rows.append([float(x) for x in line.split(",")])
        except ValueError:
            raise DataFileError(f"{path}: cannot read the row {line!r}") from None
    table = np.asarray(rows)
    if table.ndim != 2 or table.shape[1] != 4 or np.any(np.diff(table[:, 0]) <= 0):
        raise DataFileError(f"{path}: expected 4 columns and increasing energies")
    return table[:, 0], table[:, 1] * 1e-46


def ga71_cross_section_cm2(e_mev: ArrayLike) -> np.ndarray:
    """71Ga capture cross-section of Bahcall (1997), cm^2, shape of ``e_mev``.

    Between tabulated energies: power-law (log-log linear) interpolation. Between the threshold
    (0.2332 MeV) and the first entry (0.24 MeV) the first segment is extended linearly (the
    Coulomb-enhanced allowed cross-section is finite at threshold); zero below threshold.
    Above the table (30 MeV) ParameterError: no solar neutrino goes there."""
    e = np.asarray(e_mev, dtype=float)
    e_tab, s_tab = _xsec_table()
    if np.any(e > e_tab[-1]):
        raise ParameterError(f"e_mev: Ga cross-section tabulated only up to {e_tab[-1]} MeV")
    e_safe = np.clip(e, e_tab[0], e_tab[-1])
    inside = np.exp(np.interp(np.log(e_safe), np.log(e_tab), np.log(s_tab)))
    slope = (s_tab[1] - s_tab[0]) / (e_tab[1] - e_tab[0])
    near = s_tab[0] + slope * (e - e_tab[0])
    return np.where(e < GA71_THRESHOLD_MEV, 0.0, np.where(e < e_tab[0], near, inside))


def _source_capture_snu(source: str, flux_model: str, msw: bool) -> float:
    flux = solar.ssm_flux_cm2_s(source, flux_model)
    if source in solar.LINES:
        e = np.array([line[0] for line in solar.LINES[source]])
        w = np.array([line[1] for line in solar.LINES[source]])
    else:
        e_tab, _ = solar.spectrum_table(source)
        # split the interval that contains the threshold so the integrand is smooth on each piece
        nodes = np.unique(np.concatenate([e_tab, [GA71_THRESHOLD_MEV]]))
        a, b = nodes[:-1], nodes[1:]
        half, mid = (b - a)[:, None] / 2.0, (b + a)[:, None] / 2.0
        e = mid + half * _GL_X
        w = solar.spectrum_shape_per_mev(source, e) * half * _GL_W
    survival = solar.p_ee(e, source, flux_model) if msw else 1.0
    return float(flux * np.sum(w * survival * ga71_cross_section_cm2(e)) / SNU_PER_S)


@functools.cache
def _coefficients(flux_model: str, msw: bool) -> tuple[tuple[str, float], ...]:
    return tuple((group, sum(_source_capture_snu(s, flux_model, msw) for s in solar.GROUP_SOURCES[group]))
                 for group in solar.GROUPS)


def gallium_rate_coefficients_snu(flux_model: str = "GS98", msw: bool = True) -> dict[str, float]:
    """{group: c_s} in SNU: the Ga capture rate of each Borexino group at the B16 ``flux_model``
    flux, with MSW-LMA survival (``msw=False``: without oscillations). The predicted rate of a
    fit with flux scalings f_s is sum_s c_s f_s. B16-GS98: 126.5 SNU without oscillation,
    65.3 SNU with MSW."""
    if flux_model not in solar.FLUX_MODELS:
        raise ParameterError(f"flux_model: unknown solar model {flux_model!r} (use one of {', '.join(solar.FLUX_MODELS)})")
    return dict(_coefficients(flux_model, bool(msw)))
