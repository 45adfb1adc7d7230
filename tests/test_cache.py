"""The on-disk cache (likelihoods._cache, globalfit cache info|clear): the key follows
every input of a cached computation (the code it imports, constants included, the data, the
options, the version); empty or corrupt entries are rebuilt; interrupted builds and writes
leave no file; ``clear`` removes only what the cache wrote."""
from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from globalfit import paths
from globalfit.cli import main
from likelihoods import _cache as cache

FAST = "likelihoods.borexino.fast"


@pytest.fixture
def package_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the globalfit and likelihoods packages that the fingerprint reads."""
    root = tmp_path / "src"
    for name, folder in cache.PROJECT_PACKAGES.items():
        shutil.copytree(folder, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setitem(cache.PROJECT_PACKAGES, name, root / name)
    return root


@pytest.fixture
def cache_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GLOBALFIT_CACHE_DIR", str(folder))
    return folder


def test_closure_follows_imports_into_constants_and_lazy_imports():
    closure = cache.module_closure([FAST])
    # imported by the templates/recoil/xsec chain, not by fast.py itself
    assert "globalfit.constants" in closure
    # reached only through the lazy import in likelihoods/borexino/__init__.py
    assert "likelihoods.borexino.likelihood" in closure
    assert all(path.is_file() for path in closure.values())
    # third-party modules and modules the computation never imports are not part of it
    assert not any(n.startswith(("numpy", "scipy")) for n in closure)
    assert "globalfit.cli" not in closure and "likelihoods.na64" not in closure



def _ast_imports(name: str, path: Path) -> frozenset[str]:
    """Every module name an import in ``path`` may refer to, from the syntax tree: the
    independent reference the fingerprint's text scan is checked against."""
    import ast
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[:len(package.split(".")) - node.level + 1] \
                if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(found)


def _project_modules():
    for top, root in cache.PROJECT_PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            parts = [top, *path.relative_to(root).with_suffix("").parts]
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_text_scan_finds_every_import_of_the_syntax_tree():
    """The fast import scan of the fingerprint against ``ast`` on every project module."""
    n = 0
    for name, path in _project_modules():
        st = path.stat()
        found = cache._parse_imports(name, path, st.st_mtime_ns, st.st_size)
        missing = _ast_imports(name, path) - found
        assert not missing, (name, missing)
        n += 1
    assert n > 50


def test_text_scan_of_unusual_import_forms(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("""import os.path as p, json
from . import a, b as c  # comment
from ..x.y import (
    d,   # why
    e as f,
)
from z import g, \\
    h
def fn():
    from .w import k
    if True: import q
""", encoding="utf-8")
    st = src.stat()
    found = cache._parse_imports("pkg.sub.mod", src, st.st_mtime_ns, st.st_size)
    assert {"os.path", "json", "pkg.sub", "pkg.sub.a", "pkg.sub.b", "pkg.x.y", "pkg.x.y.d",
            "pkg.x.y.e", "z.g", "z.h", "pkg.sub.w.k", "q"} <= found
    assert _ast_imports("pkg.sub.mod", src) <= found

@pytest.mark.parametrize("constant", ["SIN2_THETA_W_LOW_ENERGY", "SIN2_THETA12"])
def test_changing_a_constant_changes_the_key(package_copy, constant):
    key = cache.cache_key("fast", {"a": 1}, (FAST,))
    constants = package_copy / "globalfit" / "constants.py"
    text = constants.read_text()
    pattern = re.compile(rf"^({constant}\s*(?::\s*float)?\s*=\s*)([0-9.eE+-]+)", re.M)
    match = pattern.search(text)
    assert match, constant
    constants.write_text(pattern.sub(lambda m: m.group(1) + repr(float(m.group(2)) * 1.001),
                                     text, count=1))
    assert cache.cache_key("fast", {"a": 1}, (FAST,)) != key


def test_a_new_module_imported_lazily_changes_the_key(package_copy):
    key = cache.cache_key("fast", {}, (FAST,))
    helper = package_copy / "likelihoods" / "borexino" / "extra_helper.py"
    helper.write_text("SCALE = 1.0\n")
    assert cache.cache_key("fast", {}, (FAST,)) == key        # not imported: not an input
    fast = package_copy / "likelihoods" / "borexino" / "fast.py"
    fast.write_text(fast.read_text() + "\n\ndef _scale():\n    from .extra_helper import SCALE"
                    "\n    return SCALE\n")
    key2 = cache.cache_key("fast", {}, (FAST,))
    assert key2 != key
    helper.write_text("SCALE = 2.0\n")
    assert cache.cache_key("fast", {}, (FAST,)) != key2


def test_key_follows_data_options_and_version(tmp_path, monkeypatch):
    shutil.copytree(paths.data_dir(), tmp_path / "data")
    monkeypatch.setenv("GLOBALFIT_DATA_DIR", str(tmp_path / "data"))
    key = cache.cache_key("fast", {"a": 1}, (FAST,))
    assert cache.cache_key("fast", {"a": 1}, (FAST,)) == key
    assert cache.cache_key("fast", {"a": 2}, (FAST,)) != key
    assert cache.cache_key("signal", {"a": 1}, (FAST,)) != key
    monkeypatch.setattr(cache, "package_version", lambda: "999.0")
    assert cache.cache_key("fast", {"a": 1}, (FAST,)) != key
    monkeypatch.undo()
    monkeypatch.setenv("GLOBALFIT_DATA_DIR", str(tmp_path / "data"))
    flux = tmp_path / "data" / "solar" / "b16_fluxes.csv"
    flux.write_bytes(flux.read_bytes() + b"\n")
    assert cache.cache_key("fast", {"a": 1}, (FAST,)) != key


def test_builder_module_is_where_the_build_function_lives():
    import functools

    from likelihoods.borexino import fast
    assert cache.builder_module(fast.tabulate) == FAST
    assert cache.builder_module(functools.partial(fast.tabulate)) == FAST
    assert cache.builder_module(np.zeros) == "likelihoods"   # not ours: the whole package


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"x": np.arange(5.0), "y": np.eye(3)}


