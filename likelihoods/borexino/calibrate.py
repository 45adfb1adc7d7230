"""Calibration of the detector response (re-runnable: ``python -m likelihoods.borexino.calibrate``).

Step 1 (Phase-III keV scale, shapes only): fit the light yield and the resolution a, b, c
(``response.ResponseParams``; kB fixed at 0.011 cm/MeV) so that the folded SM recoil spectra of
pp, 7Be and CNO reproduce the shapes of Borexino's MC PDFs (``data/borexino/mc_pdfs_phase3.csv``)
above 150 keV. The pep PDF is held out and used as a check (``shape_check``).
Statistic: sum over bins of (model - mc)^2 / mc with both normalised to N_EFF = 1e4 events
above 150 keV (only the location of the minimum matters).

Step 2 (Phase-II map): fit scale, offset and extra smearing of the Phase-III -> Phase-II energy
map to the Phase-II N_h spectrum, profiling all component rates and the 210Po peak (SM only,
fit window ``STEP2_WINDOW_NH``), by Nelder-Mead on the profiled Baker-Cousins deviance. The
background model is the one the likelihood uses (``BorexinoLikelihood.make_model``: Gram-Charlier
210Po peak, Borexino's pile-up curve with its 2 % prior, 14C prior), so a change of that model
requires re-running this step (the record names the model it was fitted with).

The result is written to ``data/borexino/response_calibration.json`` with the fit statistics
and a description of how it was obtained.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date

import numpy as np
from scipy.optimize import minimize

from globalfit.paths import data_dir

from . import recoil
from .response import ResponseParams, response_matrix_t
from .spectrum import load_mc_pdfs

CAL_GROUPS = ("pp", "be7", "cno")
CHECK_GROUPS = ("pep",)
E_MIN_KEV = 150.0
N_EFF = 1e4
STEP2_WINDOW_NH = (93, 950)
BACKGROUND_MODEL = ("spectrum_only variant; 210Po Gram-Charlier peak (free position, width, "
                    "skewness, kurtosis); pile-up = Borexino's fitted curve with a 2.0 % prior; "
                    "14C prior 40.0 +- 2.0 Bq/100 t; CNO and 8B priors; MC-PDF 85Kr, 210Bi, 11C, "
                    "external gammas")


def folded_mc_shapes(p: ResponseParams, groups: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Folded SM spectra on the MC-PDF keV bins (Phase-III scale), normalised above E_MIN_KEV."""
    pdfs = load_mc_pdfs()
    t, w = recoil.t_grid()
    r = response_matrix_t(t, pdfs.edges_kev, p, phase3=True)
    sel = pdfs.edges_kev[:-1] >= E_MIN_KEV
    out = {}
    for g in groups:
        f = r @ (recoil.sm_rate_density(g, t) * w)
        out[g] = f[sel] / f[sel].sum()
    return out


def mc_shapes(groups: tuple[str, ...]) -> dict[str, np.ndarray]:
    """MC PDF shapes normalised above E_MIN_KEV."""
    pdfs = load_mc_pdfs()
    sel = pdfs.edges_kev[:-1] >= E_MIN_KEV
    return {g: pdfs.shapes[g][sel] / pdfs.shapes[g][sel].sum() for g in groups}


def shape_chi2(p: ResponseParams, groups: tuple[str, ...]) -> dict[str, float]:
    """Pseudo-chi^2 of folded vs MC shape per group (N_EFF events each) and n_bins used."""
    model, mc = folded_mc_shapes(p, groups), mc_shapes(groups)
    out = {}
    for g in groups:
        use = mc[g] > 1e-6
        out[g] = float(N_EFF * np.sum((model[g][use] - mc[g][use]) ** 2 / mc[g][use]))
    return out


