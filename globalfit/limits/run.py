"""The limits grid: every curve at every mass, the files written, and ``globalfit limits``.

``globalfit limits --config fit.yaml [--out DIR] [--method M] [--format F] [--force]
[--quiet]`` reads the same config as ``fit`` (docs/limits.md); output: one CSV per curve,
``summary.json``, ``config.yaml``, ``limits.png``/``.pdf``, the 2-D exclusions of
``limits.plane`` (:mod:`.exclusion`) and, with ``format: hepdata``, a HEPData submission
(:mod:`.hepdata`).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError, GlobalFitError
from ..progress import configure, progress
from .indirect import IndirectProbes
from .labels import legend_label
from .settings import FORMATS, LimitsConfig, load
from .stats import METHODS, upper_limit
from .terms import BorexinoRateTerm, LikelihoodMomentTerm, MomentTerm

log = logging.getLogger("globalfit.limits")
_REGISTRY_KEY = "globalfit.limits"
FIGURE_DATA = "limits_figure.csv"
"""The curves ``limits.png`` shows, one column each (the README figure's data)."""
_FIXED_FILES = ("summary.json", "config.yaml", "limits.png", "limits.pdf", FIGURE_DATA,
                "exclusion_m_eps.png", "exclusion_m_eps.pdf", "exclusion_m_mu.png",
                "exclusion_m_mu.pdf", "hepdata.tar.gz")
#: the order the output parts are handed out in, costliest first (measured on the default
#: grid: the moment plane ~3.5 s, the 1-D files and figure ~3 s, the (m_A', eps) plane ~2 s):
#: on 2 processes a worker takes the first, rank 0 the last and then the middle one
PART_ORDER = ("plane:m_mu", "curves", "plane:m_eps")
_CSV_PREFIXES = ("borexino_", "xenonnt_", "indirect_gd", "combined_gd", "br_inv_gd_", "plane_")


class LimitCalculator:
    """All curves at one mass (:meth:`at_mass`), built once per process (picklable tasks are
    mass indices; the calculator itself never travels between processes)."""

    def __init__(self, cfg: LimitsConfig, borexino: MomentTerm | None = None) -> None:
        self.cfg = cfg
        wants_direct = bool({"borexino", "combined"} & set(cfg.curves))
        #: one curve per direct probe (label -> term): each direct likelihood of the config
        #: alone (``borexino``, ``xenonnt``), or the published-rate recast
        self.direct: dict[str, MomentTerm] = {}
        if borexino is not None:
            self.direct = {"borexino": borexino}
        elif wants_direct:
            if cfg.direct == "published_rate":
                borexino = BorexinoRateTerm(threshold_mev=cfg.rate_threshold_mev)
                self.direct = {"borexino": borexino}
            else:
                self.direct = {label: LikelihoodMomentTerm([lk])
                               for label, lk in cfg.direct_likelihoods.items()}
                borexino = LikelihoodMomentTerm(list(cfg.direct_likelihoods.values()))
        #: every direct likelihood together (the direct part of the combined curves)
        self.borexino = borexino

    def indirect(self, m_gev: float, g_d: float) -> IndirectProbes:
        return IndirectProbes(m_gev, g_d, self.cfg.setup)

    def at_mass(self, i_mass: int) -> dict[str, float]:
        """Limits (mu_B) at mass index ``i_mass``: keys ``<direct label>/<method>`` (one per
        direct likelihood, e.g. ``borexino/profile``, ``xenonnt/profile``: curve
        ``borexino``), ``indirect/<g_d>/<method>``, ``combined/<g_d>/<method>`` (the
        requested curves), plus ``br_inv/<g_d>`` when the model provides BR_inv."""
        cfg = self.cfg
        m = float(cfg.masses_gev[i_mass])
        out: dict[str, float] = {}

        def bx(mu: np.ndarray) -> np.ndarray:
            return self.borexino.loglike(mu, m)
        if "borexino" in cfg.curves:
            for label, term in self.direct.items():
                for method in cfg.methods:
                    out[f"{label}/{method}"] = upper_limit(
                        lambda mu, term=term: term.loglike(mu, m), method)
        if not {"indirect", "combined"} & set(cfg.curves):
            return out
        for g in cfg.g_d:
            ind = self.indirect(m, g)
            if ind.br_inv is not None:
                out[f"br_inv/{g:g}"] = float(ind.br_inv[0])
            for method in cfg.methods:
                def f_ind(mu: np.ndarray, method: str = method) -> np.ndarray:
                    return ind.loglike(mu, method)

                def f_all(mu: np.ndarray, method: str = method) -> np.ndarray:
                    return ind.loglike(mu, method) + bx(mu)
                if "indirect" in cfg.curves:
                    out[f"indirect/{g:g}/{method}"] = upper_limit(f_ind, method)
                if "combined" in cfg.curves:
                    out[f"combined/{g:g}/{method}"] = upper_limit(f_all, method)
        return out

    def finish(self, part: tuple) -> Any:
        """One independent part of the output (:func:`run_limits`): ``("curves", out_dir,
        curves, fit_resolved)`` writes the curve files, ``summary.json``, ``config.yaml`` and
        ``limits.png``/``.pdf`` (returns the paths); ``("plane", out_dir, name)`` computes
        the 2-D exclusion ``name`` and writes its files (returns the
        :class:`~globalfit.limits.exclusion.Exclusion`)."""
        cfg = self.cfg
        if part[0] == "curves":
            _, out_dir, curves, fit_resolved = part
            labels = [legend_label(lk) for lk in cfg.setup.likelihoods.values()]
            direct = {k: t.label for k, t in self.direct.items()}
            return write_outputs(cfg, curves, out_dir, fit_resolved, labels, direct)
        from .exclusion import exclusion, write_exclusion
        _, out_dir, name = part
        ex = exclusion(cfg, self.direct, name)
        write_exclusion(cfg, name, ex, out_dir)
        return ex


def compute_curves(calc: LimitCalculator, pool: Any = None) -> dict[str, np.ndarray]:
    """Every curve on the mass grid: name -> (n_masses,) array (mu_B). The masses are mapped
    over ``pool`` (``globalfit.samplers.pool``; serial when None) in blocks of 8 masses per
    process, with a progress bar."""
    n = len(calc.cfg.masses_gev)
    size = 1 if pool is None else int(pool.size)
    rows: list[dict[str, float]] = []
    with progress(n, "limits grid", unit="mass point") as bar:
        if size == 1:
            for i in range(n):
                rows.append(calc.at_mass(i))
                bar.set_status(f"m_A' = {calc.cfg.masses_gev[i]:.3g} GeV")
                bar.update(1)
        else:
            from ..samplers.pool import Ref, register
            register(_REGISTRY_KEY, calc)      # no-op for workers forked before this
            # blocks of 8 masses per process: few synchronisation points (the pool balances
            # the masses within a block), and still a progress update every few seconds
            for start in range(0, n, 8 * size):
                block = range(start, min(n, start + 8 * size))
                rows += pool.map(Ref(_REGISTRY_KEY, "at_mass"), block)
                bar.update(len(block))
    return {key: np.array([r[key] for r in rows]) for key in rows[0]}


def curve_file(key: str) -> str:
    """CSV file name of a curve key: ``borexino/profile`` -> ``borexino_profile.csv``,
    ``combined/0.3/profile`` -> ``combined_gd0.3_profile.csv``, ``br_inv/0.3`` ->
    ``br_inv_gd_0.3.csv``."""
    return key.replace("/", "_").replace("br_inv", "br_inv_gd").replace(
        "indirect_", "indirect_gd").replace("combined_", "combined_gd") + ".csv"


def _header(cfg: LimitsConfig) -> str:
    fixed = ", ".join(f"{k} = {v:.6g}" for k, v in cfg.resolved["fixed"].items())
    return ("# 90% C.L. upper limit on mu = eps*lambda^D (flavour-universal mu_eff, m_A'->0 "
            f"normalisation), mu_B\n# model {cfg.setup.model.name}, fixed: {fixed} "
            f"(coupling scale {', '.join(cfg.resolved['coupling_scale'])} at s = 1)\n"
            "# produced by globalfit limits (docs/limits.md)\n")


def write_outputs(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], out_dir: Path,
                  fit_resolved: Mapping[str, Any] | None = None, labels: Sequence[str] = (),
                  direct: Mapping[str, str] | None = None) -> list[Path]:
    """One CSV per curve, ``summary.json``, ``config.yaml`` (the resolved fit config with the
    resolved ``limits:`` section) and ``limits.png``/``.pdf``."""
    import yaml
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    header = _header(cfg)
    for key, values in curves.items():
        path = out_dir / curve_file(key)
        col = "br_inv" if key.startswith("br_inv") else "mu_90_mub"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            fh.write(f"# curve: {key}\n" + header)
            w = csv.writer(fh)
            w.writerow(["m_aprime_gev", col])
            w.writerows((f"{m:.8e}", f"{v:.8e}") for m, v in zip(cfg.masses_gev, values))
        written.append(path)
    resolved = {**dict(fit_resolved or {}), "limits": cfg.resolved}
    (out_dir / "config.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(
        resolved, default=str)), sort_keys=False), encoding="utf-8")
    summary = {"kind": "globalfit limits", "masses_gev": cfg.masses_gev.tolist(),
               "curves": {k: v.tolist() for k, v in curves.items()},
               "plane": cfg.resolved.get("plane")}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    written += [out_dir / "config.yaml", out_dir / "summary.json"]
    from .plot import plot_limits
    written += plot_limits(cfg, curves, out_dir, labels, direct)
    written.append(write_figure_data(cfg, curves, out_dir / FIGURE_DATA))
    return written


