"""The shipped Borexino data: the Phase-II spectrum and the Phase-III Monte-Carlo PDFs.

* ``load_phase2()``: the TFC-subtracted Phase-II spectrum in N_h (Nature 562 (2018) 505, Fig. 2a
  open data; Phys. Rev. D 100 (2019) 082004), exposure 582.326 day x 100 t.
* ``load_mc_pdfs()``: Borexino's Monte-Carlo spectral shapes in keV (Phase III open data of
  arXiv:2005.12829), used to calibrate the response and as background shapes.

Both files live in ``data/borexino/`` with a '#' header citing their source.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from globalfit.errors import DataFileError
from globalfit.paths import data_file

from . import measurements

EXPOSURE_DAY_100T: float = measurements.value("exposure", "day x 100 t")
"""Phase-II exposure of the published spectrum, day x 100 t (``measurements.yaml``)."""

SPECTRUM_FILE = "phase2_spectrum.csv"
MC_PDF_FILE = "mc_pdfs_phase3.csv"
COMPONENT_COLUMNS = ("c14", "pileup", "po210", "kr85", "bi210", "c11", "ext", "solar")


def _read_csv(name: str) -> tuple[list[str], np.ndarray]:
    path = data_file("borexino", name)
    with open(path) as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith("#")]
    header = lines[0].strip().split(",")
    try:
        values = np.array([[float(x) for x in ln.split(",")] for ln in lines[1:]])
    except ValueError as exc:
        raise DataFileError(f"{path}: non-numeric entry ({exc})") from None
    if values.ndim != 2 or values.shape[1] != len(header):
        raise DataFileError(f"{path}: expected {len(header)} columns in every row")
    return header, values


@dataclass(frozen=True)
class Phase2Spectrum:
    """Phase-II spectrum; arrays have shape (858,) (one per N_h bin 93..950).

    ``rate`` and ``error`` in counts/(day 100 t bin); ``counts`` = rate x exposure (integers);
    ``energy_kev`` Borexino's electron-equivalent energy of each bin; ``edges_kev`` (859,) the keV
    bin edges (mid-points between neighbouring bins, end bins mirrored); ``components`` the
    traced best-fit curves of Fig. 6a of arXiv:1707.09279 (plots and cross-checks only).
    """
    n_h: np.ndarray
    energy_kev: np.ndarray
    edges_kev: np.ndarray
    rate: np.ndarray
    error: np.ndarray
    counts: np.ndarray
    counts_raw: np.ndarray
    total_fit: np.ndarray
    components: dict
    exposure: float = EXPOSURE_DAY_100T


@cache
def load_phase2() -> Phase2Spectrum:
    """Read ``data/borexino/phase2_spectrum.csv`` (cached)."""
    header, v = _read_csv(SPECTRUM_FILE)
    col = {name: v[:, i] for i, name in enumerate(header)}
    e = col["energy_kev"]
    if np.any(np.diff(col["n_h"]) != 1) or np.any(np.diff(e) <= 0):
        raise DataFileError(f"{SPECTRUM_FILE}: n_h must be consecutive and energy_kev increasing")
    mid = 0.5 * (e[1:] + e[:-1])
    edges = np.concatenate([[e[0] - (mid[0] - e[0])], mid, [e[-1] + (e[-1] - mid[-1])]])
    raw = col["rate"] * EXPOSURE_DAY_100T
    return Phase2Spectrum(
        n_h=col["n_h"].astype(int), energy_kev=e, edges_kev=edges, rate=col["rate"],
        error=col["error"], counts=np.round(raw), counts_raw=raw, total_fit=col["total"],
        components={k: col[k] for k in COMPONENT_COLUMNS})


@dataclass(frozen=True)
class MCPdfs:
    """Phase-III MC PDFs: ``edges_kev`` (186,), ``shapes`` name -> (185,) normalised to sum 1."""
    edges_kev: np.ndarray
    shapes: dict

    @property
    def centers_kev(self) -> np.ndarray:
        return 0.5 * (self.edges_kev[1:] + self.edges_kev[:-1])


@cache
def load_mc_pdfs() -> MCPdfs:
    """Read ``data/borexino/mc_pdfs_phase3.csv`` (cached); per-bin contents (density x bin
    width) normalised to unit sum."""
    header, v = _read_csv(MC_PDF_FILE)
    lo, hi = v[:, 0], v[:, 1]
    if not np.allclose(lo[1:], hi[:-1]):
        raise DataFileError(f"{MC_PDF_FILE}: bins must be contiguous")
    width = hi - lo
    shapes = {}
    for i, name in enumerate(header[2:], start=2):
        content = v[:, i] * width   # the files tabulate a density per keV (see the data header)
        shapes[name] = content / content.sum()
    return MCPdfs(edges_kev=np.concatenate([lo, hi[-1:]]), shapes=shapes)
