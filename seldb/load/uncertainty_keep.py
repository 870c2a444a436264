"""What a one-sided uncertainty pass keeps of a layer's stored rows.

A layer's rows hold two halves: the bootstrap intervals and the permutation
chance baseline. A pass that computes only one of them (`--bootstrap 0` or
`--permutations 0`) adds to what is stored: the other half is read back here
and stored again beside the new one, with its own settings (replicates, seed,
level), unless the caller asks to replace the layer's rows (`replace=True`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl
import sqlalchemy as sa

from seldb.db import schema as s
from seldb.measures.resampling.estimates import COLUMN_TYPES, UncertaintyResult

INTERVAL_COLUMNS = (
    "unit",
    "measure",
    "estimate",
    "lo",
    "hi",
    "replicates",
    "class_stability",
    "class_lo",
    "class_hi",
    "method",
    "bias",
    "valid",
    "reason",
)
CHANCE_COLUMNS = ("unit", "measure", "estimate", "direction", "p", "q", "permutations", *s.NULL_SUMMARY_COLUMNS)


def _frame(conn: sa.Connection, table: sa.Table, columns, where) -> pl.DataFrame:
    rows = conn.execute(sa.select(*[table.c[c] for c in columns]).where(where)).all()
    types = {c: _TYPES.get(c, pl.Float64) for c in columns}
    return pl.DataFrame([tuple(r) for r in rows], schema=types, orient="row")


_TYPES = {**COLUMN_TYPES, "null_values": pl.Int64}


def keep_other_half(
    conn: sa.Connection, run_id: int, layer_id: int, result: UncertaintyResult, options
) -> tuple[UncertaintyResult, dict[str, Any]]:
    """The layer's result with the half this pass did not compute filled in from the stored rows
    (when there are any and the pass does not replace them), and the settings row to store."""
    settings: dict[str, Any] = dict(
        bootstrap=options.bootstrap,
        permutations=options.permutations,
        seed=options.seed,
        level=options.level,
        permutation_seed=options.seed if options.permutations else None,
    )
    if options.replace or (options.bootstrap and options.permutations):
        return result, settings
    table = s.uncertainty_layers
    old = conn.execute(
        sa.select(table).where((table.c.run_id == run_id) & (table.c.layer_id == layer_id))
    ).one_or_none()
    if old is None:
        return result, settings
    units = s.unit_measure_uncertainty
    here = (units.c.run_id == run_id) & (units.c.layer_id == layer_id)
    if not options.bootstrap and old.bootstrap:
        kept = _frame(conn, units, INTERVAL_COLUMNS, here & units.c.method.is_not(None))
        result = dataclasses.replace(result, intervals=kept)
        settings.update(bootstrap=old.bootstrap, seed=old.seed, level=old.level)
    if not options.permutations and old.permutations:
        kept = _frame(conn, units, CHANCE_COLUMNS, here & units.c.direction.is_not(None))
        null = s.layer_measure_null
        layer_null = _frame(
            conn,
            null,
            [c.name for c in null.columns][2:],
            (null.c.run_id == run_id) & (null.c.layer_id == layer_id),
        )
        result = dataclasses.replace(result, chance=kept, layer_null=layer_null)
        permutation_seed = old.seed if old.permutation_seed is None else old.permutation_seed
        settings.update(permutations=old.permutations, permutation_seed=permutation_seed)
    return result, settings
