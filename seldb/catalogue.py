"""The catalogue of measures: every number seldb stores per unit, described once.

The entries are the data file beside this module, catalogue.toml. The
storage tables, the COPY column lists, the views' select lists, the reports'
column lists, the correlations, the docs and the columns' COMMENTs all read
them from here, so a measure is added in one place: an entry there and the
function that computes it (see `seldb.measures.per_unit`, `@produces`). The
tests fail when a consumer disagrees.

Entries are in the order of the view seldb.unit_measures (views only ever
gain columns, so new entries go at the end of their list). Reports list
measures by family (the paper's order: precision first), then in catalogue
order within a family.

This module imports nothing of seldb, so every layer may read it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

DEFAULT_TOP_K = (60, 100)  # always computed: the views' precision_60 and precision_100
P_LEVELS = (1.0, 0.95)  # recall at these precisions: the views' recall_p1 and recall_p95
# Reports show the families in this order (the paper leads with precision).
FAMILIES = ("images", "precision", "ccmas", "localist", "recall", "informedness")
SQL_TYPES = {"float8": "double precision", "int4": "integer", "bool": "boolean", "class": "text"}
ROLES = ("value", "class", "threshold")


@dataclass(frozen=True)
class Measure:
    """One column of a measure table (the fields are explained in catalogue.toml)."""

    name: str
    type: str
    family: str
    doc: str
    role: str = "value"
    class_column: str | None = None
    threshold_column: str | None = None
    rank: bool = False
    correlate: bool = False
    summarise: bool = False

    @property
    def stored_type(self) -> str:
        """The storage column's type (a class is stored as its index)."""
        return "int4" if self.type == "class" else self.type


def _measure(entry: dict) -> Measure:
    role = entry.get("role", "value")
    numeric_value = role == "value" and entry["type"] in ("float8", "int4")
    entry = {"rank": numeric_value, "summarise": numeric_value or role == "threshold", **entry}
    measure = Measure(**entry)
    if measure.type not in SQL_TYPES or measure.family not in FAMILIES or measure.role not in ROLES:
        raise ValueError(f"catalogue.toml: {measure.name}: unknown type, family or role")
    return measure


def _load() -> dict[str, tuple[Measure, ...]]:
    text = resources.files(__package__).joinpath("catalogue.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {kind: tuple(_measure(entry) for entry in data[kind]) for kind in ("unit", "concept")}


_CATALOGUE = _load()
UNIT_MEASURES: tuple[Measure, ...] = _CATALOGUE["unit"]
CONCEPT_MEASURES: tuple[Measure, ...] = _CATALOGUE["concept"]  # a set of classes A against every other image


def by_name(measures: tuple[Measure, ...] | None = None) -> dict[str, Measure]:
    """Measures by column name (default: the unit measures)."""
    return {m.name: m for m in (UNIT_MEASURES if measures is None else measures)}


def names(measures: tuple[Measure, ...] | None = None) -> list[str]:
    """Column names in catalogue (= view) order (default: the unit measures)."""
    return [m.name for m in (UNIT_MEASURES if measures is None else measures)]


def in_report_order(measures) -> list[Measure]:
    """Families in FAMILIES order, catalogue order within a family."""
    position = {family: i for i, family in enumerate(FAMILIES)}
    return sorted(measures, key=lambda m: position[m.family])  # sorted() is stable


def values() -> list[Measure]:
    """The unit measures proper (no class or threshold columns), in report order."""
    return in_report_order(m for m in UNIT_MEASURES if m.role == "value")


def rankable() -> list[str]:
    return [m.name for m in in_report_order(UNIT_MEASURES) if m.rank]


def correlated() -> list[str]:
    """The measures of seldb.measure_correlations, in report order (pairs follow it)."""
    return [m.name for m in in_report_order(UNIT_MEASURES) if m.correlate]


def summarised() -> list[str]:
    """The measures of seldb.layer_summary, in report order."""
    return [m.name for m in in_report_order(UNIT_MEASURES) if m.summarise]
