"""Throughput of the joint log-posterior, per module, and against a per-point reference.

Run: ``python benchmarks/bench_joint.py [--quick]`` (one core: BLAS threads are set to 1
before numpy is imported). Measured, each as the best of ``repeat`` timings:

* ``joint_throughput``: points/s of ``JointPosterior.log_posterior`` (prior + model + every
  likelihood + sum) against the batch size, for the default fit (``fit.yaml``, Borexino in
  fast mode) and for ``configs/benchmark_borexino_full.yaml`` (Borexino in full mode, its 20
  nuisances sampled; points drawn near the SM best fit so that the spectrum is evaluated).
* ``module_breakdown``: the same batch split into prior, model observables and each
  likelihood's ``loglike``.
* ``matmul_floor``: the bare numpy matrix products of the Borexino full mode (same shapes,
  float64, C-contiguous) for a 2048-point block: the floor set by the response products;
  beside it the time of the one float64 logarithm per bin and point that the Poisson
  deviance needs, and the fraction of the floor the full mode could reach if nothing but the
  products and these logarithms cost time (the ceiling).
* ``floor_fraction``: the full mode and that floor timed in alternation, the ratio the target
  is judged on (two measurements minutes apart see different machine loads).
* ``per_point_calls``: the same ``log_posterior`` called one point at a time (a ``log_prob``
  loop, Cobaya's one-point interface): the baseline the batch throughput is compared with.
* ``naive_borexino_full``: a straightforward per-point numpy implementation of the Borexino
  full-mode deviance with the same precomputed matrices (checked against the vectorised one).
* ``stream_floor``: the memory bandwidth of one core (a float64 array copy).
* ``call_times``: the wall time of one full-mode call of 2 ... 128 points (emcee with 256
  walkers makes calls of 128): how much of a call is a fixed cost that splitting it over
  ranks cannot divide, from which the speed-up N ranks could give such a call with free
  communication, t(128) / t(128 / N), is projected (``run_all.py``, the emcee MPI row).
* ``reference_signal`` (an accuracy cross-check, not a speed baseline; not run by ``main``):
  the Borexino magnetic-moment signal with the dark-photon propagator
  computed the way one first writes it, one point at a time with ``scipy.integrate.quad``:
  for every N_h bin, an integral over the recoil energy T of P(T, m)^2 x the bin response
  x the moment spectrum, itself an integral over the neutrino energy E of the solar
  spectrum times dsigma_mu/dT (Vogel & Engel, PRD 39 (1989) 3378) for every solar source
  (lines directly). It is timed on a few bins, extrapolated to the fit window, checked
  against the vectorised ``SpectrumModel.signal_counts`` in those bins, and compared with
  it (same run) for the speed-up ratio.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

from globalfit.memory import keep_large_allocations  # noqa: E402

# the malloc thresholds that the command-line runs set (globalfit/memory.py): without them the
# full mode at batch 1e3 measured 3.0e4 instead of 4.4e4-4.7e4 points/s, and which of the two a
# run got depended on what had been allocated before in the process
keep_large_allocations()

ROOT = Path(__file__).resolve().parents[1]
FAST_CONFIG = ROOT / "fit.yaml"
FULL_CONFIG = ROOT / "configs" / "benchmark_borexino_full.yaml"
BATCHES = (1, 10, 100, 1_000, 10_000, 100_000)
#: points per call for ``call_times``: 128 is one call of emcee with 256 walkers, and
#: 128 / N its share on each of N = 2 ... 64 ranks
CALL_SIZES = (2, 4, 8, 16, 32, 64, 128)


def best_time(fn: Callable[[], Any], repeat: int = 5, min_time_s: float = 0.05) -> float:
    """Best wall time (s) of ``fn()`` over ``repeat`` timings; calls that take less than
    ``min_time_s`` are looped and averaged inside one timing."""
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    loops = max(1, int(min_time_s / max(once, 1e-7)))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best


def load_posterior(config: Path) -> Any:
    """The ``JointPosterior`` of a config file (warm caches are used if present)."""
    from globalfit.config import load_config
    return load_config(config).posterior


def draw_points(post: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, ndim)`` points: model parameters from the prior; Borexino nuisances (when
    sampled) around the SM best fit (1 % relative spread, 3e-3 in the energy scale and
    3e-2 in the resolution), clipped into their prior ranges."""
    theta = post.priors.sample(rng, n)
    bx = post.likelihoods.get("borexino")
    if bx is not None and getattr(bx, "mode", "fast") == "full":
        from likelihoods.borexino.likelihood import PARAMS
        th_sm = bx.sm_fit[1]
        for j, name in enumerate(post.names):
            if not name.startswith("borexino."):
                continue
            key = name.split(".", 1)[1]
            centre = th_sm[PARAMS.index(key)]
            spread = {"energy_scale": 3e-3, "resolution": 3e-2}.get(key, 0.01 * abs(centre))
            prior = post.priors[name]
            theta[:, j] = np.clip(centre + spread * rng.standard_normal(n),
                                  prior.low, prior.high)
    return theta


