"""Names a reader recognises: "NA64 (2023)", "MEG II (2025)", never a config label.

A likelihood's legend name is its experiment and the year of the publication it reads, both
taken from its ``citation`` (the class attribute, refined per data set by the instance; e.g.
"NA64, Yu. M. Andreev et al., Phys. Rev. Lett. 131 (2023) 161801" -> "NA64 (2023)"). A few
experiments name their data set more precisely than the citation's first author field does
(:data:`EXPERIMENT_NAMES`); a citation without a recognisable year gives the name alone.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

#: likelihood registry name -> experiment and data set, where the citation's first field is
#: not what a reader calls it (Borexino's spectrum is the Phase-II data set, XENONnT's the
#: first science run SR0, the LEP likelihood combines four experiments)
EXPERIMENT_NAMES: dict[str, str] = {"borexino": "Borexino Phase II", "xenonnt": "XENONnT SR0",
                                    "lep": "LEP"}

_YEAR = re.compile(r"\((19|20)(\d\d)\)")


def citation_year(citation: str) -> str | None:
    """The first publication year "(YYYY)" of a citation, or None."""
    match = _YEAR.search(citation)
    return match.group(1) + match.group(2) if match else None


def experiment_name(lk: Any) -> str:
    """Experiment (and data set) of a likelihood: :data:`EXPERIMENT_NAMES`, else the
    citation's first comma-separated field without "Collaboration", else its registry name."""
    name = str(getattr(lk, "name", "") or type(lk).__name__)
    if name in EXPERIMENT_NAMES:
        return EXPERIMENT_NAMES[name]
    citation = str(getattr(lk, "citation", "") or "")
    first = citation.split(",")[0].replace(" Collaboration", "").strip()
    return first if first and len(first) <= 30 else name


def legend_label(lk: Any) -> str:
    """"Experiment (year)" of a likelihood, e.g. "NA64 (2023)", "MEG II (2025)"."""
    year = citation_year(str(getattr(lk, "citation", "") or ""))
    name = experiment_name(lk)
    return f"{name} ({year})" if year else name


def joined_labels(likelihoods: Iterable[Any]) -> str:
    """"NA64 (2023) + BaBar (2017) + MEG II (2025)"."""
    return " + ".join(legend_label(lk) for lk in likelihoods)


def citations(likelihoods: Iterable[Any]) -> list[str]:
    """The citation of every likelihood (in order, duplicates dropped)."""
    return list(dict.fromkeys(str(getattr(lk, "citation", "") or "") for lk in likelihoods
                              if getattr(lk, "citation", "")))


__all__ = ["EXPERIMENT_NAMES", "citation_year", "citations", "experiment_name",
           "joined_labels", "legend_label"]
