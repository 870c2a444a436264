"""The superposition control at its default sizes: wall time, criterion, and what the networks learned.

Times `run_control` (training both conditions per seed to the criterion,
recording, writing the activation files) and then the per-unit measures of
every file (what an import computes; the database load is not included),
and prints the control report's counts and verdict. Targets on a 2-core
machine: <= 5 min for --seeds 1, <= 20 min for the default 5 seeds.

    python benchmarks/control_superposition.py --seeds 1
    python benchmarks/control_superposition.py                    # the full default
    python benchmarks/control_superposition.py --cell lstm --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from seldb.control import run_control, summarize_control
from seldb.control.measure import unit_frame
from seldb.control.run import DEFAULT_HIDDEN, DEFAULT_SEEDS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    ap.add_argument("--hidden", type=int, default=DEFAULT_HIDDEN)
    ap.add_argument("--cell", default="rnn")
    ap.add_argument("--out", type=Path, help="where the activation files go (default: a temporary folder)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available (training uses 1)")
    with tempfile.TemporaryDirectory(prefix="seldb-control-") as tmp:
        out = args.out or Path(tmp)
        started = time.perf_counter()
        networks = run_control(args.seeds, args.hidden, args.cell, out, notify=print)
        trained = time.perf_counter() - started
        units = unit_frame(networks)
        total = time.perf_counter() - started
    summary = summarize_control(units)
    pl.Config.set_tbl_rows(100)
    pl.Config.set_tbl_cols(20)
    columns = ["condition", "class_space", "n_seeds", "n_units_mean", "n_localist_mean", "n_localist_sd",
               "n_recall_p1_099_mean", "n_recall_p1_050_mean", "n_mi_099_mean", "n_precision_60_075_mean"]  # fmt: skip
    print(summary.across_seeds.select(columns))
    print(summary.verdict)
    print(f"train + record + write: {trained:.1f} s; with measures: {total:.1f} s "
          f"({args.seeds} seed(s), hidden {args.hidden}, {args.cell})")  # fmt: skip
    if args.json:
        networks_json = [{"model": n.model_name, "seed": n.seed, **{k: n.provenance[k] for k in (
            "epochs", "criterion_reached", "accuracy", "train_seconds")}} for n in networks]  # fmt: skip
        args.json.write_text(json.dumps({
            "seeds": args.seeds, "hidden": args.hidden, "cell": args.cell,
            "seconds_train_record_write": trained, "seconds_total": total,
            "networks": networks_json, "per_seed": summary.per_seed.to_dicts(),
            "across_seeds": summary.across_seeds.to_dicts(), "verdict": summary.verdict,
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
