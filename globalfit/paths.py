"""Where the shipped data and the on-disk cache live (a leaf module).

``data/`` sits at the top of the project checkout (install with ``pip install -e .``);
``GLOBALFIT_DATA_DIR`` overrides it. Cached precomputations (Borexino templates, response
matrices) go to ``GLOBALFIT_CACHE_DIR`` or ``<checkout>/.cache``.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import DataFileError

PROJECT_ROOT: Path = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The folder of shipped data files."""
    return Path(os.environ.get("GLOBALFIT_DATA_DIR", PROJECT_ROOT / "data"))


def data_file(*parts: str) -> Path:
    """Path of a shipped data file; DataFileError naming it if it does not exist."""
    path = data_dir().joinpath(*parts)
    if not path.is_file():
        raise DataFileError(f"{path}: data file not found (set GLOBALFIT_DATA_DIR or reinstall)")
    return path


def cache_dir() -> Path:
    """The folder for cached precomputations (created on demand)."""
    path = Path(os.environ.get("GLOBALFIT_CACHE_DIR", PROJECT_ROOT / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path
