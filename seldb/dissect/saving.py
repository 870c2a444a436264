"""Storing a dissection: the run its units belong to, its record, every (unit, label) IoU, its tally rows.

A dissection's units are a run's units. With `--run`, they are an existing
run's, one to one, which is only true when the run recorded the same network
(model, architecture, weights' SHA-256) and, per layer, the same module with
as many units: `check_run` refuses anything else with one line. Without
`--run` the dissection makes a run of its own: a run with the layers and their
unit counts and no class-selectivity measures (source 'seldb dissect',
n_images_analysed 0, layer reduction 'map'), which every view shows with
NULL measures.

Per layer, one transaction writes a seldb_store.dissections record, its
labels, every (unit, label)'s counts and IoU by binary COPY, and the
NetDissect-style tally rows (top label, each category's best) into
seldb_store.netdissect with source 'computed', through the same rule as an
imported tally.csv (seldb.netdissect.unit_labels). Dissecting a layer again
replaces its earlier dissection and tally rows, imported ones too.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import sqlalchemy as sa

from seldb import __version__
from seldb.db import schema as s
from seldb.db.bulk import ScalarColumn, copy_encoded, copy_rows, encode_block
from seldb.db.database import driver_cursor
from seldb.db.read import Layer, check_layers, resolve_run
from seldb.dissect.imported import tally_record
from seldb.dissect.result import DissectResult, LayerDissection
from seldb.dissect.tallycsv import TallyLabel, unit_labels
from seldb.errors import InputError
from seldb.nets.preprocess import recorded_kind

DETECTOR_IOU = 0.04  # Bau et al. 2017: a unit whose top label's IoU exceeds this detects that label
SOURCE = "seldb dissect"
REDUCTION = "map"  # the layer of a run made by dissect: maps dissected whole, no per-image number


def check_run(conn: sa.Connection, run_id: int, identity: dict, shapes: dict[str, tuple]) -> dict[str, int]:
    """{layer: layer_id} of an existing run whose units are this network's, else one error line."""
    run = resolve_run(conn, run_id)
    options = conn.execute(sa.select(s.runs.c.options).where(s.runs.c.run_id == run_id)).scalar() or {}
    recorded = options.get("ingest") or options.get("dissect")
    if not recorded:
        raise InputError(
            f"run {run_id} records no network (it was imported from a file, not made by seldb ingest"
            " or seldb dissect), so its units cannot be matched to these; dissect without --run"
        )
    for key in ("model", "arch"):
        if recorded.get(key) != identity[key]:
            raise InputError(
                f"run {run_id} was recorded with {key} {recorded.get(key)!r}, this network's is"
                f" {identity[key]!r}: its units are not these"
            )
    theirs, ours = (recorded.get("weights") or {}).get("sha256"), (identity["weights"] or {}).get("sha256")
    if theirs != ours:
        raise InputError(
            f"run {run_id} was recorded with other weights (sha256 {str(theirs)[:12]}) than these"
            f" (sha256 {str(ours)[:12]}): its units are not these"
        )
    layers = {layer.name: layer for layer in check_layers(conn, run, list(shapes))}
    return {name: _check_layer(run_id, layers[name], shape, recorded, identity) for name, shape in shapes.items()}


def run_preprocess(conn: sa.Connection, run_id: int) -> str | None:
    """The preprocessing kind the run recorded (ingest's or an earlier dissect's); None if it names none."""
    resolve_run(conn, run_id)
    options = conn.execute(sa.select(s.runs.c.options).where(s.runs.c.run_id == run_id)).scalar() or {}
    recorded = options.get("ingest") or options.get("dissect")
    return recorded_kind(recorded) if isinstance(recorded, dict) else None


def _check_layer(run_id: int, found: Layer, shape: tuple, recorded: dict, identity: dict) -> int:
    layer, layer_id, n_units = found.name, found.layer_id, found.n_units
    if n_units != shape[0]:
        raise InputError(f"run {run_id}'s layer {layer} has {n_units} units, this network's has {shape[0]}")
    module, ours = (recorded.get("layer_modules") or {}).get(layer), identity["layer_modules"][layer]
    if module != ours:
        recorded_as = f"module {module}" if module else "no module recorded"
        raise InputError(f"run {run_id}'s layer {layer} is {recorded_as}, this network's {layer} is module {ours}")
    return layer_id


def create_run(conn: sa.Connection, result: DissectResult, identity: dict, preprocess: str) -> tuple[int, dict]:
    """A run of the dissection's own: the layers and unit counts, no measures; returns (run_id, {layer: id})."""
    record = {
        "dataset": result.dataset,
        "dataset_fingerprint": result.fingerprint,
        "quantile": result.quantile,
        "categories": list(result.categories),
        "preprocess": preprocess,
        "rules": result.rules.as_dict(),
        **identity,
    }
    fingerprint = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    header = dict(
        model=identity["model"],
        dataset=_dataset_name(result.dataset),
        n_images_total=result.n_images,
        n_images_analysed=0,
        only_correct=False,
        bins=0,
        top_k=[],
        seldb_version=__version__,
        options={"source": SOURCE, "dissect": record},
        fingerprint=fingerprint,
        row_counts={"units": sum(d.n_units for d in result.layers.values())},
    )
    run_id = conn.execute(sa.insert(s.runs).values(**header).returning(s.runs.c.run_id)).scalar_one()
    for layer_id, d in enumerate(result.layers.values()):
        conn.execute(
            sa.insert(s.run_layers).values(
                run_id=run_id, layer_id=layer_id, name=d.layer, n_units=d.n_units, reduction=REDUCTION
            )
        )
    return run_id, {layer: layer_id for layer_id, layer in enumerate(result.layers)}


