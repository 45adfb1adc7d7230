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
import shutil
import sys
import tempfile
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
#: the 2-D planes are computed and written in the same pool map as the masses, first in its
#: queue (costliest first, on the default grid: the moment plane ~3 s + ~1.4 s for its files
#: and figure, the (m_A', eps) plane ~1 s + ~1.4 s, a mass ~0.45 s)
PLANE_ORDER = ("m_mu", "m_eps")
#: the plane files are written into a folder ``<out>/.planes-*`` of this run first, and moved
#: into ``<out>`` when every task has ended (the folder is removed in any case)
_STAGING_PREFIX = ".planes-"
#: longest sleep (ms) of an idle MPI rank between polls in a limits run: its tasks take
#: 0.1-5 s, and at the fit's 0.1 ms the polling thread of rank 0 slowed rank 0's own masses
#: by ~25 % (0.59 against 0.47 s per mass on 2 ranks, benchmarks/README.md "MPI")
BACKOFF_MS = 5.0
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

    def task(self, item: tuple) -> Any:
        """One task of the grid map (:func:`compute_grid`): ``("mass", i)`` gives
        :meth:`at_mass` ``(i)``; ``("plane", name, directory)`` computes the 2-D exclusion
        ``name`` and writes its files and figure into ``directory`` (written on the process
        that computed it: shipping its ~2 MB of grids between ranks took 1-2 s while rank 0
        computed), returning ``(paths, exclusion)``; the exclusion is kept only for
        ``format: hepdata`` (else None)."""
        if item[0] == "mass":
            return self.at_mass(int(item[1]))
        from .exclusion import exclusion, write_exclusion
        _, name, directory = item
        ex = exclusion(self.cfg, self.direct, name)
        paths = write_exclusion(self.cfg, name, ex, Path(directory))
        return paths, (ex if self.cfg.format == "hepdata" else None)

    def finish(self, part: tuple) -> list[Path]:
        """One part of the 1-D output (``part = (what, out_dir, curves, fit_resolved)``):
        ``what = "files"`` writes the curve files, ``summary.json`` and ``config.yaml``;
        ``"figure"`` writes ``limits.png``/``.pdf`` and their data file, ``"figure:png"``
        only ``limits.png`` and the data file, ``"figure:pdf"`` only ``limits.pdf``.
        Returns the paths written."""
        cfg = self.cfg
        what, out_dir, curves, fit_resolved = part
        if what == "files":
            return write_outputs(cfg, curves, out_dir, fit_resolved, figure=False)
        labels = [legend_label(lk) for lk in cfg.setup.likelihoods.values()]
        direct = {k: t.label for k, t in self.direct.items()}
        formats = ("png", "pdf") if what == "figure" else (what.split(":", 1)[1],)
        return write_figure(cfg, curves, out_dir, labels, direct, formats)


def compute_grid(calc: LimitCalculator, pool: Any = None, planes: Sequence[str] = (),
                 plane_dir: Path | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, tuple[list[Path], Any]]]:
    """Every curve on the mass grid (name -> (n_masses,) array, mu_B) and the 2-D exclusions
    ``planes``, written into ``plane_dir`` (name -> (paths, exclusion or None), see
    :meth:`LimitCalculator.task`), as one map over ``pool`` (``globalfit.samplers.pool``;
    serial when None): the planes, the costliest tasks, at both ends of the queue (every
    second one at the back), so that on 2 or more processes a worker (from the front) and
    rank 0 (from the back) each start one first while the others take masses, no process
    waits for another until the last task, and rank 0 has drawn a figure (imported
    matplotlib, ~0.3 s) before it draws part of the 1-D figure. A progress bar counts the
    tasks as they end."""
    n = len(calc.cfg.masses_gev)
    order = [name for name in PLANE_ORDER if name in planes]
    order += [name for name in planes if name not in order]
    front, back = order[0::2], order[1::2][::-1]
    items: list[tuple] = [("plane", name, str(plane_dir)) for name in front]
    items += [("mass", i) for i in range(n)]
    items += [("plane", name, str(plane_dir)) for name in back]
    with progress(len(items), "limits grid and planes" if order else "limits grid",
                  unit="task") as bar:
        def done(i: int) -> None:
            item = items[i]
            if item[0] == "mass":
                bar.set_status(f"m_A' = {calc.cfg.masses_gev[item[1]]:.3g} GeV")
            bar.update(1)
        from ..samplers.pool import Ref, SerialPool, register
        if pool is None or int(pool.size) == 1:
            results = SerialPool().map(calc.task, items, on_result=done)
        else:
            register(_REGISTRY_KEY, calc)      # no-op for workers forked before this
            results = pool.map(Ref(_REGISTRY_KEY, "task"), items, on_result=done)
    rows = [r for item, r in zip(items, results) if item[0] == "mass"]
    curves = {key: np.array([r[key] for r in rows]) for key in rows[0]}
    planes_done = {item[1]: r for item, r in zip(items, results) if item[0] == "plane"}
    return curves, {name: planes_done[name] for name in order}


