"""`seldb report compare --runs A,B`: two runs' units side by side, by the paper's measures.

Whatever the two runs are (a layer's neurons and an SAE's latents on it, two
seeds, two networks, before and after fine-tuning), the report reads
seldb.run_measure_summary (per measure: quartiles, median and the share of
live units meeting the paper's criterion) and seldb.run_unit_verdicts (units
per verdict) for each run's layer (or all its layers), sets them side by
side, and says in one paragraph whether B's units are more selective than
A's by the strict measures (localist, recall at precision 1, informedness
with few false discoveries) or only by precision. With plot=True, one PNG
of paired box plots drawn from the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from seldb.db.database import Database
from seldb.db.read import Run, check_layers, frame, resolve_run
from seldb.errors import InputError
from seldb.reports.base import Report, Section

SUMMARY_COLUMNS = ["measure", "criterion", "n_units", "min", "q25", "median", "q75", "max", "share_meeting"]
MEASURES = ["precision_60", "ccmas", "localist_margin", "recall_p1", "max_informedness", "mi_false_discovery_rate"]
VERDICTS = ["strict detector", "precision only", "not selective", "dead"]
# the criteria that count misses and false alarms, against the one that flatters
STRICT = [
    ("localist_margin", "> 0 (localist)", "localist"),
    ("recall_p1", ">= 0.5", "recall at precision 1 >= 0.5"),
    ("recall_p1", ">= 0.99", "recall at precision 1 >= 0.99"),
    ("max_informedness", ">= 0.9", "maximum informedness >= 0.9"),
    ("mi_false_discovery_rate", "<= 0.1", "false discovery rate at maximum informedness <= 0.1"),
]
PRECISION = ("precision_60", "> 0.75", "precision_60 > 0.75")


def _runs_and_layers(
    conn: sa.Connection, runs: Sequence[int], layers: Sequence[str] | None
) -> list[tuple[Run, str | None]]:
    """Each run with its layer (None: every layer); --layers names one layer for both or one per run."""
    if len(runs) != 2:
        raise InputError(f"--runs takes two run ids, A,B; got {len(runs)}")
    if layers and len(layers) not in (1, 2):
        raise InputError(f"--layers takes one layer for both runs or one per run (A,B); got {len(layers)}")
    chosen = list(layers or [])
    per_run: list[str | None] = [None, None] if not chosen else list(chosen * 2 if len(chosen) == 1 else chosen)
    out = []
    for run, layer in zip(runs, per_run, strict=True):
        r = resolve_run(conn, run)
        if layer is not None:
            check_layers(conn, r, [layer])
        out.append((r, layer))
    return out


def _read(conn: sa.Connection, view: str, columns: list[str], run: Run, layer: str | None) -> pl.DataFrame:
    where = "layer IS NULL" if layer is None else "layer = :l"
    return frame(conn, f"SELECT {', '.join(columns)} FROM seldb.{view} WHERE run_id = :r AND {where}",
                 {"r": run.run_id, "l": layer})  # fmt: skip


def tag(run: Run, layer: str | None, side: str) -> str:
    return f"{side}: {run.name}" + (f", layer {layer}" if layer else ", all layers")


@dataclass
class Comparison:
    """The numbers of one comparison: runs and layers, measures paired, verdict counts, the verdict."""

    sides: list[tuple[Run, str | None]]
    paired: pl.DataFrame  # one row per (measure, criterion): SUMMARY_COLUMNS with _a and _b
    counts: pl.DataFrame  # one row per verdict: n_units_a, share_a, n_units_b, share_b
    verdict: str


def compare_runs(conn: sa.Connection, runs: Sequence[int], layers: Sequence[str] | None = None) -> Comparison:
    """Read both runs' rows of seldb.run_measure_summary and seldb.run_unit_verdicts and pair them."""
    sides = _runs_and_layers(conn, runs, layers)
    summaries = [_read(conn, "run_measure_summary", SUMMARY_COLUMNS, r, layer) for r, layer in sides]
    verdicts = [_read(conn, "run_unit_verdicts", ["verdict", "n_units", "share"], r, layer) for r, layer in sides]
    keys = ["measure", "criterion"]
    paired = summaries[0].join(summaries[1], on=keys, how="full", coalesce=True, nulls_equal=True, suffix="_b")
    paired = paired.rename({c: f"{c}_a" for c in SUMMARY_COLUMNS if c not in keys})
    order = {m: i for i, m in enumerate(MEASURES)}
    paired = paired.sort(pl.col("measure").replace_strict(order, default=99, return_dtype=pl.Int32), "criterion")
    counts = pl.DataFrame({"verdict": VERDICTS})
    for side, v in zip("ab", verdicts, strict=True):
        counts = counts.join(
            v.rename({"n_units": f"n_units_{side}", "share": f"share_{side}"}), on="verdict", how="left"
        )
    counts = counts.with_columns(
        pl.col("n_units_a", "n_units_b").fill_null(0), pl.col("share_a", "share_b").fill_null(0.0)
    )
    return Comparison(sides, paired, counts, verdict(paired, counts))