def joint_throughput(post: Any, batches: tuple[int, ...], repeat: int = 5,
                     seed: int = 0) -> dict[int, float]:
    """Batch size -> points/s of ``post.log_posterior`` (one core, best of ``repeat``)."""
    rng = np.random.default_rng(seed)
    theta = draw_points(post, max(batches), rng)
    assert np.isfinite(post.log_posterior(theta[:min(1000, len(theta))])).mean() > 0.9
    out = {}
    for n in batches:
        block = theta[:n]
        out[n] = n / best_time(lambda: post.log_posterior(block), repeat)
    return out


def module_breakdown(post: Any, n: int, repeat: int = 5, seed: int = 0) -> dict[str, float]:
    """Module -> points/s at batch ``n``: prior, model observables, each likelihood."""
    rng = np.random.default_rng(seed)
    theta = draw_points(post, n, rng)
    values = post._parameter_values(theta)
    params = {name: values[name] for name in post.model_parameters}
    obs, _ = post.model.observables(params)
    out = {"prior": n / best_time(lambda: post.priors.log_prior(theta), repeat),
           "model": n / best_time(lambda: post.model.observables(params), repeat)}
    for label, like in post.likelihoods.items():
        sub = {k: obs[k] for k in like.requires}
        nuis = {nu.name: values[f"{label}.{nu.name}"] for nu in like.nuisances
                if f"{label}.{nu.name}" in values} or None
        out[f"likelihood {label}"] = n / best_time(lambda: like.loglike(sub, nuis), repeat)
    out["joint (all of the above + sum)"] = n / best_time(lambda: post.log_posterior(theta),
                                                          repeat)
    return out


def _floor_products(post: Any, block: int = 2048) -> tuple[Callable[[], Any], float, str]:
    """The bare matrix products of the Borexino full mode for a block of ``block`` points
    (same shapes, float64, C-contiguous operands): (a function doing them, their FLOPs, their
    shapes)."""
    model = post.likelihoods["borexino"].model
    rng = np.random.default_rng(0)
    nk, n_lin, nb = model.lin.shape
    w = model.sig["W"][:nk]
    r, nt = w.shape[1], w.shape[2]
    a = rng.random((block, nk * n_lin))
    b = np.ascontiguousarray(model.lin.reshape(-1, nb))
    wm = np.ascontiguousarray(w.reshape(-1, nt))
    v = rng.random((nt, block))
    u = np.ascontiguousarray(model.sig["U"])
    z = rng.random((r, block))

    def products() -> None:
        a @ b
        wm @ v
        u @ z
    flops = 2.0 * block * (nk * n_lin * nb + nk * r * nt + nb * r)
    shapes = (f"({block},{nk * n_lin})@({nk * n_lin},{nb}) + ({nk * r},{nt})@({nt},"
              f"{block}) + ({nb},{r})@({r},{block})")
    return products, flops, shapes


def matmul_floor(post: Any, block: int = 2048, repeat: int = 7) -> dict[str, float]:
    """Points/s allowed by the bare matrix products of the Borexino full mode per block of
    ``block`` points (same shapes, float64, C-contiguous operands), and their shapes."""
    products, flops, shapes = _floor_products(post, block)
    total = best_time(products, repeat)
    # the Poisson deviance needs ln(nu) in every bin of every point: one float64 logarithm
    # per element of a (block, n_bins) array, elementwise work no BLAS can take over
    rng = np.random.default_rng(1)
    nu = 1.0 + 1e3 * rng.random((block, post.likelihoods["borexino"].model.lin.shape[2]))
    out = np.empty_like(nu)
    t_log = best_time(lambda: np.log(nu, out=out), repeat)
    return {"points_per_s": block / total, "shapes": shapes, "gflops": flops / total / 1e9,
            "log_ns": t_log / nu.size * 1e9, "ceiling": total / (total + t_log)}


