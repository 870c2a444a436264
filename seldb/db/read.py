"""The read layer: runs, layers and units resolved, and the views read into frames.

Everything that reads a stored run (the handle, reports, the web app, AM,
dissection, ratings, uncertainty, concepts) finds its run, layers and units
here, once, and says "no run N", "no layer L" or "no unit U" in the same
words, with what does exist. Query results become polars frames whose
column types follow PostgreSQL's, so an empty result still has typed columns.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from seldb.errors import NotFound, did_you_mean, plural  # noqa: F401  (did_you_mean: re-exported)

# PostgreSQL type OIDs -> polars types, for typed (also empty) frames
_PG_TYPES: dict[int, Any] = {
    16: pl.Boolean,
    20: pl.Int64,
    21: pl.Int16,
    23: pl.Int32,
    700: pl.Float32,
    701: pl.Float64,
    1700: pl.Float64,
    25: pl.String,
    1043: pl.String,
    19: pl.String,
    1184: pl.Datetime("us", "UTC"),
    1007: pl.List(pl.Int32),
    1016: pl.List(pl.Int64),
    1022: pl.List(pl.Float64),
    1009: pl.List(pl.String),
    3802: pl.String,
    114: pl.String,
}


def _plain(value: Any) -> Any:
    """Values polars cannot type on its own: numeric as float, JSON as its text."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def frame(conn: sa.Connection, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Run one SELECT and return its rows as a polars frame typed like the result columns."""
    result = conn.execute(sa.text(sql), dict(params or {}))
    description = result.cursor.description if result.cursor is not None else None
    columns = list(result.keys())
    rows = result.fetchall()
    data = {}
    for i, name in enumerate(columns):
        type_code: Any = description[i][1] if description else None  # DB-API: (name, type_code, ...)
        dtype = _PG_TYPES.get(type_code)
        values = [_plain(row[i]) for row in rows]
        try:
            data[name] = pl.Series(name, values, dtype=dtype, strict=False)
        except (TypeError, ValueError, pl.exceptions.PolarsError):  # an unusual type: let polars infer
            data[name] = pl.Series(name, values, strict=False)
    return pl.DataFrame(data)


NO_RUN_YET = "no run yet: make one with `seldb demo`, `seldb ingest` or `seldb import-h5 FILE`"
_BIGINT = 2**63


@dataclass(frozen=True)
class Run:
    run_id: int
    model: str
    dataset: str

    @property
    def name(self) -> str:
        return f"run {self.run_id} ({self.model} on {self.dataset})"


@dataclass(frozen=True)
class Layer:
    """One layer of a stored run: its name, its id within the run (network order) and its size."""

    name: str
    layer_id: int
    n_units: int
    reduction: str


def no_run(run_id: object) -> NotFound:
    return NotFound(f"no run {run_id} (seldb runs lists them)")


def no_layer(run: Run, names: list[str], layers: list[str]) -> NotFound:
    listed = ", ".join(map(repr, names))
    return NotFound(f"no layer {listed} in {run.name}; its layers: {', '.join(layers)}")


def latest_run_id(conn: sa.Connection) -> int:
    """The newest run (the highest id): what every "default: the latest run" means."""
    run_id = conn.execute(sa.text("SELECT max(run_id) FROM seldb_store.runs")).scalar()
    if run_id is None:
        raise NotFound(NO_RUN_YET)
    return int(run_id)


def resolve_run(conn: sa.Connection, run: int | None) -> Run:
    """The run asked for, or the latest run when None; NotFound when there is no such run."""
    run_id = latest_run_id(conn) if run is None else int(run)
    if not 0 < run_id < _BIGINT:  # beyond bigint: no such run (and not a database error)
        raise no_run(run)
    row = conn.execute(
        sa.text("SELECT run_id, model, dataset FROM seldb.runs WHERE run_id = :r"), {"r": run_id}
    ).first()
    if row is None:
        raise no_run(run)
    return Run(int(row.run_id), row.model, row.dataset)


