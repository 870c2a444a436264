"""Runs: list, show and delete what has been imported.

A run is one model on one image set with one configuration; deleting it
cascades through every table, in one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from seldb.db import schema as s
from seldb.db.engine import connect_checked
from seldb.errors import NotFound

LIST_COLUMNS = ["run_id", "model", "dataset", "created_at", "n_images_analysed", "only_correct", "status"]


def list_runs() -> list[dict]:
    with connect_checked() as conn:
        layers = sa.func.string_agg(s.run_layers.c.name, sa.literal_column("', '")).label("layers")
        units = sa.func.sum(s.run_layers.c.n_units).label("n_units")
        query = (
            sa.select(*[s.runs.c[c] for c in LIST_COLUMNS], layers, units)
            .join(s.run_layers, s.run_layers.c.run_id == s.runs.c.run_id, isouter=True)
            .group_by(s.runs.c.run_id)
            .order_by(s.runs.c.run_id)
        )
        return [dict(row._mapping) for row in conn.execute(query)]


def latest_run_id() -> int:
    with connect_checked() as conn:
        run_id = conn.execute(sa.select(sa.func.max(s.runs.c.run_id))).scalar()
    if run_id is None:
        raise NotFound("no run yet: import one with `seldb import-h5 FILE` or `seldb ingest`")
    return int(run_id)


def show_run(run_id: int) -> dict:
    with connect_checked() as conn:
        run = conn.execute(sa.select(s.runs).where(s.runs.c.run_id == run_id)).first()
        if run is None:
            raise NotFound(f"no run {run_id} (seldb runs lists them)")
        layers = conn.execute(
            sa.select(s.run_layers.c.name, s.run_layers.c.n_units, s.run_layers.c.reduction)
            .where(s.run_layers.c.run_id == run_id)
            .order_by(s.run_layers.c.layer_id)
        ).all()
        record = dict(run._mapping)
        record["layers"] = [dict(row._mapping) for row in layers]
        return record


def delete_run(run_id: int) -> None:
    with connect_checked() as conn:
        deleted = conn.execute(sa.delete(s.runs).where(s.runs.c.run_id == run_id)).rowcount
        if not deleted:
            raise NotFound(f"no run {run_id} (seldb runs lists them)")
        conn.commit()
