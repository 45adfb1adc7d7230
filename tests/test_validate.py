"""globalfit validate: published accelerator and flavour limits reproduced, JSON schema, exit
codes (the Borexino check needs the cached spectral grid and is left to the full command)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from globalfit import validate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "accelerator"


def test_fast_subset_passes_and_json_schema(capsys) -> None:
    assert validate.main(["--json", "--only", "na64,babar,meg"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 22
    for r in records:
        assert set(r) == {"name", "ours", "published", "ratio", "ok"}
        assert r["ok"] is True
        assert r["ratio"] == pytest.approx(r["ours"] / r["published"], rel=1e-12)
    meg = {r["name"]: r for r in records if r["name"].startswith("meg")}
    assert meg["meg2_2025_br90"]["ours"] == pytest.approx(1.5e-13, rel=1e-6)
    assert meg["meg2_2023_br90"]["ours"] == pytest.approx(3.1e-13, rel=1e-6)
    babar = [r["ratio"] for r in records if r["name"].startswith("babar")]
    assert len(babar) == 10 and max(abs(np.array(babar) - 1)) < 0.02


def test_forced_failure_exits_nonzero(monkeypatch, capsys) -> None:
    """Doubling one published number must fail the check and the command."""
    bad = tuple(dataclasses.replace(t, published=2 * t.published)
                if t.name == "meg2_2025_br90" else t for t in validate.PUBLISHED)
    monkeypatch.setattr(validate, "published_targets", lambda: bad)
    assert validate.main(["--only", "meg"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1/2 passed" in out


def test_unknown_group_is_bad_input(capsys) -> None:
    assert validate.main(["--only", "meg,xenon"]) == 2
    assert "xenon" in capsys.readouterr().err


def test_targets_cover_requested_ranges() -> None:
    t = validate.PUBLISHED
    na64 = [x.m_aprime_gev for x in t if x.group == "na64"]
    babar = [x.m_aprime_gev for x in t if x.group == "babar"]
    assert len(na64) == 10 and 1e-3 <= min(na64) and max(na64) <= 1.01
    assert len(babar) == 10 and 1e-2 <= min(babar) and max(babar) <= 8.0
    bx = [x for x in t if x.group == "borexino"][0]
    assert (bx.published, bx.low, bx.high) == (2.8e-11, 0.7, 1.4)


def test_published_targets_match_reference_curves() -> None:
    """The published numbers validate.py reads from data/ equal the reference digitisations."""
    na64_file = SHARED / "na64_2023_eps90_gambit.txt"
    babar_file = SHARED / "babar_2017_eps90_darkcast.lmt"
    if not (na64_file.is_file() and babar_file.is_file()):
        pytest.skip("shared reference data absent")
    na64 = np.loadtxt(na64_file)
    babar = np.loadtxt(babar_file, comments="#")
    for x in validate.PUBLISHED:
        if x.group == "na64":
            i = np.argmin(abs(na64[:, 0] - x.m_aprime_gev))
            assert na64[i, 0] == pytest.approx(x.m_aprime_gev, rel=1e-6)
            assert na64[i, 1] == pytest.approx(x.published, rel=1e-6)
        elif x.group == "babar":
            i = np.argmin(abs(babar[:, 0] - x.m_aprime_gev))
            assert babar[i, 0] == pytest.approx(x.m_aprime_gev, rel=1e-3)
            assert babar[i, 1] == pytest.approx(x.published, rel=1e-6)


def test_reference_numbers_come_from_the_data_files(tmp_path: Path, monkeypatch) -> None:
    """Changing a data file changes the reference: the numbers are read, not written in code."""
    import shutil
    data = tmp_path / "data"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data", data)
    bx = data / "borexino" / "measurements.yaml"
    bx.write_text(bx.read_text().replace("value: 2.8e-11", "value: 3.1e-11"))
    points = data / "accelerator" / "babar_2017_validation_points.csv"
    points.write_text(points.read_text().replace("0.26,9.4713e-04", "0.26,1.9e-03"))
    monkeypatch.setenv("GLOBALFIT_DATA_DIR", str(data))
    t = {x.name: x for x in validate.published_targets()}
    assert t["borexino_mu_eff_90_mub"].published == 3.1e-11
    assert "PRD 96 (2017) 091103" in t["borexino_mu_eff_90_mub"].source
    assert t["babar_eps90_m260MeV"].published == 1.9e-03
    assert t["meg2_2025_br90"].published == 1.5e-13
    points.write_text(points.read_text().replace("0.26,1.9e-03", "0.26,nan"))
    from globalfit.errors import DataFileError
    with pytest.raises(DataFileError, match="babar_2017_validation_points.csv"):
        validate.published_targets()


def test_xenonnt_check_in_the_table(capsys) -> None:
    """The XENONnT massless limit is one of validate's checks, with its 0.7-1.4 band."""
    assert validate.main(["--json", "--only", "xenonnt"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["name"] == "xenonnt_mu_eff_90_mub" and record["published"] == 6.3e-12
    assert 0.7 <= record["ratio"] <= 1.4