def run_layers(conn: sa.Connection, run: Run) -> dict[str, Layer]:
    """The run's layers in network order (input side first), by name.

    The views have no layer-order column, and layer names do not sort in
    network order ("features.10" < "features.3"), so the order is the
    storage table's layer_id, which the importer assigns in file order.
    """
    query = "SELECT name, layer_id, n_units, reduction FROM seldb_store.run_layers WHERE run_id = :r ORDER BY layer_id"
    rows = conn.execute(sa.text(query), {"r": run.run_id}).all()
    return {row.name: Layer(row.name, int(row.layer_id), int(row.n_units), row.reduction) for row in rows}


def layer_order(conn: sa.Connection, run_id: int) -> list[str]:
    """The run's layer names in network order."""
    query = "SELECT name FROM seldb_store.run_layers WHERE run_id = :r ORDER BY layer_id"
    return list(conn.execute(sa.text(query), {"r": run_id}).scalars())


def check_layers(conn: sa.Connection, run: Run, names: Sequence[str] | None) -> list[Layer]:
    """The named layers of the run in network order (every layer when `names` is empty), else one NotFound."""
    layers = run_layers(conn, run)
    unknown = [name for name in names or [] if name not in layers]
    if unknown:
        raise no_layer(run, unknown, list(layers))
    return [layer for name, layer in layers.items() if not names or name in set(names)]


def check_layer(conn: sa.Connection, run: Run, layer: str) -> str:
    return check_layers(conn, run, [layer])[0].name


def by_layer(layers: list[str]) -> pl.Expr:
    """Sort key putting rows in network order; rows of no layer (NULL: all layers) last."""
    return pl.col("layer").replace_strict(
        {name: i for i, name in enumerate(layers)}, default=len(layers), return_dtype=pl.Int32
    )


def dead_note(conn: sa.Connection, run_id: int, include_dead: bool) -> list[str]:
    """The sentence saying how many dead units a summary left out (or kept); [] when there are none."""
    rows = conn.execute(
        sa.text(
            "SELECT layer, n_dead_units FROM seldb.layers WHERE run_id = :r AND n_dead_units > 0 ORDER BY layer_index"
        ),
        {"r": run_id},
    ).all()
    if not rows:
        return []
    total = sum(n for _, n in rows)
    per_layer = ", ".join(f"{layer} {n}" for layer, n in rows)
    what = f"{plural(total, 'dead unit')} (never above their lowest value: {per_layer})"
    if include_dead:
        return [f"{what} included, as asked."]
    return [f"{what} left out; --include-dead keeps them."]


def split_unit_label(label: str) -> tuple[str, int]:
    """'fc6.1199' -> ('fc6', 1199); layer names may hold dots themselves ('features.10.7')."""
    layer, dot, unit = label.strip().rpartition(".")
    if not dot or not layer or not unit.isdigit():
        raise NotFound(f"{label!r} is not a unit label: write <layer>.<unit>, e.g. fc6.1199")
    return layer, int(unit)


def unit_problem(run: Run, layers: Mapping[str, Layer], layer: str, unit: int) -> str | None:
    """Why `layer.unit` is not a unit of the run (the message of "no unit U"), or None when it is one."""
    label = f"{layer}.{unit}"
    if layer not in layers:
        return f"no unit {label!r} in {run.name}: no layer {layer!r} (layers: {', '.join(layers)})"
    if not 0 <= unit < layers[layer].n_units:
        return f"no unit {label!r} in {run.name}: layer {layer} has units 0..{layers[layer].n_units - 1}"
    return None


def find_unit(conn: sa.Connection, run: Run, label: str) -> tuple[str, int]:
    """(layer, unit) of a unit label that exists in the run, else one NotFound line."""
    layer, unit = split_unit_label(label)
    problem = unit_problem(run, run_layers(conn, run), layer, unit)
    if problem:
        raise NotFound(problem)
    return layer, unit
