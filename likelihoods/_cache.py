"""On-disk cache of the expensive precomputations of the likelihoods (Borexino response
matrices, templates and fast grids; XENONnT templates and grids): one mechanism for all.

The key of an entry is a SHA-256 over everything that can change the cached arrays:

* the source code of every project module the computation imports: starting from the module
  that defines the ``build`` callable, every ``import`` statement (module level or inside a
  function) that names a module of the ``globalfit`` or ``likelihoods`` packages is followed
  transitively, together with the ``__init__`` of every package on the way (so
  ``globalfit/constants.py`` is covered, and no list of file names has to be kept here);
* every data file under ``globalfit.paths.data_dir()``;
* the options of the entry and the installed version of ``globalfit-dtmm``.

Entries are ``<experiment>-<kind>-<key>.npz`` files (``experiment`` the ``prefix`` argument) in ``globalfit.paths.cache_dir()`` (the user's
cache directory or ``GLOBALFIT_CACHE_DIR``). They are written to a temporary file that is
renamed into place (``os.replace``), so an entry is either complete or absent; the temporary
file is removed on any exception, KeyboardInterrupt and SystemExit included. An empty or
corrupt entry is reported in one warning line naming the file and rebuilt.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

import globalfit
from globalfit.paths import cache_dir, data_dir

log = logging.getLogger("globalfit.cache")

_PACKAGE_DIR = Path(__file__).resolve().parent
#: top-level project packages whose modules are part of a fingerprint -> their folders
PROJECT_PACKAGES: dict[str, Path] = {
    "globalfit": Path(globalfit.__file__).resolve().parent,
    "likelihoods": _PACKAGE_DIR,
}
DIST_NAME = "globalfit-dtmm"
#: names of the files the project's caches write (``<experiment>-<kind>-<key>.npz``) and of
#: their temporary files; ``globalfit cache clear`` deletes these and nothing else
ENTRY_RE = re.compile(r"^[a-z0-9]+-[A-Za-z0-9_]+-[0-9a-f]{20}\.npz$")
TEMP_RE = re.compile(r"^\.[a-z0-9]+-[A-Za-z0-9_]+-[0-9a-f]{20}\.npz\..+\.tmp$")


# --- fingerprint ---------------------------------------------------------------------------
def module_file(name: str) -> Path | None:
    """Source file of the project module ``name`` (``a.b`` -> ``a/b.py`` or
    ``a/b/__init__.py``), found on disk without importing it; None if it is not one."""
    top, _, rest = name.partition(".")
    root = PROJECT_PACKAGES.get(top)
    if root is None:
        return None
    base = root.joinpath(*rest.split(".")) if rest else root
    if rest and base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    init = base / "__init__.py"
    return init if init.is_file() else None


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imported_names(name: str, path: Path) -> set[str]:
    """Every module name an ``import`` in ``path`` may refer to (absolute, resolved)."""
    st = path.stat()
    return set(_parse_imports(name, path, st.st_mtime_ns, st.st_size))


#: an import statement at the start of a line or after ``:`` / ``;``: ``import a.b [as c], d`` or
#: ``from [.]*a.b import x [as y], z`` (names in parentheses over several lines, or continued
#: with backslashes)
_IMPORT_RE = re.compile(
    r"(?:^|[:;])[ \t]*(?:from[ \t]+(?P<dots>\.*)[ \t]*(?P<module>[\w.]*)[ \t]+import[ \t]*"
    r"(?P<names>\([^)]*\)|(?:[^\n\\]|\\\n)*)"
    r"|import[ \t]+(?P<plain>(?:[^\n\\]|\\\n)*))", re.MULTILINE)


def _names(text: str) -> list[str]:
    """``a as b, c.d`` (comments, parentheses, continuations allowed) -> ['a', 'c.d']."""
    text = re.sub(r"#[^\n]*", "", text).replace("\\\n", " ").strip("() \t\n")
    return [part.split()[0] for part in text.split(",") if part.split()]


@functools.lru_cache(maxsize=512)
def _parse_imports(name: str, path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    """Imports of ``path`` (memoised on its modification time and size).

    A text scan (a tenth of the time of ``ast.parse`` at start-up): it may also pick up
    import-like lines inside strings, which only widens the fingerprint; that it finds every
    import the syntax tree has is checked for every project module in tests/test_cache.py."""
    source = path.read_text(encoding="utf-8")
    package = _package_of(name, path)
    found: set[str] = set()
    for mt in _IMPORT_RE.finditer(source):
        if mt["plain"] is not None:
            found.update(_names(mt["plain"]))
            continue
        level, module = len(mt["dots"]), mt["module"]
        if level:
            parts = package.split(".")
            parts = parts[:len(parts) - level + 1]
            base = ".".join(parts + ([module] if module else []))
        else:
            base = module
        found.add(base)
        found.update(f"{base}.{alias}" for alias in _names(mt["names"]))
    return frozenset(found)


def module_closure(roots: Iterable[str]) -> dict[str, Path]:
    """Project modules imported, directly or transitively, by the modules ``roots``, with
    the ``__init__`` of every enclosing package: ``{module name: source file}``."""
    todo = list(roots)
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            continue
        seen[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(_imported_names(name, path) - seen.keys())
    return dict(sorted(seen.items()))


def data_files() -> list[Path]:
    """Every data file the cached computations may read (all files under the data folder)."""
    root = data_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and not p.name.startswith("."))


def package_version() -> str:
    """Installed version of the distribution (``"unknown"`` when run from a bare tree)."""
    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def builder_module(build: Callable[..., object]) -> str:
    """The module that defines ``build`` (through ``functools.partial``); this package when
    that module is not a project module (then its whole import closure is covered)."""
    fn = build
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__module__", None) or ""
    return name if module_file(name) is not None else __package__


def source_fingerprint(roots: Iterable[str] = (__package__,)) -> str:
    """SHA-256 of the code imported by ``roots``, the data files and the package version."""
    h = hashlib.sha256(package_version().encode())
    for name, path in module_closure(roots).items():
        h.update(f"\0module {name}\0".encode())
        h.update(path.read_bytes())
    root = data_dir()
    for path in data_files():
        h.update(f"\0data {path.relative_to(root).as_posix()}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(kind: str, options: Mapping[str, object],
              roots: Iterable[str] = (__package__,), prefix: str = "borexino") -> str:
    """Name of a cache entry: kind + hash of (code imported by ``roots``, data, version,
    options)."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", kind) or not re.fullmatch(r"[a-z0-9]+", prefix):
        raise ValueError(f"cache entry {prefix!r}/{kind!r}: letters, digits and '_' only")
    h = hashlib.sha256(source_fingerprint(roots).encode())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return f"{prefix}-{kind}-{h.hexdigest()[:20]}"


