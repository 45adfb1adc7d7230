"""NA64 missing-energy counting likelihood for an invisibly decaying dark photon.

NA64 (CERN SPS H4) dumps 100 GeV electrons into an active ECAL target; an A' produced by
bremsstrahlung (e Z -> e Z A') that leaves no visible energy downstream gives a
missing-energy event. No event was observed in the signal box.

Signal (expected events)::

    s = N_EOT * Y(m_A') * eps^2 * f_miss

- ``Y(m_A')``: efficiency-folded signal yield per electron on target and per unit eps^2,
  *derived from the published 90 % C.L. curve* eps_90(m_A') of the 2016-2022 data
  (PRL 131 (2023) 161801, arXiv:2307.02404; shipped in ``data/accelerator/na64_2023_eps90.csv``).
  With n = 0 observed events the 90 % C.L. upper limit on the signal is s_90 = -ln(0.1)
  = 2.303 events for *any* background: in the Bayesian treatment with a flat prior on s the
  background factor e^{-b} cancels in the posterior (Helene, Nucl. Instrum. Meth. 212 (1983)
  319), and the CLs method used by NA64 gives the same number (CLs = e^{-s} for n = 0;
  A. L. Read, J. Phys. G 28 (2002) 2693). Hence::

      Y(m) = 2.303 / (N_EOT,2023 * eps_90(m)^2),

  with ``BR(A' -> invisible) = 1`` as assumed by the curve. Between tabulated masses Y is
  interpolated linearly in (ln m, ln Y), i.e. as a local power law.
- ``f_miss``: the fraction of produced A' that leave no visible energy (EXPERIMENTS.md Sec. 2,
  MODEL.md Sec. 5). Default ``BR_inv``. Option ``long_lived_visible=True`` adds the visible
  decays that occur beyond the detector::

      f_miss = BR_inv + (1 - BR_inv) * exp(-L / l_dec),   l_dec = (p_A'/m_A') * hbar c / Gamma_tot,

  with p_A' = sqrt(E^2 - m^2), E = beam energy (100 GeV; in the signal region the A' carries
  more than half of it and usually nearly all), L = 6 m (ECAL front to the end of the HCAL,
  approximate; both configurable, defaults in ``data/accelerator/na64_datasets.yaml``).

Likelihood: Poisson, ln L = n ln(s + b) - (s + b) - ln n!, background b ~ N(b0, sigma_b) b >= 0,
handled by option ``background``:

- ``"marginalised"`` (default; integrated over the truncated Gaussian, Cousins & Highland 1992,
  see ``likelihoods._stats.MarginalisedPoisson``) -- the choice for a Bayesian fit;
- ``"profiled"`` (maximised, closed form; ``likelihoods._stats.profiled_poisson_loglike``);
- ``"sampled"``: the sampler supplies the nuisance ``na64_background`` (declared in
  ``nuisances`` with its Gaussian prior) and the Poisson term is evaluated at it.

The returned value is the log-likelihood *ratio to the no-signal hypothesis*,
ln L(s) - ln L(s = 0) (same background treatment): a constant shift that makes "no constraint"
exactly 0. With ``"sampled"`` the subtracted constant is ln P(n | b0) (it must not depend
on the sampled b). For n = 0 the marginalised and profiled treatments both give ln L = -s.

Masses outside the published curve (1.03 MeV - 1.43 GeV): with ``out_of_range="error"``
(default) the curve's range is the likelihood's ``domain``: a fit config whose mass prior
leaves it is rejected at validation, and ``loglike`` returns ``-inf`` there; ``"flat"`` makes
the domain every mass >= 0 and returns 0 outside the curve (NA64 sets no constraint).

Data sets (option ``dataset``): ``"2016-2022"`` (default) and ``"2016-2018"`` (PRL 123 (2019)
121801). The latter uses the same Y(m) curve with its own N_EOT: a stated approximation
(the efficiencies of the two analyses differ; tests bound the effect against the published
2019 curve). ``OVERLAPS`` says which data sets share events: never combine those.
"""
from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from globalfit.constants import HBARC_GEV_CM
from globalfit.errors import ConfigError, DataFileError, OutOfRangeError, ParameterError
from globalfit.options import Option, short_repr
from globalfit.paths import data_file
from globalfit.yamlio import load_yaml

