"""Import an activation file: validate, compute every measure, load one run.

The flow is one-directional: the file is validated completely before the
database is touched, then blocks of units are read and measured on worker
threads (numpy and polars release the GIL) while the main thread streams the
finished blocks into one binary COPY. Everything lands in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl
import sqlalchemy as sa

import seldb
from seldb import concepts as concept_store
from seldb.activations import ActivationFile
from seldb.correlations import correlation_rows
from seldb.db import schema as s
from seldb.db.engine import connect_checked
from seldb.db.load import RunWriter, encode_unit_arrays
from seldb.errors import InputError, SeldbError
from seldb.measures import compute_block, compute_concept_block
from seldb.progress import progress_bar

ELEMENTS_PER_BLOCK = 12_000_000  # images x units held per block: bounds memory whatever the file


@dataclass
class ImportOptions:
    model: str | None = None
    dataset: str | None = None
    layers: Sequence[str] | None = None
    all_images: bool = False
    bins: int = 32
    top_k: Sequence[int] = (60, 100)
    nan_policy: str = "error"

    def validate(self) -> None:
        if self.bins < 1:
            raise InputError(f"--bins must be at least 1, got {self.bins}")
        if not self.top_k or any(int(k) < 1 for k in self.top_k):
            raise InputError(f"--top-k takes positive integers, got {list(self.top_k)}")
        if self.nan_policy not in ("error", "drop"):
            raise InputError(f"--nan-policy is 'error' or 'drop', got {self.nan_policy!r}")

    def as_json(self) -> dict:
        return {
            "model": self.model, "dataset": self.dataset,
            "layers": list(self.layers) if self.layers else None, "all_images": self.all_images,
            "bins": self.bins, "top_k": sorted({int(k) for k in self.top_k} | {60, 100}),
            "nan_policy": self.nan_policy,
        }  # fmt: skip


@dataclass
class ImportResult:
    run_id: int
    n_units: int
    n_images_analysed: int
    skipped_concepts: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    row_counts: dict = field(default_factory=dict)


def file_sha256(path: Path, progress: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle, progress_bar(progress, path.stat().st_size, "sha256", "bytes") as bar:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
            bar.advance(len(chunk))
    return digest.hexdigest()


def unique_labels(names: Sequence[str], keys: Sequence[str | None] | None) -> list[str]:
    """Class names, with the key appended where two classes share a name: "crane (n02012849)"."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    labels = []
    for i, name in enumerate(names):
        key = keys[i] if keys else None
        labels.append(name if counts[name] == 1 else f"{name} ({key if key else '#' + str(i)})")
    return labels


@dataclass
class _Plan:
    """Everything decided before the database is touched."""

    afile: ActivationFile
    options: ImportOptions
    layers: list[str]
    analysed: np.ndarray  # bool per image
    dropped: np.ndarray  # image rows dropped for NaN/inf
    sha256: str
    fingerprint: str
    validate_s: float

    @cached_property
    def rows_by_class(self) -> np.ndarray:
        """Analysed rows grouped by class (image order kept), so blocks arrive laid out."""
        rows = np.flatnonzero(self.analysed)
        return rows[np.argsort(self.afile.labels[rows], kind="stable")]


def _select_layers(afile: ActivationFile, layers: Sequence[str] | None) -> list[str]:
    if not layers:
        return list(afile.layers)
    unknown = [name for name in layers if name not in afile.layers]
    if unknown:
        raise InputError(f"{afile.path}: no layer {', '.join(map(repr, unknown))}; the file has: {', '.join(afile.layers)}")
    return list(dict.fromkeys(layers))


def _dropped_rows(afile: ActivationFile, layers: list[str], policy: str, progress: bool) -> np.ndarray:
    with progress_bar(progress, afile.n_images * len(layers), "checking for NaN/inf", "rows") as bar:
        bad = afile.nonfinite_rows(layers, on_rows=bar.advance)
    if not bad:
        return np.empty(0, dtype=np.int64)
    if policy == "error":
        layer, rows = next(iter(bad.items()))
        raise InputError(
            f"{afile.path}: /layers/{layer}: NaN or infinite activation in image {int(rows[0])}"
            f" ({rows.size} such images; --nan-policy drop drops them from every layer)"
        )
    return np.unique(np.concatenate(list(bad.values())))


def plan_import(path: str | os.PathLike, options: ImportOptions, progress: bool = False) -> _Plan:
    started = time.perf_counter()
    options.validate()
    afile = ActivationFile(path)
    try:
        layers = _select_layers(afile, options.layers)
        dropped = _dropped_rows(afile, layers, options.nan_policy, progress)
        analysed = np.ones(afile.n_images, dtype=bool)
        if afile.preds is not None and not options.all_images:
            analysed &= afile.preds == afile.labels
        analysed[dropped] = False
        if not analysed.any():
            hint = " (none is correctly classified; --all-images analyses every image)" if afile.preds is not None else ""
            raise InputError(f"{afile.path}: no image left to analyse{hint}")
        sha = file_sha256(afile.path, progress)
        fingerprint = hashlib.sha256(json.dumps([sha, options.as_json()], sort_keys=True).encode()).hexdigest()
        return _Plan(afile, options, layers, analysed, dropped, sha, fingerprint, time.perf_counter() - started)
    except BaseException:
        afile.close()
        raise


def _refuse_duplicate(conn: sa.Connection, plan: _Plan) -> None:
    existing = conn.execute(
        sa.select(s.runs.c.run_id).where(s.runs.c.fingerprint == plan.fingerprint).order_by(s.runs.c.run_id)
    ).first()
    if existing:
        raise SeldbError(
            f"{plan.afile.path} was already imported with these options as run {existing[0]}"
            " (--force imports it again)"
        )


def _run_header(plan: _Plan, provenance: dict | None) -> dict:
    afile, options = plan.afile, plan.options
    return dict(
        model=options.model or afile.model,
        dataset=options.dataset or afile.dataset,
        source_file=str(afile.path.resolve()),
        source_sha256=plan.sha256,
        n_images_total=afile.n_images,
        n_images_analysed=int(plan.analysed.sum()),
        only_correct=afile.preds is not None and not options.all_images,
        n_dropped=int(plan.dropped.size) + len((provenance or {}).get("skipped_images", [])),
        bins=options.bins,
        top_k=options.as_json()["top_k"],
        seldb_version=seldb.__version__,
        options={**options.as_json(), **(provenance or {})},
        fingerprint=plan.fingerprint,
        dropped_images={"nonfinite_rows": plan.dropped.tolist()} if plan.dropped.size else None,
    )


def block_size(n_images: int, n_classes: int = 1, bins: int = 1, chunk_units: int | None = None) -> int:
    """Units per block: ~ELEMENTS_PER_BLOCK activations, and as many (class, bin) cells.

    Blocks follow the file's tiles: a block narrower than a tile divides its
    width, a wider one is a whole number of tiles, so no block straddles two.
    """
    step = min(ELEMENTS_PER_BLOCK // max(n_images, 1), ELEMENTS_PER_BLOCK // max(n_classes * bins, 1))
    step = int(np.clip(step, 1, 256))
    if chunk_units and chunk_units > step:
        step = chunk_units // -(-chunk_units // step)
    elif chunk_units:
        step -= step % chunk_units
    return step


def unit_blocks(afile: ActivationFile, layer: str, n_rows: int, n_classes: int, bins: int) -> list[tuple[int, int]]:
    """The (first, last + 1) units of each block of a layer, repacking row-chunked files first."""
    afile.ensure_unit_readable(layer, block_size(n_rows, n_classes, bins))
    chunks = afile.dataset_of(layer).chunks
    step = block_size(n_rows, n_classes, bins, chunks[1] if chunks else None)
    units = afile.layers[layer].n_units
    return [(u0, min(units, u0 + step)) for u0 in range(0, units, step)]


def import_h5(path: str | os.PathLike, *, force: bool = False, provenance: dict | None = None,
              progress: bool = True, **options) -> int:
    """Import an activation file as a new run and return its run_id (see run_import)."""
    return run_import(path, force=force, provenance=provenance, progress=progress, **options).run_id


def run_import(path: str | os.PathLike, *, force: bool = False, provenance: dict | None = None,
               progress: bool = True, **options) -> ImportResult:
    """Validate `path`, compute every measure and load one run in one transaction."""
    started = time.perf_counter()
    plan = plan_import(path, ImportOptions(**options), progress)
    with plan.afile, connect_checked() as conn:
        if not force:
            _refuse_duplicate(conn, plan)
        writer = RunWriter(conn)
        try:
            result = _load(plan, writer, provenance, progress)
            result.timings["total_s"] = round(time.perf_counter() - started, 3)
            writer.update_run(timings=result.timings, row_counts=result.row_counts)
            writer.commit()
        except BaseException as exc:
            writer.abort(exc)
            raise
    return result


@dataclass
class _BlockOut:
    units: pl.DataFrame
    precision_k: pl.DataFrame
    concepts: list[tuple[int, pl.DataFrame]]
    arrays: bytes
    read_s: float
    measures_s: float


def _measure_block(plan: _Plan, layer: str, layer_id: int, u0: int, u1: int, run_id: int, concepts) -> _BlockOut:
    afile, options = plan.afile, plan.options
    rows = plan.rows_by_class
    started = time.perf_counter()
    values = afile.read_units(layer, u0, u1)[rows]
    read = time.perf_counter()
    labels = afile.labels[rows]
    result = compute_block(values, labels, afile.n_classes, top_k=options.top_k, bins=options.bins, image_index=rows)
    shift = pl.col("unit") + u0
    concept_frames = [
        (cid, compute_concept_block(values, labels, afile.n_classes, classes).with_columns(shift))
        for cid, _, classes in concepts
    ]
    arrays = encode_unit_arrays(run_id, layer_id, u0, result)
    extra_k = result.precision_k.filter(~pl.col("k").is_in([60, 100]))
    return _BlockOut(result.units.with_columns(shift), extra_k.with_columns(shift), concept_frames, arrays,
                     read - started, time.perf_counter() - read)  # fmt: skip


def _measure_layers(plan: _Plan, writer: RunWriter, concepts, progress: bool, timings: dict) -> dict[int, list]:
    """Measure every block on two worker threads; stream their arrays into the COPY in order."""
    afile = plan.afile
    n_rows = int(plan.analysed.sum())
    outputs: dict[int, list[_BlockOut]] = {}
    total = sum(afile.layers[name].n_units for name in plan.layers)
    pool = ThreadPoolExecutor(2)
    try:
        with progress_bar(progress, total, "measuring units") as bar:
            pending = []
            for layer_id, layer in enumerate(plan.layers):
                for u0, u1 in unit_blocks(afile, layer, n_rows, afile.n_classes, plan.options.bins):
                    pending.append((layer_id, pool.submit(
                        _measure_block, plan, layer, layer_id, u0, u1, writer.run_id, concepts)))
                    while len(pending) > 2:
                        _drain(pending.pop(0), writer, outputs, bar, timings)
            while pending:
                _drain(pending.pop(0), writer, outputs, bar, timings)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: stop queued blocks, let running ones end
    return outputs


def _drain(item, writer: RunWriter, outputs: dict, bar, timings: dict) -> None:
    layer_id, future = item
    out: _BlockOut = future.result()
    started = time.perf_counter()
    writer.write_arrays(out.arrays)
    timings["copy_s"] += time.perf_counter() - started
    timings["read_s"] += out.read_s
    timings["measures_s"] += out.measures_s
    out.arrays = b""
    outputs.setdefault(layer_id, []).append(out)
    bar.advance(out.units.height)


def _load(plan: _Plan, writer: RunWriter, provenance: dict | None, progress: bool) -> ImportResult:
    afile = plan.afile
    timings = {"validate_s": plan.validate_s, "read_s": 0.0, "measures_s": 0.0, "copy_s": 0.0}
    run_id = writer.create_run(_run_header(plan, provenance))
    keys = afile.class_keys or [None] * afile.n_classes
    n_analysed = np.bincount(afile.labels[plan.analysed], minlength=afile.n_classes)
    writer.add_classes(afile.class_names, keys, unique_labels(afile.class_names, afile.class_keys), n_analysed)
    writer.add_images(afile.labels, afile.preds, afile.paths, plan.analysed)
    concepts, skipped = concept_store.resolve_for_run(writer.conn, afile.class_names, afile.class_keys)
    for layer_id, layer in enumerate(plan.layers):
        info = afile.layers[layer]
        writer.add_layer(layer_id, layer, info.n_units, info.reduction)
    outputs = _measure_layers(plan, writer, concepts, progress, timings)
    started = time.perf_counter()
    writer.finish_arrays()
    counts = _write_unit_tables(writer, outputs, concepts)
    timings["copy_s"] += time.perf_counter() - started
    timings = {k: round(v, 3) for k, v in timings.items()}
    counts.update(images=afile.n_images, classes=afile.n_classes)
    return ImportResult(run_id, counts["units"], int(plan.analysed.sum()), skipped, timings, counts)


def _write_unit_tables(writer: RunWriter, outputs: dict[int, list[_BlockOut]], concepts) -> dict:
    all_units, counts = [], {"units": 0, "concept_rows": 0, "precision_k_rows": 0}
    correlations = []
    for layer_id, blocks in outputs.items():
        units = pl.concat([b.units for b in blocks])
        writer.add_unit_measures(layer_id, units)
        extra = pl.concat([b.precision_k for b in blocks])
        if extra.height:
            writer.add_precision_k(layer_id, extra)
        for cid, _, _ in concepts:
            frame = pl.concat([f for b in blocks for c, f in b.concepts if c == cid])
            writer.add_concept_measures(layer_id, cid, frame)
            counts["concept_rows"] += frame.height
        correlations += correlation_rows(units, layer_id)
        all_units.append(units)
        counts["units"] += units.height
        counts["precision_k_rows"] += extra.height
    correlations += correlation_rows(pl.concat(all_units), None)
    writer.add_correlations(correlations)
    return counts
