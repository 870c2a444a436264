"""Per-unit measures, each a small pure polars function over per-class rows.

Input is the long frame `classes` with one row per (unit, class_index) and
the per-class numbers computed by the numpy passes (mean, sum, max,
first_at_max, class informedness and recall at precision, top-k counts).
Each function reduces it to one row per unit with the view's column names,
applying measures.md's tie rules; the engine joins them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from seldb.measures.sweep import TIE  # measures.md's tie tolerance, one definition


@dataclass(frozen=True)
class Producer:
    """A function (classes, n_images) -> one row per unit, and the catalogue columns it fills."""

    columns: tuple[str, ...]
    compute: Callable[[pl.DataFrame, int], pl.DataFrame]


# Every per-unit column of seldb.catalogue.UNIT_MEASURES comes from exactly one producer (a test checks).
PRODUCERS: list[Producer] = []


def produces(*columns: str):
    """Register a per-unit measure function as the source of catalogue `columns`."""

    def register(compute: Callable[[pl.DataFrame, int], pl.DataFrame]):
        PRODUCERS.append(Producer(columns, compute))
        return compute

    return register


def class_ccmas(mean: pl.Expr, mean_not: pl.Expr) -> pl.Expr:
    """(mu_c - mu_notc) / (mu_c + mu_notc), NULL when the denominator vanishes."""
    denominator = mean + mean_not
    vanishes = (denominator.abs() < TIE * (mean.abs() + mean_not.abs())) | ((mean == 0) & (mean_not == 0))
    return pl.when(vanishes).then(None).otherwise((mean - mean_not) / denominator)


def with_class_ccmas(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    """Adds `ccmas` per class: the class mean against all other images pooled."""
    present = pl.col("n") > 0
    total = pl.col("sum").filter(present).sum().over("unit")
    mean_not = (total - pl.col("sum")) / (n_images - pl.col("n"))
    ccmas = class_ccmas(pl.col("mean"), mean_not)
    return classes.with_columns(ccmas=pl.when(present & (pl.col("n") < n_images)).then(ccmas).otherwise(None))


def _rank_first(frame: pl.DataFrame, exclude: pl.Expr | None = None) -> pl.DataFrame:
    """The class with the highest mean; means within 1e-12 relative tie, lower index first."""
    rows = frame.filter(pl.col("n") > 0)
    if exclude is not None:
        rows = rows.filter(~exclude)
    best = pl.col("mean").max().over("unit")
    near = (best - pl.col("mean")) <= TIE * pl.max_horizontal(best.abs(), pl.col("mean").abs())
    return rows.filter(near).sort("unit", "class_index").group_by("unit", maintain_order=True).first()


def ccmas(classes: pl.DataFrame) -> pl.DataFrame:
    """ccmas / ccmas2 (highest and second-highest class mean) and Morcos' variant."""
    present = classes.filter(pl.col("n") > 0)
    n_present = pl.len().over("unit")
    others_mean = (pl.col("mean").sum().over("unit") - pl.col("mean")) / (n_present - 1)
    present = present.with_columns(
        ccmas_morcos=pl.when(n_present > 1).then(class_ccmas(pl.col("mean"), others_mean)).otherwise(None)
    )
    first = _rank_first(present).select(
        "unit", pl.col("ccmas"), pl.col("class_index").alias("ccmas_class"), "ccmas_morcos"
    )
    marked = present.join(first.select("unit", "ccmas_class"), on="unit")
    second = _rank_first(marked, exclude=pl.col("class_index") == pl.col("ccmas_class")).select(
        "unit", pl.col("ccmas").alias("ccmas2"), pl.col("class_index").alias("ccmas2_class")
    )
    return first.join(second, on="unit", how="left").select(
        "unit", "ccmas", "ccmas_class", "ccmas2", "ccmas2_class", "ccmas_morcos"
    )


def _best_over_classes(classes: pl.DataFrame, value: str, threshold: str) -> pl.DataFrame:
    """Largest value over classes; within 1e-12: higher threshold, then lower class."""
    rows = classes.filter(pl.col(value).is_not_null() & pl.col(value).is_not_nan())
    best = pl.col(value).max().over("unit")
    return (
        rows.filter(pl.col(value) >= best - TIE)
        .sort(["unit", threshold, "class_index"], descending=[False, True, False])
        .group_by("unit", maintain_order=True)
        .first()
    )


