"""Checks of the calibrated response against Borexino numbers that were not used to fit it.

What to use when
----------------
* ``resolution_relative(p, e_kev, dr)``: the Phase-II Gaussian resolution sigma/E at a
  reconstructed energy (keV), for comparison with Borexino's quoted ~5 % at 1 MeV
  (``measurements.yaml`` ``response_checks.resolution_1mev``).
* ``peak_moments_nh(curve)``: mean and standard deviation in N_h of a peaked curve per N_h bin
  (Borexino's fitted 210Po component of PRD 100 (2019) 082004 Fig. 6a, column ``po210`` of
  ``data/borexino/phase2_spectrum.csv``).
* ``fitted_po210_nh(lk)``: the same two numbers for the 210Po peak of our SM fit, converted from
  keV to N_h with Borexino's ``energy_kev`` column (local slope dE/dN_h at the peak).
* ``component_shapes(lk)``: for 85Kr, 210Bi and 11C, our fitted template (MC PDF mapped to
  Phase II, at the fitted ds, dr) against Borexino's fitted component curve (Fig. 6a, traced):
  mean and rms N_h of both, the Kolmogorov distance of the window-normalised shapes, and the total
  rate that Borexino's curve implies through our template (curve counts / counts per cpd/100 t).
* ``response_table(lk)``: every row above as (quantity, ours, Borexino, source) for the report
  and ``docs/borexino.md``.

None of these numbers enters a fit: the traced component curves and the quoted resolution are
used here only. Energies in keV, N_h = number of hit PMTs (normalised to 2000 live PMTs).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from . import measurements
from .parameters import I_DR, I_DS, I_MU, I_SG, PARAMS
from .response import ResponseParams, phase2_mean_sigma, taylor_coefficients
from .spectrum import EXPOSURE_DAY_100T, load_phase2
from .templates import LINEAR

SHAPE_CHECKS = ("kr85", "bi210", "c11")
"""Backgrounds whose fitted Borexino curve is compared with our MC-PDF template."""


def resolution_relative(p: ResponseParams, e_kev: float = 1000.0, dr: float = 0.0) -> float:
    """sigma/E of the Phase-II response (``response.phase2_mean_sigma``) at mean reconstructed
    energy ``e_kev`` (keV), with the resolution nuisance ``dr``; dimensionless."""
    e3 = brentq(lambda x: float(phase2_mean_sigma(np.array([x]), p)[0][0]) - e_kev,
                0.2 * e_kev, 5.0 * e_kev + 100.0)
    return float(phase2_mean_sigma(np.array([e3]), p)[1][0]) * (1.0 + dr) / e_kev


def peak_moments_nh(n_h: np.ndarray, curve: np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) in N_h of a non-negative peaked curve per N_h bin, within
    +-4 standard deviations of its maximum (two passes, so a far tail does not bias them)."""
    curve = np.clip(np.asarray(curve, dtype=float), 0.0, None)
    mean = float(n_h[np.argmax(curve)])
    sd = 0.25 * float(np.ptp(n_h))
    for _ in range(3):
        sel = np.abs(n_h - mean) <= 4.0 * sd
        w = curve[sel] / curve[sel].sum()
        mean = float(np.sum(w * n_h[sel]))
        sd = float(np.sqrt(np.sum(w * (n_h[sel] - mean) ** 2)))
    return mean, sd


def fitted_po210_nh(lk) -> tuple[float, float]:
    """(mean, sigma) of the SM fit's 210Po peak in N_h: position and width in keV converted
    with Borexino's N_h -> keV column (its local slope at the peak)."""
    _, th = lk.sm_fit
    sp = load_phase2()
    mu_kev, sg_kev = float(th[I_MU]), float(th[I_SG])
    mu_nh = float(np.interp(mu_kev, sp.energy_kev, sp.n_h))
    slope = float(np.interp(mu_nh, sp.n_h[:-1] + 0.5, np.diff(sp.energy_kev)))   # keV per N_h
    return mu_nh, sg_kev / slope


def _fitted_template(lk, name: str) -> np.ndarray:
    """Our template of ``name`` in the window at the SM fit's ds, dr: counts per cpd/100 t."""
    _, th = lk.sm_fit
    model = lk.model
    g = taylor_coefficients(np.array([th[I_DS]]), np.array([th[I_DR]]))[: len(model.lin), 0]
    return np.tensordot(g, model.lin[:, LINEAR.index(name)], axes=1)


def component_shapes(lk) -> dict[str, dict[str, float]]:
    """Shape of our fitted 85Kr, 210Bi, 11C templates against Borexino's fitted curves (see the
    module docstring); per component: mean_nh, rms_nh (ours and Borexino's), ks, implied rate
    (cpd/100 t) and our fitted rate."""
    sp = load_phase2()
    model = lk.model
    n_h = sp.n_h[model.mask]
    _, th = lk.sm_fit
    out = {}
    for name in SHAPE_CHECKS:
        ours = _fitted_template(lk, name)
        theirs = sp.components[name][model.mask] * EXPOSURE_DAY_100T
        a, b = ours / ours.sum(), theirs / theirs.sum()
        ma, mb = float(a @ n_h), float(b @ n_h)
        out[name] = {
            "mean_nh": ma, "mean_nh_borexino": mb,
            "rms_nh": float(np.sqrt(a @ (n_h - ma) ** 2)),
            "rms_nh_borexino": float(np.sqrt(b @ (n_h - mb) ** 2)),
            "ks": float(np.max(np.abs(np.cumsum(a) - np.cumsum(b)))),
            "implied_rate": float(theirs.sum() / ours.sum()),
            "fitted_rate": float(th[PARAMS.index(name)]),
        }
    return out


def response_table(lk) -> list[tuple[str, str, str, str]]:
    """Rows (quantity, this response, Borexino, source) of the response validation table."""
    _, th = lk.sm_fit
    res = measurements.measurement("response_checks.resolution_1mev", "1")
    sp = load_phase2()
    rows = [("sigma/E at 1 MeV (Phase II, fitted dr)",
             f"{100 * resolution_relative(lk.response, 1000.0, float(th[I_DR])):.2f} %",
             f"~{100 * res.value:g} %", res.citation)]
    mu, sg = fitted_po210_nh(lk)
    bmu, bsg = peak_moments_nh(sp.n_h, sp.components["po210"])
    src = "Borexino's fitted 210Po curve, PRD 100 (2019) 082004 Fig. 6a (traced)"
    rows += [("210Po peak position [N_h]", f"{mu:.1f}", f"{bmu:.1f}", src),
             ("210Po peak width sigma [N_h]", f"{sg:.2f}", f"{bsg:.2f}", src)]
    for name, r in component_shapes(lk).items():
        src = f"Borexino's fitted {name} curve, PRD 100 (2019) 082004 Fig. 6a (traced)"
        rows += [(f"{name} mean / rms [N_h]", f"{r['mean_nh']:.1f} / {r['rms_nh']:.1f}",
                  f"{r['mean_nh_borexino']:.1f} / {r['rms_nh_borexino']:.1f}", src),
                 (f"{name} shape: Kolmogorov distance", f"{r['ks']:.3f}", "0", src)]
    return rows
