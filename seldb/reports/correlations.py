"""`seldb report correlations`: the paper's Table A2, from seldb.measure_correlations.

Pearson r and Spearman rho with their p-values between every pair of
measures, per layer and over all layers. The numbers were computed once, at
import, with scipy (PostgreSQL has no t distribution); this report only
selects and orders them.
"""

from __future__ import annotations

import polars as pl

from seldb import catalogue
from seldb.db.database import Database
from seldb.db.read import by_layer, check_layer, dead_note, frame, layer_order, resolve_run
from seldb.reports.base import Report, Section

ALL_LAYERS = "all"  # --layer all: only the rows over every layer together
ALL_LABEL = "(all layers)"  # how the view's NULL layer is shown
COLUMNS = ["layer", "measure_a", "measure_b", "n_units", "pearson_r", "pearson_p", "spearman_rho", "spearman_p"]


def correlations_report(
    db: Database, run: int | None = None, layer: str | None = None, include_dead: bool = False
) -> Report:
    """Every pair's correlations over the run's live units (every unit with include_dead); `layer` picks
    one layer, or "all" the all-layer rows."""
    with db.connect() as conn:
        r = resolve_run(conn, run)
        where = "run_id = :r"
        params: dict[str, object] = {"r": r.run_id}
        if layer == ALL_LAYERS:
            where += " AND layer IS NULL"
        elif layer is not None:
            where += " AND layer = :l"
            params["l"] = check_layer(conn, r, layer)
        view = "measure_correlations_with_dead" if include_dead else "measure_correlations"
        rows = frame(conn, f"SELECT {', '.join(COLUMNS)} FROM seldb.{view} WHERE {where}", params)
        order = layer_order(conn, r.run_id)
        notes = dead_note(conn, r.run_id, include_dead)
    rows = _ordered(rows, order)
    scope = {None: "per layer and over all layers", ALL_LAYERS: "over all layers"}.get(layer, f"layer {layer}")
    title = f"Correlations between measures across units, {scope}: {r.name}"
    return Report("correlations", title, r.run_id, [Section("correlations", title, rows)], notes=notes)


def _ordered(rows: pl.DataFrame, layers: list[str]) -> pl.DataFrame:
    """Layers in network order, the all-layer rows last; pairs in views.md's measure order."""
    ranks = {name: i for i, name in enumerate(catalogue.correlated())}

    def by_measure(column: str) -> pl.Expr:
        return pl.col(column).replace_strict(ranks, default=len(ranks), return_dtype=pl.Int32)

    keys = [by_layer(layers), by_measure("measure_a"), by_measure("measure_b")]
    return rows.sort(keys, nulls_last=True).with_columns(pl.col("layer").fill_null(ALL_LABEL))
