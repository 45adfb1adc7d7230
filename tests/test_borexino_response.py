"""Borexino detector response: stopping power, Birks quenching, folding, Taylor nuisances,
calibration against Borexino's MC PDFs, shipped data files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from globalfit.paths import data_file
from likelihoods.borexino import backgrounds, recoil, response
from likelihoods.borexino.calibrate import (CAL_GROUPS, CHECK_GROUPS, folded_mc_shapes,
                                            mc_shapes)
from likelihoods.borexino.likelihood import load_calibration
from likelihoods.borexino.spectrum import EXPOSURE_DAY_100T, load_mc_pdfs, load_phase2

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "borexino"


def test_stopping_power_near_minimum_ionising():
    # Electrons in organic scintillators: collision stopping power ~1.85 MeV cm^2/g at 1 MeV
    # (ESTAR, NIST, polystyrene/toluene 1.84-1.87); minimum near T ~ 1-1.5 MeV.
    t = np.array([0.3, 1.0, 1.5, 3.0])
    s = response.electron_stopping_power_mev_cm(t) / response.PC_DENSITY_G_CM3
    assert 1.78 < s[1] < 1.95
    assert s[0] > s[1] and abs(s[2] - s[1]) / s[1] < 0.02


def test_birks_quenching_against_quadrature():
    kb = 0.011
    for t in (0.05, 0.2, 0.862):
        direct = quad(lambda e: 1.0 / (1.0 + kb * response.electron_stopping_power_mev_cm(e)),
                      0.0, t, limit=200, points=[1e-4, 1e-3, 1e-2])[0]
        assert response.quenched_energy_mev(np.array([t]), kb)[0] == pytest.approx(direct,
                                                                                   rel=2e-4)
    t = np.geomspace(0.01, 3.0, 50)
    assert np.allclose(response.quenched_energy_mev(t, 0.0), t, rtol=1e-9)
    q = response.quenched_energy_mev(t, kb) / t
    assert np.all(np.diff(q) > 0) and q[0] < 0.85 and q[-1] > 0.97   # stronger at low T


def test_gaussian_fold_moments():
    p = load_calibration()
    edges = np.linspace(0.0, 3000.0, 3001)
    t = np.array([0.6])
    r = response.response_matrix_t(t, edges, p)[:, 0]
    centers = 0.5 * (edges[1:] + edges[:-1])
    mu, sig = response.phase2_mean_sigma(response.e3_kev(t, p), p)
    assert r.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.sum(r * centers) == pytest.approx(mu[0], abs=1e-3)
    assert np.sqrt(np.sum(r * (centers - mu[0]) ** 2) - 1 / 12) == pytest.approx(sig[0], rel=1e-4)


def test_taylor_basis_matches_exact_refold():
    p = load_calibration()
    edges = load_phase2().edges_kev
    t = recoil.default_t_grid_mev()
    v = recoil.sm_rate_density("be7", t) * recoil.t_grid_weights(t) * EXPOSURE_DAY_100T

    def fold(ds, dr):
        return response.response_matrix_t(t, edges, p, ds, dr) @ v

    basis = response.taylor_basis(fold)
    for ds, dr in ((0.004, 0.05), (-0.006, -0.08), (0.01, 0.1)):
        approx = np.tensordot(response.taylor_coefficients(np.array(ds), np.array(dr)), basis,
                              axes=1)
        exact = fold(ds, dr)
        # Poisson-scale accuracy: error << sqrt(counts) in every bin, and < 1 % of the peak
        assert np.max(np.abs(approx - exact) / np.sqrt(exact + 1.0)) < 0.1
        assert np.max(np.abs(approx - exact)) < 0.01 * exact.max()


def test_calibration_reproduces_mc_pdf_shapes():
    """Second check beyond the fit: the calibration was fitted to pp, 7Be, CNO shapes; the
    held-out pep shape and the Compton-edge positions must agree too."""
    p = load_calibration().phase3()
    groups = CAL_GROUPS + CHECK_GROUPS
    model, mc = folded_mc_shapes(p, groups), mc_shapes(groups)
    for g in groups:
        ks = np.max(np.abs(np.cumsum(model[g]) - np.cumsum(mc[g])))
        # measured: pp 0.002, 7Be 0.003, CNO 0.006 (fitted); pep 0.015 (held out): the
        # Phase-III MC pep edge is ~15 keV wider than a Gaussian a E resolution gives
        assert ks < (0.01 if g in CAL_GROUPS else 0.02), g
    pdfs = load_mc_pdfs()
    e = pdfs.centers_kev[pdfs.edges_kev[:-1] >= 150.0]
    # Compton-like edges: 7Be (fitted) within 8 keV; pep (held out) within 2.5 % (measured
    # 26 keV = 2.0 % high at 1.28 MeV: the Gaussian a E resolution and Birks-only
    # non-linearity of this response miss part of the MC's high-energy behaviour)
    for g, lo, hi, tol in (("be7", 600, 900, 8.0), ("pep", 1100, 1500, 0.025 * 1283)):
        sel = (e > lo) & (e < hi)
        # edge position = energy where the density falls to half its value 150 keV below the edge
        def half(shape):
            d = shape[sel] / np.diff(pdfs.edges_kev)[pdfs.edges_kev[:-1] >= 150.0][sel]
            return np.interp(0.5 * d[0], d[::-1], e[sel][::-1])
        assert abs(half(model[g]) - half(mc[g])) < tol, g


def test_calibration_file_records_its_origin():
    rec = json.loads(data_file("borexino", "response_calibration.json").read_text())
    assert "MC PDFs" in rec["description"] and "Phase-II" in rec["description"]
    r = rec["response"]
    assert 0.9 < r["scale"] < 1.1 and abs(r["offset_kev"]) < 30
    assert r["kb_cm_per_mev"] == pytest.approx(0.011)
    # resolution at 1 MeV of order 5 % (Borexino: ~50 keV at 1 MeV)
    p = load_calibration()
    _, sig = response.phase2_mean_sigma(response.e3_kev(np.array([1.0]), p), p)
    assert 35.0 < sig[0] < 75.0


def test_c14_beta_spectrum_and_pileup():
    t, w = backgrounds.c14_t_grid()
    d = backgrounds.c14_density(t)
    assert np.sum(d * w) == pytest.approx(1.0, rel=1e-6)
    mean_t = np.sum(t * d * w)
    assert mean_t == pytest.approx(0.0495, rel=0.03)   # 14C mean beta energy 49.5 keV (NNDC)
    assert d[-1] == 0.0 and np.all(d >= 0)


def test_shipped_spectrum_counts_are_integers_and_exposure():
    sp = load_phase2()
    assert len(sp.n_h) == 858 and sp.n_h[0] == 93 and sp.n_h[-1] == 950
    assert np.max(np.abs(sp.counts_raw - np.round(sp.counts_raw))) < 0.03
    filled = sp.rate > 0
    exposure = sp.rate[filled] / sp.error[filled] ** 2
    assert np.allclose(exposure, EXPOSURE_DAY_100T, rtol=2e-3)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared reference data absent")
def test_shipped_files_match_reference_data():
    sp = load_phase2()
    ref = np.genfromtxt(SHARED / "phase2_spectrum_components.csv", delimiter=",", skip_header=7)
    assert np.array_equal(ref[:, 2], sp.rate) and np.array_equal(ref[:, 1], sp.energy_kev)
    pdfs = load_mc_pdfs()
    raw = np.genfromtxt(SHARED / "mc_pdfs_keV" / "pp_pdfkeV__16.txt", delimiter=",")
    content = raw[:, 2] * (raw[:, 1] - raw[:, 0])
    assert np.allclose(pdfs.shapes["pp"], content / content.sum(), rtol=1e-5)


@pytest.mark.slow
def test_calibration_step1_is_reproducible():
    """Re-running step 1 of calibrate.py reproduces the saved Phase-III parameters."""
    from likelihoods.borexino.calibrate import calibrate_phase3
    saved = load_calibration()
    p3, info = calibrate_phase3()
    assert p3.light_yield_kev_per_mev == pytest.approx(saved.light_yield_kev_per_mev, rel=2e-3)
    assert p3.a_kev == pytest.approx(saved.a_kev, rel=0.03)
    assert sum(info["shape_chi2"][g] for g in CAL_GROUPS) < 20.0
