"""The dose-response of the control: localist units against list length, from the stored memory analyses.

Input: one entry per trained network, its identity (task, cell, hidden,
condition, seed) and the `memory_analysis` stored with its word run
(seldb.control.memory.MemoryAnalysis.as_json). Per network, list length,
class space, direction (on, off) and margin threshold, a unit counts when it
is localist at one step or more, steps at which the network can only be in
one state per class ('trivial') left out; units whose best class is the same
at every step are counted apart (`n_same`). Then mean +- sd over seeds, a
plot (count against list length, one line per class space) and a verdict in
plain words. Nothing here reads a database.
"""

from __future__ import annotations

from pathlib import Path

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
    frame = steps.select(*NETWORK, "length", "class_space").unique()
    frame = frame.join(pl.DataFrame({"direction": ["on", "off"]}), how="cross")
    units = _unit_rows(entries)
    if not units.is_empty():
        trivial = steps.filter(pl.col("trivial")).select(*NETWORK, "length", "step", "class_space")
        units = units.join(trivial, on=[*NETWORK, "length", "step", "class_space"], how="anti")
        keys = [*NETWORK, "length", "class_space", "direction"]
        best = units.group_by([*keys, "unit"]).agg(pl.col("best_margin").max(), pl.col("same_every_step").any())
        aggs = []
        for t in MARGINS:
            hit = pl.col("best_margin") > 0 if t == 0 else pl.col("best_margin") >= t - 1e-12
            aggs.append((hit & ~pl.col("same_every_step")).sum().alias(f"n_{margin_column(t)}"))
            aggs.append((hit & pl.col("same_every_step")).sum().alias(f"n_same_{margin_column(t)}"))
        frame = frame.join(best.group_by(keys).agg(aggs), on=keys, how="left")
    counts = [f"n_{p}{margin_column(t)}" for t in MARGINS for p in ("", "same_")]
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
    aggs = [pl.len().alias("n_seeds")]
    for c in counts:
        aggs += [
            pl.col(c).cast(pl.Float64).mean().alias(f"{c}_mean"),
            pl.col(c).cast(pl.Float64).std().alias(f"{c}_sd"),
        ]
    return per_seed.group_by(keys).agg(aggs).sort(keys)


def _free_length(condition: str) -> int | None:
    return int(condition[6:]) if condition.startswith("free-L") else None


def dose_curve(across: pl.DataFrame, t: float = 0.0) -> pl.DataFrame:
    """Per (task, cell, hidden[, serial condition]) class space and list length: on + off count at margin t.

    Free recall: one network per length (condition free-Ln), so the length is the network's. Serial
    recall: one network holds every length; the curve is per condition.
    """
    col = margin_column(t)
    summed = across.group_by([*GROUP, "length", "class_space"]).agg(
        pl.col(f"n_{col}_mean").sum().alias("mean"),
        (pl.col(f"n_{col}_sd").fill_null(0) ** 2).sum().sqrt().alias("sd"),  # on and off treated as independent
        pl.col("n_seeds").min(),
    )
    line = pl.when(pl.col("task") == "free").then(pl.lit("free")).otherwise(pl.col("condition"))
    return summed.with_columns(line=line).sort("line", "class_space", "length")


def verdict(across: pl.DataFrame) -> str:
    """Whether localist units rise with list length, with numbers, beside Bowers et al. (2014) and the replication."""
    if across.is_empty():
        return "These runs carry no memory analysis (made by an earlier seldb): no dose-response to show."
    parts = []
    for (task, cell, hidden), mine in across.group_by(["task", "cell", "hidden"], maintain_order=True):
        curve = dose_curve(mine, 0.0)
        strict = dose_curve(mine, 0.1)
        for line, one in curve.group_by("line", maintain_order=True):
            total = one.group_by("length").agg(pl.col("mean").sum(), pl.col("n_seeds").min()).sort("length")
            total01 = (
                strict.filter(pl.col("line") == line[0]).group_by("length").agg(pl.col("mean").sum()).sort("length")
            )
            parts.append(_sentence(str(task), str(cell), int(hidden), str(line[0]), total, total01, one))
    return " ".join(parts) + (
        " For comparison: Bowers et al. (2014) reported localist units when a network had to hold several words"
        " at once, and none or few with one word at a time; the replication in Bowers' lab (Martin, PhD thesis,"
        " Bristol 2021, as reported by Garagnani 2024) found no highly selective units."
    )


def _sentence(task, cell, hidden, line, total, total01, one) -> str:
    lengths = total["length"].to_list()
    counts = total["mean"].to_list()
    counts01 = dict(zip(total01["length"].to_list(), total01["mean"].to_list()))
    seeds = int(total["n_seeds"].min())
    listed = ", ".join(
        f"length {n}: {c:.1f} ({counts01.get(n, 0.0):.1f} with margin >= 0.1)" for n, c in zip(lengths, counts)
    )
    label = f"{cell}, {hidden} hidden units, {'free recall' if task == 'free' else f'serial recall, {line}'}"
    by_space = one.group_by("class_space").agg(pl.col("mean").max()).sort("mean", descending=True)
    top = by_space.row(0) if by_space.height else ("-", 0.0)
    if len(lengths) < 2:
        trend = "only one list length: no dose-response"
    elif counts[-1] > counts[0] and all(b >= a for a, b in zip(counts, counts[1:])):
        trend = "localist units rise with list length (with superposition)"
    elif counts[-1] > counts[0]:
        trend = "localist units are more common at the longest than at the shortest length, but not steadily"
    elif max(counts) == 0:
        trend = "no localist unit at any list length"
    else:
        trend = "localist units do not rise with list length"
    return (
        f"Dose-response ({label}, {seeds} seed(s)): localist units (on + off, all class spaces, units with the same"
        f" class at every step counted apart) per network, mean over seeds: {listed}; {trend}."
        f" The class space with most: {top[0]} ({top[1]:.1f} at its best length)."
    )


def plot_dose(across: pl.DataFrame, png: str | Path) -> list[Path]:
    """One PNG: count against list length, a line per class space (bars: sd over seeds); margins > 0 and >= 0.1."""
    from seldb.figures import new_figure, save

    figure = new_figure(10.0, 4.0)
    axes = figure.subplots(1, 2, squeeze=False)[0]
    drawn = []
    for ax, t in zip(axes, (0.0, 0.1)):
        curve = dose_curve(across, t)
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
                    "margin": t,
                    "line": line,
                    "class_space": space,
                    "length": one["length"].to_list(),
                    "mean": one["mean"].to_list(),
                }
            )
        ax.set_xlabel("list length (words held at once)")
        ax.set_ylabel("localist units per network (on + off)")
        ax.set_title("margin > 0" if t == 0 else f"margin >= {t}", fontsize=10)
        ax.legend(fontsize=7)
    return save(figure, Path(png), {"lines": drawn})
