"""`seldb report concept bus`: each unit's measures for a set of classes (the paper's Tables A3-A5).

Reads seldb.concept_measures: the concept (e.g. bus = school bus +
trolleybus + minibus) against every other image, per unit, with Network
Dissection's IoU for the concept's name where a tally was imported. Rows in
network order, or by a measure, for every unit or the units asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from seldb import catalogue
from seldb.db.database import Database
from seldb.db.read import by_layer, find_unit, frame, layer_order, resolve_run
from seldb.errors import InputError, NotFound, SeldbError, did_you_mean
from seldb.load.concepts import list_concepts
from seldb.reports.base import Report, Section


def columns() -> list[str]:
    """What the report reads from seldb.concept_measures (the catalogue's concept measures and the IoU)."""
    return ["unit_label", "layer", "unit", *catalogue.names(catalogue.CONCEPT_MEASURES), "iou"]


NETWORK_ORDER = "network"  # --sort network: layers in network order, units in order


def sortable() -> list[str]:
    return [*columns()[3:], NETWORK_ORDER]


BRIEF = [
    "unit_label",
    "mean_a",
    "mean_not_a",
    "precision_60",
    "precision_100",
    "ccmas",
    "max_informedness",
    "mi_recall",
    "mi_false_alarm_rate",
    "recall_p1",
    "iou",
]


def concept_report(
    db: Database,
    concept: str,
    run: int | None = None,
    units: Sequence[str] | None = None,
    sort: str | None = None,
    n: int | None = None,
) -> Report:
    """The concept's measures for every unit of the run (or `units`), optionally the n best.

    Sorted by `sort` (highest first; "network" for network order); by default as the paper's Tables
    A3-A5: by the concept's Network Dissection IoU where the run has one, else by its precision_100.
    """
    names = [c["name"] for c in list_concepts(db)]
    if concept not in names:
        hint = did_you_mean(concept, names) or f"; known: {', '.join(names) or 'none yet (seldb concept add)'}"
        raise NotFound(f"no concept {concept!r}{hint}")
    if sort is not None and sort not in sortable():
        known = sortable()
        raise InputError(f"cannot sort by {sort!r}{did_you_mean(sort, known)}; columns: {', '.join(known)}")
    with db.connect() as conn:
        r = resolve_run(conn, run)
        pairs = [find_unit(conn, r, label) for label in units or []]
        query = f"SELECT {', '.join(columns())} FROM seldb.concept_measures WHERE run_id = :r AND concept = :c"
        rows = frame(conn, query, {"r": r.run_id, "c": concept})
        layers = layer_order(conn, r.run_id)
    if rows.is_empty():
        raise SeldbError(
            f"concept {concept!r} was not measured in {r.name}: its classes are not all in the run,"
            f" or it came later (seldb concept compute {concept} --run {r.run_id})"
        )
    if pairs:
        wanted = pl.DataFrame(pairs, schema={"layer": pl.String, "unit": rows.schema["unit"]}, orient="row")
        rows = rows.join(wanted, on=["layer", "unit"], how="semi")
    sort = sort or ("iou" if rows["iou"].is_not_null().any() else "precision_100")
    rows = _ordered(rows, layers, sort, n)
    title = f"Concept {concept} against all other images (Tables A3-A5): {r.name}"
    section = Section("concept", title, rows.drop("layer", "unit"), BRIEF)
    order = "network order" if sort == NETWORK_ORDER else f"{sort}, highest first"
    notes = [f"Units by {order}."]
    if rows["iou"].is_not_null().any():
        notes.append(
            f"iou: Network Dissection's IoU of the unit with the label {concept!r} (computed by seldb"
            " dissect where the layer was dissected, else an imported tally's); above 0.04 it counts as a"
            " detector of it."
        )
    return Report("concept", title, r.run_id, [section], notes=notes, qualifier=concept)


def _ordered(rows: pl.DataFrame, layers: list[str], sort: str, n: int | None) -> pl.DataFrame:
    if sort == NETWORK_ORDER:
        rows = rows.sort(by_layer(layers), pl.col("unit"))
    else:
        rows = rows.sort([sort, "unit_label"], descending=[True, False], nulls_last=True)
    return rows.head(n) if n else rows
