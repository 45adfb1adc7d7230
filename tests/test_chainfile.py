"""The emcee checkpoint writer: steps are written in batches, at least every FLUSH_S seconds
and on close, and the file always holds a prefix of the chain with the random state of its
last step (what ``--resume`` continues)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402

from globalfit.samplers.emcee_adapter import ChainFile, read_checkpoint  # noqa: E402


def _stored(path) -> tuple[int, np.ndarray, np.ndarray, int | None]:
    """(iteration, chain, log_prob, position of the stored random state or None)."""
    with h5py.File(path, "r") as f:
        g = f[ChainFile.GROUP]
        it = int(g.attrs["iteration"])
        pos = int(g.attrs["random_state_2"]) if "random_state_2" in g.attrs else None
        return it, np.array(g["chain"][:it]), np.array(g["log_prob"][:it]), pos


def _steps(n: int, nwalkers: int = 6, ndim: int = 3):
    """n steps as emcee gives them: the same arrays updated in place, a new random state."""
    coords, lp, acc = np.zeros((nwalkers, ndim)), np.zeros(nwalkers), np.zeros(nwalkers)
    rs = np.random.RandomState(7)
    for i in range(n):
        coords[:] = i + np.arange(nwalkers * ndim).reshape(nwalkers, ndim)
        lp[:] = -float(i)
        acc += 1
        rs.random_sample(3)
        yield coords, lp, acc, rs.get_state()


def test_steps_wait_for_the_interval_then_arrive_whole(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("globalfit.samplers.emcee_adapter.time.monotonic", lambda: clock[0])
    path = tmp_path / "checkpoint.h5"
    out = ChainFile(path)                            # made at t = 100 s
    out.open_new(6, 3)
    out.reserve(50)
    states, stored = [], []
    for c, lp, acc, rs in _steps(10):                # a step every 0.3 s, from t = 100 s
        out.append(c, lp, acc, rs)
        states.append(rs)
        it, chain, lps, pos = _stored(path)
        stored.append(it)
        if it:                                       # the random state of the last step
            assert pos == states[it - 1][2]          # written
        clock[0] += 0.3
    # written at the first step >= 1 s after the previous write: t = 101.2 s (5 steps),
    # 102.4 s (4 more)
    assert stored == [0, 0, 0, 0, 5, 5, 5, 5, 9, 9]
    np.testing.assert_array_equal(chain[:, 0, 0], np.arange(9))   # copies, not the live array
    np.testing.assert_array_equal(lps[:, 0], -np.arange(9))
    out.close()                                      # the rest on close
    it, chain, lp, pos = _stored(path)
    assert it == 10 and pos == states[-1][2]
    np.testing.assert_array_equal(chain[:, 5, 2], np.arange(10) + 17)
    # emcee's own reader continues from the last step with its random state
    reader = read_checkpoint(path, 6, 3)
    assert reader.iteration == 10
    np.testing.assert_array_equal(reader.get_last_sample().coords, chain[-1])
    assert reader.random_state[2] == states[-1][2]
    np.testing.assert_array_equal(reader.accepted, np.full(6, 10.0))


def test_a_large_backlog_is_written_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(ChainFile, "FLUSH_S", 1e9)
    monkeypatch.setattr(ChainFile, "FLUSH_BYTES", 3 * (6 * 3 + 6) * 8)   # 3 steps
    path = tmp_path / "checkpoint.h5"
    out = ChainFile(path)
    out.open_new(6, 3)
    for i, step in enumerate(_steps(7)):
        out.append(*step)
        assert _stored(path)[0] == 3 * ((i + 1) // 3)
    out.close()
    assert _stored(path)[0] == 7


@pytest.mark.parametrize("resume", [False, True])
def test_resumed_file_grows_from_its_end(tmp_path, resume):
    path = tmp_path / "checkpoint.h5"
    out = ChainFile(path)
    out.open_new(6, 3)
    steps = list((c.copy(), lp.copy(), a.copy(), rs) for c, lp, a, rs in _steps(8))
    for step in steps[:5]:
        out.append(*step)
    out.close()
    if resume:
        out = ChainFile(path)
        out.open_existing()
        assert out.iteration == 5
        for step in steps[5:]:
            out.append(*step)
        out.close()
    it, chain, _, _ = _stored(path)
    assert it == (8 if resume else 5)
    np.testing.assert_array_equal(chain, np.stack([s[0] for s in steps[:it]]))
