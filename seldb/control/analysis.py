"""What `seldb report control` says: counts of selective units per condition, a verdict, box plots.

Input is one polars frame of per-unit measures (the columns of
seldb.measures.engine.UNIT_COLUMNS, as compute_block or the unit_measures
view give them) with the run's metadata on every row: `condition`, `seed`,
`class_space` ('word', 'letter-slot1', ...), `unit`, and optionally `cell`
and `hidden` (networks of another cell type or size are counted apart).
Nothing here reads a database or recomputes a measure.

A unit is counted once per class space. Two derived spaces count a unit once
whatever the slot or space: 'letter-any-slot' (selective for a letter in at
least one slot) and 'any' (for a word or a letter in some slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from seldb.errors import InputError

CRITERIA = {  # name: (what it means, a unit passes when)
    "localist": ("localist", pl.col("is_localist")),
    "recall_p1_099": ("recall at precision 1 >= 0.99", pl.col("recall_p1") >= 0.99),
    "recall_p1_050": ("recall at precision 1 >= 0.5", pl.col("recall_p1") >= 0.5),
    "mi_099": ("max informedness >= 0.99", pl.col("max_informedness") >= 0.99),
    "precision_60_075": ("precision_60 > 0.75", pl.col("precision_60") > 0.75),
}
BOX_MEASURES = ["recall_p1", "max_informedness", "precision_60", "ccmas", "localist_margin"]
LETTER_ANY, ANY = "letter-any-slot", "any"
REQUIRED = ["condition", "seed", "class_space", "unit", "is_localist", "recall_p1", "max_informedness", "precision_60"]


@dataclass(frozen=True)
class ControlSummary:
    per_seed: pl.DataFrame  # [cell,] condition, seed, class_space, n_units, n_<criterion>, share_<criterion>
    across_seeds: pl.DataFrame  # [cell,] condition, class_space, n_seeds, <n|share>_<criterion>_<mean|sd>
    verdict: str


def group_keys(units: pl.DataFrame) -> list[str]:
    return [c for c in ("cell", "hidden", "condition") if c in units.columns]


def unit_flags(units: pl.DataFrame) -> pl.DataFrame:
    """One row per (network, class space, unit) with a boolean per criterion; NULL measures pass nothing."""
    missing = [c for c in REQUIRED if c not in units.columns]
    if missing:
        raise InputError(f"control report: the unit frame lacks column(s) {', '.join(missing)}")
    keys = [*group_keys(units), "seed", "class_space", "unit"]
    flags = [expr.fill_null(False).alias(name) for name, (_, expr) in CRITERIA.items()]
    return units.select(*keys, *flags)


def with_derived_spaces(flags: pl.DataFrame) -> pl.DataFrame:
    """Add 'letter-any-slot' and 'any': a unit passes there when it passes in one of the spaces it covers."""
    keys = [*group_keys(flags), "seed", "unit"]
    any_of = [pl.col(name).any() for name in CRITERIA]
    letters = flags.filter(pl.col("class_space").str.starts_with("letter-slot"))
    derived = [flags]
    if letters.height:
        derived.append(letters.group_by(keys).agg(any_of).with_columns(class_space=pl.lit(LETTER_ANY)))
    derived.append(flags.group_by(keys).agg(any_of).with_columns(class_space=pl.lit(ANY)))
    return pl.concat([d.select(flags.columns) for d in derived])


def per_seed_counts(flags: pl.DataFrame) -> pl.DataFrame:
    keys = [*group_keys(flags), "seed", "class_space"]
    counts = flags.group_by(keys).agg(pl.len().alias("n_units"), *[pl.col(n).sum().alias(f"n_{n}") for n in CRITERIA])
    shares = [(pl.col(f"n_{n}") / pl.col("n_units")).alias(f"share_{n}") for n in CRITERIA]
    return counts.with_columns(shares).sort(keys)


def across_seed_stats(per_seed: pl.DataFrame) -> pl.DataFrame:
    keys = [*group_keys(per_seed), "class_space"]
    values = [c for c in per_seed.columns if c.startswith(("n_", "share_"))]
    stats = [pl.len().alias("n_seeds")]
    for c in values:
        value = pl.col(c).cast(pl.Float64)
        stats += [value.mean().alias(f"{c}_mean"), value.std().alias(f"{c}_sd")]
    return per_seed.group_by(keys).agg(stats).sort(keys)


def summarize_control(units: pl.DataFrame) -> ControlSummary:
    """Per condition and seed, and mean +- sd across seeds, of every criterion's count and share; plus the verdict."""
    if units.height == 0:
        raise InputError("control report: no unit measures to summarise (no control runs found?)")
    per_seed = per_seed_counts(with_derived_spaces(unit_flags(units)))
    across = across_seed_stats(per_seed)
    return ControlSummary(per_seed, across, verdict(per_seed, across))


def _mean_sd(row: dict, column: str) -> str:
    mean, sd = row[f"{column}_mean"], row[f"{column}_sd"]
    return f"{mean:.1f}" if sd is None else f"{mean:.1f} +- {sd:.1f}"


