"""Where the shipped data and the on-disk cache live (a leaf module).

Data: ``GLOBALFIT_DATA_DIR`` if set; else ``data/`` of the project checkout this code runs
from (a source tree or an editable install); else the copy shipped inside the wheel as the
package ``globalfit_data`` (``data/`` mapped as package data, found with
``importlib.resources``).

Cache: ``GLOBALFIT_CACHE_DIR`` if set, else the user's cache directory
(``platformdirs.user_cache_dir("globalfit-dtmm")``, e.g. ``~/.cache/globalfit-dtmm`` on Linux).
"""
from __future__ import annotations

import os
from importlib import resources, util
from pathlib import Path

from .errors import DataFileError

PROJECT_ROOT: Path = Path(__file__).resolve().parents[1]
DATA_PACKAGE = "globalfit_data"
APP_NAME = "globalfit-dtmm"


def _checkout_data() -> Path | None:
    """``data/`` next to the package when this code runs from a project checkout."""
    folder = PROJECT_ROOT / "data"
    if folder.is_dir() and (PROJECT_ROOT / "pyproject.toml").is_file():
        return folder
    return None


def _packaged_data() -> Path | None:
    """The folder of the installed ``globalfit_data`` package, None if it is not installed.

    A wheel installs it beside ``globalfit`` (that folder is taken first); otherwise it is
    looked up with importlib (``importlib.resources``, or the search locations of its spec:
    the package has no ``__init__``, so with several portions on ``sys.path``, e.g. an
    editable install of another copy, ``resources.files`` can refuse the namespace)."""
    beside = PROJECT_ROOT / DATA_PACKAGE
    if beside.is_dir():
        return beside
    try:
        root = resources.files(DATA_PACKAGE)
        candidates = [root, *getattr(root, "_paths", ())]
    except (ImportError, OSError):      # not installed, or a namespace with a non-folder entry
        try:
            spec = util.find_spec(DATA_PACKAGE)
        except (ImportError, ValueError):
            return None
        candidates = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for candidate in candidates:
        if isinstance(candidate, Path) and candidate.is_dir():
            return candidate
    return None


def data_dir() -> Path:
    """The folder of shipped data files."""
    env = os.environ.get("GLOBALFIT_DATA_DIR")
    if env:
        return Path(env)
    folder = _checkout_data() or _packaged_data()
    if folder is None:
        raise DataFileError(f"{PROJECT_ROOT / 'data'}: data folder not found and package "
                            f"{DATA_PACKAGE!r} not installed (set GLOBALFIT_DATA_DIR or "
                            "reinstall)")
    return folder


def data_file(*parts: str) -> Path:
    """Path of a shipped data file; DataFileError naming it if it does not exist."""
    path = data_dir().joinpath(*parts)
    if not path.is_file():
        raise DataFileError(f"{path}: data file not found (set GLOBALFIT_DATA_DIR or reinstall)")
    return path


def cache_root() -> Path:
    """The cache folder (not created): ``GLOBALFIT_CACHE_DIR`` or the user cache directory."""
    env = os.environ.get("GLOBALFIT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """The folder for cached precomputations (created on demand)."""
    path = cache_root()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"{path}: cannot create the cache folder ({exc.strerror}); "
                            "set GLOBALFIT_CACHE_DIR to a writable folder") from None
    return path
