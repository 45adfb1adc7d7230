"""Time to compute all observables of the dark_tmm model (one core).

Run: ``python benchmarks/bench_model.py [n_points]``. The model is evaluated on ``n_points``
random points (default 1e6; log-uniform masses and couplings around the seed benchmark, about
half of the A' masses above 2 m_N) a few times; the best wall time is reported, for the default
left-handed model and with the right-handed option.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from globalfit.model import get_model


def _points(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "m_aprime_gev": 10 ** rng.uniform(-3.0, 0.5, n),
        "eps": 10 ** rng.uniform(-7, -2, n),
        "g_d": 10 ** rng.uniform(-3, np.log10(0.5), n),
        "m_n_gev": 10 ** rng.uniform(-2, 0, n),
        "m_s_gev": 10 ** rng.uniform(-1.5, 0, n),
        "dm_s_gev": 10 ** rng.uniform(-3, 0, n),
        "theta": rng.uniform(-1.5, 1.5, n),
        "y0": 10 ** rng.uniform(-6, 0, n),
        "alpha": rng.uniform(0, np.pi, n),
        "kappa_r": rng.uniform(-1, 1, n),
    }


def main(n: int = 1_000_000, repeat: int = 3) -> dict[str, float]:
    params = _points(n, np.random.default_rng(0))
    times = {}
    for label, options in (("dark_tmm", {}), ("dark_tmm right_handed", {"right_handed": True})):
        model = get_model("dark_tmm", **options)
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            obs, valid = model.observables(params)
            best = min(best, time.perf_counter() - t0)
        assert valid.all() and all(np.isfinite(v).all() for v in obs.values())
        times[label] = best
        print(f"{label:24s} {n:.0e} points: {best:.3f} s  ({n / best:.3e} points/s, "
              f"{len(obs)} observables)")
    return times


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000)
