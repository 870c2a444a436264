"""Which units of a run `seldb am` makes images of: named ones, or the top N by a measure.

Named units are checked against the run (one line for an unknown layer or
unit); the top N come from seldb.unit_measures, highest first, dead units and
NULLs never ranking, ties broken by layer and unit so a rerun picks the same.
"""

from __future__ import annotations

import sqlalchemy as sa

from seldb import catalogue
from seldb.am.options import AMOptions
from seldb.db.read import Run, check_layer, did_you_mean, find_unit
from seldb.errors import InputError, SeldbError


def chosen_units(conn: sa.Connection, run: Run, options: AMOptions) -> list[tuple[str, int]]:
    """(layer, unit) pairs in the order asked (labels) or ranked (top N); no pair twice."""
    if options.units:
        pairs = [find_unit(conn, run, label) for label in options.units]
        return list(dict.fromkeys(pairs))
    return top_units(conn, run, options.by, options.top, options.layer)


def top_units(conn: sa.Connection, run: Run, by: str, n: int, layer: str | None = None) -> list[tuple[str, int]]:
    rankable = catalogue.rankable()
    if by not in rankable:
        raise InputError(f"--by must be a measure that ranks units, got {by!r}{did_you_mean(by, rankable)}")
    where = "run_id = :r AND NOT COALESCE(is_dead, false)"
    params: dict = {"r": run.run_id, "n": n}
    if layer is not None:
        params["l"] = check_layer(conn, run, layer)
        where += " AND layer = :l"
    # `by` is a catalogue measure (checked above), safe to splice
    rows = conn.execute(
        sa.text(
            f"SELECT layer, unit FROM seldb.unit_measures WHERE {where} AND {by} IS NOT NULL"
            f" ORDER BY {by} DESC, layer, unit LIMIT :n"
        ),
        params,
    ).all()
    if not rows:
        scope = f"layer {layer} of " if layer else ""
        raise SeldbError(f"no live unit of {scope}{run.name} has a value of {by}")
    return [(row.layer, int(row.unit)) for row in rows]


def layer_ids(conn: sa.Connection, run_id: int) -> dict[str, tuple[int, str]]:
    """{layer name: (layer_id, reduction)} of the run."""
    rows = conn.execute(
        sa.text("SELECT name, layer_id, reduction FROM seldb_store.run_layers WHERE run_id = :r"), {"r": run_id}
    ).all()
    return {row.name: (int(row.layer_id), row.reduction) for row in rows}
