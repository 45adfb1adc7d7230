"""Speed of the Borexino likelihood: ``python benchmarks/bench_borexino.py``.

Prints points/s of the full mode (nuisances as inputs) and the fast mode (profiled, interpolated)
on one core, and a per-point reference: the massive-mediator signal spectrum computed by
scipy.integrate.quad at every N_h bin (the naive approach the matrix product replaces).
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.integrate import quad  # noqa: E402

from likelihoods.borexino import BorexinoLikelihood, recoil  # noqa: E402
from likelihoods.borexino.likelihood import PARAMS  # noqa: E402
from likelihoods.borexino.response import e3_kev, phase2_mean_sigma  # noqa: E402
from likelihoods.borexino.spectrum import load_phase2  # noqa: E402
from likelihoods.solar.xsec import propagator_factor  # noqa: E402


def rate(fn, n: int, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    rng = np.random.default_rng(0)
    full = BorexinoLikelihood(mode="full")
    fast = BorexinoLikelihood(mode="fast")
    th = full.sm_fit[1]
    n = 20000
    obs = {"mu_eff2_mub2": rng.uniform(0, 2e-21, n), "m_aprime_gev": 10 ** rng.uniform(-7, 0, n)}
    nuis = {k: th[i] * (1 + 0.01 * rng.standard_normal(n)) for i, k in enumerate(PARAMS)}
    nuis["energy_scale"] = 0.003 * rng.standard_normal(n)
    nuis["resolution"] = 0.03 * rng.standard_normal(n)
    r_full = rate(lambda: full.loglike(obs, nuis), n)
    nf = 1_000_000
    obs_f = {"mu_eff2_mub2": rng.uniform(0, 2e-21, nf), "m_aprime_gev": 10 ** rng.uniform(-7, 0, nf)}
    fast.loglike(obs_f)
    r_fast = rate(lambda: fast.loglike(obs_f), nf)

    # per-point reference: quad over T of the pp moment spectrum x P^2 x Gaussian response
    sp = load_phase2()
    p = full.response
    bins = sp.edges_kev[::40]

    def one_point(m: float) -> float:
        tot = 0.0
        for lo, hi in zip(bins[:-1], bins[1:]):
            def integrand(t: float) -> float:
                mu, sg = phase2_mean_sigma(e3_kev(np.array([t]), p), p)
                from scipy.special import ndtr
                prob = ndtr((hi - mu[0]) / sg[0]) - ndtr((lo - mu[0]) / sg[0])
                return recoil.mm_rate_density("pp", np.array([t]))[0] * \
                    propagator_factor(t, m) ** 2 * prob
            tot += quad(integrand, 0.011, 0.42, limit=50)[0]
        return tot

    t0 = time.perf_counter()
    one_point(1e-3)
    per_bin = (time.perf_counter() - t0) / (len(bins) - 1)
    r_quad = 1.0 / (per_bin * (len(sp.n_h)) * 5)     # 858 bins x 5 solar groups
    print(f"full mode : {r_full:12.0f} points/s  (target >= 1e4)")
    print(f"fast mode : {r_fast:12.0f} points/s  (target >= 1e6)")
    print(f"quad ref. : {r_quad:12.3g} points/s  (per-point scipy quad of the signal spectrum, "
          f"extrapolated from {len(bins) - 1} bins of pp)")
    print(f"speed-up  : full/quad = {r_full / r_quad:.3g}, fast/quad = {r_fast / r_quad:.3g}")


if __name__ == "__main__":
    main()
