"""`seldb uncertainty`: bootstrap intervals and a chance baseline for the units of a stored run.

The point estimates are in the database; the replicates need the activations
themselves, so this reads the run's activation file (runs.source_file,
checked against the SHA-256 recorded at import), the analysed images
(run_images.analysed) and every unit's point estimate (seldb_store.unit_measures,
so each interval sits around exactly the stored number and the bootstrap's
own-class values follow the stored classes). The layers are measured block
by block on worker threads with the import's own loop (seldb.engine.blocks), and
their rows replace any earlier ones in one transaction: an error or Ctrl-C
leaves the database as it was. seldb/measures/uncertainty.py computes the
numbers; docs/uncertainty.md says what they mean.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import sqlalchemy as sa

from seldb import __version__, catalogue
from seldb.db import schema as s
from seldb.db.bulk import copy_rows
from seldb.db.database import Database, driver_cursor
from seldb.db.read import check_layers, resolve_run
from seldb.db.signals import held_signals
from seldb.engine.blocks import WORKERS, measure_blocks, plan_blocks
from seldb.errors import InputError, SeldbError
from seldb.files import run_source_file
from seldb.h5.reader import ActivationFile
from seldb.load.options import check_replicate_memory, check_uncertainty
from seldb.load.uncertainty_keep import keep_other_half
from seldb.measures.resampling.estimates import (
    BlockUncertainty,
    UncertaintyOptions,
    UncertaintyResult,
    block_uncertainty,
    finish_layer,
    make_draws,
)
from seldb.measures.resampling.passes import engine as pick_engine

_POLARS = {"float8": pl.Float64, "int4": pl.Int32, "bool": pl.Boolean, "int8": pl.Int64}


@dataclass
class UncertaintyRunResult:
    run_id: int
    layers: list[str]
    bootstrap: int
    permutations: int
    seed: int
    level: float
    engine: str
    rows: int  # (unit, measure) rows stored
    seconds: float
    layer_seconds: dict[str, float] = field(default_factory=dict)  # read + compute, summed over threads


@dataclass
class _RunInfo:
    run_id: int
    source_file: str | None
    sha256: str | None
    bins: int
    source: str | None  # what made the run (runs.options' "source")
    layer_ids: dict[str, int]  # the chosen layers of the run, in network order
    labels: np.ndarray  # per image of the file
    analysed: np.ndarray  # bool per image


def _run_info(conn: sa.Connection, run_id: int, layer_names: Sequence[str] | None) -> _RunInfo:
    """What the pass needs of the run, with the chosen layers (every layer when none is named)."""
    layers = check_layers(conn, resolve_run(conn, run_id), layer_names)
    run = conn.execute(
        sa.select(s.runs.c.source_file, s.runs.c.source_sha256, s.runs.c.bins, s.runs.c.options["source"].astext).where(
            s.runs.c.run_id == run_id
        )
    ).one()
    images = conn.execute(
        sa.select(s.run_images.c.label, s.run_images.c.analysed)
        .where(s.run_images.c.run_id == run_id)
        .order_by(s.run_images.c.image_index)
    ).all()
    labels = np.array([row.label for row in images], dtype=np.int64)
    analysed = np.array([row.analysed for row in images], dtype=bool)
    layer_ids = {r.name: r.layer_id for r in layers}
    return _RunInfo(run_id, run.source_file, run.source_sha256, run.bins, run[3], layer_ids, labels, analysed)


def _open_file(info: _RunInfo, verify: bool, progress: bool) -> ActivationFile:
    """The run's activation file, refused with one line when it is gone or has changed."""
    needs = "intervals and chance levels need"  # a run `seldb dissect` stored has no file: refused too
    path = run_source_file(f"run {info.run_id}", info.source_file, info.sha256, info.source, needs, verify, progress)
    afile = ActivationFile(path)
    if afile.n_images != info.labels.size or not np.array_equal(afile.labels, info.labels):
        afile.close()
        raise SeldbError(f"run {info.run_id}: {info.source_file} does not hold the run's images")
    return afile


def _point_estimates(conn: sa.Connection, run_id: int, layer_id: int) -> pl.DataFrame:
    """The layer's stored point estimates (classes as indexes), one row per unit in unit order."""
    measures = catalogue.UNIT_MEASURES
    table = s.unit_measures
    rows = conn.execute(
        sa.select(table.c.unit, *[table.c[m.name] for m in measures])
        .where((table.c.run_id == run_id) & (table.c.layer_id == layer_id))
        .order_by(table.c.unit)
    ).all()
    schema = {"unit": pl.Int32, **{m.name: _POLARS[m.stored_type] for m in measures}}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _unit_rows(run_id: int, layer_id: int, result: UncertaintyResult):
    """One tuple per (unit, measure) in unit_measure_uncertainty's column order (NULL = None)."""
    keys = ["unit", "measure"]
    both = result.intervals.join(result.chance, on=keys, how="full", coalesce=True, suffix="_chance")
    if "estimate_chance" in both.columns:
        both = both.with_columns(pl.coalesce("estimate", "estimate_chance").alias("estimate"))
    columns = [c.name for c in s.unit_measure_uncertainty.columns][2:]
    for name in columns:
        if name not in both.columns:
            dtype = pl.Utf8 if name in ("method", "direction", "reason") else pl.Float64
            both = both.with_columns(pl.lit(None, dtype=pl.Boolean if name == "valid" else dtype).alias(name))
    for row in both.select(columns).iter_rows():
        yield (run_id, layer_id, *row)


