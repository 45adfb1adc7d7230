"""On-disk cache of the XENONnT templates and fast grid (``.npz`` in ``globalfit.paths.cache_dir()``).

The key is a SHA-256 over the bytes of every data file the likelihood reads (``data/xenonnt/*``,
``data/solar/*``), the source of this package's computing modules, the shared solar layer's
source fingerprint, and the options: any change of data, code or options gives a new entry.
A corrupt or unreadable entry is rebuilt; entries are written atomically (temporary file +
rename) and nothing but the tool's own entries is ever replaced.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from globalfit.paths import cache_dir, data_dir

from .. import solar

_PACKAGE_DIR = Path(__file__).resolve().parent
_NOT_COMPUTING = ("__init__.py", "report.py")


def fingerprint() -> str:
    """SHA-256 of the data files, this package's computing modules and the solar layer."""
    h = hashlib.sha256(solar.source_fingerprint().encode())
    files = sorted(p for p in _PACKAGE_DIR.glob("*.py") if p.name not in _NOT_COMPUTING)
    for sub in ("xenonnt", "solar"):
        folder = data_dir() / sub
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cached_arrays(kind: str, options: Mapping[str, object],
                  build: Callable[[], dict[str, np.ndarray]],
                  use_cache: bool = True) -> dict[str, np.ndarray]:
    """Arrays for (kind, options): loaded from the cache or built and stored."""
    if not use_cache:
        return build()
    h = hashlib.sha256(fingerprint().encode())
    h.update(json.dumps(dict(options), sort_keys=True, default=str).encode())
    path = cache_dir() / f"xenonnt-{kind}-{h.hexdigest()[:20]}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            pass
    arrays = build()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="xenonnt-", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return arrays
