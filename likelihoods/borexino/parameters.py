"""The fit parameters of the Borexino spectrum: one table of names, units, bounds, scales.

``PARAMS`` orders the parameter vector theta: the 13 linear amplitudes (``templates.LINEAR``,
rates in cpd/100 t), the 210Po amplitude and peak shape, and the response nuisances ds, dr.
``LOWER``/``UPPER`` are the one definition of the bounds: the optimiser of the profile fit
and the ``Nuisance`` list a sampler receives both read them. ``nuisances(...)`` attaches the
Gaussian constraints, whose numbers come from ``data/borexino/measurements.yaml``.
"""
from __future__ import annotations

import numpy as np

from ..base import Nuisance
from . import measurements
from .templates import LINEAR

SECONDS_PER_DAY = 86400.0

#: amplitude scales (cpd/100 t) used to condition the optimiser and as starting values
#: (Borexino PRD 100 (2019) 082004 fitted values, not priors).
START = {"pp": 134.0, "be7": 48.3, "pep": 2.43, "cno": 4.92, "b8": 0.44, "c14": 3.456e6,
         "pileup": 6.3, "kr85": 6.8, "bi210": 17.5, "c11": 26.8, "ext_k40": 1.0,
         "ext_bi214": 1.0, "ext_tl208": 1.0, "po210": 260.0}

# name: (unit, low, high, optimiser scale, start, description)
_SHAPE = {
    "po210_mu_kev": ("keV", 250.0, 700.0, 400.0, 440.0, "210Po peak position"),
    "po210_sigma_kev": ("keV", 5.0, 150.0, 40.0, 37.0, "210Po peak width"),
    "po210_skew": ("1", -0.5, 0.5, 0.1, 0.0, "210Po peak shape (Gram-Charlier)"),
    "po210_kurt": ("1", -0.5, 0.5, 0.1, 0.0, "210Po peak shape (Gram-Charlier)"),
    "energy_scale": ("1", -0.05, 0.05, 0.01, 0.0, "relative energy-scale shift ds"),
    "resolution": ("1", -0.5, 0.5, 0.1, 0.0, "relative resolution shift dr"),
}
PARAMS = LINEAR + ("po210",) + tuple(_SHAPE)
N_LIN = len(LINEAR)
I_PO, I_MU, I_SG, I_H3, I_H4, I_DS, I_DR = range(N_LIN, N_LIN + 7)
UNITS = tuple("cpd/100t" if k not in _SHAPE else _SHAPE[k][0] for k in PARAMS)
LOWER = np.array([0.0] * (N_LIN + 1) + [v[1] for v in _SHAPE.values()])
UPPER = np.array([np.inf] * (N_LIN + 1) + [v[2] for v in _SHAPE.values()])
SCALE = np.array([START[k] for k in LINEAR] + [START["po210"]]
                 + [v[3] for v in _SHAPE.values()])
START_THETA = np.array([START[k] for k in LINEAR] + [START["po210"]]
                       + [v[4] for v in _SHAPE.values()])
for _a in (LOWER, UPPER, SCALE, START_THETA):
    _a.setflags(write=False)


def row(coeffs: dict[str, float]) -> np.ndarray:
    """A row over PARAMS with the given coefficients (for linear constraints)."""
    out = np.zeros(len(PARAMS))
    for k, v in coeffs.items():
        out[PARAMS.index(k)] = v
    return out


def nuisances(b8_rate: float, b8_width: float, pileup_rate: float,
              ssm_constrained: bool) -> tuple[Nuisance, ...]:
    """Every parameter as a Nuisance with its bounds; Gaussian priors on CNO (HZ-SSM) and 8B
    (SSM rate ``b8_rate`` +- ``b8_width``) unless ``ssm_constrained`` (the 'solar_model' variant
    constrains them in loglike), on 14C and on the pile-up (``pileup_rate`` cpd/100 t in the
    window times Borexino's relative width 2.8/137.5)."""
    cno = measurements.measurement("constraints.cno_rate", "cpd/100 t", constraint=True)
    c14 = measurements.measurement("constraints.c14_activity", "Bq/100 t", constraint=True)
    pu = measurements.measurement("constraints.pileup_rate", "cpd/100 t", constraint=True)
    gauss = {
        "c14": (c14.value * SECONDS_PER_DAY, c14.uncertainty * SECONDS_PER_DAY,
                f"14C activity {c14.value:g} +- {c14.uncertainty:g} Bq/100 t"),
        "pileup": (pileup_rate, pileup_rate * (pu.uncertainty / pu.value),
                   "pile-up in the fit window: Borexino's fitted curve integral +- "
                   f"{100 * pu.uncertainty / pu.value:.1f} % ({pu.value:g} +- "
                   f"{pu.uncertainty:g} cpd/100 t)"),
    }
    if not ssm_constrained:
        gauss["cno"] = (cno.value, cno.uncertainty, "CNO rate, HZ-SSM (PRD 100 (2019) 082004)")
        gauss["b8"] = (b8_rate, b8_width, "8B rate, B16 SSM")
    out = []
    for k, unit, lo, hi in zip(PARAMS, UNITS, LOWER, UPPER):
        desc = _SHAPE[k][5] if k in _SHAPE else ""
        if k in gauss:
            c, w, d = gauss[k]
            out.append(Nuisance(k, unit, "gaussian", c, w, low=float(lo), high=float(hi),
                                description=d))
        else:
            out.append(Nuisance(k, unit, "uniform", low=float(lo), high=float(hi),
                                description=desc))
    return tuple(out)