from . import _stats
from .base import Likelihood, Nuisance

#: 90 % C.L. upper limit on the mean of a Poisson count with 0 observed events, -ln(0.1).
S90_ZERO_EVENTS: float = float(-np.log(0.1))

_HBARC_GEV_M: float = HBARC_GEV_CM * 1e-2
_BACKGROUND_MODES = ("marginalised", "profiled", "sampled")
_OUT_OF_RANGE_MODES = ("error", "flat")


#: keys of every entry of na64_datasets.yaml ``datasets`` and the finite non-negative
#: numbers among them
_DATASET_NUMBERS = ("eot", "n_obs", "background", "background_error")
_DATASET_KEYS = _DATASET_NUMBERS + ("run_years", "citation")


@functools.lru_cache(maxsize=None)
def _datasets_config() -> dict:
    """data/accelerator/na64_datasets.yaml, read safely (globalfit.yamlio) and checked: every
    data set has eot > 0, an integer n_obs >= 0, a finite background and error >= 0 and a
    list of run years; DataFileError naming the file and key otherwise."""
    path = data_file("accelerator", "na64_datasets.yaml")
    cfg = load_yaml(path, str(path), DataFileError)

    def bad(key: str, problem: str) -> DataFileError:
        return DataFileError(f"{path}: {key}: {problem}")

    if not isinstance(cfg, dict):
        raise bad("top level", "expected a mapping")
    for key in ("datasets", "yield_curve_dataset", "beam_energy_gev"):
        if key not in cfg:
            raise bad(key, "missing")
    sets = cfg["datasets"]
    if not isinstance(sets, dict) or not sets:
        raise bad("datasets", "expected a non-empty mapping")
    if cfg["yield_curve_dataset"] not in sets:
        raise bad("yield_curve_dataset", f"{short_repr(cfg['yield_curve_dataset'])} is not a "
                                         "data set of this file")
    beam = cfg["beam_energy_gev"]
    if isinstance(beam, bool) or not isinstance(beam, (int, float)) or not (
            np.isfinite(beam) and beam > 0):
        raise bad("beam_energy_gev", f"expected a finite number > 0, found {short_repr(beam)}")
    for name, entry in sets.items():
        where = f"datasets.{name}"
        if not isinstance(entry, dict):
            raise bad(where, "expected a mapping")
        for key in _DATASET_KEYS:
            if key not in entry:
                raise bad(f"{where}.{key}", "missing")
        for key in _DATASET_NUMBERS:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    np.isfinite(value) and value >= 0):
                raise bad(f"{where}.{key}", f"expected a finite number >= 0, found "
                                            f"{short_repr(value)}")
        if not entry["eot"] > 0:
            raise bad(f"{where}.eot", "must be > 0")
        if int(entry["n_obs"]) != entry["n_obs"]:
            raise bad(f"{where}.n_obs", f"expected an integer, found {short_repr(entry['n_obs'])}")
        if not isinstance(entry["run_years"], list) or not entry["run_years"]:
            raise bad(f"{where}.run_years", "expected a non-empty list")
    return cfg


@functools.lru_cache(maxsize=None)
def published_eps90_curve() -> tuple[np.ndarray, np.ndarray]:
    """The published 2016-2022 90 % C.L. curve: (m_aprime_gev, eps_90), both shape (78,)."""
    path = data_file("accelerator", "na64_2023_eps90.csv")
    table = _stats.read_table(path, ("m_aprime_gev", "eps_90"), n_rows=78,
                              increasing=("m_aprime_gev",), positive=("m_aprime_gev", "eps_90"))
    mass, eps90 = table["m_aprime_gev"], table["eps_90"]
    mass.setflags(write=False)
    eps90.setflags(write=False)
    return mass, eps90