def compare_report(
    db: Database,
    runs: Sequence[int],
    layers: Sequence[str] | None = None,
    plot: bool = False,
    out_dir: str | Path = ".",
) -> Report:
    """Runs A and B side by side: distributions and criteria per measure, units per verdict, a verdict."""
    with db.connect() as conn:
        c = compare_runs(conn, runs, layers)
    (ra, la), (rb, lb) = c.sides
    title = f"Compare run {ra.run_id} (A) and run {rb.run_id} (B)"
    notes = [tag(ra, la, "A"), tag(rb, lb, "B"), c.verdict]
    brief = ["measure", "criterion", "median_a", "median_b", "share_meeting_a", "share_meeting_b"]
    sections = [
        Section("compare", title, c.paired, brief=brief),
        Section("verdicts", "Units per verdict", c.counts),
    ]
    qualifier = f"vs-run{rb.run_id}" + (f"-{la}-{lb}" if la else "")
    report = Report("compare", title, ra.run_id, sections, notes=notes, qualifier=qualifier)
    if plot:
        from seldb.reports.compare_plot import plot_compare  # matplotlib only when asked

        png = Path(out_dir) / f"{report.stem}.png"
        report.files = plot_compare(c.paired, png, tag(ra, la, "A"), tag(rb, lb, "B"))
    return report


def _share(paired: pl.DataFrame, measure: str, criterion: str, side: str) -> float:
    row = paired.filter((pl.col("measure") == measure) & (pl.col("criterion") == criterion))
    value = row[f"share_meeting_{side}"][0] if len(row) else None
    return float(value) if value is not None else 0.0


def verdict(paired: pl.DataFrame, counts: pl.DataFrame) -> str:
    """One paragraph: is B more selective than A by the strict measures, only by precision, or not at all?"""
    m, c, name = PRECISION
    pa, pb = _share(paired, m, c, "a"), _share(paired, m, c, "b")
    strict = [(name, _share(paired, m, c, "a"), _share(paired, m, c, "b")) for m, c, name in STRICT]
    better = [f"{n} {b:.0%} vs {a:.0%}" for n, a, b in strict if b > a]
    worse = [f"{n} {b:.0%} vs {a:.0%}" for n, a, b in strict if b < a]
    sa, sb = (float(counts.filter(pl.col("verdict") == "strict detector")[f"share_{s}"][0]) for s in "ab")
    precision = f"By precision B's units look {'more' if pb > pa else 'less' if pb < pa else 'as'} selective"
    precision += f" ({name}: {pb:.0%} of B's live units vs {pa:.0%} of A's)."
    if better and not worse:
        strict_text = "By the strict measures B's units are more selective: " + "; ".join(better) + "."
    elif worse and not better:
        strict_text = "By the strict measures B's units are not more selective: " + "; ".join(worse) + "."
    elif better:
        strict_text = (
            "By the strict measures the answer is mixed: B is ahead on " + "; ".join(better)
            + ", behind on " + "; ".join(worse) + "."
        )  # fmt: skip
    else:
        strict_text = "By the strict measures the two runs do not differ (the same shares meet every criterion)."
    detectors = (
        f" Strict detectors (max informedness >= 0.9 with false discovery rate <= 0.1): {sb:.1%} of B's units,"
        f" {sa:.1%} of A's."
    )
    return f"{precision} {strict_text}{detectors}"