def _dataset_name(directory: str) -> str:
    return directory.rstrip("/").rsplit("/", 1)[-1] or directory


def store_layer(
    conn: sa.Connection, run_id: int, layer_id: int, result: DissectResult, layer: str, preprocess: str
) -> tuple[int, bool]:
    """Write one layer's dissection (replacing an earlier one); returns (dissection_id, whether it replaced)."""
    d = result.layers[layer]
    replaced = _clear_layer(conn, run_id, layer_id)
    dissection_id = conn.execute(
        sa.insert(s.dissections)
        .values(
            run_id=run_id,
            layer_id=layer_id,
            dataset=result.dataset,
            dataset_fingerprint=result.fingerprint,
            categories=list(result.categories),
            quantile=result.quantile,
            n_images=result.n_images,
            preprocess=preprocess,
            module=d.module,
            thresholds=d.thresholds.tolist(),
            rules=result.rules.as_dict(),
        )
        .returning(s.dissections.c.dissection_id)
    ).scalar_one()
    cursor = driver_cursor(conn)
    numbers = result.label_numbers()
    names = [result.label_names[n] for n in numbers]
    categories = [result.categories[c] for c in result.primary[numbers]]
    copy_rows(
        cursor,
        "dissection_labels",
        ["dissection_id", "label_number", "name", "category", "truth"],
        ["int8", "int4", "text", "text", "int8"],
        zip([dissection_id] * len(numbers), numbers.tolist(), names, categories, d.scores.truth[numbers].tolist()),
    )
    _copy_iou(cursor, dissection_id, d, numbers)
    tally = [tally_record(run_id, layer_id, label, dissection_id) for label in computed_labels(result, layer)]
    conn.execute(sa.insert(s.netdissect), tally)
    return dissection_id, replaced


def _clear_layer(conn: sa.Connection, run_id: int, layer_id: int) -> bool:
    """Delete the layer's earlier dissection and tally rows (its IoUs cascade); True if there were any."""
    gone = conn.execute(
        sa.delete(s.dissections).where((s.dissections.c.run_id == run_id) & (s.dissections.c.layer_id == layer_id))
    ).rowcount
    gone += conn.execute(
        sa.delete(s.netdissect).where((s.netdissect.c.run_id == run_id) & (s.netdissect.c.layer_id == layer_id))
    ).rowcount
    return gone > 0


def _copy_iou(cursor, dissection_id: int, d: LayerDissection, numbers: np.ndarray) -> None:
    """Every (unit, label) of the layer, unit-major, in one binary COPY."""
    n_units, n_labels = d.n_units, len(numbers)
    columns = [
        ScalarColumn("dissection_id", "int8", np.full(n_units * n_labels, dissection_id)),
        ScalarColumn("unit", "int4", np.repeat(np.arange(n_units), n_labels)),
        ScalarColumn("label_number", "int4", np.tile(numbers, n_units)),
        ScalarColumn("iou", "float8", d.scores.iou[:, numbers].ravel()),
        ScalarColumn("intersection", "int8", d.scores.intersection[:, numbers].ravel()),
        ScalarColumn("activation", "int8", d.scores.activation[:, numbers].ravel()),
    ]
    copy_encoded(cursor, "dissection_iou", [c.name for c in columns], encode_block(columns))


def computed_labels(result: DissectResult, layer: str) -> list[TallyLabel]:
    """Per unit, what an imported tally.csv of this layer would store: its top label (score = IoU; '' when
    every IoU is 0), then each category's best label, through seldb.netdissect's one rule."""
    labels: list[TallyLabel] = []
    best = result.best_frame().filter(layer=layer)
    for (unit,), rows in best.group_by("unit", maintain_order=True):
        top = rows.filter("is_top").row(0, named=True)
        head = TallyLabel(int(unit), top["category"], top["label"] or "", float(top["iou"]), float(top["iou"]))
        labels += unit_labels(head, [(r["category"], r["label"], float(r["iou"])) for r in rows.iter_rows(named=True)])
    return labels


def refresh_statistics(conn: sa.Connection) -> None:
    """ANALYZE the dissection tables in the writing transaction: after a COPY of 300,000 rows, stale
    statistics make the planner walk seldb.unit_label_iou by index a label at a time (seconds, not ms)."""
    conn.exec_driver_sql(f"ANALYZE {s.STORE}.dissections, {s.STORE}.dissection_labels, {s.STORE}.dissection_iou")


def n_detectors(result: DissectResult, layer: str) -> int:
    """Units whose top label's IoU exceeds DETECTOR_IOU."""
    return int((result.layers[layer].best.iou.max(axis=0) > DETECTOR_IOU).sum())
