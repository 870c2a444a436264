"""The superposition control at its default sizes: wall time end to end, and what the networks learned.

Runs what `seldb control superposition` runs (free recall by default: one
network per list length per seed; --task serial: both conditions per seed;
train to the criterion, record, write the activation files, import every
file as a run into SELDB_DATABASE_URL) and then `seldb report control` on
those runs, and prints the time per network, the machine's load, the
report's counts, the dose-response and the verdicts. --no-db stops before
the database: the per-unit measures are then computed from the files, as
the import would. Targets on a 2-core machine: <= 10 min for --seeds 1,
<= 60 min for the default 5 seeds (training included).

    python benchmarks/control_superposition.py --seeds 1
    python benchmarks/control_superposition.py                    # the full default
    python benchmarks/control_superposition.py --task serial --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from seldb.control import ControlOptions, summarize_control
from seldb.control.options import DEFAULT_HIDDEN, DEFAULT_SEEDS

COLUMNS = [
    "condition",
    "class_space",
    "n_seeds",
    "n_units_mean",
    "n_localist_mean",
    "n_localist_sd",
    "n_recall_p1_099_mean",
    "n_recall_p1_050_mean",
    "n_mi_099_mean",
    "n_precision_60_075_mean",
]


def through_the_database(options: ControlOptions) -> tuple[dict, object]:
    import seldb

    with seldb.connect() as db:
        result = db.control_superposition(options, notify=print, progress=False)
        report = db.reports.control(result.run_ids)
    networks = [
        {
            "model": n.model,
            "seed": n.seed,
            "epochs": n.epochs,
            "criterion_reached": n.criterion_reached,
            "accuracy": n.accuracy,
            "train_seconds": n.train_seconds,
            "runs": n.runs,
        }
        for n in result.networks
    ]
    summary = report.section("across_seeds").frame
    dose = report.section("dose_response").frame
    record = {"networks": networks, "across_seeds": summary.to_dicts(), "dose_response": dose.to_dicts()}
    return {**record, "notes": report.notes}, summary


def without_the_database(options: ControlOptions) -> tuple[dict, object]:
    from seldb.control import dose
    from seldb.control.experiment import run_control
    from seldb.control.steps import unit_frame

    networks = run_control(options, notify=print)
    summary = summarize_control(unit_frame(networks))
    entries = [
        {"task": options.task, "cell": n.cell, "hidden": options.hidden, "condition": n.condition, "seed": n.seed}
        | {"memory": n.memory}
        for n in networks
        if n.memory is not None
    ]
    across = dose.dose_over_seeds(dose.dose_per_seed(entries))
    record = {"across_seeds": summary.across_seeds.to_dicts(), "dose_response": across.to_dicts()}
    return {**record, "notes": [summary.verdict, dose.verdict(across)]}, summary.across_seeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    ap.add_argument("--hidden", type=int, default=DEFAULT_HIDDEN)
    ap.add_argument("--cell", default="rnn")
    ap.add_argument("--task", default="free", choices=["free", "serial"])
    ap.add_argument("--out", type=Path, help="where the activation files go (default: a temporary folder)")
    ap.add_argument("--no-db", action="store_true", help="stop before the database (measures from the files)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    load_before = os.getloadavg()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} cores, load average {load_before[0]:.1f} (training uses 1 thread)"
    )
    with tempfile.TemporaryDirectory(prefix="seldb-control-") as tmp:
        options = ControlOptions(args.seeds, args.hidden, args.cell, args.out or Path(tmp), task=args.task)
        started = time.perf_counter()
        record, summary = (without_the_database if args.no_db else through_the_database)(options)
        seconds = time.perf_counter() - started
    pl.Config.set_tbl_rows(100)
    pl.Config.set_tbl_cols(20)
    print(summary.select([c for c in COLUMNS if c in summary.columns]))
    print("\n\n".join(record["notes"]))
    load_after = os.getloadavg()
    print(
        f"{seconds:.1f} s end to end ({args.task}, {args.seeds} seed(s), hidden {args.hidden}, {args.cell}, "
        f"{'no database' if args.no_db else 'into PostgreSQL'}); "
        f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "seeds": args.seeds,
                    "hidden": args.hidden,
                    "cell": args.cell,
                    "task": args.task,
                    "database": not args.no_db,
                    "seconds": seconds,
                    "load_average": [load_before, load_after],
                    **record,
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