def _entry(folder: Path) -> Path:
    files = cache.entries(folder)
    assert len(files) == 1, files
    return files[0]


def test_entry_is_reused(cache_folder):
    build = Counter()
    a = cache.cached_arrays("unit", {"n": 1}, build)
    b = cache.cached_arrays("unit", {"n": 1}, build)
    assert build.calls == 1
    np.testing.assert_array_equal(a["y"], b["y"])
    assert cache.ENTRY_RE.match(_entry(cache_folder).name)
    cache.cached_arrays("unit", {"n": 2}, build)
    assert build.calls == 2


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", "truncated"])
def test_empty_or_corrupt_entry_is_rebuilt_with_one_warning(cache_folder, caplog, content):
    build = Counter()
    cache.cached_arrays("unit", {}, build)
    path = _entry(cache_folder)
    good = path.read_bytes()
    path.write_bytes(good[:len(good) // 2] if content == "truncated" else content)
    with caplog.at_level(logging.WARNING, logger="globalfit.cache"):
        arrays = cache.cached_arrays("unit", {}, build)
    assert build.calls == 2
    np.testing.assert_array_equal(arrays["x"], np.arange(5.0))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert path.read_bytes() == good                        # the rebuilt entry is complete
    cache.cached_arrays("unit", {}, build)
    assert build.calls == 2


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, RuntimeError])
def test_interrupted_build_leaves_no_file(cache_folder, exc):
    def build():
        raise exc()
    with pytest.raises(exc):
        cache.cached_arrays("unit", {}, build)
    assert not cache_folder.exists() or list(cache_folder.iterdir()) == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit, OSError])
def test_interrupted_write_leaves_no_file(cache_folder, monkeypatch, exc):
    def half_written(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise exc()
    monkeypatch.setattr(cache.np, "savez", half_written)
    if exc is OSError:             # a full disk: the arrays are still returned
        assert cache.cached_arrays("unit", {}, Counter())["x"].shape == (5,)
    else:
        with pytest.raises(exc):
            cache.cached_arrays("unit", {}, Counter())
    assert list(cache_folder.iterdir()) == []


def test_use_cache_false_writes_nothing(cache_folder):
    build = Counter()
    cache.cached_arrays("unit", {}, build, use_cache=False)
    cache.cached_arrays("unit", {}, build, use_cache=False)
    assert build.calls == 2
    assert not cache_folder.exists() or list(cache_folder.iterdir()) == []


def test_cache_folder_defaults_to_the_user_cache_dir(monkeypatch, tmp_path):
    import platformdirs
    monkeypatch.delenv("GLOBALFIT_CACHE_DIR", raising=False)
    assert paths.cache_root() == Path(platformdirs.user_cache_dir("globalfit-dtmm",
                                                                 appauthor=False))
    monkeypatch.setenv("GLOBALFIT_CACHE_DIR", str(tmp_path / "c"))
    assert paths.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_cache_info_and_clear_touch_only_cache_files(cache_folder, capsys):
    cache.cached_arrays("unit", {"n": 1}, Counter())
    cache.cached_arrays("unit", {"n": 2}, Counter())
    leftover = cache_folder / f".{_entries_names(cache_folder)[0]}.abc123.tmp"
    leftover.write_bytes(b"partial")
    foreign = cache_folder / "notes.txt"
    foreign.write_text("mine")
    similar = cache_folder / "borexino-unit-123.npz"      # not a name the cache writes
    similar.write_bytes(b"x")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_folder) in out and "3 entries" in out
    assert "notes.txt" not in out
    assert main(["cache", "clear"]) == 0
    assert "removed 3 entries" in capsys.readouterr().out
    assert sorted(p.name for p in cache_folder.iterdir()) == ["borexino-unit-123.npz",
                                                             "notes.txt"]
    assert foreign.read_text() == "mine"


def _entries_names(folder: Path) -> list[str]:
    return [p.name for p in cache.entries(folder) if cache.ENTRY_RE.match(p.name)]
