"""`seldb report control`: what the positive control's networks learned, read from the views.

The runs of `seldb control superposition` (seldb.control_runs; by default the
latest run of every network and class space) and their units
(seldb.control_units) go through the control's analysis seam
(seldb.control.analysis): per condition and seed, and mean +- sd across
seeds, the number and share of units that are localist, reach recall at
precision 1 >= 0.99 and >= 0.5, max informedness >= 0.99, precision_60 >
0.75; a verdict in plain words above the tables. Two checks stored with each
run (seldb.runs.options, see seldb.control.steps) follow: selectivity per
step kind, as the Bowers-lab replication analysed it, and of the words
held at a step. plot=True adds the box plots of every measure per condition
(one PNG) and a Figure-1-style jitterplot of the most selective unit of each
condition (seldb.reports.unit_plot).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from seldb.control import dose
from seldb.control.analysis import group_keys, plot_control_boxes, summarize_control
from seldb.db.database import Database
from seldb.db.read import frame
from seldb.errors import InputError, NotFound
from seldb.reports.base import Report, Section
from seldb.reports.unit import unit_report

IDENTITY = ["cell", "hidden", "condition", "seed", "class_space"]  # one network seen through one class space
UNIT_COLUMNS = [
    "run_id",
    *IDENTITY,
    "unit",
    "unit_label",
    "is_localist",
    "localist_margin",
    "recall_p1",
    "recall_p1_class",
    "max_informedness",
    "mi_class",
    "precision_60",
    "precision_60_class",
    "ccmas",
]
DOSE_KEYS = ["cell", "hidden", "condition", "length", "class_space", "direction"]
STEP_KEYS = ["cell", "hidden", "condition", "length", "step", "class_space", "n_seeds", "rows", "trivial"]
COUNTED = ["localist", "recall_p1_099", "recall_p1_050", "mi_099", "precision_60_075"]


def control_report(
    db: Database, runs: Sequence[int] | None = None, plot: bool = False, out_dir: str | Path = "."
) -> Report:
    """The control's counts per condition and seed, across seeds, its checks, and (plot=True) its figures."""
    with db.connect() as conn:
        chosen, note = _choose_runs(frame(conn, "SELECT * FROM seldb.control_runs ORDER BY run_id"), runs)
        ids = {"ids": chosen["run_id"].to_list()}
        units = frame(
            conn,
            f"SELECT {', '.join(UNIT_COLUMNS)} FROM seldb.control_units"
            " WHERE run_id = ANY(:ids) ORDER BY run_id, layer, unit",
            ids,
        )
        checks = frame(conn, "SELECT run_id, options FROM seldb.runs WHERE run_id = ANY(:ids)", ids)
    summary = summarize_control(units)
    steps, held = _checks(chosen, checks)
    entries, incomplete = _memory_entries(chosen, checks)
    dose_seeds = dose.dose_per_seed(entries)
    dose_across = dose.dose_over_seeds(dose_seeds)
    keys = group_keys(summary.per_seed)
    sections = [
        Section(
            "across_seeds",
            "mean and sd across seeds (units per network)",
            _rounded(summary.across_seeds),
            [*keys, "class_space", "n_seeds", "n_units_mean", *[f"n_{c}_mean" for c in COUNTED]],
        ),
        Section(
            "per_seed",
            "per condition and seed",
            _rounded(summary.per_seed),
            [*keys, "seed", "class_space", "n_units", *[f"n_{c}" for c in COUNTED]],
        ),
        Section("networks", "the trained networks (seldb.control_runs)", _networks(chosen)),
        Section(
            "steps", "per step kind, mean over seeds (as the Bowers-lab replication analyses each time step)", steps
        ),
        Section("held", "words (letters) held at a step, each its own yes/no class, mean over seeds", held),
        Section("most_selective", "the most selective unit of each condition", _most_selective(units)),
        Section(
            "dose_response",
            "localist units per network against list length, mean and sd over seeds (on/off, margins 0..0.5)",
            _rounded(dose_across),
            [
                *DOSE_KEYS,
                "n_seeds",
                "n_m00_mean",
                "n_m00_sd",
                "n_m01_mean",
                "n_m01_sd",
                "n_m05_mean",
                "n_same_m00_mean",
            ],
        ),
        Section(
            "dose_per_seed",
            "the same counts per seed",
            dose_seeds,
            [*DOSE_KEYS, "seed", "n_m00", "n_m01", "n_same_m00"],
        ),
        Section(
            "memory_steps",
            "per list length and step: localist units on/off per margin (n_same_*: same class at every step),"
            " mean over seeds; trivial: one state per class at that step",
            dose.steps_over_seeds(dose.step_table(entries)),
            [*STEP_KEYS, "n_on_m00", "n_off_m00", "n_on_m01", "n_off_m01", "n_same_on_m00", "best_margin"],
        ),
    ]
    ids_sorted = sorted(ids["ids"])
    report = Report(
        "control",
        f"The positive control: {len(ids_sorted)} runs of seldb control superposition",
        ids_sorted[0],
        sections,
        notes=[summary.verdict, *_checks_notes(steps, held, entries), dose.verdict(dose_across), *incomplete, *note],
        qualifier=f"{len(ids_sorted)}runs",
    )
    if plot:
        report.files = _figures(db, report, units, Path(out_dir))
        if not dose_across.is_empty():
            report.files += dose.plot_dose(dose_across, Path(out_dir) / f"{report.stem}-dose.png")
    return report