def max_informedness(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    """Powers' informedness maximised over classes and thresholds, with the rates at it."""
    best = _best_over_classes(classes, "mi", "mi_threshold")
    false_pos = pl.col("mi_selected") - pl.col("mi_tp")
    return best.select(
        "unit",
        pl.col("mi").alias("max_informedness"),
        pl.col("class_index").alias("mi_class"),
        "mi_threshold",
        (pl.col("mi_tp") / pl.col("n")).alias("mi_recall"),
        (1 - false_pos / (n_images - pl.col("n"))).alias("mi_specificity"),
        (false_pos / (n_images - pl.col("n"))).alias("mi_false_alarm_rate"),
        (false_pos / pl.col("mi_selected")).alias("mi_false_discovery_rate"),
        (pl.col("mi_tp") / pl.col("mi_selected")).alias("mi_precision"),
    )


def recall_at_precision(classes: pl.DataFrame, name: str) -> pl.DataFrame:
    """Largest recall with precision >= p (column `name`); 0 and NULL class when none."""
    qualified = classes.filter(pl.col(name) >= 0)
    best = _best_over_classes(qualified, name, f"{name}_threshold")
    units = classes.select("unit").unique()
    return (
        units.join(
            best.select("unit", name, pl.col("class_index").alias(f"{name}_class"), f"{name}_threshold"),
            on="unit",
            how="left",
        )
        .with_columns(pl.col(name).fill_null(0.0))
        .select("unit", name, f"{name}_class", f"{name}_threshold")
    )


def precision_k(classes: pl.DataFrame, k: int) -> pl.DataFrame:
    """Largest expected top-k count / k; ties: the class whose first image ranks earliest."""
    count, ties = f"count_{k}", f"tie_size_{k}"
    best = pl.col(count).max().over("unit")
    top = (
        classes.filter((pl.col(count) == best) & (pl.col("n") > 0))
        .sort(["unit", "max", "first_at_max"], descending=[False, True, False])
        .group_by("unit", maintain_order=True)
        .first()
    )
    return top.select(
        "unit",
        (pl.col(count) / (pl.col(ties) * pl.col(f"k_{k}"))).alias(f"precision_{k}"),
        pl.col("class_index").alias(f"precision_{k}_class"),
    )


def n_classes_top(classes: pl.DataFrame, k: int = 100) -> pl.DataFrame:
    return classes.group_by("unit").agg((pl.col(f"count_{k}") > 0).sum().cast(pl.Int32).alias(f"n_classes_top{k}"))


def localist(classes: pl.DataFrame) -> pl.DataFrame:
    """Bowers' margin: min over the top item's class minus max over every other class."""
    present = classes.filter(pl.col("n") > 0)
    top = (
        present.sort(["unit", "max", "first_at_max"], descending=[False, True, False])
        .group_by("unit", maintain_order=True)
        .first()
        .select("unit", pl.col("class_index").alias("top_class"), pl.col("min").alias("top_min"))
    )
    others = (
        present.join(top, on="unit")
        .filter(pl.col("class_index") != pl.col("top_class"))
        .group_by("unit")
        .agg(pl.col("max").max().alias("other_max"))
    )
    margin = (pl.col("top_min") - pl.col("other_max")).alias("localist_margin")
    return top.join(others, on="unit", how="left").select(
        "unit", margin, (pl.col("top_min") > pl.col("other_max")).alias("is_localist")
    )


# -- The per-unit columns of seldb.catalogue.UNIT_MEASURES, each from one function. --


@produces("n_images")
def _n_images(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return classes.select("unit").unique().with_columns(n_images=pl.lit(n_images, dtype=pl.Int32))


@produces("ccmas", "ccmas_class", "ccmas2", "ccmas2_class", "ccmas_morcos")
def _ccmas(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return ccmas(classes)


@produces("precision_60", "precision_60_class")
def _precision_60(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return precision_k(classes, 60)


@produces("precision_100", "precision_100_class")
def _precision_100(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return precision_k(classes, 100)


@produces("n_classes_top100")
def _n_classes_top100(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return n_classes_top(classes, 100)


@produces("localist_margin", "is_localist")
def _localist(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return localist(classes)


@produces("recall_p1", "recall_p1_class", "recall_p1_threshold")
def _recall_p1(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return recall_at_precision(classes, "recall_p1")


@produces("recall_p95", "recall_p95_class", "recall_p95_threshold")
def _recall_p95(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    return recall_at_precision(classes, "recall_p95")


@produces("n_distinct_values", "is_dead")
def _distinct_values(classes: pl.DataFrame, n_images: int) -> pl.DataFrame:
    """A dead unit never rises above its lowest value: one distinct value over every image."""
    per_unit = classes.group_by("unit").agg(pl.col("n_distinct").first().cast(pl.Int32).alias("n_distinct_values"))
    return per_unit.with_columns(is_dead=pl.col("n_distinct_values") == 1)


produces(
    "max_informedness",
    "mi_class",
    "mi_threshold",
    "mi_recall",
    "mi_specificity",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "mi_precision",
)(max_informedness)