def compute_curves(calc: LimitCalculator, pool: Any = None) -> dict[str, np.ndarray]:
    """Every curve on the mass grid: name -> (n_masses,) array (mu_B); the masses mapped
    over ``pool`` (:func:`compute_grid` without planes)."""
    return compute_grid(calc, pool)[0]


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
                  direct: Mapping[str, str] | None = None, figure: bool = True) -> list[Path]:
    """One CSV per curve, ``summary.json``, ``config.yaml`` (the resolved fit config with the
    resolved ``limits:`` section) and, with ``figure``, :func:`write_figure`."""
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
    if figure:
        written += write_figure(cfg, curves, out_dir, labels, direct)
    return written


def write_figure(cfg: LimitsConfig, curves: Mapping[str, np.ndarray], out_dir: Path,
                 labels: Sequence[str] = (), direct: Mapping[str, str] | None = None,
                 formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """``limits.<format>`` for each of ``formats`` (:func:`globalfit.limits.plot.plot_limits`)
    and, with ``png``, the data file of its curves (:func:`write_figure_data`)."""
    from .plot import plot_limits
    out_dir.mkdir(parents=True, exist_ok=True)
    written = list(plot_limits(cfg, curves, out_dir, labels, direct, formats))
    if "png" in formats:
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

    The masses and the 2-D planes (computed and written into a folder of this run) are one
    map over the pool (:func:`compute_grid`); then the earlier output is removed
    (``force``), the plane files are moved into ``out_dir`` and the 1-D files and figure
    are written, as two tasks on the pool (:meth:`LimitCalculator.finish`)."""
    from ..samplers.pool import Ref, make_pool, register
    replace = _check_out_dir(out_dir, force)
    calc = LimitCalculator(cfg, borexino)
    register(_REGISTRY_KEY, calc)          # before the pool forks its workers
    pool = make_pool(cfg.pool["kind"], cfg.pool["n_processes"], backoff_ms=BACKOFF_MS)
    if not pool.is_master:                 # MPI worker ranks evaluate tasks, then stop
        pool.wait()
        return {}
    planes = () if cfg.plane is None else tuple(cfg.plane.planes)
    staging = None
    try:
        if planes:                         # plane files first go to a folder of our own
            out_dir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out_dir))
        curves, done = compute_grid(calc, pool, planes, staging)
        if replace:                        # only now: a failed grid leaves the old output
            _remove_previous(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if staging is not None:
            for paths, _ in done.values():
                for path in paths:
                    Path(path).replace(out_dir / Path(path).name)
        # the figure first in the queue: on 2 or more processes a worker, which has drawn a
        # plane and imported matplotlib, draws it while rank 0 writes the files; its PNG and
        # PDF are then two tasks (each draws the figure: ~0.25 s instead of ~0.5 s at the
        # end of the run, when every other process is idle)
        resolved = dict(fit_resolved or {})
        parts = ("figure:png", "figure:pdf", "files") if pool.size > 1 else ("figure", "files")
        pool.map(Ref(_REGISTRY_KEY, "finish"),
                 [(what, out_dir, curves, resolved) for what in parts])
    finally:
        pool.close()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    if cfg.format == "hepdata":
        _export_hepdata(cfg, calc, curves, {name: ex for name, (_, ex) in done.items()},
                        out_dir)
    return curves


def main(argv: Sequence[str] | None = None) -> int:
    """``globalfit limits --config FILE [--out DIR] [--method M] [--format F] [--force]
    [--quiet]``; exit status 0 done, 2 bad input (one line on stderr)."""
    from ..memory import keep_large_allocations
    keep_large_allocations()          # this process is ours: reuse freed large arrays
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
           "main", "run_limits", "write_figure", "write_figure_data", "write_outputs"]
