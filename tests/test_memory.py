"""The malloc thresholds of the command-line runs (globalfit/memory.py)."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from conftest import subprocess_env
from globalfit import memory


def test_user_environment_wins(monkeypatch) -> None:
    """With MALLOC_MMAP_THRESHOLD_ (or MALLOC_TRIM_THRESHOLD_) set, the user's choice stands:
    nothing is set and the call says so."""
    for var in memory.ENV_VARS:
        monkeypatch.setattr(memory, "_applied", None)
        monkeypatch.setenv(var, "65536")
        assert memory.keep_large_allocations() is False
        monkeypatch.delenv(var)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_applied_once_per_process_on_glibc() -> None:
    """On glibc the thresholds are set (mallopt accepts them) once per process; the CLI sets
    them in its own process before anything else."""
    code = ("from globalfit import memory; a = memory.keep_large_allocations(); "
            "b = memory.keep_large_allocations(); print(a, b, memory._applied)")
    env = {k: v for k, v in subprocess_env().items() if k not in memory.ENV_VARS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]
