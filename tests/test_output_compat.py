"""The output writer builds posterior.nc with xarray only, so the installed ArviZ (0.x here,
1.x on Python >= 3.12 in CI) reads the same layout: groups, values and attributes round-trip
through ``arviz.from_netcdf`` and through xarray; summary tables and plots take what
``arviz.from_netcdf`` returns."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from conftest import toy_config, write_config
from globalfit.config import load_config
from globalfit.output import RunData, _arviz, build_inference_data, summary_table
from globalfit.plots import corner_plot, trace_plot
from globalfit.samplers import SamplerResult

az = _arviz()
GROUPS = ("posterior", "sample_stats", "log_likelihood", "log_prior")


@pytest.fixture
def posterior(tmp_path):
    return load_config(write_config(tmp_path, toy_config())).posterior


def _emcee_result(posterior, n_chain=4, n_draw=300, seed=1) -> SamplerResult:
    rng = np.random.default_rng(seed)
    samples = np.stack([rng.normal(1.0, 0.5, (n_chain, n_draw)),
                        rng.normal(-1.0, 1.0, (n_chain, n_draw))], axis=-1)
    assert posterior.names == ("x", "y") or list(posterior.names) == ["x", "y"]
    return SamplerResult(kind="emcee", samples=samples)


def _nested_result(posterior, n=400, seed=2) -> SamplerResult:
    rng = np.random.default_rng(seed)
    result = _emcee_result(posterior, 4, 50, seed)
    pts = rng.uniform(-5, 5, (n, 2))
    logl = posterior.evaluate(pts).log_post
    logw = logl - np.logaddexp.reduce(logl)
    result.nested = {"samples": pts, "log_weight": logw, "log_likelihood": logl,
                     "logz": -3.25, "logzerr": 0.125}
    return result


def _read_groups_with_xarray(path) -> dict[str, xr.Dataset]:
    return {g: xr.open_dataset(path, group=g, engine="h5netcdf").load() for g in GROUPS}


def test_round_trip_through_arviz_and_xarray(tmp_path, posterior):
    result = _emcee_result(posterior)
    data = build_inference_data(result, posterior, attrs={"run_name": "rt", "seed": 7,
                                                          "sampler": "emcee"})
    assert isinstance(data, RunData) and set(data) == set(GROUPS) | {"constant_data"}
    path = data.to_netcdf(tmp_path / "posterior.nc")

    idata = az.from_netcdf(path)
    for group in GROUPS + ("constant_data",):
        assert group in idata, group
    assert float(idata.constant_data["m_gev"]) == 0.3           # the fixed parameter, GeV
    assert idata.constant_data["m_gev"].attrs["units"] == "GeV"
    np.testing.assert_array_equal(np.asarray(idata.posterior["x"]), result.samples[:, :, 0])
    np.testing.assert_array_equal(np.asarray(idata.posterior["y"]), result.samples[:, :, 1])
    assert np.asarray(idata.posterior["x"]).shape == (4, 300)
    assert "toy_x" in idata.posterior.data_vars             # derived observables are kept
    total = (np.asarray(idata.log_likelihood["a"]) + np.asarray(idata.log_likelihood["b"])
             + np.asarray(idata.log_prior["log_prior"]))
    np.testing.assert_allclose(total, np.asarray(idata.sample_stats["lp"]), rtol=1e-12)
    assert idata.posterior.attrs["run_name"] == "rt"
    assert int(idata.posterior.attrs["seed"]) == 7

    plain = _read_groups_with_xarray(path)
    for group in GROUPS:
        for name, var in plain[group].data_vars.items():
            np.testing.assert_array_equal(var.values, np.asarray(idata[group][name]))
            assert var.dims == ("chain", "draw")


def test_nested_samples_and_evidence_round_trip(tmp_path, posterior):
    result = _nested_result(posterior)
    path = build_inference_data(result, posterior).to_netcdf(tmp_path / "posterior.nc")
    idata = az.from_netcdf(path)
    nested = idata["nested_samples"]
    np.testing.assert_array_equal(np.asarray(nested["log_weight"]),
                                  result.nested["log_weight"])
    np.testing.assert_array_equal(np.asarray(nested["x"]), result.nested["samples"][:, 0])
    assert float(nested.attrs["logz"]) == -3.25
    assert float(idata.sample_stats.attrs["logzerr"]) == 0.125
    raw = xr.open_dataset(path, group="nested_samples", engine="h5netcdf")
    assert raw.sizes["sample"] == 400


def test_summary_table_is_the_same_in_memory_and_read_back(tmp_path, posterior):
    result = _emcee_result(posterior, 4, 500)
    data = build_inference_data(result, posterior)
    names = ["x", "y", "toy_x"]
    mem = summary_table(data, names)
    back = summary_table(az.from_netcdf(data.to_netcdf(tmp_path / "p.nc")), names)
    np.testing.assert_allclose(mem.to_numpy(float), back.to_numpy(float), rtol=1e-12)
    assert list(mem.columns) == ["mean", "sd", "q5", "q50", "q95", "r_hat", "ess_bulk",
                                 "ess_tail"]
    # independent draws of N(1, 0.5): the table must describe that distribution
    x = mem.loc["x"]
    assert abs(x["mean"] - 1.0) < 5 * 0.5 / np.sqrt(2000)
    assert abs(x["sd"] - 0.5) < 0.05
    assert x["q5"] < x["q50"] < x["q95"]
    assert abs(x["r_hat"] - 1.0) < 0.01
    assert 1000 < x["ess_bulk"] < 4000
    # toy_x is the observable x itself
    np.testing.assert_allclose(mem.loc["toy_x"].to_numpy(float), x.to_numpy(float))


def test_summary_flags_chains_that_disagree(posterior):
    result = _emcee_result(posterior, 4, 300)
    result.samples[0, :, 0] += 3.0                           # one chain stuck elsewhere
    table = summary_table(build_inference_data(result, posterior), ["x", "y"])
    assert table.loc["x", "r_hat"] > 1.1 > table.loc["y", "r_hat"]


def test_plots_from_what_arviz_reads_back(tmp_path, posterior):
    data = build_inference_data(_emcee_result(posterior), posterior)
    idata = az.from_netcdf(data.to_netcdf(tmp_path / "posterior.nc"))
    for fn, name in ((corner_plot, "corner.png"), (trace_plot, "trace.png")):
        out = fn(idata, ["x", "y"], tmp_path / name, latex={"x": "x"})
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
