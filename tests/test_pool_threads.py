"""BLAS threads per process in parallel runs: N processes on one machine share its cores
(globalfit.samplers.pool.limit_blas_threads), unless the user chose the thread count."""
from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from globalfit.samplers import pool as pool_module


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def restore_threads():
    before = threadpool_info()
    yield
    for lib in before:
        threadpool_limits(limits=lib["num_threads"], user_api=lib["user_api"])


def test_limit_is_the_share_of_the_cores(monkeypatch, restore_threads) -> None:
    for var in pool_module._THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert pool_module.limit_blas_threads(4) == 2
    if _blas_threads():                      # numpy's BLAS is one threadpoolctl can set
        assert set(_blas_threads()) == {2}
    assert pool_module.limit_blas_threads(16) == 1      # never below one thread


def test_user_thread_setting_is_left_alone(monkeypatch, restore_threads) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    before = _blas_threads()
    assert pool_module.limit_blas_threads(2) is None
    assert _blas_threads() == before
