"""`db.control_superposition(options)`: train the control's networks and import their files as runs.

Each network's four activation files (the word, the letter in each slot)
become four ordinary runs, imported as soon as the network is trained, so an
interruption keeps every finished network. A run's provenance (runs.options)
carries what seldb.control_runs shows: source 'seldb control', seed,
condition, cell, class space, the criterion and whether it was reached,
epochs, the loss and accuracy curves, and the per-step and held-word checks.
Rerunning the same seeds with the same settings writes bit-identical files,
which on_duplicate="reuse" (the default) maps back onto their runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from seldb.control.options import ControlNetworkResult, ControlOptions, ControlResult
from seldb.db.database import Database
from seldb.errors import SeldbError
from seldb.load.import_h5 import run_import
from seldb.load.options import ImportOptions, Provenance
from seldb.progress import progress_bar

SOURCE = "seldb control"


def _torch_networks():
    """seldb.control.experiment, or one line saying what to install."""
    try:
        from seldb.control import experiment as run
    except ImportError as exc:
        if "torch" not in str(exc):
            raise
        raise SeldbError("seldb control needs torch: pip install 'seldb[torch]'") from None
    return run


def control_superposition(
    db: Database, options: ControlOptions, notify: Callable[[str], None] | None = None, progress: bool = True
) -> ControlResult:
    """Train both conditions per seed to the criterion, record them, import every file as a run."""
    options.validate()  # before torch is imported or anything is written
    run = _torch_networks()
    run.check(options)
    started = time.perf_counter()
    result = ControlResult(options, Path(options.out).resolve(), [])
    per_seed = len(options.train_config.list_lengths or ()) if options.task == "free" else 2
    try:
        with progress_bar(progress, per_seed * options.seeds, "training and importing", "networks") as bar:
            for net in run.networks(options, notify):
                result.networks.append(_import_network(db, net, options))
                bar.advance()
    except KeyboardInterrupt as exc:
        exc.kept = kept_line(result)  # type: ignore[attr-defined]
        raise
    result.seconds = time.perf_counter() - started
    return result


def kept_line(result: ControlResult) -> str:
    """What an interrupted control leaves behind: every finished network's runs are committed."""
    if not result.networks:
        return f"no network finished and no run was imported (an unfinished network's files may be in {result.out})"
    nets = ", ".join(f"{n.model} seed {n.seed}" for n in result.networks)
    runs = ", ".join(map(str, result.run_ids))
    return (
        f"kept {len(result.networks)} finished network(s) ({nets}) as committed runs {runs}; their files are in"
        f" {result.out}; the network in training was not imported (rerun with the same options: finished"
        " networks are reused)"
    )


def _import_network(db: Database, net, options: ControlOptions) -> ControlNetworkResult:
    runs, reused = {}, True
    for space, path in net.files.items():
        imported = run_import(
            db,
            path,
            ImportOptions(model=net.model_name, dataset=f"control-{space}", on_duplicate=options.on_duplicate),
            Provenance(SOURCE, net.provenance_for(space)),
            progress=False,
        )
        runs[space] = imported.run_id
        reused &= imported.reused
    p = net.provenance
    return ControlNetworkResult(
        net.seed,
        net.condition,
        net.model_name,
        p["criterion_reached"],
        p["epochs"],
        p["accuracy"],
        p["train_seconds"],
        runs,
        reused,
    )
