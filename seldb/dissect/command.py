"""`seldb dissect` as one library call: DissectOptions in, a stored dissection (DissectImport) out.

This module only sequences the others, cheapest check first, so that bad
input costs one line and writes nothing: the options, the Broden-format
dataset (every file named in index.csv must exist) and the rules, the network and its
weights, the layers (one image through the network: each must give a
spatial map), the run to join; then the dissection (seldb.dissect.pipeline,
the long part, which writes only its temporary map store), then one
transaction for the database (seldb.dissect.saving) and last the tally.csv
files, each with its provenance beside it (FILE.provenance.json). A PNG
whose pixels name a label missing from label.csv is found while the tally
decodes it, still before anything is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from seldb.db.database import Database
from seldb.dissect.broden import open_broden
from seldb.dissect.features import PREPROCESS_KINDS, map_shapes
from seldb.dissect.network import load_network
from seldb.dissect.options import DissectImport, DissectOptions
from seldb.dissect.pipeline import dissect
from seldb.dissect.result import DissectResult
from seldb.dissect.rules import DissectRules, resolve_categories, resolve_rules
from seldb.dissect.saving import (
    check_run,
    create_run,
    n_detectors,
    refresh_statistics,
    run_preprocess,
    store_layer,
)
from seldb.dissect.tallycsv import write_provenance, write_tally_csv
from seldb.errors import InputError
from seldb.nets.device import resolve_device

log = logging.getLogger("seldb.dissect")


def tally_paths(tally_csv: str | Path | None, layers: list[str]) -> dict[str, Path]:
    """Where each layer's tally.csv goes: FILE for one layer, FILE_<layer>.csv beside it for several."""
    if tally_csv is None:
        return {}
    path = Path(tally_csv)
    if len(layers) == 1:
        return {layers[0]: path}
    safe = {layer: "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer) for layer in layers}
    return {layer: path.with_name(f"{path.stem}_{safe[layer]}{path.suffix or '.csv'}") for layer in layers}


def _check_options(options: DissectOptions) -> DissectRules:
    rules = resolve_rules(options.rules, options.union, options.upsample, options.threshold)
    if not options.layers:
        raise InputError("--layers is required: the conv layers to dissect, e.g. conv5")
    if not 0 <= options.quantile < 1:
        raise InputError(f"--quantile must be in [0, 1), got {options.quantile}")
    if options.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {options.batch_size}")
    if options.preprocess is not None and options.preprocess not in PREPROCESS_KINDS:
        raise InputError(f"--preprocess must be one of {', '.join(PREPROCESS_KINDS)}, got {options.preprocess!r}")
    for path in tally_paths(options.tally_csv, list(options.layers)).values():
        if path.is_dir() or not path.parent.is_dir():
            raise InputError(f"--tally-csv {path}: {'is a directory' if path.is_dir() else 'no such directory'}")
    return rules


def run_dissect(db: Database, options: DissectOptions, notify: Callable[[str], None] | None = None) -> DissectImport:
    """Dissect options.layers of the network over options.broden and store it; see the module docstring."""
    notify = notify or log.warning
    started = time.perf_counter()
    rules = _check_options(options)
    broden = open_broden(options.broden, resolve_categories(options.categories))
    network = load_network(options)
    for note in network.notes:
        notify(note)
    preprocess = _preprocess(db, options, network.preprocess)
    device = resolve_device(options.device)
    shapes = map_shapes(network.net, network.modules, broden, device, preprocess)
    if options.run is not None:  # refuse before the long pass; checked again when storing
        with db.connect() as conn:
            check_run(conn, options.run, network.identity(), shapes)
    result = dissect(
        network.net,
        list(network.modules),
        broden,
        quantile=options.quantile,
        batch_size=options.batch_size,
        device=device,
        preprocess=preprocess,
        layer_aliases=network.modules,
        workdir=options.workdir,
        progress=options.progress,
        rules=rules,
    )
    dissected = time.perf_counter()
    stored = _store(db, options, result, network.identity(), shapes, preprocess)
    stored.tally_csv = []
    for layer, path in tally_paths(options.tally_csv, list(result.layers)).items():
        stored.tally_csv.append(write_tally_csv(result, layer, path))
        write_provenance(result, layer, path, {"run_id": stored.run_id, "preprocess": preprocess, **network.identity()})
    stored.timings = {"dissect_s": round(dissected - started, 3), "store_s": round(time.perf_counter() - dissected, 3)}
    return stored


def _preprocess(db: Database, options: DissectOptions, model_kind: str) -> str:
    """The model's own preprocessing unless asked otherwise: the joined run's recorded kind, else the
    registry's; an explicit kind other than the run's is refused (its units saw other input) unless forced."""
    recorded = None
    if options.run is not None:
        with db.connect() as conn:
            recorded = run_preprocess(conn, options.run)
    if options.preprocess is None:
        return recorded or model_kind
    if recorded is not None and options.preprocess != recorded and not options.force:
        raise InputError(
            f"--preprocess {options.preprocess} differs from run {options.run}'s {recorded}: its units saw"
            f" {recorded} input; drop --preprocess to follow the run, or add --force"
        )
    return options.preprocess


def _store(
    db: Database, options: DissectOptions, result: DissectResult, identity: dict, shapes: dict, preprocess: str
) -> DissectImport:
    with db.connect() as conn:
        if options.run is None:
            run_id, layer_ids = create_run(conn, result, identity, preprocess)
        else:
            run_id, layer_ids = options.run, check_run(conn, options.run, identity, shapes)
        ids, replaced = {}, []
        for layer in result.layers:
            ids[layer], again = store_layer(conn, run_id, layer_ids[layer], result, layer, preprocess)
            replaced += [layer] if again else []
        refresh_statistics(conn)
        conn.commit()
    return DissectImport(
        run_id=run_id,
        created_run=options.run is None,
        n_images=result.n_images,
        quantile=result.quantile,
        layers={layer: d.n_units for layer, d in result.layers.items()},
        n_labels=len(result.label_numbers()),
        detectors={layer: n_detectors(result, layer) for layer in result.layers},
        dissection_ids=ids,
        replaced=replaced,
        rules=result.rules.as_dict(),
    )
