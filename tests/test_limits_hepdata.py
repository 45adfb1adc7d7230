"""``format: hepdata``: the HEPData submission of every limit curve and 2-D contour, checked
against the HEPData schema (hepdata_validator) and read back against the CSV files."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from globalfit.limits import BorexinoRateTerm, from_mapping, main, run_limits
from globalfit.limits.hepdata import ARCHIVE, written_files

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("hepdata_lib")


def config(limits: dict) -> dict:
    raw = yaml.safe_load((ROOT / "configs" / "limits.yaml").read_text())
    raw["limits"] = {"m_aprime": {"low": "1 MeV", "high": "1 GeV", "n_points": 4},
                     "g_d": [0.3], "eps": {"low": 1e-8, "high": 1e-2, "n_points": 201},
                     "pool": {"kind": "serial"}, "format": "hepdata",
                     "plane": {"m_aprime": {"n_points": 21}, "eps": {"n_points": 21},
                               "mu": {"n_points": 37}, "g_d": 0.3}, **limits}
    return raw


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.reader(line for line in fh if not line.startswith("#")))


def values(var: dict) -> list[float]:
    return [float(v["value"]) for v in var["values"]]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    cfg = from_mapping(config({"methods": ["profile", "bayes"]}),
                       ROOT / "configs" / "limits.yaml")[1]
    out = tmp_path_factory.mktemp("hep") / "run"
    run_limits(cfg, out, borexino=BorexinoRateTerm())
    return out


def test_submission_passes_the_hepdata_schema(export: Path) -> None:
    validator = pytest.importorskip("hepdata_validator.full_submission_validator")
    v = validator.FullSubmissionValidator()
    ok = v.validate(directory=str(export / "hepdata"))
    messages = {k: [m.message for m in ms] for k, ms in v.get_messages().items()}
    assert ok, messages
    assert (export / ARCHIVE).stat().st_size > 0


def test_curve_tables_read_back_as_the_csv(export: Path) -> None:
    """Every curve CSV has a table whose numbers are the CSV's exactly, with units, the
    C.L. and the citations of its inputs as qualifiers."""
    hep = export / "hepdata"
    docs = list(yaml.safe_load_all((hep / "submission.yaml").read_text()))
    files = {d["data_file"]: d for d in docs if d and "data_file" in d}
    curves = sorted(p for p in export.glob("*.csv")
                    if p.name.startswith(("borexino_", "indirect_gd", "combined_gd")))
    assert len(curves) == 6
    for path in curves:
        key = path.stem.replace("_gd", " gd=").replace("_", " ")
        name = f"limit_{key.replace(' ', '_')}.yaml"
        assert name in files, (name, sorted(files))
        table = yaml.safe_load((hep / name).read_text())
        rows = read_csv(path)[1:]
        (x,), (y,) = table["independent_variables"], table["dependent_variables"]
        assert x["header"] == {"name": "$m_{A'}$", "units": "GeV"}
        assert y["header"]["units"] == "mu_B"
        assert values(x) == [float(r[0]) for r in rows]
        assert values(y) == [float(r[1]) for r in rows]
        quals = {q["name"]: q["value"] for q in y["qualifiers"]}
        assert quals["CL"] == "90%"
        if path.name.startswith("combined"):
            for exp in ("NA64", "BaBar", "MEG II", "Borexino"):
                assert exp in quals["Inputs"], (exp, quals["Inputs"])
            assert quals["g_D"] == 0.3 and quals["M_S"] == "300"


def test_contour_tables_read_back_as_the_csv(export: Path) -> None:
    """Each contour segment of plane_<p>_contours.csv is one table, numbers exact."""
    hep = export / "hepdata"
    for plane, unit in (("m_eps", ""), ("m_mu", "mu_B")):
        rows = read_csv(export / f"plane_{plane}_contours.csv")[1:]
        segs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for curve, seg, m, x in rows:
            segs.setdefault((curve, int(seg)), []).append((float(m), float(x)))
        assert segs
        for (curve, seg), points in segs.items():
            table = yaml.safe_load((hep / f"contour_{plane}_{curve}_{seg + 1}.yaml").read_text())
            (x,), (y,) = table["independent_variables"], table["dependent_variables"]
            assert values(x) == [p[0] for p in points]
            assert values(y) == [p[1] for p in points]
            assert y["header"].get("units", "") == unit
            quals = {q["name"]: q["value"] for q in y["qualifiers"]}
            assert quals["CL"] == "90%" and quals["Delta chi^2"].startswith("2.7055")


def test_force_replaces_only_the_exported_files(export: Path, tmp_path: Path) -> None:
    """A second export removes the first one's tables (listed in its submission.yaml) and
    nothing else; the command line's --format writes the same files."""
    raw = config({"methods": ["profile"], "direct": "published_rate", "format": "csv"})
    path = tmp_path / "l.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "o"
    assert main(["--config", str(path), "--out", str(out), "--format", "hepdata",
                 "--quiet"]) == 0
    first = {p.name for p in written_files(out / "hepdata")}
    assert "limit_combined_gd=0.3_profile.yaml" in first and "submission.yaml" in first
    raw["limits"]["g_d"] = [0.5]
    path.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(path), "--out", str(out), "--force", "--quiet"]) == 0
    assert not (out / "hepdata").exists() and not (out / ARCHIVE).exists()   # format: csv
    assert main(["--config", str(path), "--out", str(out), "--force", "--quiet",
                 "--format", "hepdata"]) == 0
    names = {p.name for p in (out / "hepdata").iterdir()}
    assert "limit_combined_gd=0.5_profile.yaml" in names
    assert "limit_combined_gd=0.3_profile.yaml" not in names
    assert "submission.yaml" in names and (out / ARCHIVE).is_file()