def calibrate_phase3(start: ResponseParams | None = None) -> tuple[ResponseParams, dict]:
    """Step 1: light yield, a, b, c from the MC PDF shapes of CAL_GROUPS."""
    p0 = start or ResponseParams(light_yield_kev_per_mev=1080.0, a_kev=1.2, b=1e-3, c_kev2=10.0)

    def unpack(x: np.ndarray) -> ResponseParams:
        return replace(p0, light_yield_kev_per_mev=x[0], a_kev=abs(x[1]), b=abs(x[2]) * 1e-3,
                       c_kev2=abs(x[3]) * 10.0)

    def obj(x: np.ndarray) -> float:
        return sum(shape_chi2(unpack(x), CAL_GROUPS).values())

    x0 = np.array([p0.light_yield_kev_per_mev, p0.a_kev, p0.b * 1e3, p0.c_kev2 / 10.0])
    res = minimize(obj, x0, method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-4, "maxiter": 3000})
    p = unpack(res.x)
    return p, {"shape_chi2": shape_chi2(p, CAL_GROUPS + CHECK_GROUPS),
               "n_bins": int(np.sum(load_mc_pdfs().edges_kev[:-1] >= E_MIN_KEV))}


def calibrate_phase2(p3: ResponseParams) -> tuple[ResponseParams, dict]:
    """Step 2: scale, offset, smear of the Phase-II map from the Phase-II data (SM fit)."""
    from .likelihood import BorexinoLikelihood  # lazy: heavy
    from .templates import linear_templates

    lk = BorexinoLikelihood(variant="spectrum_only", mode="full",
                            fit_window_nh=STEP2_WINDOW_NH, use_cache=False, response=p3)
    theta = [None]

    def obj(x: np.ndarray) -> float:
        p = replace(p3, scale=x[0], offset_kev=x[1], smear_kev_sqrt_mev=abs(x[2]))
        lin = linear_templates(p, lk.flux_model, taylor=False)
        model = lk.make_model(lin, None)
        lk.__dict__["model"] = model
        start = theta[0] if theta[0] is not None else lk.start_theta()
        val, th = model.fit(start)
        theta[0] = th
        return val

    x0 = np.array([1.0, 0.0, 1.0])
    res = minimize(obj, x0, method="Nelder-Mead",
                   options={"xatol": 1e-3, "fatol": 0.05, "maxiter": 150,
                            "initial_simplex": [x0, x0 + [0.01, 0, 0], x0 + [0, 3.0, 0],
                                                x0 + [0, 0, 3.0]]})
    p = replace(p3, scale=float(res.x[0]), offset_kev=float(res.x[1]),
                smear_kev_sqrt_mev=float(abs(res.x[2])))
    return p, {"profiled_chi2": float(res.fun), "n_bins": int(lk.model.n.size),
               "window_nh": list(STEP2_WINDOW_NH)}


def run(write: bool = True) -> dict:
    """Run both steps; write the JSON record if ``write``."""
    p3, info3 = calibrate_phase3()
    p2, info2 = calibrate_phase2(p3)
    record = {
        "description": (
            "Borexino detector response calibration (likelihoods/borexino/calibrate.py). "
            "Step 1: light_yield_kev_per_mev, a_kev, b, c_kev2 fitted (kB fixed) so that folded "
            "SM recoil spectra of pp, 7Be, CNO reproduce the shapes of the Borexino Phase-III "
            "MC PDFs (open data of arXiv:2005.12829) above 150 keV; pep held out as a check. "
            "Step 2: Phase-III -> Phase-II map (scale, offset_kev, smear_kev_sqrt_mev) fitted "
            "to the Phase-II spectrum (Nature 562 (2018) 505; exposure 582.326 day x 100 t) "
            "by the profiled Baker-Cousins deviance of the SM + background model."),
        "background_model": BACKGROUND_MODEL,
        "date": date.today().isoformat(),
        "response": p2.to_dict(),
        "step1": info3,
        "step2": info2,
    }
    if write:
        path = data_dir() / "borexino" / "response_calibration.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="do not write the JSON file")
    args = ap.parse_args()
    print(json.dumps(run(write=not args.dry_run), indent=2))


if __name__ == "__main__":
    main()