def _memory_entries(runs: pl.DataFrame, options: pl.DataFrame) -> tuple[list[dict], list[str]]:
    """One entry per network (its word run's memory analysis), and a line per incomplete set found."""
    stored = {}
    for run_id, text in options.iter_rows():
        stored[run_id] = json.loads(text) if isinstance(text, str) else (text or {})
    entries, notes = [], []
    runs = runs.with_columns(
        task=pl.col("run_id").map_elements(lambda r: stored[r].get("task", "serial"), return_dtype=pl.String)
    )
    per_network = runs.group_by(["task", "cell", "hidden", "condition", "seed"]).agg(
        pl.col("class_space").sort(), pl.col("run_id").max()
    )
    for row in per_network.sort("task", "cell", "hidden", "condition", "seed").iter_rows(named=True):
        if len(row["class_space"]) < 2 or "word" not in row["class_space"]:
            notes.append(
                f"Incomplete: {row['cell']} {row['condition']} seed {row['seed']} has only the run(s) of"
                f" {', '.join(row['class_space'])} (a network has a word run and one per letter slot)."
            )
    for row in runs.filter(pl.col("class_space") == "word").iter_rows(named=True):
        memory = stored[row["run_id"]].get("memory_analysis")
        if memory is not None:
            entries.append({**{k: row[k] for k in dose.NETWORK}, "memory": memory})
    for (task, cell, hidden), mine in per_network.group_by(["task", "cell", "hidden"], maintain_order=True):
        seeds = mine.group_by("condition").agg(pl.col("seed").sort())
        sets = {c: tuple(s) for c, s in seeds.iter_rows()}
        if len(set(sets.values())) > 1:
            listed = "; ".join(f"{c}: seeds {', '.join(map(str, s))}" for c, s in sorted(sets.items()))
            notes.append(
                f"Incomplete set ({cell}, {hidden} hidden units, {task}): the conditions have different seeds"
                f" ({listed}); the counts across seeds compare unlike sets and the verdict pairs seeds present"
                " in both conditions only."
            )
    return entries, notes


def _choose_runs(runs: pl.DataFrame, asked: Sequence[int] | None) -> tuple[pl.DataFrame, list[str]]:
    """The runs asked for (each must be a control run), or the latest run of every network and class space."""
    if runs.is_empty():
        raise NotFound("no control runs yet: run `seldb control superposition` first")
    if asked:
        missing = sorted({int(r) for r in asked} - set(runs["run_id"].to_list()))
        if missing:
            listed = ", ".join(map(str, missing))
            raise InputError(f"--runs: {listed} not control run(s) (seldb.control_runs lists them)")
        return runs.filter(pl.col("run_id").is_in([int(r) for r in asked])), []
    latest = runs.group_by(IDENTITY).agg(pl.col("run_id").max()).get_column("run_id")
    chosen = runs.filter(pl.col("run_id").is_in(latest.to_list()))
    left = runs.height - chosen.height
    note = [f"{left} older run(s) of the same networks left out (--runs picks runs)."] if left else []
    return chosen, note


def _rounded(table: pl.DataFrame) -> pl.DataFrame:
    return table.with_columns(pl.col(pl.Float64).round(4))


def _networks(runs: pl.DataFrame) -> pl.DataFrame:
    words = runs.filter(pl.col("class_space") == "word")
    return words.select(
        "cell",
        "hidden",
        "condition",
        "seed",
        "criterion",
        "criterion_reached",
        "accuracy",
        "epochs",
        "final_loss",
        "train_s",
        "recorded_steps",
        "n_images_analysed",
        pl.col("run_id").alias("word_run_id"),
    ).sort("cell", "hidden", "condition", "seed")


