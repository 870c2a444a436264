"""`seldb am`: AM images of a run's units, made from the run's own network and stored with the run.

Which units: named ones (each checked against the run, one line for an
unknown layer or unit), or the top N of seldb.unit_measures by a measure,
highest first, dead units and NULLs never ranking, ties broken by layer and
unit so that a rerun picks the same.

The sequence: check the options (no database needed), resolve the run and its
units, rebuild the network the run recorded (a run imported from an
activation file has none: one line), check every unit with one forward pass
per layer - so bad input is one line while nothing is written yet - then per
unit either reuse the stored image or optimise, write the PNG, measure the
dataset's mean image and store the row (committed per image, so a long call
interrupted keeps what it finished). The rows come back from seldb.am_images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from seldb import catalogue
from seldb.am import am_images as store
from seldb.am.am_images import AMRow
from seldb.am.dataset_images import RunRecord, analysed_paths, mean_of_run, run_record
from seldb.am.options import AMOptions, check_options, check_request, default_out, image_name
from seldb.db.database import Database
from seldb.db.read import Layer, Run, check_layer, did_you_mean, find_unit, resolve_run, run_layers
from seldb.errors import InputError, SeldbError
from seldb.png import write_png
from seldb.progress import progress_bar

log = logging.getLogger("seldb.am")


@dataclasses.dataclass
class _Plan:
    run_id: int
    run_name: str
    units: list[tuple[str, int]]
    layers: dict[str, Layer]
    record: RunRecord


def _plan(db: Database, options: AMOptions) -> _Plan:

    with db.connect() as conn:
        run = resolve_run(conn, options.run)
        units = chosen_units(conn, run, options)
        return _Plan(run.run_id, run.name, units, run_layers(conn, run), run_record(conn, run.run_id))


def chosen_units(conn: sa.Connection, run: Run, options: AMOptions) -> list[tuple[str, int]]:
    """(layer, unit) pairs in the order asked (labels) or ranked (top N); no pair twice."""
    if options.units:
        pairs = [find_unit(conn, run, label) for label in options.units]
        return list(dict.fromkeys(pairs))
    if options.top is None:
        raise InputError("name the units (--units fc6.1,fc6.7) or ask for the top N (--top N)")
    return top_units(conn, run, options.by, options.top, options.layer)


def top_units(conn: sa.Connection, run: Run, by: str, n: int, layer: str | None = None) -> list[tuple[str, int]]:
    rankable = catalogue.rankable()
    if by not in rankable:
        raise InputError(f"--by must be a measure that ranks units, got {by!r}{did_you_mean(by, rankable)}")
    where = "run_id = :r AND NOT COALESCE(is_dead, false)"
    params: dict = {"r": run.run_id, "n": n}
    if layer is not None:
        params["l"] = check_layer(conn, run, layer)
        where += " AND layer = :l"
    # `by` is a catalogue measure (checked above), safe to splice
    rows = conn.execute(
        sa.text(
            f"SELECT layer, unit FROM seldb.unit_measures WHERE {where} AND {by} IS NOT NULL"
            f" ORDER BY {by} DESC, layer, unit LIMIT :n"
        ),
        params,
    ).all()
    if not rows:
        scope = f"layer {layer} of " if layer else ""
        raise SeldbError(f"no live unit of {scope}{run.name} has a value of {by}")
    return [(row.layer, int(row.unit)) for row in rows]


def _reusable(stored: dict | None) -> bool:
    """A stored image whose file is still the one seldb wrote."""
    return stored is not None and _file_intact(stored["path"], stored["sha256"])


def _file_intact(path: str, sha256: str) -> bool:
    file = Path(path)
    return file.is_file() and hashlib.sha256(file.read_bytes()).hexdigest() == sha256


def activation_maximisation(
    db: Database, options: AMOptions, progress: bool = True, notify: Callable[[str], None] | None = None
) -> list[AMRow]:
    """Make (or reuse) the AM image of each unit `options` names; one AMRow per unit, in order."""
    from seldb.am.maximise import preflight  # torch from here on
    from seldb.am.model_source import rebuild_model
    from seldb.nets.device import resolve_device

    notify = notify or log.warning
    check_request(options)
    plan = _plan(db, options)
    rebuilt = rebuild_model(plan.record.options, plan.run_name)
    size = options.size or rebuilt.input_size
    check_options(options.steps, size, options.method, options.lr, options.seed)
    device = resolve_device(options.device)
    targets = [(layer, rebuilt.module(layer), unit) for layer, unit in plan.units]
    preflight(rebuilt.net, targets, size, device, rebuilt.preprocess, options.pre_relu)
    keys = {
        pair: store.key(
            plan.run_id,
            plan.layers[pair[0]].layer_id,
            pair[1],
            options.method,
            options.seed,
            options.steps,
            size,
            options.pre_relu,
            options.lr,
        )
        for pair in plan.units
    }
    with db.connect() as conn:
        previous = {pair: store.stored(conn, k) for pair, k in keys.items()}
    todo = [pair for pair in plan.units if options.force or not _reusable(previous[pair])]
    for pair in todo:
        before = previous[pair]
        if before and not options.force:
            notify(f"{pair[0]}.{pair[1]}: {before['path']} is gone or changed; making the image again")
    if todo:
        _make(db, plan, rebuilt, options, size, device, [(p, keys[p], previous[p]) for p in todo], progress, notify)
    with db.connect() as conn:
        return store.rows(conn, plan.run_id, plan.units, options, size, set(todo))


def _make(
    db: Database,
    plan: _Plan,
    rebuilt,
    options: AMOptions,
    size: int,
    device: str,
    todo: list,
    progress: bool,
    notify: Callable[[str], None],
) -> None:
    from seldb.am.maximise import generate, reference_activation

    out = Path(options.out) if options.out is not None else default_out(plan.run_id)
    with db.connect() as conn:
        paths = analysed_paths(conn, plan.run_id)
    mean = mean_of_run(plan.record, paths, rebuilt.preprocess, size, out)
    if mean.note:
        notify(mean.note)
    with progress_bar(progress, len(todo) * options.steps, "AM images", unit="steps") as bar:
        for (layer, unit), k, previous in todo:
            bar.describe(f"AM {layer}.{unit}")
            module = rebuilt.module(layer)
            am = generate(
                rebuilt.net,
                module,
                unit,
                steps=options.steps,
                size=size,
                seed=options.seed,
                pre_relu=options.pre_relu,
                device=device,
                preprocess=rebuilt.preprocess,
                method=options.method,
                lr=options.lr,
                layer_name=layer,
                threads=options.threads,
                progress=lambda _step: bar.advance(1),
            )
            path = (out / image_name(layer, unit, options, size)).resolve()
            sha256 = write_png(am.image, path)
            ref = (
                None
                if mean.image is None
                else reference_activation(rebuilt.net, module, unit, mean.image, rebuilt.preprocess, device, layer)
            )
            with db.connect() as conn:
                store.save(conn, _record(k, am, ref, mean.n_images, path, sha256))
                conn.commit()
            _drop_replaced(previous, path)


def _record(k: dict, am, ref, n_images: int, path: Path, sha256: str) -> dict:
    return {
        **k,
        "activation_mean": am.activation.mean,
        "activation_max": am.activation.max,
        "objective": am.objective,
        "reference_mean": None if ref is None else ref.mean,
        "reference_max": None if ref is None else ref.max,
        "reference_n_images": n_images or None,
        "path": str(path),
        "sha256": sha256,
        "device": am.settings.device,
        "seconds": am.seconds,
        "settings": dataclasses.asdict(am.settings),
    }


def _drop_replaced(previous: dict | None, path: Path) -> None:
    """A replaced image written elsewhere is removed, when it is still the file seldb wrote."""
    if previous and Path(previous["path"]) != path and _file_intact(previous["path"], previous["sha256"]):
        Path(previous["path"]).unlink()


def demo_images(
    db: Database, run_id: int, out: str | Path, n: int = 4, steps: int = 256, progress: bool = True
) -> list[AMRow]:
    """`seldb demo`'s last step: AM images of its n most selective fc1 units (by precision_60), grey
    like the digits, on the CPU with one thread so that every machine gets the same bytes."""
    options = AMOptions(
        run=run_id,
        top=n,
        by="precision_60",
        layer="fc1",
        steps=steps,
        method="fft-gray",
        device="cpu",
        threads=1,
        out=out,
    )
    return activation_maximisation(db, options, progress)