def floor_fraction(post: Any, n: int = 1000, rounds: int = 9, block: int = 2048,
                   seed: int = 0) -> dict[str, float]:
    """The full mode at batch ``n`` and its matmul floor (:func:`matmul_floor`) timed in
    alternation, ``rounds`` times each (>= 0.1 s per timing), best of each: a ratio of two
    measurements taken minutes apart moved by up to ~20 % with the machine's load, one of
    interleaved timings sees the same machine in both."""
    theta = draw_points(post, n, np.random.default_rng(seed))
    products, _, _ = _floor_products(post, block)
    t_full = t_floor = np.inf
    for _ in range(rounds):
        t_full = min(t_full, best_time(lambda: post.log_posterior(theta), 1, 0.1))
        t_floor = min(t_floor, best_time(products, 1, 0.1))
    return {"full_points_per_s": n / t_full, "floor_points_per_s": block / t_floor,
            "fraction": (n / t_full) / (block / t_floor)}


# --- honest baselines: per-point evaluation ------------------------------------------
def per_point_calls(post: Any, n: int = 300, seed: int = 1) -> float:
    """Points/s of the same ``log_posterior`` called one point at a time (what a plain
    ``log_prob`` loop or Cobaya's one-point likelihood interface does)."""
    theta = draw_points(post, n, np.random.default_rng(seed))

    def loop() -> None:
        for i in range(n):
            post.log_posterior(theta[i:i + 1])
    return n / best_time(loop, repeat=3)


def naive_borexino_full(post: Any, n: int = 300, seed: int = 2) -> dict[str, float]:
    """A straightforward per-point numpy implementation of the Borexino full-mode deviance
    with the same precomputed matrices (Taylor-expanded templates ``lin``, the reduced signal
    basis ``U``, ``W``): for each point, one (13, 858) template combination, the 210Po peak on
    every bin, the signal U (W_k (M P^2)) and the Baker-Cousins deviance. Checked against the
    vectorised ``chi2_vectorised``; returns its points/s and the largest difference."""
    from likelihoods.borexino.likelihood import PARAMS
    from likelihoods.borexino.model import baker_cousins_deviance
    from likelihoods.borexino.parameters import I_DR, I_DS, I_PO, N_LIN
    from likelihoods.borexino.response import taylor_coefficients
    from likelihoods.solar import fold

    like = post.likelihoods["borexino"]
    model = like.model
    theta_all = draw_points(post, n, np.random.default_rng(seed))
    cols = [post.names.index(f"borexino.{p}") for p in PARAMS]
    th = theta_all[:, cols]
    rng = np.random.default_rng(seed)
    q = np.zeros((n, 4))
    q[:, 0] = 10 ** rng.uniform(-23, -21, n)
    m = 10 ** rng.uniform(-5, -2, n)
    s = model.sig
    nk = len(model.lin)
    lin_flat = model.lin

    def one(i: int) -> float:
        t = th[i]
        g = taylor_coefficients(t[I_DS:I_DS + 1], t[I_DR:I_DR + 1])[:nk, 0]
        tmpl = np.tensordot(g, lin_flat, axes=1)                         # (13, nb)
        nu = t[:N_LIN] @ tmpl + t[I_PO] * model.po210(t[None])[0]
        f = t[:5] / model.ssm_rates
        mm = np.tensordot(f[:, None] * q[i][None, :], s["mm"], axes=2)   # (nt,)
        v = mm * fold.propagator_squared(s["t"], np.array([m[i]]))[:, 0]
        z = np.tensordot(g, s["W"][:nk] @ v, axes=1)                     # (r,)
        nu = nu + s["U"] @ z
        return float(baker_cousins_deviance(nu, model.n)) + float(model.constraint.chi2(t))

    naive = np.array([one(i) for i in range(n)])
    vec = model.chi2_vectorised(th, q, m)
    both = np.isfinite(naive) & np.isfinite(vec)         # a few draws have nu <= 0: inf
    assert np.array_equal(np.isfinite(naive), np.isfinite(vec))
    diff = float(np.max(np.abs(naive[both] - vec[both]) / np.abs(vec[both])))
    rate = n / best_time(lambda: [one(i) for i in range(n)], repeat=3)
    vec_rate = n / best_time(lambda: model.chi2_vectorised(th, q, m), repeat=3)
    return {"naive_points_per_s": rate, "vectorised_points_per_s_same_points": vec_rate,
            "max_rel_diff": diff}