def _checks(runs: pl.DataFrame, options: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The per-step and held-word summaries stored with each run, as mean over seeds."""
    identity = {row["run_id"]: row for row in runs.iter_rows(named=True)}
    step_rows, held_rows = [], []
    for run_id, text in options.iter_rows():
        stored = json.loads(text) if isinstance(text, str) else (text or {})
        who = {k: identity[run_id][k] for k in IDENTITY}
        step_rows += [{**who, **row} for row in stored.get("step_analysis", [])]
        held_rows += [{**who, "period": period, **row} for period, row in stored.get("held_analysis", {}).items()]
    keys = ["cell", "hidden", "condition"]
    means = [pl.col(c).mean().round(2) for c in ("rows", "n_localist", "n_margin_01")]
    steps = _mean_over_seeds(
        step_rows,
        [*keys, "class_space", "step"],
        means
        + [pl.col("distinct_states").mean().round(1), pl.col("n_classes").mean().round(1), pl.col("best_margin").max()],
    )
    held = _mean_over_seeds(held_rows, [*keys, "period", "class_space"], means + [pl.col("best_margin").max()])
    return steps, held


def _mean_over_seeds(rows: list[dict], keys: list[str], aggregates: list[pl.Expr]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame({k: [] for k in keys})
    table = pl.DataFrame(rows, infer_schema_length=None)
    order = [pl.col(k) for k in keys]
    return table.group_by(keys).agg(pl.len().alias("n_seeds"), *aggregates).sort(order)


def _checks_notes(steps: pl.DataFrame, held: pl.DataFrame, entries: list[dict]) -> list[str]:
    """The serial task's per-step and held-word checks; free-recall networks have the memory analysis instead."""
    if steps.is_empty() and entries and all(e["task"] == "free" for e in entries):
        return []
    return [_checks_note(steps, held)]


def _checks_note(steps: pl.DataFrame, held: pl.DataFrame) -> str:
    """One paragraph on the two checks, every number a cell of the sections 'steps' and 'held'."""
    if steps.is_empty() or held.is_empty():
        return "These runs carry no per-step or held-word checks."
    kinds = steps.select("cell", "hidden").unique().sort("cell", "hidden").rows()
    parts = []
    for cell, hidden in kinds:
        for condition in ("superposition", "single"):
            mine = (pl.col("cell") == cell) & (pl.col("hidden") == hidden) & (pl.col("condition") == condition)
            text = _condition_checks(steps.filter(mine), held.filter(mine))
            label = condition if len(kinds) == 1 else f"{cell} ({hidden} hidden units), {condition}"
            parts += [f"{label}:{text}"] if text else []
    head = (
        "Checks (units per network, mean over seeds, from the sections 'steps' and 'held'; margin: the localist"
        " margin, whose lowest non-zero threshold in the Bowers-lab replication's counts is 0.1):"
    )
    return " ".join([head, *parts])


def _condition_checks(steps: pl.DataFrame, held: pl.DataFrame) -> str:
    words = steps.filter(pl.col("class_space") == "word")
    memory = held.filter((pl.col("period") == "memory_period") & (pl.col("class_space") == "word"))
    if words.is_empty() or memory.is_empty():
        return ""
    return (
        _word_steps(words) + _letter_steps(steps) + f" in the memory period {memory['n_localist'][0]:.1f} units"
        " fire for every step holding a word above every step not holding it."
    )


def _word_steps(words: pl.DataFrame) -> str:
    trivial = words.filter(pl.col("distinct_states") <= pl.col("n_classes"))
    real = words.filter(pl.col("distinct_states") > pl.col("n_classes"))
    text = ""
    if not trivial.is_empty():
        top = trivial.sort("n_margin_01", descending=True).row(0, named=True)
        text += (
            f" at {', '.join(trivial['step'].to_list())} the network is in one state per word (every list starts"
            " from the same state), so every unit separates its top word and only the margin tells:"
            f" {top['n_margin_01']:.1f} units have a margin >= 0.1 ({top['step']});"
        )
    if not real.is_empty():
        best = real.sort("n_localist", descending=True).row(0, named=True)
        text += (
            f" at the other step kinds at most {best['n_localist']:.1f} units separate the words"
            f" ({best['step']}: {best['rows']:.0f} steps for {best['n_classes']:.0f} words),"
            f" {best['n_margin_01']:.1f} with a margin >= 0.1;"
        )
    return text


def _letter_steps(steps: pl.DataFrame) -> str:
    letters = steps.filter(pl.col("class_space").str.starts_with("letter"))
    if letters.is_empty():
        return ""
    top = letters.sort("n_localist", descending=True).row(0, named=True)
    return (
        f" for letters at most {top['n_localist']:.1f} units separate the letters of a slot"
        f" ({top['class_space']}, {top['step']}), {top['n_margin_01']:.1f} with a margin >= 0.1;"
    )


def _most_selective(units: pl.DataFrame) -> pl.DataFrame:
    """Per (cell, size,) condition: the unit with the best localist margin, then recall at precision 1, informedness."""
    keys = [k for k in ("cell", "hidden", "condition") if k in units.columns]
    ranked = units.with_columns(pl.col("is_localist").fill_null(False)).sort(
        ["is_localist", "localist_margin", "recall_p1", "max_informedness"], descending=True, nulls_last=True
    )
    best = ranked.group_by(keys, maintain_order=True).first().sort(keys)
    chosen_class = pl.coalesce("recall_p1_class", "mi_class", "precision_60_class")
    return best.with_columns(chosen_class.alias("class_of_interest"))


def _figures(db: Database, report: Report, units: pl.DataFrame, out: Path) -> list[Path]:
    """The box plots (one PNG) and the unit report's jitterplot of each condition's most selective unit."""
    out.mkdir(parents=True, exist_ok=True)
    files = list(plot_control_boxes(units, out / f"{report.stem}-boxes.png"))
    for row in report.section("most_selective").frame.iter_rows(named=True):
        unit = unit_report(db, row["unit_label"], row["run_id"], row["class_of_interest"], plot=True, out_dir=out)
        files += unit.files
    return files
