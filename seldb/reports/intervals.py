"""What the reports show of `seldb uncertainty`: intervals, p/q-values and the chance band.

Every report reads its numbers from the views; these helpers read the
uncertainty views (seldb.unit_measure_intervals, seldb.unit_measure_chance,
seldb.layer_measure_null) and add their columns to a report's frame, or
return nothing when the run has no such rows, so a report of a run without
intervals looks as it always did.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from seldb.db.read import frame

UNIT_COLUMNS = ["lo", "hi", "class_stability", "p", "q"]


def unit_uncertainty(conn: sa.Connection, where: dict, measures: pl.DataFrame) -> pl.DataFrame:
    """measures (one row per `measure`) with lo, hi, class_stability, p, q beside each, when computed."""
    intervals = frame(
        conn,
        "SELECT measure, lo, hi, class_stability FROM seldb.unit_measure_intervals"
        " WHERE run_id = :r AND layer = :l AND unit = :u",
        where,
    )
    chance = frame(
        conn,
        "SELECT measure, p, q FROM seldb.unit_measure_chance WHERE run_id = :r AND layer = :l AND unit = :u",
        where,
    )
    if intervals.is_empty() and chance.is_empty():
        return measures
    out = measures
    for part in (intervals, chance):
        if not part.is_empty():
            out = out.join(part, on="measure", how="left")
    return out


def ranked_interval(conn: sa.Connection, run_id: int, measure: str, rows: pl.DataFrame) -> pl.DataFrame:
    """rows (with unit_label) gain <measure>_lo and <measure>_hi, when the run has intervals of it."""
    found = frame(
        conn,
        "SELECT unit_label, lo, hi FROM seldb.unit_measure_intervals"
        " WHERE run_id = :r AND measure = :m AND unit_label = ANY(:units)",
        {"r": run_id, "m": measure, "units": rows["unit_label"].to_list()},
    )
    if found.is_empty():
        return rows
    found = found.rename({"lo": f"{measure}_lo", "hi": f"{measure}_hi"})
    return rows.join(found, on="unit_label", how="left", maintain_order="left")


def chance_band(conn: sa.Connection, run_id: int, measures: list[str]) -> pl.DataFrame:
    """Per (layer, measure): the chance band the box plots draw, from seldb.layer_measure_null.
    For a 'greater' measure the 95th to 99th percentile under shuffled labels, for a 'less' one
    the 5th to 1st; empty when the run has no permutations."""
    return frame(
        conn,
        """
        SELECT layer, measure, direction, permutations,
               CASE WHEN direction = 'less' THEN null_p05 ELSE null_p95 END AS band_95,
               CASE WHEN direction = 'less' THEN null_p01 ELSE null_p99 END AS band_99
        FROM seldb.layer_measure_null WHERE run_id = :r AND measure = ANY(:m)""",
        {"r": run_id, "m": measures},
    )
