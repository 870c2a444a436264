"""Writing one run into the store, inside one transaction.

A run becomes visible in the views only when its transaction commits, so an
error, a lost connection or Ctrl-C at any point leaves no trace of it.
`RunWriter` owns that transaction: it inserts the run's header rows, COPYs
the per-unit arrays of every block as soon as the block is measured (one
short statement per block), and COPYs the small per-unit tables at the end.

The transaction lasts as long as the measuring does (an hour at AlexNet
scale), while each statement stays short. A server's own limits would cut it
short, so the writer sets, for this transaction only (SET LOCAL): no
statement_timeout (a COPY at the end writes every unit's measures at once),
no idle_in_transaction_session_timeout (the session waits, idle, while a
block is measured) and no lock_timeout (a second import of the same file
waits for the first to commit, then finds its run).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import psycopg
import sqlalchemy as sa

from seldb import catalogue
from seldb.db import schema as s
from seldb.db.bulk import ArrayColumn, ScalarColumn, copy_encoded, copy_rows, encode_block
from seldb.db.database import driver_cursor
from seldb.measures import BlockResult

ARRAY_COLUMNS = [column.name for column in s.unit_arrays.columns]  # the order encode_unit_arrays writes


ENCODE_BYTES = 16 << 20  # tuples encoded at once: memory malloc recycles from block to block


def encode_unit_arrays(run_id: int, layer_id: int, first_unit: int, result: BlockResult) -> list[bytes]:
    """COPY tuples of seldb_store.unit_arrays for one block (NaN = NULL inside arrays), in pieces of
    about ENCODE_BYTES (a block's tuples are ~50 MB at 1,000 classes; in one piece they would be
    mapped and page-faulted in anew for every block)."""
    stats, hist, top = result.stats, result.hist, result.top
    per_class = {
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.min,
        "max": stats.max,
        "ccmas": result.class_ccmas,
        "mi": result.swept.mi,
        "mi_threshold": result.swept.mi_threshold,
        "n_nonzero": stats.n_nonzero,
        "n_zero": stats.n_zero,
    }
    n_classes = stats.mean.shape[1]
    per_unit = n_classes * (len(per_class) * 16 + hist.counts.shape[2] * 8) + top.image_index.shape[1] * 24 + 256
    step = max(1, ENCODE_BYTES // per_unit)
    pieces = []
    for n_bins in np.unique(hist.n_bins):  # a constant unit has one bin per class
        group = np.flatnonzero(hist.n_bins == n_bins)
        for i in range(0, group.size, step):
            rows = group[i : i + step]
            columns: list[ScalarColumn | ArrayColumn] = [
                ScalarColumn("run_id", "int8", np.full(rows.size, run_id)),
                ScalarColumn("layer_id", "int2", np.full(rows.size, layer_id)),
                ScalarColumn("unit", "int4", first_unit + rows),
                *[ArrayColumn(name, kind, per_class[name][rows]) for name, kind in s.UNIT_ARRAY_COLUMNS],
                ScalarColumn("hist_lo", "float8", hist.lo[rows]),
                ScalarColumn("hist_width", "float8", hist.width[rows]),
                ScalarColumn("n_bins", "int4", np.full(rows.size, n_bins)),
                ArrayColumn("hist_counts", "int4", hist.counts[rows, :, :n_bins]),
                ArrayColumn("top_image", "int4", top.image_index[rows]),
                ArrayColumn("top_activation", "float8", top.activation[rows]),
            ]
            pieces.append(encode_block(columns))
    return pieces


def _frame_rows(frame: pl.DataFrame, prefix: tuple, names: Sequence[str]):
    for row in frame.select(names).iter_rows():
        yield prefix + row


class RunWriter:
    """The open transaction of one run; `commit` makes it visible, anything else discards it."""

    def __init__(self, conn: sa.Connection, run_id: int | None = None):
        self.conn = conn
        self._cursor = driver_cursor(conn)
        self.run_id = run_id  # set by create_run, or given to add to an existing run
        for setting in ("statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout"):
            conn.exec_driver_sql(f"SET LOCAL {setting} = 0")

    def the_run(self) -> int:
        """The run being written: the one create_run made, or the one given."""
        if self.run_id is None:
            raise RuntimeError("RunWriter: create_run() comes first")  # a programming error, not input
        return self.run_id

    @classmethod
    def for_run(cls, conn: sa.Connection, run_id: int) -> RunWriter:
        """A writer adding rows to an existing run (e.g. a concept measured later)."""
        return cls(conn, run_id)

    def create_run(self, header: dict) -> int:
        values = dict(header)
        self.run_id = self.conn.execute(sa.insert(s.runs).values(**values).returning(s.runs.c.run_id)).scalar_one()
        return self.run_id

    def add_classes(self, names, keys, labels, n_analysed) -> None:
        rows = (
            (self.run_id, i, n, k, lab, int(c)) for i, (n, k, lab, c) in enumerate(zip(names, keys, labels, n_analysed))
        )
        copy_rows(
            self._cursor,
            "run_classes",
            ["run_id", "class_index", "name", "key", "label", "n_analysed"],
            ["int8", "int4", "text", "text", "text", "int4"],
            rows,
        )

    def add_images(self, labels: np.ndarray, preds, paths, analysed: np.ndarray) -> None:
        n = len(labels)
        preds = [None] * n if preds is None else [int(p) for p in preds]
        paths = [None] * n if paths is None else paths
        rows = zip([self.run_id] * n, range(n), labels.tolist(), preds, paths, analysed.tolist())
        copy_rows(
            self._cursor,
            "run_images",
            ["run_id", "image_index", "label", "pred", "path", "analysed"],
            ["int8", "int4", "int4", "int4", "text", "bool"],
            rows,
        )

    def add_layer(self, layer_id: int, name: str, n_units: int, reduction: str) -> None:
        self.conn.execute(
            sa.insert(s.run_layers).values(
                run_id=self.run_id, layer_id=layer_id, name=name, n_units=n_units, reduction=reduction
            )
        )

    def write_arrays(self, data: bytes | list[bytes]) -> None:
        """One block's per-unit arrays (tuples from encode_unit_arrays), in one COPY."""
        copy_encoded(self._cursor, "unit_arrays", ARRAY_COLUMNS, data)

    def add_unit_measures(self, layer_id: int, units: pl.DataFrame) -> None:
        self._copy_measures("unit_measures", catalogue.UNIT_MEASURES, units, (self.run_id, layer_id))

    def add_precision_k(self, layer_id: int, frame: pl.DataFrame) -> None:
        copy_rows(
            self._cursor,
            "unit_precision_k",
            ["run_id", "layer_id", "unit", "k", "precision", "class_index"],
            ["int8", "int2", "int4", "int4", "float8", "int4"],
            _frame_rows(frame, (self.run_id, layer_id), ["unit", "k", "precision", "class_index"]),
        )

    def add_concept_measures(self, layer_id: int, concept_id: int, frame: pl.DataFrame) -> None:
        self._copy_measures("concept_measures", catalogue.CONCEPT_MEASURES, frame, (self.run_id, layer_id, concept_id))

    def _copy_measures(self, table: str, measures, frame: pl.DataFrame, key: tuple) -> None:
        """COPY a frame of catalogue measures (one row per unit) behind the key columns."""
        key_columns = ["run_id", "layer_id", "concept_id"][: len(key)]
        names = [m.name for m in measures]
        copy_rows(
            self._cursor,
            table,
            [*key_columns, "unit", *names],
            [*["int8", "int2", "int4"][: len(key)], "int4", *[m.stored_type for m in measures]],
            _frame_rows(frame, key, ["unit", *names]),
        )

    def add_class_summary(self, rows: list[tuple]) -> None:
        columns = [column.name for column in s.layer_class_summary.columns]
        copy_rows(
            self._cursor,
            "layer_class_summary",
            columns,
            [
                "int8",
                "int2",
                "int4",
                "int4",
                "int4",
                *["float8"] * len(s.SUMMARY_FLOAT_COLUMNS),
                *["int4"] * len(s.SUMMARY_COUNT_COLUMNS),
                "int8",
            ],
            rows,
        )

    def add_correlations(self, rows: list[dict]) -> None:
        if rows:
            self.conn.execute(sa.insert(s.measure_correlations), [dict(r, run_id=self.run_id) for r in rows])

    def update_run(self, **values) -> None:
        self.conn.execute(sa.update(s.runs).where(s.runs.c.run_id == self.run_id).values(**values))

    def commit(self) -> None:
        self.conn.commit()

    def abort(self) -> None:
        """Roll back; on a connection that is already gone there is nothing to roll back (the server
        discarded the transaction), and a second error must not hide the first."""
        try:
            self.conn.rollback()
        except (sa.exc.DBAPIError, psycopg.Error):
            pass