def _condition_phrase(across: pl.DataFrame, condition: str) -> str:
    rows = {r["class_space"]: r for r in across.filter(pl.col("condition") == condition).iter_rows(named=True)}
    head = rows[ANY]
    parts = [
        f"{_mean_sd(head, 'n_localist')} of {head['n_units_mean']:.0f} hidden units "
        f"({head['share_localist_mean']:.1%}) localist for some word or letter"
    ]
    detail = [f"{space}: {_mean_sd(rows[space], 'n_localist')}" for space in ("word", LETTER_ANY) if space in rows]
    return parts[0] + (f" ({'; '.join(detail)})" if detail else "")


def _verdict_one(per_seed: pl.DataFrame, across: pl.DataFrame, label: str) -> str:
    present = set(across["condition"].to_list())
    free = sorted((c for c in present if c.startswith("free-L")), key=lambda c: int(c[6:]))
    if free:
        pooled = "; ".join(f"{c}: {_condition_phrase(across, c)}" for c in free)
        text = f"{label}, free recall, pooled over steps (each step labelled with its word): {pooled}."
        rest = present - set(free)
        if not rest:
            return text
        keep = pl.col("condition").is_in(sorted(rest))
        return text + " " + _verdict_one(per_seed.filter(keep), across.filter(keep), label)
    if present != {"superposition", "single"}:
        return f"{label}: only the {', '.join(sorted(present))} condition is present; no comparison is possible."
    anywhere = per_seed.filter(pl.col("class_space") == ANY)
    paired = anywhere.pivot(on="condition", index="seed", values="n_localist").drop_nulls()
    n_seeds = paired.height
    more = int((paired["superposition"] > paired["single"]).sum())
    sup = across.filter((pl.col("condition") == "superposition") & (pl.col("class_space") == ANY))["n_localist_mean"][0]
    single = across.filter((pl.col("condition") == "single") & (pl.col("class_space") == ANY))["n_localist_mean"][0]
    found = (
        f"{label}, {n_seeds} seed(s): under superposition {_condition_phrase(across, 'superposition')}; "
        f"with single words {_condition_phrase(across, 'single')}."
    )
    if sup == 0 and single == 0:
        return found + (
            " No localist unit in either condition: this run does not reproduce"
            " Bowers et al.'s (2014) grandmother cells."
        )
    if sup > single:
        return found + (
            f" Localist units were more common under superposition (more in {more} of {n_seeds} seeds),"
            " the contrast Bowers et al. (2014) reported."
        )
    return found + (
        f" Localist units were not more common under superposition (more in {more} of {n_seeds} seeds):"
        " this run does not reproduce the contrast Bowers et al. (2014) reported."
    )


def verdict(per_seed: pl.DataFrame, across: pl.DataFrame) -> str:
    """Plain words, with the counts, one paragraph per kind of network (cell type and size)."""
    kinds = [k for k in group_keys(across) if k != "condition"]
    if not kinds:
        return _verdict_one(per_seed, across, "Control")
    parts = []
    for kind in across.select(kinds).unique().sort(kinds).rows():
        mine = pl.lit(True)
        for key, value in zip(kinds, kind):
            mine = mine & (pl.col(key) == value)
        label = ", ".join(f"{value} hidden units" if key == "hidden" else str(value) for key, value in zip(kinds, kind))
        parts.append(_verdict_one(per_seed.filter(mine), across.filter(mine), f"Control ({label})"))
    return "\n".join(parts)


def plot_control_boxes(units: pl.DataFrame, png: str | Path) -> list[Path]:
    """One PNG: a row per class space, a column per measure, a box per (cell,) condition; plus a JSON sidecar."""
    from seldb.figures import new_figure, save  # matplotlib only when a plot is asked for

    unit_flags(units)  # same column check as the counts
    measures = [m for m in BOX_MEASURES if m in units.columns]
    keys = group_keys(units)
    spaces = sorted(set(units["class_space"].to_list()), key=lambda s: (s != "word", s))
    groups = units.select(keys).unique().sort(keys).rows()
    labels = ["\n".join(str(v) for v in g) for g in groups]
    figure = new_figure(3.0 * len(measures), 2.4 * len(spaces))
    axes = figure.subplots(len(spaces), len(measures), squeeze=False)
    drawn = []
    for i, space in enumerate(spaces):
        for j, measure in enumerate(measures):
            data = [_values(units, keys, g, space, measure) for g in groups]
            axes[i][j].boxplot(data, tick_labels=labels)
            axes[i][j].set_title(f"{measure} ({space})", fontsize=9)
            drawn.append({"class_space": space, "measure": measure, "n": [len(d) for d in data]})
    return save(figure, Path(png), {"groups": labels, "class_spaces": spaces, "measures": measures, "boxes": drawn})


def _values(units: pl.DataFrame, keys: list[str], group: tuple, space: str, measure: str) -> list[float]:
    mine = pl.lit(True)
    for key, value in zip(keys, group):
        mine = mine & (pl.col(key) == value)
    picked = units.filter(mine & (pl.col("class_space") == space))[measure].drop_nulls()
    return picked.cast(pl.Float64).to_list()