def call_times(post: Any, sizes: tuple[int, ...] = CALL_SIZES, repeat: int = 5,
               seed: int = 3) -> dict[int, float]:
    """Points per call -> wall time (s) of one ``post.log_posterior`` call (best of at
    least 7 timings of >= 0.1 s each, after warm-up calls), one core."""
    theta = draw_points(post, max(sizes), np.random.default_rng(seed))
    for n in sizes:                                   # warm-up (caches, allocator)
        post.log_posterior(theta[:n])
    return {n: best_time(lambda n=n: post.log_posterior(theta[:n]), max(repeat, 7), 0.1)
            for n in sizes}


def stream_floor(n_bytes: int = 400_000_000) -> float:
    """Memory bandwidth (GB/s) of this core: best time of a float64 array copy (read + write
    of ``n_bytes`` each), for the fast mode's bytes-per-point comparison."""
    a = np.ones(n_bytes // 8)
    b = np.empty_like(a)
    t = best_time(lambda: np.copyto(b, a), repeat=5)
    return 2.0 * n_bytes / t / 1e9


# --- per-point reference of the Borexino signal ---------------------------------------
def reference_signal_counts(mu2_mub2: float, m_gev: float, bins: np.ndarray,
                            like: Any) -> np.ndarray:
    """Magnetic-moment signal counts in window bins ``bins`` (indices into the window) for
    one point (universal moment mu^2 in mu_B^2, dark-photon mass in GeV), SSM fluxes,
    nominal response, by nested ``scipy.integrate.quad`` (T outside, E inside)."""
    from scipy.integrate import quad
    from scipy.special import ndtr

    from likelihoods.borexino import recoil
    from likelihoods.solar import flux as solar
    from likelihoods.borexino.response import e3_kev, phase2_mean_sigma
    from likelihoods.borexino.spectrum import EXPOSURE_DAY_100T, load_phase2
    from likelihoods.borexino.templates import SOLAR, signal_t_grid
    from likelihoods.solar.xsec import (dsigma_dt_mm_cm2_per_mev, e_min_mev,
                                           propagator_factor, t_max_mev)

    p, flux_model = like.response, like.flux_model
    edges = load_phase2().edges_kev
    window = np.flatnonzero(like.model.mask)
    t_lo_all, t_hi_all = signal_t_grid()[0][[0, -1]]
    t_grid = np.linspace(t_lo_all, t_hi_all, 20001)
    mu_grid, sg_grid = phase2_mean_sigma(e3_kev(t_grid, p), p)
    sources = [s for g in SOLAR for s in solar.GROUP_SOURCES[g]]
    norm = {s: recoil.ELECTRONS_PER_100T * recoil.SECONDS_PER_DAY
            * solar.ssm_flux_cm2_s(s, flux_model) for s in sources}

    def spectrum_mm(t: float) -> float:
        """dR/dT per mu_B^2 (massless mediator), summed over solar sources."""
        total = 0.0
        for s in sources:
            if s in solar.LINES:
                for e_line, br in solar.LINES[s]:
                    total += norm[s] * br * float(dsigma_dt_mm_cm2_per_mev(t, e_line))
            else:
                e_end = solar.spectrum_endpoint_mev(s)
                e_min = float(e_min_mev(t))
                if e_min < e_end:
                    val = quad(lambda e: float(solar.spectrum_shape_per_mev(s, e)
                                               * dsigma_dt_mm_cm2_per_mev(t, e)),
                               e_min, e_end, limit=200)[0]
                    total += norm[s] * val
        return total

    out = np.empty(len(bins))
    for k, i in enumerate(bins):
        lo, hi = edges[window[i]], edges[window[i] + 1]
        # T range where this bin's response exceeds 1e-12 (from a T grid)
        prob = ndtr((hi - mu_grid) / sg_grid) - ndtr((lo - mu_grid) / sg_grid)
        inside = np.flatnonzero(prob > 1e-12)
        t_a, t_b = t_grid[max(inside[0] - 1, 0)], t_grid[min(inside[-1] + 1, len(t_grid) - 1)]

        def integrand(t: float) -> float:
            mu, sg = phase2_mean_sigma(e3_kev(np.array([t]), p), p)
            response = ndtr((hi - mu[0]) / sg[0]) - ndtr((lo - mu[0]) / sg[0])
            return spectrum_mm(t) * float(propagator_factor(t, m_gev)) ** 2 * response

        # break points at the kinematic edges T_max of the lines (7Be, pep) inside the range
        edges_t = [float(t_max_mev(e)) for s in sources if s in solar.LINES
                   for e, _ in solar.LINES[s] if t_a < float(t_max_mev(e)) < t_b]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # quad's round-off notes near the edges
            val = quad(integrand, t_a, t_b, limit=200, points=edges_t or None)[0]
        out[k] = mu2_mub2 * EXPOSURE_DAY_100T * val
    return out


def reference_signal(n_bins: int = 6, mu2_mub2: float = 1e-21, m_gev: float = 1e-3,
                     repeat: int = 3) -> dict[str, float]:
    """Per-point time of the quad reference (extrapolated from ``n_bins`` bins spread over
    the window to all window bins), the vectorised signal's per-point time (batch of 2048,
    best of ``repeat``) and their ratio; also the largest relative difference in the bins."""
    from likelihoods.borexino import BorexinoLikelihood
    like = BorexinoLikelihood(mode="full")
    model = like.model
    n_window = int(model.n.size)
    bins = np.unique(np.linspace(5, n_window - 300, n_bins).astype(int))
    t0 = time.perf_counter()
    ref = reference_signal_counts(mu2_mub2, m_gev, bins, like)
    t_ref = (time.perf_counter() - t0) / len(bins) * n_window
    # vectorised: SpectrumModel.signal_counts at the SSM rates, nominal response
    n = 2048
    theta = np.tile(like.sm_fit[1], (n, 1))
    theta[:, :5] = like.ssm_rates
    theta[:, -2:] = 0.0
    q = np.zeros((n, 4))
    q[:, 0] = mu2_mub2
    m = np.full(n, m_gev)
    vec = model.signal_counts(theta, q, m)
    t_vec = best_time(lambda: model.signal_counts(theta, q, m), repeat) / n
    rel = np.max(np.abs(vec[0, bins] - ref) / np.abs(ref))
    return {"ref_s_per_point": t_ref, "vec_s_per_point": t_vec, "speedup": t_ref / t_vec,
            "max_rel_diff": float(rel), "n_bins_timed": len(bins), "n_window_bins": n_window}


def main(quick: bool = False) -> dict[str, Any]:
    """Run every measurement of this module and print a short summary."""
    repeat = 3 if quick else 5
    batches = BATCHES[:5] if quick else BATCHES
    results: dict[str, Any] = {}
    fast = load_posterior(FAST_CONFIG)
    fast.log_posterior(fast.priors.sample(np.random.default_rng(0), 2))   # warm caches
    results["fast"] = joint_throughput(fast, batches, repeat)
    results["fast_modules"] = module_breakdown(fast, 10_000, repeat)
    full = load_posterior(FULL_CONFIG)
    full_batches = tuple(b for b in batches if b <= (2048 if quick else 10_000))
    results["full"] = joint_throughput(full, full_batches, repeat)
    results["full_modules"] = module_breakdown(full, full_batches[-1], repeat)
    results["floor"] = matmul_floor(full)
    results["floor_fraction"] = floor_fraction(full, full_batches[-1])
    results["per_point"] = {"fast": per_point_calls(fast), "full": per_point_calls(full)}
    results["naive_full"] = naive_borexino_full(full)
    results["full_call_s"] = call_times(full, repeat=repeat)
    results["stream_gb_s"] = stream_floor()
    for key in ("fast", "full"):
        print(f"{key} mode: " + ", ".join(f"{n}: {r:.3g}" for n, r in results[key].items())
              + " points/s")
    for key in ("fast_modules", "full_modules"):
        print(key + ": " + ", ".join(f"{m}: {r:.3g}" for m, r in results[key].items()))
    fl = results["floor"]
    print(f"full-mode matmul floor: {fl['points_per_s']:.3g} points/s "
          f"({fl['gflops']:.1f} GFLOP/s; {fl['shapes']}); ln per bin {fl['log_ns']:.1f} ns, "
          f"ceiling {fl['ceiling']:.0%} of the floor")
    ff = results["floor_fraction"]
    print(f"full mode / floor, timed in alternation: {ff['full_points_per_s']:.3g} / "
          f"{ff['floor_points_per_s']:.3g} points/s = {ff['fraction']:.0%}")
    pp, nv = results["per_point"], results["naive_full"]
    print(f"one point per call: fast {pp['fast']:.3g}, full {pp['full']:.3g} points/s; "
          f"naive per-point Borexino full mode {nv['naive_points_per_s']:.3g} points/s "
          f"(max rel. diff {nv['max_rel_diff']:.1e}); memory stream "
          f"{results['stream_gb_s']:.1f} GB/s")
    print("full-mode call of n points (ms): " + ", ".join(
        f"{n}: {1e3 * t:.2f}" for n, t in results["full_call_s"].items()))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and repeats")
    main(parser.parse_args().quick)
