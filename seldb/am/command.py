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
from seldb.am.dataset_images import RunRecord, analysed_paths, grey_images, mean_of_run, run_record
from seldb.am.options import (
    GENERATOR_METHOD,
    AMOptions,
    check_options,
    check_request,
    default_out,
    diversity_of,
    image_name,
)
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


class AMInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during `seldb am`, with what the call kept: finished images (row and PNG)."""

    def __init__(self, cause: KeyboardInterrupt, kept: list[str], out: Path, extra: list[str]):
        super().__init__(str(cause))
        self.cause, self.kept, self.out, self.extra = cause, kept, out, extra

    def summary(self) -> str:
        extra = "".join(f"; {e}" for e in self.extra)
        if not self.kept:
            return f"no image was finished, no row or PNG written{extra}"
        shown = ", ".join(self.kept[:8]) + (f" and {len(self.kept) - 8} more" if len(self.kept) > 8 else "")
        return (
            f"kept {len(self.kept)} finished image(s), each a row of seldb.am_images and a PNG in {self.out}:"
            f" {shown}{extra}; the same command makes the rest"
        )


def activation_maximisation(
    db: Database, options: AMOptions, progress: bool = True, notify: Callable[[str], None] | None = None
) -> list[AMRow]:
    """Make (or reuse) the AM images of each unit `options` names: options.samples AMRows per unit, in order."""
    from seldb.am.maximise import preflight  # torch from here on
    from seldb.am.model_source import rebuild_model
    from seldb.nets.device import resolve_device

    notify = notify or log.warning
    check_request(options)
    plan = _plan(db, options)
    rebuilt = rebuild_model(plan.record.options, plan.run_name)
    size = options.size or rebuilt.input_size
    with db.connect() as conn:
        paths = analysed_paths(conn, plan.run_id)
    generator = None
    if options.generator is not None:
        from seldb.am.ppgn import load_generator

        generator = load_generator(options.generator)
        options = dataclasses.replace(options, method=GENERATOR_METHOD)
    elif options.method is None:
        options = dataclasses.replace(options, method=input_method(plan.record, paths, notify))
    method = str(options.method)
    check_options(options.steps, size, method, options.lr, options.seed, generator is not None)
    device = resolve_device(options.device)
    targets = [(layer, rebuilt.module(layer), unit) for layer, unit in plan.units]
    preflight(rebuilt.net, targets, size, device, rebuilt.preprocess, options.pre_relu)
    if generator is not None:
        from seldb.am.ppgn import check_generator

        check_generator(generator, size, device, str(options.generator))
    seeds = range(options.seed, options.seed + options.samples)
    keys = {
        (pair, seed): store.key_of(plan.run_id, plan.layers[pair[0]].layer_id, pair[1], options, size, seed)
        for pair in plan.units
        for seed in seeds
    }
    with db.connect() as conn:
        previous = {k: store.stored(conn, key) for k, key in keys.items()}
    # a unit's samples are made together (the diversity term ties them): one missing sample remakes all
    todo = [p for p in plan.units if options.force or not all(_reusable(previous[(p, s)]) for s in seeds)]
    for pair in todo:
        changed = [p for p in (previous[(pair, s)] for s in seeds) if p is not None and not _reusable(p)]
        if changed and not options.force:
            notify(f"{pair[0]}.{pair[1]}: {changed[0]['path']} is gone or changed; making the image(s) again")
    if todo:
        work = [(pair, [(seed, keys[(pair, seed)], previous[(pair, seed)]) for seed in seeds]) for pair in todo]
        _make(db, plan, rebuilt, options, size, device, work, paths, progress, notify, generator)
    with db.connect() as conn:
        return store.rows(conn, plan.run_id, plan.units, options, size, set(todo))


def input_method(record: RunRecord, paths: list[str | None], notify: Callable[[str], None]) -> str:
    """The method that follows the network's input: fft-gray when the run's images are grey."""
    grey = grey_images(record, paths)
    if grey is None:
        notify(
            "the run's images are not reachable from here: colour AM images (fft-decorrelated);"
            " --method fft-gray for grey data"
        )
        return "fft-decorrelated"
    return "fft-gray" if grey else "fft-decorrelated"


def _batches(work: list, per_batch: int) -> list[list]:
    """The units to make, grouped by layer, in batches of whole units (a unit's samples stay together)."""
    by_layer: dict[str, list] = {}
    for entry in work:
        by_layer.setdefault(entry[0][0], []).append(entry)
    return [units[i : i + per_batch] for units in by_layer.values() for i in range(0, len(units), per_batch)]


def _make(
    db: Database,
    plan: _Plan,
    rebuilt,
    options: AMOptions,
    size: int,
    device: str,
    work: list,
    paths: list[str | None],
    progress: bool,
    notify: Callable[[str], None],
    generator=None,
) -> None:
    out = Path(options.out) if options.out is not None else default_out(plan.run_id)
    mean = mean_of_run(plan.record, paths, rebuilt.preprocess, size, out)
    if mean.note:
        notify(mean.note)
    kept: list[str] = []
    per_batch = max(1, options.batch // options.samples)
    n_images = len(work) * options.samples
    try:
        with progress_bar(progress, n_images * options.steps, "AM images", unit="steps") as bar:
            for batch in _batches(work, per_batch):
                made = _make_batch(rebuilt, options, size, device, batch, mean, out, bar, generator)
                stored = False
                try:
                    with db.connect() as conn:
                        for record, _, _ in made:
                            store.save(conn, record)
                        conn.commit()
                        stored = True
                except KeyboardInterrupt:
                    if not stored:
                        _remove_fresh(made)  # rolled back: their PNGs go too
                        raise
                    kept.extend(f"{batch[0][0][0]}.{r['unit']} (seed {r['seed']})" for r, _, _ in made)
                    raise
                for record, previous, _ in made:
                    kept.append(f"{batch[0][0][0]}.{record['unit']} (seed {record['seed']})")
                    _drop_replaced(previous, Path(record["path"]))
    except KeyboardInterrupt as exc:
        extra = [] if mean.image is None else [f"the run's mean image is cached in {out}"]
        raise AMInterrupted(exc, kept, out, extra) from None


def _make_batch(
    rebuilt, options: AMOptions, size: int, device: str, batch: list, mean, out: Path, bar, generator=None
) -> list[tuple[dict, dict | None, bool]]:
    """Optimise one batch (whole units of one layer, every sample) and write its PNGs: per image the row
    to store, the row it replaces, and whether its PNG is a new file (removed again if the batch is not
    stored)."""
    import time

    from seldb.am.maximise import _cpu_threads, reference_activation
    from seldb.am.receptive_field import centre_receptive_field
    from seldb.am.unit_probe import input_transform

    layer = batch[0][0][0]
    module = rebuilt.module(layer)
    prep_name, prep = input_transform(rebuilt.preprocess)
    units = [pair[1] for pair, samples in batch for _ in samples]
    seeds = [seed for _, samples in batch for seed, _, _ in samples]
    bar.describe(f"AM {layer} ({len(batch)} unit(s) x {options.samples})")
    with _cpu_threads(options.threads if device == "cpu" else None) as threads:
        started = time.perf_counter()
        result = _optimise(rebuilt.net, module, layer, units, seeds, options, size, prep, device, bar, generator)
        box = centre_receptive_field(rebuilt.net, module, size, prep, device) if options.objective == "centre" else None
        refs = {
            pair[1]: None
            if mean.image is None
            else reference_activation(rebuilt.net, module, pair[1], mean.image, rebuilt.preprocess, device, layer)
            for pair, _ in batch
        }
        seconds = (time.perf_counter() - started) / len(units)
    settings = _settings(options, size, prep_name, device, threads, len(units), box, generator is not None)
    made: list[tuple[dict, dict | None, bool]] = []
    try:
        for i, (unit, seed) in enumerate(zip(units, seeds)):
            k, previous = next((k, p) for s, k, p in dict(batch)[(layer, unit)] if s == seed)
            path = (out / image_name(layer, unit, options, size, seed)).resolve()
            fresh = not path.exists()
            sha256 = write_png(result.images[i] if box is None else box.crop(result.images[i]), path)
            ref = refs[unit]
            row = {
                **k,
                "activation_mean": result.means[i],
                "activation_max": result.maxes[i],
                "objective": result.objectives[i],
                "reference_mean": None if ref is None else ref.mean,
                "reference_max": None if ref is None else ref.max,
                "reference_n_images": mean.n_images or None,
                "path": str(path),
                "sha256": sha256,
                "device": device,
                "seconds": seconds,
                "settings": {**settings, "seed": seed},
            }
            made.append((row, previous, fresh))
    except KeyboardInterrupt:
        _remove_fresh(made)
        raise
    return made


def _remove_fresh(made: list[tuple[dict, dict | None, bool]]) -> None:
    """PNGs this batch wrote as new files, removed when the batch is not stored (an interrupt)."""
    for row, _, fresh in made:
        if fresh:
            Path(row["path"]).unlink(missing_ok=True)


def _optimise(net, module, layer: str, units, seeds, options: AMOptions, size: int, prep, device: str, bar, generator):
    """The batch's images: PPGN's sampler through the generator, or the Fourier image's optimiser."""
    from seldb.am.batch import optimise_batch

    common = dict(
        steps=options.steps, size=size, prep=prep, device=device, objective=options.objective,
        pre_relu=options.pre_relu, layer_name=layer, progress=lambda _s: bar.advance(len(units)),
    )  # fmt: skip
    if generator is not None:
        from seldb.am.ppgn import sample_batch

        return sample_batch(net, module, units, seeds, generator, spec=str(options.generator), **common)
    return optimise_batch(
        net, module, units, seeds, method=str(options.method), lr=options.lr, diversity=diversity_of(options), **common
    )


def _settings(options: AMOptions, size: int, prep_name: str, device: str, threads, batch: int, box, ppgn: bool) -> dict:
    """Every setting that decided the bytes, recorded with each image."""
    import torch

    from seldb.am.ppgn import PPGNSettings
    from seldb.am.transforms import TransformSpec

    return {
        "steps": options.steps,
        "size": size,
        "method": options.method,
        "lr": options.lr,
        "preprocess": prep_name,
        "pre_relu": options.pre_relu,
        "objective": options.objective,
        "samples": options.samples,
        "diversity": diversity_of(options),
        "seeds": list(range(options.seed, options.seed + options.samples)),
        "batch": batch,
        "device": device,
        "threads": threads if device == "cpu" else None,
        "transforms": None if ppgn else TransformSpec.for_size(size).describe(),
        "torch_version": torch.__version__,
        "crop": None if box is None else [box.top, box.left, box.bottom, box.right],
        "generator": options.generator,
        "ppgn": dataclasses.asdict(PPGNSettings()) if ppgn else None,
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