def dataset_info(dataset: str) -> dict:
    """The entry of ``dataset`` in data/accelerator/na64_datasets.yaml (eot, n_obs,
    background, background_error, run_years, citation)."""
    sets = _datasets_config()["datasets"]
    if dataset not in sets:
        raise ConfigError(f"na64.dataset: unknown data set {short_repr(dataset)}; known: "
                          f"{', '.join(map(str, sets))}")
    info = dict(sets[dataset])
    for key in ("eot", "background", "background_error"):
        info[key] = float(info[key])
    info["n_obs"] = int(info["n_obs"])
    return info


def _compute_overlaps() -> dict[str, frozenset[str]]:
    sets = _datasets_config()["datasets"]
    return {a: frozenset(b for b in sets if b != a
                         and set(sets[a]["run_years"]) & set(sets[b]["run_years"]))
            for a in sets}


#: data set -> the other data sets that share events with it (common run years).
OVERLAPS: dict[str, frozenset[str]] = _compute_overlaps()


def overlapping_pairs(datasets: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """Pairs among ``datasets`` that must not be combined (they share events)."""
    for d in datasets:
        dataset_info(d)
    names = list(datasets)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
            if a == b or b in OVERLAPS[a]]


def eps90_published(m_aprime_gev: np.ndarray) -> np.ndarray:
    """The published 2023 curve eps_90(m), interpolated in log-log; NaN outside its range."""
    mass, eps90 = published_eps90_curve()
    m = np.asarray(m_aprime_gev, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(np.interp(np.log(m), np.log(mass), np.log(eps90)))
    return np.where((m >= mass[0]) & (m <= mass[-1]), out, np.nan)


class NA64Likelihood(Likelihood):
    """NA64 missing-energy count (see the module docstring for the physics and options).

    Options: ``dataset`` ("2016-2022" default | "2016-2018"), ``background``
    ("marginalised" default | "profiled" | "sampled"), ``out_of_range`` ("error" default |
    "flat"), ``long_lived_visible`` (False), ``beam_energy_gev`` and ``detector_length_m``
    (defaults from data/accelerator/na64_datasets.yaml).
    """

    name = "na64"
    citation = ("NA64, Yu. M. Andreev et al., Phys. Rev. Lett. 131 (2023) 161801, "
                "arXiv:2307.02404")
    options = (
        Option("dataset", (str,), "2016-2022", choices=tuple(_datasets_config()["datasets"]),
               doc="data set (data/accelerator/na64_datasets.yaml)"),
        Option("background", (str,), "marginalised", choices=_BACKGROUND_MODES,
               doc="background treatment"),
        Option("out_of_range", (str,), "error", choices=_OUT_OF_RANGE_MODES,
               doc="error: the curve's mass range is the domain; flat: 0 outside it"),
        Option("long_lived_visible", (bool,), False,
               doc="count visible decays beyond the detector as missing energy"),
        Option("beam_energy_gev", (float, type(None)), None, low=0.0, unit="GeV",
               doc="beam energy (null: data-set file)"),
        Option("detector_length_m", (float, type(None)), None, low=0.0, unit="m",
               doc="decay length to the end of the HCAL (null: data-set file)"),
    )
    derived_names = ("expected_signal",)

    def __init__(self, dataset: str = "2016-2022", background: str = "marginalised",
                 out_of_range: str = "error", long_lived_visible: bool = False,
                 beam_energy_gev: float | None = None,
                 detector_length_m: float | None = None) -> None:
        info = dataset_info(dataset)
        if background not in _BACKGROUND_MODES:
            raise ConfigError(f"na64.background: {background!r} is not one of "
                              f"{', '.join(_BACKGROUND_MODES)}")
        if out_of_range not in _OUT_OF_RANGE_MODES:
            raise ConfigError(f"na64.out_of_range: {out_of_range!r} is not one of "
                              f"{', '.join(_OUT_OF_RANGE_MODES)}")
        cfg = _datasets_config()
        self.dataset = dataset
        self.citation = info["citation"]
        self.background = background
        self.out_of_range = out_of_range
        self.long_lived_visible = bool(long_lived_visible)
        self.beam_energy_gev = float(cfg["beam_energy_gev"] if beam_energy_gev is None
                                     else beam_energy_gev)
        self.detector_length_m = float(cfg["detector_length_m"] if detector_length_m is None
                                       else detector_length_m)
        if not self.beam_energy_gev > 0:
            raise ConfigError(f"na64.beam_energy_gev: must be > 0, found {beam_energy_gev!r}")
        if not self.detector_length_m > 0:
            raise ConfigError(f"na64.detector_length_m: must be > 0, found "
                              f"{detector_length_m!r}")
        self.n_eot = float(info["eot"])
        self.n_obs = int(info["n_obs"])
        self.b0 = float(info["background"])
        self.sigma_b = float(info["background_error"])
        self.requires = ("m_aprime_gev", "eps", "br_inv") + (
            ("gamma_total_gev",) if self.long_lived_visible else ())
        self.nuisances = (Nuisance("na64_background", "events", "gaussian", center=self.b0,
                                   width=self.sigma_b, low=0.0,
                                   description=f"NA64 {dataset} expected background"),
                          ) if background == "sampled" else ()
        # parameter-independent precomputation: ln Y on the tabulated masses
        mass, eps90 = published_eps90_curve()
        n_eot_curve = float(dataset_info(cfg["yield_curve_dataset"])["eot"])
        self._log_mass = np.log(mass)
        self._log_yield = np.log(S90_ZERO_EVENTS / (n_eot_curve * eps90**2))
        self.m_min_gev, self.m_max_gev = float(mass[0]), float(mass[-1])
        self.domain = {"m_aprime_gev": (self.m_min_gev, self.m_max_gev)
                       if out_of_range == "error" else (0.0, np.inf)}
        self._marginal = _stats.MarginalisedPoisson(self.n_obs, self.b0, self.sigma_b)
        self._ll0_marginal = float(self._marginal(np.zeros(1))[0])
        self._ll0_sampled = float(_stats.poisson_loglike(self.n_obs, self.b0))
        self._ll0_profiled = float(_stats.profiled_poisson_loglike(
            self.n_obs, 0.0, self.b0, self.sigma_b))

    # -- physics pieces ------------------------------------------------------------------
    def yield_per_eot(self, m_aprime_gev: np.ndarray) -> np.ndarray:
        """Y(m): expected signal events per EOT per unit eps^2 (BR_inv = 1), shape of input;
        NaN outside the published mass range."""
        m = np.asarray(m_aprime_gev, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.exp(np.interp(np.log(m), self._log_mass, self._log_yield))
        return np.where((m >= self.m_min_gev) & (m <= self.m_max_gev), y, np.nan)

    def missing_fraction(self, observables: Mapping[str, np.ndarray]) -> np.ndarray:
        """f_miss: BR_inv, plus (long_lived_visible) BR_vis * exp(-L / l_dec). Shape (n,)."""
        br_inv = _stats.observable_array(observables, "br_inv", self.name)
        if np.any((br_inv < -1e-12) | (br_inv > 1.0 + 1e-12)):
            raise ParameterError(f"{self.name}: observable 'br_inv' outside [0, 1]")
        br_inv = np.clip(br_inv, 0.0, 1.0)
        if not self.long_lived_visible:
            return br_inv
        m = _stats.observable_array(observables, "m_aprime_gev", self.name)
        width = _stats.observable_array(observables, "gamma_total_gev", self.name)
        if np.any(width < 0):
            raise ParameterError(f"{self.name}: observable 'gamma_total_gev' is negative")
        energy = self.beam_energy_gev
        # L / l_dec = L * Gamma / ((p/m) hbar c); an A' at rest (p = 0) decays in the detector
        boost_length = np.sqrt(np.maximum(energy**2 - m**2, 0.0)) / m * _HBARC_GEV_M
        with np.errstate(over="ignore", invalid="ignore"):
            ratio = np.divide(self.detector_length_m * width, boost_length,
                              out=np.full_like(width, np.inf), where=boost_length > 0)
        survive = np.exp(-ratio)                                   # 1 for a stable A'
        return br_inv + (1.0 - br_inv) * survive

    def expected_signal(self, observables: Mapping[str, np.ndarray]) -> np.ndarray:
        """s = N_EOT Y(m) eps^2 f_miss, shape (n,); out-of-range masses are handled by the
        ``out_of_range`` option (NaN is returned there with ``"flat"``)."""
        m = _stats.observable_array(observables, "m_aprime_gev", self.name)
        eps = _stats.observable_array(observables, "eps", self.name)
        if np.any(m <= 0):
            raise ParameterError(f"{self.name}: observable 'm_aprime_gev' must be > 0")
        outside = (m < self.m_min_gev) | (m > self.m_max_gev)
        if self.out_of_range == "error" and outside.any():
            bad = float(m[outside][0])
            raise OutOfRangeError(
                f"{self.name}: m_aprime_gev = {bad:.6g} GeV outside the NA64 curve "
                f"[{self.m_min_gev:.6g}, {self.m_max_gev:.6g}] GeV (use out_of_range='flat' "
                "for no constraint there)")
        return self.n_eot * self.yield_per_eot(m) * eps * eps * self.missing_fraction(
            observables)

    # -- likelihood ----------------------------------------------------------------------
    def loglike(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """ln L(s) - ln L(0) for each point, shape (n,), finite or -inf (-inf outside
        ``domain``; 0 outside the curve with ``out_of_range="flat"``)."""
        observables, excluded, moved = self._inside_domain(observables)
        s = self.expected_signal(observables)
        outside = np.isnan(s) | moved          # off the curve: no constraint ("flat")
        s = np.where(outside, 0.0, s)
        if self.background == "marginalised":
            ll = self._marginal(s) - self._ll0_marginal
        elif self.background == "profiled":
            ll = _stats.profiled_poisson_loglike(self.n_obs, s, self.b0, self.sigma_b) \
                - self._ll0_profiled
        else:
            if nuisances is None or "na64_background" not in nuisances:
                raise ParameterError(f"{self.name}: background='sampled' needs the nuisance "
                                     "'na64_background'")
            b = np.broadcast_to(np.asarray(nuisances["na64_background"], dtype=float),
                                s.shape)
            if np.isnan(b).any():
                raise ParameterError(f"{self.name}: nuisance 'na64_background' contains NaN")
            ll = _stats.poisson_loglike(self.n_obs, s + np.maximum(b, 0.0)) - self._ll0_sampled
            ll = np.where(b < 0, -np.inf, ll)
        ll = np.where(outside, 0.0, ll)
        return ll if excluded is None else np.where(excluded, -np.inf, ll)

    def _inside_domain(self, observables: Mapping[str, np.ndarray]
                       ) -> tuple[Mapping[str, np.ndarray], np.ndarray | None, np.ndarray]:
        """(observables with masses outside ``domain`` or <= 0 moved onto the curve's edge,
        mask of the points outside ``domain`` or None, mask of moved points)."""
        m = _stats.observable_array(observables, "m_aprime_gev", self.name)
        excluded = self.outside_domain({"m_aprime_gev": m})
        moved = m <= 0.0 if excluded is None else excluded | (m <= 0.0)
        if moved.any():
            observables = dict(observables, m_aprime_gev=np.where(moved, self.m_min_gev, m))
        return observables, excluded, moved

    def derived(self, observables: Mapping[str, np.ndarray],
                nuisances: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """``expected_signal``: s per point (events), NaN outside the curve."""
        inside, _, moved = self._inside_domain(observables)
        return {"expected_signal": np.where(moved, np.nan, self.expected_signal(inside))}