def figure_method(cfg: LimitsConfig) -> str:
    """The method ``limits.png`` shows: profile when computed, else the first one."""
    return "profile" if "profile" in cfg.methods else cfg.methods[0]


def write_figure_data(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], path: Path) -> Path:
    """``m_aprime_gev`` and one column per curve of ``limits.png`` (its method; column
    names as the curve files without ``.csv``, e.g. ``combined_gd0.1_profile``), mu_B."""
    method = figure_method(cfg)
    keys = [k for k in curves if k.endswith(f"/{method}")]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"# the curves of limits.png ({method}); columns: m_A' in GeV, 90% C.L. "
                 "upper limits on eps*lambda^D in mu_B\n" + _header(cfg))
        w = csv.writer(fh)
        w.writerow(["m_aprime_gev"] + [curve_file(k)[:-4] for k in keys])
        for i, m in enumerate(cfg.masses_gev):
            w.writerow([f"{m:.8e}"] + [f"{curves[k][i]:.8e}" for k in keys])
    return path


def _check_out_dir(out_dir: Path, force: bool) -> bool:
    """True when ``out_dir`` holds an earlier limits output that ``force`` may replace; refuse
    (ConfigError) a non-empty directory without ``force``, and with ``force`` anything that is
    not a limits output (it holds the ``summary.json`` this command writes)."""
    if not (out_dir.exists() and any(out_dir.iterdir())):
        return False
    if not force:
        raise ConfigError(f"{out_dir}: output directory exists; use --force to overwrite it")
    try:
        kind = json.loads((out_dir / "summary.json").read_text(encoding="utf-8")).get("kind")
        ok = kind in (None, "globalfit limits")
    except (OSError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise ConfigError(f"{out_dir}: not a limits output directory (no summary.json of "
                          "globalfit limits); refusing to overwrite it with --force")
    return True


def _remove_previous(out_dir: Path) -> None:
    """Remove the files an earlier limits output wrote (and nothing else)."""
    from .hepdata import DIRECTORY, written_files
    for path in out_dir.iterdir():
        if path.is_file() and (path.name in _FIXED_FILES or (
                path.suffix == ".csv" and path.name.startswith(_CSV_PREFIXES))):
            path.unlink()
    hep = out_dir / DIRECTORY
    for path in written_files(hep):
        path.unlink()
    if hep.is_dir() and not any(hep.iterdir()):
        hep.rmdir()


def _sources(cfg: LimitsConfig, calc: LimitCalculator) -> dict[str, tuple[str, str]]:
    """Curve group -> (legend name, citations) for the HEPData tables."""
    out = {k: (t.label, getattr(t, "citation", "")) for k, t in calc.direct.items()}
    lks = list(cfg.setup.likelihoods.values())
    ind = (" + ".join(legend_label(lk) for lk in lks),
           "; ".join(str(lk.citation) for lk in lks if lk.citation))
    out["indirect"] = ind
    if calc.borexino is not None:
        out["combined"] = (f"{calc.borexino.label} + {ind[0]}",
                           "; ".join(c for c in (getattr(calc.borexino, "citation", ""), ind[1])
                                     if c))
    return out


def _export_hepdata(cfg: LimitsConfig, calc: LimitCalculator, curves: Mapping[str, np.ndarray],
                    planes: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """The HEPData submission of every curve and contour (:mod:`.hepdata`)."""
    from . import hepdata
    fixed = cfg.resolved["fixed"]
    quals = [(tex, f"{fixed[k] * 1e3:g}", "MeV") for k, tex in
             (("m_s_gev", "M_S"), ("dm_s_gev", "Delta M_S"), ("m_n_gev", "m_N")) if k in fixed]
    model = cfg.setup.model.name
    tables = hepdata.curve_tables(curves, cfg.masses_gev, _sources(cfg, calc), quals, model)
    for name, ex in planes.items():
        ps = cfg.plane
        pq = [("g_D", ps.g_d, "")] + quals
        if name == "m_eps":
            pq += [(k, ps.scale * v, "") for k, v in cfg.setup.scale_ref.items()]
        tables += hepdata.contour_tables(name, ex.lines, ex.grid.labels, ex.grid.citations,
                                         ps.threshold, ps.dof, pq, model)
    figures = [out_dir / "limits.png"] + [out_dir / f"exclusion_{n}.png" for n in planes]
    comment = ("90% C.L. limits on the effective dark transition magnetic moment "
               "eps*lambda^D of Majorana neutrinos through a dark photon, and 2-D exclusions "
               f"in (m_A', eps) and (m_A', eps*lambda^D), model {model}; produced by "
               "globalfit limits (docs/limits.md).")
    return hepdata.write_hepdata(out_dir, tables, comment, figures)


def run_limits(cfg: LimitsConfig, out_dir: Path, force: bool = False,
               borexino: MomentTerm | None = None,
               fit_resolved: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Compute every curve and write the outputs into ``out_dir`` (refuses an existing,
    non-empty directory unless ``force``). Returns the curves.

    The curves are mapped over the pool (:func:`compute_curves`); then the earlier output is
    removed (``force``) and the rest is mapped over the same pool as independent parts
    (:meth:`LimitCalculator.finish`): the 1-D files and figure, and each 2-D plane computed
    and written, so that on 2 or more processes the planes and figures do not wait for each
    other."""
    from ..samplers.pool import Ref, make_pool, register
    replace = _check_out_dir(out_dir, force)
    calc = LimitCalculator(cfg, borexino)
    register(_REGISTRY_KEY, calc)          # before the pool forks its workers
    pool = make_pool(cfg.pool["kind"], cfg.pool["n_processes"])
    if not pool.is_master:                 # MPI worker ranks evaluate blocks, then stop
        pool.wait()
        return {}
    try:
        curves = compute_curves(calc, pool)
        if replace:
            _remove_previous(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        planes = () if cfg.plane is None else tuple(cfg.plane.planes)
        parts = {f"plane:{name}": ("plane", out_dir, name) for name in planes}
        parts["curves"] = ("curves", out_dir, curves, dict(fit_resolved or {}))
        order = [k for k in PART_ORDER if k in parts]
        done = dict(zip(order, pool.map(Ref(_REGISTRY_KEY, "finish"),
                                        [parts[k] for k in order])))
    finally:
        pool.close()
    if cfg.format == "hepdata":
        _export_hepdata(cfg, calc, curves, {name: done[f"plane:{name}"] for name in planes},
                        out_dir)
    return curves


def main(argv: Sequence[str] | None = None) -> int:
    """``globalfit limits --config FILE [--out DIR] [--method M] [--format F] [--force]
    [--quiet]``; exit status 0 done, 2 bad input (one line on stderr)."""
    ap = argparse.ArgumentParser(prog="globalfit limits",
                                 description="90% C.L. limits on eps*lambda^D versus m_A' "
                                             "(reads the fit config and its limits: section)")
    ap.add_argument("--config", default=None, help="fit config (YAML), e.g. fit.yaml")
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default: <limits.output.directory>/<name>)")
    ap.add_argument("--method", choices=METHODS + ("both",), default=None,
                    help="override limits.methods")
    ap.add_argument("--format", choices=FORMATS, default=None,
                    help="override limits.format (hepdata: also a HEPData submission)")
    ap.add_argument("--force", action="store_true",
                    help="replace an earlier limits output in the output directory")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    args = ap.parse_args(argv)
    configure(args.quiet)
    try:
        if args.config is None:
            raise ConfigError("--config: required (the fit config, e.g. fit.yaml)")
        overrides = {}
        if args.method:
            overrides["methods"] = list(METHODS) if args.method == "both" else [args.method]
        if args.format:
            overrides["format"] = args.format
        fit, cfg = load(args.config, overrides or None)
        out_dir = args.out if args.out is not None else cfg.out_dir
        resolved = {k: v for k, v in fit.resolved.items() if k != "limits"}
        curves = run_limits(cfg, out_dir, force=args.force, fit_resolved=resolved)
    except GlobalFitError as exc:
        print(f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
              file=sys.stderr)
        return 2
    if curves:
        method = cfg.methods[0]
        parts = [f"{k.rsplit('/', 1)[0]} {v[0]:.3g}" for k, v in curves.items()
                 if k.endswith(f"/{method}")]
        print(f"wrote {out_dir}: limits (mu_B, {method}) at m_A' = {cfg.masses_gev[0]:.3g} GeV: "
              + ", ".join(parts))
    return 0


__all__ = ["FIGURE_DATA", "LimitCalculator", "compute_curves", "curve_file", "figure_method",
           "main", "run_limits", "write_figure_data", "write_outputs"]
