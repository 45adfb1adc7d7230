"""Throughput of the accelerator and flavour likelihoods (points per second, one core).

Run: ``python benchmarks/bench_accelerator.py [n_points]``. Each likelihood is evaluated on
``n_points`` random points (default 1e6) a few times; the best time is reported.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from likelihoods import get_likelihood


def _points(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "m_aprime_gev": 10 ** rng.uniform(-2.9, 0.15, n),
        "eps": 10 ** rng.uniform(-7, -2, n),
        "br_inv": rng.uniform(0, 1, n),
        "gamma_total_gev": 10 ** rng.uniform(-20, -3, n),
        "br_mu_e_gamma": 10 ** rng.uniform(-16, -11, n),
        "br_tau_e_gamma": 10 ** rng.uniform(-10, -6, n),
        "br_tau_mu_gamma": 10 ** rng.uniform(-10, -6, n),
    }


def main(n: int = 1_000_000, repeat: int = 3) -> dict[str, float]:
    rng = np.random.default_rng(0)
    obs = _points(n, rng)
    cases = {
        "na64 (marginalised)": get_likelihood("na64"),
        "na64 (profiled)": get_likelihood("na64", background="profiled"),
        "na64 (long_lived_visible)": get_likelihood("na64", long_lived_visible=True),
        "babar": get_likelihood("babar"),
        "meg": get_likelihood("meg"),
        "tau_e_gamma": get_likelihood("tau_e_gamma"),
        "tau_mu_gamma": get_likelihood("tau_mu_gamma"),
    }
    rates = {}
    for label, lik in cases.items():
        sub = {k: obs[k] for k in lik.requires}
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            ll = lik.loglike(sub)
            best = min(best, time.perf_counter() - t0)
        assert ll.shape == (n,) and not np.isnan(ll).any()
        rates[label] = n / best
        print(f"{label:28s} {rates[label]:12.3e} points/s")
    return rates


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000)
