"""On-disk cache of the expensive Borexino precomputations (response matrices, templates, grids).

The key is a SHA-256 over the bytes of every shipped data file the likelihood reads
(``data/borexino/*``, ``data/solar/*``), the source code of every module of this package that
computes cached arrays (all but ``_NOT_COMPUTING``), and the options, so the cache invalidates itself when data, code or options change. Entries are
``.npz`` files in ``globalfit.paths.cache_dir()``; a corrupt entry is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from globalfit.paths import cache_dir, data_dir

_PACKAGE_DIR = Path(__file__).resolve().parent
_NOT_COMPUTING = ("__init__.py", "report.py", "calibrate.py")
"""Modules that produce no cached array (the calibration they write is a hashed data file)."""


def source_fingerprint() -> str:
    """SHA-256 of the borexino data files and the package's source code."""
    h = hashlib.sha256()
    files = sorted(p for p in _PACKAGE_DIR.glob("*.py") if p.name not in _NOT_COMPUTING)
    for sub in ("borexino", "solar"):
        folder = data_dir() / sub
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(kind: str, options: Mapping[str, object]) -> str:
    """Key of a cache entry: kind + hash of (data, code, options)."""
    h = hashlib.sha256(source_fingerprint().encode())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return f"borexino-{kind}-{h.hexdigest()[:20]}"


def cached_arrays(kind: str, options: Mapping[str, object],
                  build: Callable[[], dict[str, np.ndarray]],
                  use_cache: bool = True) -> dict[str, np.ndarray]:
    """Load the arrays for (kind, options) from the cache or build and store them."""
    if not use_cache:
        return build()
    path = cache_dir() / (cache_key(kind, options) + ".npz")
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError):
            pass
    arrays = build()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays
