"""Import an activation file: validate, compute every measure, load one run.

The flow is one-directional: the file's header is checked and its SHA-256
taken before the database is touched; the check-and-copy pass over the
values runs beside the measuring (seldb.load.checkpass), or before it for
--nan-policy drop and Ray; blocks of units are measured on worker threads
(seldb.engine.blocks) while the calling thread streams the finished blocks
into one binary COPY. Everything lands in one transaction, so a run is
visible only when complete, and a bad value found late rolls it back.

Whether the same file with the same options may be imported again is decided
under a transaction-level advisory lock on the file's fingerprint, so two
imports of one file at once give one run, whatever `on_duplicate` says.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import sqlalchemy as sa

from seldb import __version__
from seldb.db import schema as s
from seldb.db.database import Database
from seldb.db.runs import run_summary
from seldb.db.write import RunWriter, encode_unit_arrays
from seldb.engine import ray_blocks
from seldb.engine.blocks import Measured, UnitBlock, in_background, measure_blocks, plan_blocks, wait
from seldb.errors import InputError, SeldbError, plural
from seldb.files import file_sha256
from seldb.h5.reader import ActivationFile
from seldb.load import concepts as concept_store
from seldb.load.checkpass import CheckPass, nonfinite_error
from seldb.load.options import ImportOptions, ImportResult, Provenance
from seldb.load.summaries import ClassSummary, correlation_rows
from seldb.load.uncertainty import run_uncertainty
from seldb.measures import compute_block, compute_concept_block
from seldb.measures.compute import measure_engine
from seldb.measures.resampling.estimates import UncertaintyOptions
from seldb.progress import progress_bar


def unique_labels(names: Sequence[str], keys: Sequence[str | None] | None) -> list[str]:
    """Class names, made unique within the run: where two classes share a name, each gets its key
    appended, "crane (n02012849)", or its index, "crane (#7)". A made-up label never takes a name
    another class really has: it gets its index (and, if need be, a count) appended again."""
    counts = Counter(names)
    taken = {name for name in names if counts[name] == 1}
    labels = []
    for i, name in enumerate(names):
        if counts[name] == 1:
            labels.append(name)
            continue
        key = keys[i] if keys else None
        label, extra = f"{name} ({key if key else '#' + str(i)})", 1
        while label in taken:
            label = f"{name} (#{i})" + (f" ({extra})" if extra > 1 else "")
            extra += 1
        taken.add(label)
        labels.append(label)
    return labels


MAX_NAME_BYTES = 512  # layer names are indexed (btree rows hold about 2,700 bytes)


def _check_names(afile: ActivationFile, layers: list[str]) -> None:
    for layer in layers:
        if layer in (".", ".."):  # its page's address, /runs/N/layer/.., would lead a browser elsewhere
            raise InputError(f"{afile.path}: /layers/{layer}: a layer cannot be named {layer!r} (rename the dataset)")
        size = len(layer.encode("utf-8"))
        if size > MAX_NAME_BYTES:
            raise InputError(
                f"{afile.path}: /layers/{layer[:40]}...: the layer's name is {size} bytes; seldb takes"
                f" names up to {MAX_NAME_BYTES} bytes (rename the dataset)"
            )


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
    validate_cpu_s: float  # this process's CPU seconds: the check-and-copy pass and the SHA-256 beside it
    checks: CheckPass | None = None  # the check-and-copy pass, when it runs beside the measuring

    def close(self) -> None:
        if self.checks is not None:
            self.checks.stop()
        self.afile.close()

    def __enter__(self) -> _Plan:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
        raise InputError(
            f"{afile.path}: no layer {', '.join(map(repr, unknown))}; the file has: {', '.join(afile.layers)}"
        )
    return list(dict.fromkeys(layers))


def _dropped_rows(afile: ActivationFile, layers: list[str], policy: str, progress: bool) -> np.ndarray:
    with progress_bar(
        progress, afile.n_images * len(layers), "checking for NaN/inf, copying units-first", "rows"
    ) as bar:
        bad = afile.nonfinite_rows(layers, on_rows=bar.advance, copy=True)  # and the unit-major copies
    if not bad:
        return np.empty(0, dtype=np.int64)
    if policy == "error":
        raise nonfinite_error(afile, *next(iter(bad.items())))
    return np.unique(np.concatenate(list(bad.values())))


def _beside_measuring(options: ImportOptions) -> bool:
    """Whether the check-and-copy pass can run beside the measuring (seldb.load.checkpass says when)."""
    return options.nan_policy == "error" and options.engine != "ray"


def _timed_sha256(path, progress: bool) -> tuple[str, float]:
    cpu = time.thread_time()
    return file_sha256(path, progress), time.thread_time() - cpu


def plan_import(path: str | os.PathLike, options: ImportOptions, progress: bool = False) -> _Plan:
    started, cpu = time.perf_counter(), time.process_time()
    options.validate()
    afile = ActivationFile(path)
    checks = None
    try:
        layers = _select_layers(afile, options.layers)
        _check_names(afile, layers)
        if _beside_measuring(options):
            checks = CheckPass(afile, layers).start()
            dropped = np.empty(0, dtype=np.int64)
            sha = in_background(_timed_sha256, afile.path, progress)  # the one bar while nothing is measured
        else:
            sha = in_background(_timed_sha256, afile.path, False)  # reads the file beside the pass below
            dropped = _dropped_rows(afile, layers, options.nan_policy, progress)
        analysed = np.ones(afile.n_images, dtype=bool)
        if afile.preds is not None and not options.all_images:
            analysed &= afile.preds == afile.labels
        analysed[dropped] = False
        if not analysed.any():
            hint = (
                " (none is correctly classified; --all-images analyses every image)" if afile.preds is not None else ""
            )
            raise InputError(f"{afile.path}: no image left to analyse{hint}")
        digest, sha_cpu = wait(sha)
        if checks is not None:
            checks.raise_if_failed()  # what the pass found already, before the database is touched
        fingerprint = hashlib.sha256(json.dumps([digest, options.as_json()], sort_keys=True).encode()).hexdigest()
        elapsed = time.perf_counter() - started
        used = (time.process_time() - cpu) if checks is None else sha_cpu
        return _Plan(afile, options, layers, analysed, dropped, digest, fingerprint, elapsed, used, checks)
    except BaseException:
        if checks is not None:
            checks.stop()
        afile.close()
        raise


def _lock_fingerprint(conn: sa.Connection, fingerprint: str) -> None:
    """Serialise imports of the same file and options until this transaction ends."""
    key = int(fingerprint[:15], 16)  # 60 bits: a bigint advisory-lock key
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _existing_runs(conn: sa.Connection, fingerprint: str) -> list[int]:
    query = sa.select(s.runs.c.run_id).where(s.runs.c.fingerprint == fingerprint).order_by(s.runs.c.run_id)
    return list(conn.execute(query).scalars())


def _run_header(plan: _Plan, provenance: Provenance) -> dict:
    afile, options = plan.afile, plan.options
    return dict(
        model=options.model or afile.model,
        dataset=options.dataset or afile.dataset,
        source_file=str(afile.path.resolve()),
        source_sha256=plan.sha256,
        n_images_total=afile.n_images,
        n_images_analysed=int(plan.analysed.sum()),
        only_correct=afile.preds is not None and not options.all_images,
        n_dropped=int(plan.dropped.size) + len(provenance.skipped_images),
        bins=options.bins,
        top_k=options.as_json()["top_k"],
        seldb_version=__version__,
        options={**options.as_json(), **provenance.as_json(), **_engine_record(options)},
        fingerprint=plan.fingerprint,
        dropped_images={"nonfinite_rows": plan.dropped.tolist()} if plan.dropped.size else None,
    )


def run_import(
    db: Database,
    path: str | os.PathLike,
    options: ImportOptions | None = None,
    provenance: Provenance | None = None,
    progress: bool = True,
) -> ImportResult:
    """Validate `path`, compute every measure and load one run in one transaction; then, when
    options.bootstrap or options.permutations ask for them, the run's intervals and chance
    baseline (seldb.load.uncertainty, a transaction of their own)."""
    options = options or ImportOptions()
    with ray_blocks.session(options.engine, options.address):
        result = _import_run(db, path, options, provenance, progress)
    if options.bootstrap or options.permutations:
        asked = UncertaintyOptions(options.bootstrap, options.permutations, options.seed, options.level)
        result.uncertainty = run_uncertainty(
            db, result.run_id, options=asked, progress=progress, verify_file=result.reused
        )
    return result


def _import_run(
    db: Database, path: str | os.PathLike, options: ImportOptions, provenance: Provenance | None, progress: bool
) -> ImportResult:
    started = time.perf_counter()
    plan = plan_import(path, options, progress)
    with plan, db.connect() as conn:
        _lock_fingerprint(conn, plan.fingerprint)
        existing = _existing_runs(conn, plan.fingerprint)
        if existing and options.on_duplicate == "error":
            raise SeldbError(
                f"{plan.afile.path} was already imported with these options as run {existing[-1]}"
                " (--on-duplicate reuse returns it, replace imports it anew, --force adds another run)"
            )
        if existing and options.on_duplicate == "reuse":
            return _reused(conn, existing[-1])
        writer = RunWriter(conn)
        try:
            if existing and options.on_duplicate == "replace":
                conn.execute(sa.delete(s.runs).where(s.runs.c.run_id.in_(existing)))
            result = _load(plan, writer, provenance or Provenance(), progress)
            result.replaced = existing if options.on_duplicate == "replace" else []
            result.timings["total_s"] = round(time.perf_counter() - started, 3)
            writer.update_run(timings=result.timings, row_counts=result.row_counts)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    return result


def _reused(conn: sa.Connection, run_id: int) -> ImportResult:
    run = run_summary(conn, run_id)
    dropped = len((run["dropped_images"] or {}).get("nonfinite_rows", []))
    return ImportResult(
        run_id,
        run["n_units"],
        run["n_images_analysed"],
        dropped,
        [],
        dict(run["timings"] or {}),
        dict(run["row_counts"] or {}),
        reused=True,
    )


@dataclass
class _BlockOut:
    units: pl.DataFrame
    precision_k: pl.DataFrame
    concepts: list[tuple[int, pl.DataFrame]]
    arrays: list[bytes]
    class_summary: ClassSummary
    engine: str


def _block_measurer(plan: _Plan, run_id: int, concepts):
    """The per-block work of an import: every measure, the concepts, the COPY bytes of the arrays."""
    rows, options, n_classes = plan.rows_by_class, plan.options, plan.afile.n_classes
    class_n = np.bincount(plan.afile.labels[rows], minlength=n_classes)
    every_k = options.as_json()["top_k"]  # the ks asked for, and 60 and 100 always

    def measure(block: UnitBlock, values: np.ndarray, labels: np.ndarray) -> _BlockOut:
        result = compute_block(values, labels, n_classes, top_k=every_k, bins=options.bins, image_index=rows)
        shift = pl.col("unit") + block.first
        concept_frames = [
            (cid, compute_concept_block(values, labels, n_classes, classes).with_columns(shift))
            for cid, _, classes in concepts
        ]
        arrays = encode_unit_arrays(run_id, block.layer_id, block.first, result)
        summary = ClassSummary.of_block(result, result.units, class_n)
        return _BlockOut(
            result.units.with_columns(shift),
            result.precision_k.with_columns(shift),
            concept_frames,
            arrays,
            summary,
            result.engine,
        )

    return measure


def _measure_layers(plan: _Plan, writer: RunWriter, concepts, progress: bool, timings: dict) -> dict[int, list]:
    """Measure every block on worker threads; stream their arrays into the COPY in order."""
    afile = plan.afile
    blocks = plan_blocks(afile, plan.layers, plan.rows_by_class.size, afile.n_classes * plan.options.bins)
    outputs: dict[int, list[_BlockOut]] = {}
    measure = _block_measurer(plan, writer.the_run(), concepts)
    for done in _engine(plan)(afile, blocks, plan.rows_by_class, measure, progress=progress):
        _collect(done, writer, outputs, timings)
    return outputs


def _engine(plan: _Plan):
    """measure_blocks of the chosen engine: threads here, or tasks on a Ray cluster (same contract)."""
    options = plan.options
    if options.engine != "ray":
        ready = plan.checks.ready if plan.checks is not None else None
        return functools.partial(measure_blocks, reuse_buffers=True, ready=ready)
    return functools.partial(ray_blocks.measure_blocks, address=options.address, ship_blocks=options.ship_blocks)


def _engine_record(options: ImportOptions) -> dict:
    """How the run was computed, in its record (not its fingerprint: every engine gives the same rows)."""
    if options.engine != "ray":
        return {}
    return {"engine": {"name": "ray", "address": options.address, "ship_blocks": options.ship_blocks}}


def _collect(done: Measured[_BlockOut], writer: RunWriter, outputs: dict, timings: dict) -> None:
    out = done.result
    started, cpu = time.perf_counter(), time.thread_time()
    writer.write_arrays(out.arrays)
    timings["copy_s"] += time.perf_counter() - started
    timings["copy_cpu_s"] += time.thread_time() - cpu
    timings["read_s"] += done.read_s
    timings["measures_s"] += done.measure_s
    timings["read_cpu_s"] += done.read_cpu_s
    timings["measures_cpu_s"] += done.measure_cpu_s
    out.arrays = []
    outputs.setdefault(done.block.layer_id, []).append(out)


def _load(plan: _Plan, writer: RunWriter, provenance: Provenance, progress: bool) -> ImportResult:
    afile = plan.afile
    timings = dict.fromkeys(["read_s", "measures_s", "copy_s", "read_cpu_s", "measures_cpu_s", "copy_cpu_s"], 0.0)
    timings["validate_s"], timings["validate_cpu_s"] = plan.validate_s, plan.validate_cpu_s
    header = _run_header(plan, provenance)
    run_id = writer.create_run(header)
    keys: list[str | None] = list(afile.class_keys) if afile.class_keys else [None] * afile.n_classes
    n_analysed = np.bincount(afile.labels[plan.analysed], minlength=afile.n_classes)
    writer.add_classes(afile.class_names, keys, unique_labels(afile.class_names, afile.class_keys), n_analysed)
    writer.add_images(afile.labels, afile.preds, afile.paths, plan.analysed)
    concepts, skipped = concept_store.resolve_for_run(writer.conn, afile.class_names, afile.class_keys)
    for layer_id, layer in enumerate(plan.layers):
        info = afile.layers[layer]
        writer.add_layer(layer_id, layer, info.n_units, info.reduction)
    outputs = _measure_layers(plan, writer, concepts, progress, timings)
    timings.update(_validate_timings(plan))
    engines = sorted({b.engine for blocks in outputs.values() for b in blocks})
    writer.update_run(options={**header["options"], "measure_engine": "+".join(engines) or measure_engine()})
    started = time.perf_counter()
    counts = _write_unit_tables(writer, outputs, concepts)
    timings["copy_s"] += time.perf_counter() - started
    timings = {k: round(v, 3) for k, v in timings.items()}
    counts.update(images=afile.n_images, classes=afile.n_classes)
    result = ImportResult(
        run_id, counts["units"], int(plan.analysed.sum()), int(plan.dropped.size), skipped, timings, counts
    )
    result.notes = _notes(plan)
    return result


def _validate_timings(plan: _Plan) -> dict[str, float]:
    """validate_s: the check-and-copy pass (and the SHA-256 beside it); validate_wait_s: how much of it the
    import waited for - all of it when the pass runs first, else the SHA-256 and the workers' waits."""
    checks = plan.checks
    if checks is None:
        return {"validate_wait_s": plan.validate_s}
    checks.stop()  # every layer is through the pass by now; this waits for its last timing
    return {
        "validate_s": max(plan.validate_s, checks.wall_s),
        "validate_cpu_s": plan.validate_cpu_s + checks.cpu_s,
        "validate_wait_s": plan.validate_s + checks.waited_s,
    }


def _notes(plan: _Plan) -> list[str]:
    """What the user should know about how the file was measured."""
    n = int(plan.analysed.sum())
    beyond = [k for k in plan.options.as_json()["top_k"] if k > n]
    notes = []
    if beyond:
        ks = ", ".join(map(str, beyond))
        notes.append(
            f"top-k {ks}: more than the {plural(n, 'analysed image')}, so precision at {ks} is over all {n} (k = N)"
        )
    if plan.dropped.size:
        notes.append(
            f"{plural(int(plan.dropped.size), 'image')} with NaN or infinite activations dropped"
            " from every layer (listed in the run's dropped_images)"
        )
    return notes


def _write_unit_tables(writer: RunWriter, outputs: dict[int, list[_BlockOut]], concepts) -> dict:
    all_units, counts = [], {"units": 0, "concept_rows": 0, "precision_k_rows": 0, "dead_units": 0}
    correlations = []
    for layer_id, blocks in outputs.items():
        units = pl.concat([b.units for b in blocks])
        writer.add_unit_measures(layer_id, units)
        every_k = pl.concat([b.precision_k for b in blocks])
        writer.add_precision_k(layer_id, every_k)
        for cid, _, _ in concepts:
            frame = pl.concat([f for b in blocks for c, f in b.concepts if c == cid])
            writer.add_concept_measures(layer_id, cid, frame)
            counts["concept_rows"] += frame.height
        writer.add_class_summary(
            functools.reduce(ClassSummary.merge, [b.class_summary for b in blocks]).rows(writer.the_run(), layer_id)
        )
        correlations += _both_correlations(units, layer_id)
        all_units.append(units)
        counts["units"] += units.height
        counts["dead_units"] += int(units["is_dead"].sum())
        counts["precision_k_rows"] += every_k.height
    correlations += _both_correlations(pl.concat(all_units), None)
    writer.add_correlations(correlations)
    return counts


def _both_correlations(units: pl.DataFrame, layer_id: int | None) -> list[dict]:
    """Correlations without the dead units (what reports show by default) and with them."""
    live = units.filter(~pl.col("is_dead"))
    return [
        *(dict(row, includes_dead=False) for row in correlation_rows(live, layer_id)),
        *(dict(row, includes_dead=True) for row in correlation_rows(units, layer_id)),
    ]