# --- storage -------------------------------------------------------------------------------
def _load(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of entry ``path``; None (and one warning line) when it is empty/corrupt."""
    try:
        if path.stat().st_size == 0:
            raise ValueError("empty file")
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: np.array(f[k]) for k in f.files}
        if not arrays:
            raise ValueError("no arrays")
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("%s: corrupt or empty cache entry (%s); rebuilding it", path,
                    str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__)
        return None
    return arrays


def _store(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically; the temporary file never outlives a failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cached_arrays(kind: str, options: Mapping[str, object],
                  build: Callable[[], dict[str, np.ndarray]],
                  use_cache: bool = True, prefix: str = "borexino") -> dict[str, np.ndarray]:
    """Load the arrays for (kind, options) of experiment ``prefix`` from the cache or build
    and store them.

    ``build`` is called at most once; when the cache folder cannot be written the arrays are
    returned anyway (one warning line)."""
    if not use_cache:
        return build()
    folder = cache_dir()
    path = folder / (cache_key(kind, options, (builder_module(build),), prefix) + ".npz")
    if path.is_file():
        arrays = _load(path)
        if arrays is not None:
            return arrays
    arrays = build()
    try:
        _store(path, arrays)
    except OSError as exc:
        log.warning("%s: cannot write cache entry (%s); continuing without it", path,
                    exc.strerror or type(exc).__name__)
    return arrays


def entries(folder: Path | None = None) -> list[Path]:
    """Files of ``folder`` (default: the cache folder) written by this module: complete
    entries and left-over temporary files of interrupted writes. Nothing else is listed."""
    folder = cache_dir() if folder is None else folder
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file()
                  and (ENTRY_RE.match(p.name) or TEMP_RE.match(p.name)))
