"""Runs: list, show and delete what has been imported, and which run "the latest" is.

A run is one model on one image set with one configuration; a run exists
only once its import committed, so every run in the store is complete.
Deleting one cascades through every table, in one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.read import no_run, resolve_run, run_layers

LIST_COLUMNS = ["run_id", "model", "dataset", "created_at", "n_images_analysed", "only_correct", "status"]


def _with_layers(query: sa.Select) -> sa.Select:
    layers = sa.func.string_agg(s.run_layers.c.name, sa.literal_column("', '")).label("layers")
    units = sa.func.coalesce(sa.func.sum(s.run_layers.c.n_units), 0).label("n_units")
    return (
        query.add_columns(layers, units)
        .join(s.run_layers, s.run_layers.c.run_id == s.runs.c.run_id, isouter=True)
        .group_by(s.runs.c.run_id)
    )


def list_runs(db: Database) -> list[dict]:
    """Every run, oldest first, with its layers and number of units."""
    with db.connect() as conn:
        query = _with_layers(sa.select(*[s.runs.c[c] for c in LIST_COLUMNS])).order_by(s.runs.c.run_id)
        return [dict(row._mapping) for row in conn.execute(query)]


OVERVIEW = """
SELECT run_id AS run, model, dataset, to_char(created_at, 'YYYY-MM-DD HH24:MI') AS created, source, layers,
       n_units AS units, n_images_analysed AS images,
       concat_ws(', ', CASE WHEN only_correct THEN 'correct only' ELSE 'all images' END, 'bins ' || bins,
                 'top-k ' || top_k_list, CASE WHEN nan_policy = 'drop' THEN 'NaN dropped' END,
                 CASE WHEN n_dead_units > 0 THEN n_dead_units || ' dead units' END) AS options,
       source_file AS file
FROM seldb.runs ORDER BY run_id
"""


def runs_overview(db: Database) -> tuple[list[str], list[tuple]]:
    """`seldb runs`: one row per run with what tells runs apart (source, layers, options, file)."""
    with db.connect() as conn:
        result = conn.execute(sa.text(OVERVIEW))
        return list(result.keys()), [tuple(row) for row in result]


def run_summary(conn: sa.Connection, run_id: int) -> dict:
    """The run's row with its layers and units summed; NotFound when there is no such run."""
    query = _with_layers(sa.select(s.runs)).where(s.runs.c.run_id == run_id)
    row = conn.execute(query).first()
    if row is None:
        raise no_run(run_id)
    return dict(row._mapping)


def show_run(db: Database, run: int) -> dict:
    """Everything recorded about one run, with its layers in network order."""
    run_id = int(run)
    with db.connect() as conn:
        record = run_summary(conn, run_id)
        layers = run_layers(conn, resolve_run(conn, run_id)).values()
        record["layers"] = [{"name": la.name, "n_units": la.n_units, "reduction": la.reduction} for la in layers]
        return record


def delete_run(db: Database, run: int) -> None:
    """Delete a run and everything stored with it, in one transaction."""
    run_id = int(run)
    with db.connect() as conn:
        deleted = conn.execute(sa.delete(s.runs).where(s.runs.c.run_id == run_id)).rowcount
        if not deleted:
            raise no_run(run_id)
        conn.commit()