_UNIT_TYPES = [
    "int8",
    "int2",
    "int4",
    "text",
    *["float8"] * 3,
    "int4",
    *["float8"] * 3,
    "text",
    "float8",
    "text",
    "float8",
    "float8",
    "int4",
    *["float8"] * len(s.NULL_SUMMARY_COLUMNS),
    "bool",
    "text",
]
_NULL_TYPES = ["int8", "int2", "text", "text", "int8", *["float8"] * len(s.NULL_SUMMARY_COLUMNS)]


def _store(
    conn: sa.Connection,
    info: _RunInfo,
    results: dict[str, UncertaintyResult],
    options,
    engine: str,
    seconds: dict[str, float],
) -> int:
    """Replace the layers' rows, keeping the half a one-sided pass did not compute unless
    options.replace (one transaction, committed by the caller)."""
    ids = [info.layer_ids[name] for name in results]
    table = s.uncertainty_layers
    settings = {}
    for name in list(results):
        results[name], settings[name] = keep_other_half(conn, info.run_id, info.layer_ids[name], results[name], options)
    conn.execute(sa.delete(table).where((table.c.run_id == info.run_id) & table.c.layer_id.in_(ids)))
    conn.execute(
        sa.insert(table),
        [
            dict(
                run_id=info.run_id,
                layer_id=info.layer_ids[name],
                **settings[name],
                engine=engine,
                seldb_version=__version__,
                seconds=round(seconds[name], 3),
            )
            for name in results
        ],
    )
    cursor = driver_cursor(conn)
    unit_columns = [c.name for c in s.unit_measure_uncertainty.columns]
    null_columns = [c.name for c in s.layer_measure_null.columns]
    count = 0
    for name, result in results.items():
        layer_id = info.layer_ids[name]
        count += copy_rows(
            cursor, "unit_measure_uncertainty", unit_columns, _UNIT_TYPES, _unit_rows(info.run_id, layer_id, result)
        )
        if result.layer_null.height:
            copy_rows(
                cursor,
                "layer_measure_null",
                null_columns,
                _NULL_TYPES,
                ((info.run_id, layer_id, *row) for row in result.layer_null.select(null_columns[2:]).iter_rows()),
            )
    return count


def run_uncertainty(
    db: Database,
    run: int,
    layers: Sequence[str] | None = None,
    options: UncertaintyOptions | None = None,
    progress: bool = True,
    workers: int = WORKERS,
    verify_file: bool = True,
) -> UncertaintyRunResult:
    """Intervals (options.bootstrap > 0) and chance baseline (options.permutations > 0) for the layers of a run."""
    started = time.perf_counter()
    options = options or UncertaintyOptions()
    check_uncertainty(options.bootstrap, options.permutations, options.seed, options.level)
    if not options.bootstrap and not options.permutations:
        raise InputError("nothing to compute: --bootstrap and --permutations are both 0")
    engine = pick_engine(options.engine)
    options = dataclasses.replace(options, engine=engine).check()
    with db.connect() as conn:
        info = _run_info(conn, int(run), layers)
        chosen = list(info.layer_ids)
        points = {name: _point_estimates(conn, info.run_id, info.layer_ids[name]) for name in chosen}
    with _open_file(info, verify_file, progress) as afile:
        rows = np.flatnonzero(info.analysed)
        rows = rows[np.argsort(info.labels[rows], kind="stable")]  # grouped by class, as the import reads them
        block_values = options.block_units * len(catalogue.UNIT_MEASURES) * max(workers, 1)
        check_replicate_memory(rows.size, options.bootstrap, options.permutations, block_values)
        draws = make_draws(info.labels[rows], afile.n_classes, options)
        blocks = plan_blocks(afile, chosen, rows.size, afile.n_classes * info.bins)

        def measure(block, values, labels) -> BlockUncertainty:
            point = points[block.layer].slice(block.first, block.n_units).with_columns(pl.col("unit") - block.first)
            return block_uncertainty(
                values, labels, afile.n_classes, draws, options, first_unit=block.first, point=point, image_index=rows
            )

        per_layer: dict[str, list[BlockUncertainty]] = {name: [] for name in chosen}
        seconds = dict.fromkeys(chosen, 0.0)
        for done in measure_blocks(
            afile, blocks, rows, measure, workers=workers, progress=progress, label="bootstrap and permutations"
        ):
            per_layer[done.block.layer].append(done.result)
            seconds[done.block.layer] += done.read_s + done.measure_s
    results = {name: finish_layer(parts) for name, parts in per_layer.items()}
    kept = f"the signal came during the commit: run {info.run_id}'s intervals were stored"
    with held_signals(kept) as held, db.connect() as conn:  # a signal mid-COPY rolls back whole, in one line
        count = _store(conn, info, results, options, engine, seconds)
        held.check()
        conn.commit()
    return UncertaintyRunResult(
        info.run_id,
        chosen,
        options.bootstrap,
        options.permutations,
        options.seed,
        options.level,
        engine,
        count,
        round(time.perf_counter() - started, 3),
        {k: round(v, 3) for k, v in seconds.items()},
    )
