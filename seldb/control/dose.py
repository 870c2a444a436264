"""The dose-response of the control: localist units against list length, from the stored memory analyses.

Input: one entry per trained network, its identity (task, cell, hidden,
condition, seed) and the `memory_analysis` stored with its word run
(seldb.control.memory.MemoryAnalysis.as_json). Per network, list length,
class space, direction (on, off) and margin threshold, a unit counts when it
is localist at one step or more, steps at which the network can only be in
one state per class ('trivial') counted apart (`n_trivial`: at such a step
every unit separates its top class, so only the margin says anything); units
whose best class is the same at every step are counted apart (`n_same`). Then mean +- sd over seeds, a
plot (count against list length, one line per class space) and a verdict in
plain words. Nothing here reads a database.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import polars as pl

from seldb.control.memory import MARGINS, margin_column

NETWORK = ["task", "cell", "hidden", "condition", "seed"]
GROUP = ["task", "cell", "hidden", "condition"]  # what seeds are averaged over (plus length, space, ...)


def step_table(entries: list[dict]) -> pl.DataFrame:
    """Per network, list length, step and class space: the stored counts (one row each)."""
    rows = []
    for e in entries:
        for step in e["memory"].get("steps", []):
            rows.append({**{k: e[k] for k in NETWORK}, **step})
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def steps_over_seeds(steps: pl.DataFrame) -> pl.DataFrame:
    """The per-step table, mean over seeds of every count."""
    if steps.is_empty():
        return steps
    counts = [c for c in steps.columns if c.startswith("n_") and c != "n_classes"]
    keys = [*GROUP, "length", "step_index", "step", "class_space"]
    aggs = [pl.len().alias("n_seeds"), pl.col("rows").mean().round(1), pl.col("trivial").any()]
    aggs += [pl.col(c).mean().round(2) for c in counts] + [pl.col("best_margin").max()]
    return steps.group_by(keys).agg(aggs).sort(keys).drop("step_index")


def _unit_rows(entries: list[dict]) -> pl.DataFrame:
    frames = []
    for e in entries:
        units = e["memory"].get("units")
        if not units or not units.get("unit"):
            continue
        frame = pl.DataFrame(units).with_columns(**{k: pl.lit(e[k]) for k in NETWORK})
        frames.append(frame)
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def dose_per_seed(entries: list[dict]) -> pl.DataFrame:
    """Per network, list length, class space, direction: units localist at a non-trivial step, per margin."""
    steps = step_table(entries)
    if steps.is_empty():
        return pl.DataFrame()
    frame = steps.group_by(*NETWORK, "length", "class_space").agg(
        (~pl.col("trivial")).any().alias("has_varied"), pl.col("rows").min().alias("lists")
    )
    frame = frame.join(pl.DataFrame({"direction": ["on", "off"]}), how="cross")
    units = _unit_rows(entries)
    if not units.is_empty():
        trivial = steps.select(*NETWORK, "length", "step", "class_space", "trivial")
        units = units.join(trivial, on=[*NETWORK, "length", "step", "class_space"], how="left")
        keys = [*NETWORK, "length", "class_space", "direction"]
        best = (
            units.filter(~pl.col("trivial"))
            .group_by([*keys, "unit"])
            .agg(pl.col("best_margin").max(), pl.col("same_every_step").any())
        )
        at_trivial = units.filter(pl.col("trivial")).group_by([*keys, "unit"]).agg(pl.col("best_margin").max())
        aggs, trivial_aggs = [], []
        for t in MARGINS:
            hit = pl.col("best_margin") > 0 if t == 0 else pl.col("best_margin") >= t - 1e-12
            aggs.append((hit & ~pl.col("same_every_step")).sum().alias(f"n_{margin_column(t)}"))
            aggs.append((hit & pl.col("same_every_step")).sum().alias(f"n_same_{margin_column(t)}"))
            trivial_aggs.append(hit.sum().alias(f"n_trivial_{margin_column(t)}"))
        frame = frame.join(best.group_by(keys).agg(aggs), on=keys, how="left")
        frame = frame.join(at_trivial.group_by(keys).agg(trivial_aggs), on=keys, how="left")
    counts = [f"n_{p}{margin_column(t)}" for t in MARGINS for p in ("", "same_", "trivial_")]
    for c in counts:
        frame = (
            frame.with_columns(pl.col(c).fill_null(0)) if c in frame.columns else frame.with_columns(pl.lit(0).alias(c))
        )
    return frame.sort(*NETWORK, "length", "class_space", "direction")


def dose_over_seeds(per_seed: pl.DataFrame) -> pl.DataFrame:
    if per_seed.is_empty():
        return per_seed
    keys = [*GROUP, "length", "class_space", "direction"]
    counts = [c for c in per_seed.columns if c.startswith("n_")]
    aggs = [pl.len().alias("n_seeds"), pl.col("has_varied").any(), pl.col("lists").mean().alias("lists_mean")]
    for c in counts:
        aggs += [
            pl.col(c).cast(pl.Float64).mean().alias(f"{c}_mean"),
            pl.col(c).cast(pl.Float64).std().alias(f"{c}_sd"),
        ]
    return per_seed.group_by(keys).agg(aggs).sort(keys)


def _free_length(condition: str) -> int | None:
    return int(condition[6:]) if condition.startswith("free-L") else None


def dose_curve(across: pl.DataFrame, t: float = 0.0, prefix: str = "") -> pl.DataFrame:
    """Per (task, cell, hidden[, serial condition]) class space and list length: on + off count at margin t.

    prefix "" counts non-trivial steps, "trivial_" the steps with one state per class. Free recall: one
    network per length (condition free-Ln); serial recall: one network holds every length, a curve per
    condition.
    """
    col = f"n_{prefix}{margin_column(t)}"
    summed = across.group_by([*GROUP, "length", "class_space"]).agg(
        pl.col(f"{col}_mean").sum().alias("mean"),
        (pl.col(f"{col}_sd").fill_null(0) ** 2).sum().sqrt().alias("sd"),  # on and off treated as independent
        pl.col("n_seeds").min(),
        pl.col("has_varied").any(),
    )
    line = pl.when(pl.col("task") == "free").then(pl.lit("free")).otherwise(pl.col("condition"))
    return summed.with_columns(line=line).sort("line", "class_space", "length")


def verdict(across: pl.DataFrame) -> str:
    """Whether localist units rise with list length, with numbers, beside Bowers et al. (2014) and the replication."""
    if across.is_empty():
        return "These runs carry no memory analysis (made by an earlier seldb): no dose-response to show."
    parts = []
    for (task, cell, hidden), mine in across.group_by(["task", "cell", "hidden"], maintain_order=True):
        for (line,), _ in dose_curve(mine).group_by("line", maintain_order=True):
            parts.append(_sentence(mine, str(task), str(cell), int(hidden), str(line)))
    return " ".join(parts) + (
        " For comparison: Bowers et al. (2014) reported localist units when a network had to hold several words"
        " at once, and none or few with one word at a time; the replication in Bowers' lab (Martin, PhD thesis,"
        " Bristol 2021, as reported by Garagnani 2024) found no highly selective units."
    )


def _totals(across: pl.DataFrame, line: str, t: float, prefix: str = "") -> dict[int, float]:
    curve = dose_curve(across, t, prefix).filter(pl.col("line") == line)
    totals = curve.group_by("length").agg(pl.col("mean").sum()).sort("length")
    return dict(zip(totals["length"].to_list(), totals["mean"].to_list()))


def _trend(counts: dict[int, float]) -> str:
    values = [counts[n] for n in sorted(counts)]
    if len(values) < 2:
        return "one list length only"
    if max(values) == 0:
        return "none at any length"
    if values[-1] > values[0] and all(b >= a for a, b in zip(values, values[1:])):
        return "rising with list length"
    if values[-1] > values[0]:
        return "more at the longest than at the shortest length, but not steadily"
    return "not rising with list length"


def _sentence(across: pl.DataFrame, task: str, cell: str, hidden: int, line: str) -> str:
    label = f"{cell}, {hidden} hidden units, {'free recall' if task == 'free' else f'serial recall, {line}'}"
    seeds = cast(int, dose_curve(across).filter(pl.col("line") == line)["n_seeds"].min())
    real, real01 = _totals(across, line, 0.0), _totals(across, line, 0.1)
    varied = {n: c for n, c in real.items() if _has_varied_steps(across, line, n)}
    first01 = _totals(across, line, 0.1, "trivial_")
    listed = ", ".join(f"length {n}: {varied[n]:.1f} ({real01.get(n, 0.0):.1f} with margin >= 0.1)" for n in varied)
    listed_first = ", ".join(f"length {n}: {c:.1f}" for n, c in first01.items())
    lists = across if line == "free" else across.filter(pl.col("condition") == line)
    per_length = lists.group_by("length").agg(pl.col("lists_mean").mean()).sort("length")
    analysed = ", ".join(f"{v:.0f}" for v in per_length["lists_mean"].to_list())
    return (
        f"Dose-response ({label}, {seeds} seed(s); localist units per network, on + off summed over the class"
        f" spaces, mean over seeds). At the steps where the network's state varies within a class"
        f" ({'none at length 1; ' if 1 in real and 1 not in varied else ''}units with the same class at every"
        f" step counted apart): {listed or 'no such step'}; {_trend(varied)} (margin > 0),"
        f" {_trend({n: real01.get(n, 0.0) for n in varied})} (margin >= 0.1). At the steps with one state per"
        f" class (the first step of every list, every step of one-word lists), where only the margin tells,"
        f" units with margin >= 0.1: {listed_first}; {_trend(first01)}. Lists recalled correctly and analysed per"
        f" length: {analysed} (fewer lists make 'every member above every non-member' easier)."
    )


def _has_varied_steps(across: pl.DataFrame, line: str, length: int) -> bool:
    """Whether this length has a non-trivial step (stored as a non-null count row; see dose_per_seed)."""
    mine = across.filter((pl.col("length") == length) & pl.col("has_varied"))
    if line != "free":
        mine = mine.filter(pl.col("condition") == line)
    return mine.height > 0


def plot_dose(across: pl.DataFrame, png: str | Path) -> list[Path]:
    """One PNG: count against list length, a line per class space (bars: sd over seeds); margins > 0 and >= 0.1."""
    from seldb.figures import new_figure, save

    figure = new_figure(14.0, 4.0)
    axes = figure.subplots(1, 3, squeeze=False)[0]
    drawn = []
    panels = [
        ("", 0.0, "steps whose state varies, margin > 0"),
        ("", 0.1, "steps whose state varies, margin >= 0.1"),
        ("trivial_", 0.1, "one state per class (first step), margin >= 0.1"),
    ]
    for ax, (prefix, t, title) in zip(axes, panels):
        curve = dose_curve(across, t, prefix)
        if not prefix:
            curve = curve.filter(pl.col("has_varied"))
        for (line, space), one in curve.group_by(["line", "class_space"], maintain_order=True):
            label = f"{space}" if line == "free" else f"{line}: {space}"
            ax.errorbar(
                one["length"].to_list(),
                one["mean"].to_list(),
                yerr=one["sd"].fill_nan(0).to_list(),
                marker="o",
                capsize=3,
                label=label,
            )
            drawn.append(
                {
                    "steps": "one state per class" if prefix else "state varies",
                    "margin": t,
                    "line": line,
                    "class_space": space,
                    "length": one["length"].to_list(),
                    "mean": one["mean"].to_list(),
                }
            )
        ax.set_xlabel("list length (words held at once)")
        ax.set_ylabel("localist units per network (on + off)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    return save(figure, Path(png), {"lines": drawn})
