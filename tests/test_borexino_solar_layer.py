"""The shared solar-recoil layer (likelihoods.solar): recoil grid, propagator fold, targets,
and Borexino's published numbers read from data/borexino/measurements.yaml."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from globalfit import constants
from globalfit.errors import DataFileError, ParameterError
from likelihoods.borexino import recoil
from likelihoods.solar import fold, spectra
from likelihoods.solar.grid import RecoilGrid, trapezoid_weights
from likelihoods.solar.target import AtomicTarget, FreeElectrons

T = np.array([0.0005, 0.002, 0.008, 0.03, 0.1, 0.3, 0.7, 1.2])


def test_recoil_grid_integrates_known_functions():
    grid = RecoilGrid.trapezoid(np.sort(np.random.default_rng(0).uniform(0.1, 2.0, 400)))
    a, b = grid.nodes[0], grid.nodes[-1]
    # exact for a linear function on any grid
    assert grid.integrate(3.0 * grid.nodes - 1.0) == pytest.approx(1.5 * (b**2 - a**2) - (b - a),
                                                                   rel=1e-13)
    # the Borexino recoil grid: int exp(-T) within the trapezoid error bound h^2/12 int f''
    t, w = recoil.t_grid()
    exact = math.exp(-t[0]) - math.exp(-t[-1])
    h = np.max(np.diff(t))
    assert abs(np.sum(w * np.exp(-t)) - exact) <= h**2 / 12 * exact
    assert np.allclose(grid.weighted(np.ones(grid.size)), grid.weights)
    with pytest.raises(ParameterError, match="grid"):
        trapezoid_weights([0.0, 1.0, 1.0])


def _p2_scalar(t_mev: float, m_gev: float) -> float:
    q2 = 2.0 * constants.M_E_GEV * 1e3 * t_mev
    m2 = (m_gev * 1e3) ** 2
    return 1.0 if m2 == 0.0 else (q2 / (q2 + m2)) ** 2


def test_fold_equals_an_independent_per_t_computation():
    rng = np.random.default_rng(1)
    t = np.linspace(0.05, 2.0, 37)
    basis = rng.uniform(0.0, 1.0, (6, t.size))
    m = np.array([0.0, 1e-4, 7e-4, 2e-3, 0.05])
    coef = rng.uniform(0.0, 2.0, (6, m.size))
    got = fold.propagated_sum(basis, coef, t, m)
    every = fold.propagated(basis, t, m)
    for j, mj in enumerate(m):
        for i, ti in enumerate(t):
            p2 = _p2_scalar(ti, mj)
            ref = sum(coef[k, j] * basis[k, i] * p2 for k in range(6))
            assert got[i, j] == pytest.approx(ref, rel=1e-12)
            assert every[:, i, j] == pytest.approx(basis[:, i] * p2, rel=1e-12)


def test_free_electrons_equal_an_atomic_target_without_binding():
    free = FreeElectrons(3.0e31)
    atom = AtomicTarget((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), atoms=0.5e31)
    assert atom.electrons == pytest.approx(free.electrons, rel=1e-15)
    for group in ("pp", "be7", "b8"):
        assert np.allclose(spectra.sm_rate_density(group, T, atom),
                           spectra.sm_rate_density(group, T, free), rtol=1e-14, atol=0)
        for k in ("universal", 1, 3):
            assert np.allclose(spectra.mm_rate_density(group, T, atom, k),
                               spectra.mm_rate_density(group, T, free, k), rtol=1e-14, atol=0)


def test_atomic_target_suppresses_recoils_below_the_binding_energies():
    shells_kev, occupation = (30.0, 5.0, 1.0, 0.0), (2.0, 8.0, 18.0, 26.0)
    atom = AtomicTarget(shells_kev, occupation, atoms=1e28)
    free = FreeElectrons(atom.electrons)
    t = T[T < 0.2]                                # below the pp end point (T_max 0.26 MeV)
    ratio = spectra.mm_rate_density("pp", t, atom) / spectra.mm_rate_density("pp", t, free)
    active = np.array([sum(n for b, n in zip(shells_kev, occupation) if b <= 1e3 * x)
                       for x in t]) / sum(occupation)
    assert np.allclose(ratio, active, rtol=1e-12)
    assert ratio[0] == pytest.approx(26 / 54) and ratio[-1] == pytest.approx(1.0)
    assert np.all(np.diff(ratio) >= 0)
    deep = AtomicTarget((5.0,), (1.0,), atoms=1.0)
    assert np.all(spectra.sm_rate_density("be7", T[:2], deep) == 0.0)
    with pytest.raises(ParameterError):
        AtomicTarget((1.0, np.nan), (1.0, 1.0))


def test_borexino_is_the_free_electron_target_of_its_data_file():
    from likelihoods.borexino import measurements
    n_e = measurements.value("electrons_per_100t", "electrons / 100 t")
    assert recoil.target() == FreeElectrons(n_e)
    per_s = spectra.ssm_total_rate("pp", FreeElectrons(n_e))
    assert recoil.ssm_total_rate_cpd100t("pp") == pytest.approx(86400.0 * per_s, rel=1e-14)


@pytest.fixture()
def data_copy(tmp_path, monkeypatch):
    from globalfit.paths import data_dir
    shutil.copytree(data_dir() / "borexino", tmp_path / "borexino")
    monkeypatch.setenv("GLOBALFIT_DATA_DIR", str(tmp_path))
    return tmp_path / "borexino" / "measurements.yaml"


def test_published_numbers_come_from_the_data_file(data_copy):
    from likelihoods.borexino import measurements
    lim = measurements.measurement("published_limits.mu_eff_90_mub", "mu_B")
    assert lim.value == 2.8e-11 and "091103" in lim.citation
    ga = measurements.measurement("constraints.gallium_rate", "SNU", constraint=True)
    assert (ga.value, ga.uncertainty) == (66.1, 3.1)


@pytest.mark.parametrize("old, new, key", [
    ("  gallium_rate:", "  gallium_rat:", "constraints.gallium_rate"),
    ("    value: 4.92", "    value: .nan", "constraints.cno_rate.value"),
    ("    uncertainty: 0.55", "    uncertainty: .inf", "constraints.cno_rate.uncertainty"),
    ("    unit: SNU", "    unit: cpd", "constraints.gallium_rate.unit"),
])
def test_a_damaged_measurements_file_names_the_file_and_key(data_copy, old, new, key):
    from likelihoods.borexino import measurements
    text = data_copy.read_text()
    assert old in text
    data_copy.write_text(text.replace(old, new, 1))
    with pytest.raises(DataFileError, match=rf"measurements\.yaml: {key}") as err:
        measurements.measurement(".".join(key.split(".")[:2]),
                                 "SNU" if "gallium" in key else "cpd/100 t", constraint=True)
    assert "\n" not in str(err.value)


def test_the_solar_layer_imports_no_detector_and_the_fast_grid_no_borexino_module():
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "likelihoods"
    files = list((root / "solar").glob("*.py")) + [root / "borexino" / "fast.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            level = getattr(node, "level", 0)
            for name in names:
                assert "borexino" not in name, (path.name, name)
                if path.parent.name == "borexino":
                    assert not level, (path.name, name)     # no relative Borexino import
