"""How sure is a selectivity number: bootstrap intervals and a chance baseline per unit.

`measure_uncertainty` is the seam for the database and the CLI: plain
arrays in (the analysed images' activations of one layer, their classes),
polars frames out, shaped for the views `seldb.unit_measure_intervals`,
`seldb.unit_measure_chance` and a per-layer null summary. Units are handled
in blocks (`block_units` at a time), so memory is bounded by one block plus
the layer's null values (units x permutations per measure) kept for the
per-layer summary. docs/uncertainty.md explains what the numbers mean.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from seldb.errors import InputError
from seldb.measures.compute import compute_block, nan_to_null
from seldb.measures.resampling import intervals as chance
from seldb.measures.resampling.block_replicates import Replicates, block_replicates
from seldb.measures.resampling.draws import BOOTSTRAP, PERMUTATION, Draws
from seldb.measures.resampling.unit_replicates import CLASS_OF, VALUE_MEASURES
from seldb.measures.resampling.validity import bootstrap_validity


@dataclass(frozen=True)
class UncertaintyOptions:
    bootstrap: int = 200
    permutations: int = 200
    seed: int = 0
    level: float = 0.95
    block_units: int = 32
    workers: int = 1
    engine: str | None = None  # numpy or numba (default: numba when installed)
    replace: bool = False  # a one-sided pass (0 bootstrap or 0 permutations) drops the other half's rows

    def check(self) -> UncertaintyOptions:
        chance.check_level(self.level)
        for name in ("bootstrap", "permutations", "block_units", "workers"):
            if getattr(self, name) < (0 if name in ("bootstrap", "permutations") else 1):
                raise InputError(f"--{name} must be a positive number, got {getattr(self, name)}")
        if self.seed < 0:
            raise InputError(f"--seed must be a non-negative integer, got {self.seed}")
        return self


@dataclass
class UncertaintyResult:
    intervals: pl.DataFrame  # one row per (unit, measure)
    chance: pl.DataFrame  # one row per (unit, measure)
    layer_null: pl.DataFrame  # one row per measure
    bootstrap: Replicates | None = None  # raw replicates, when asked for
    permutation: Replicates | None = None


@dataclass
class BlockUncertainty:
    """One block of units, summarised as soon as it is measured (units numbered in the layer)."""

    intervals: pl.DataFrame
    chance: pl.DataFrame  # q-values are added per layer, in `finish_layer`
    null_values: dict[str, np.ndarray]  # measure -> (units, permutations), for the layer's null summary
    boot: Replicates | None = None  # kept only when asked for
    perm: Replicates | None = None


def make_draws(labels, n_classes: int, options: UncertaintyOptions) -> dict[str, np.ndarray]:
    """Every replicate's draws for these analysed images (shared by all units and layers of a run)."""
    made = Draws(labels, n_classes, options.seed)
    draws = {}
    if options.bootstrap:
        draws[BOOTSTRAP] = made.matrix(BOOTSTRAP, options.bootstrap)
    if options.permutations:
        draws[PERMUTATION] = made.matrix(PERMUTATION, options.permutations)
    return draws


def _point_classes(point: pl.DataFrame) -> list[dict]:
    columns = sorted(set(CLASS_OF.values()))
    return [{c: (-1 if row[c] is None else row[c]) for c in columns} for row in point.iter_rows(named=True)]


def block_uncertainty(
    values: np.ndarray,
    labels,
    n_classes: int,
    draws: dict,
    options: UncertaintyOptions,
    *,
    first_unit: int = 0,
    point: pl.DataFrame | None = None,
    image_index=None,
    keep_replicates: bool = False,
) -> BlockUncertainty:
    """Intervals and per-unit chance rows for a block of units (values: (images, units)).
    `point`: the block's point estimates (units numbered from 0 in the block), computed if None."""
    if point is None:
        point = compute_block(values, labels, n_classes, image_index=image_index).units
    elif point.height != values.shape[1]:
        raise InputError(f"point estimates for {point.height} units, activations for {values.shape[1]}")
    got = block_replicates(
        values,
        labels,
        n_classes,
        draws,
        point_classes=_point_classes(point),
        image_index=image_index,
        engine=options.engine,
    )
    boot, perm = got.get(BOOTSTRAP), got.get(PERMUTATION)
    shift = pl.col("unit") + first_unit
    return BlockUncertainty(
        intervals=(interval_frame(point, boot, options.level) if boot else _empty_intervals()).with_columns(shift),
        chance=(chance_frame(point, perm) if perm else _empty_chance()).with_columns(shift),
        null_values=dict(perm.values) if perm else {},
        boot=boot if keep_replicates else None,
        perm=perm if keep_replicates else None,
    )


def finish_layer(blocks: list[BlockUncertainty]) -> UncertaintyResult:
    """A layer's blocks (in unit order) as one result: BH q-values over the layer's units, and the
    null distribution pooled over its units and permutations."""
    chance_rows = _by_measure(pl.concat([b.chance for b in blocks]))
    if chance_rows.height:
        chance_rows = pl.concat(
            [
                part.with_columns(pl.Series("q", chance.bh_qvalues(part["p"].fill_null(np.nan).to_numpy())))
                for part in chance_rows.partition_by("measure", maintain_order=True)
            ]
        )
        chance_rows = nan_to_null(chance_rows).select(_CHANCE_COLUMNS)
    pooled = {m: np.concatenate([b.null_values[m] for b in blocks]) for m in blocks[0].null_values}
    return UncertaintyResult(
        intervals=_by_measure(pl.concat([b.intervals for b in blocks])),
        chance=chance_rows,
        layer_null=layer_null_frame(pooled) if pooled else _empty_layer_null(),
        bootstrap=_stack([b.boot for b in blocks]),
        permutation=_stack([b.perm for b in blocks]),
    )


def _by_measure(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows measure by measure (VALUE_MEASURES' order), units ascending: one order for any blocking."""
    if rows.height == 0:
        return rows
    return pl.concat([rows.filter(pl.col("measure") == m).sort("unit") for m in VALUE_MEASURES])


def _stack(parts: list[Replicates | None]) -> Replicates | None:
    if not parts or parts[0] is None:
        return None

    def cat(field):
        return {k: np.concatenate([getattr(p, field)[k] for p in parts]) for k in getattr(parts[0], field)}

    return Replicates(parts[0].kind, cat("values"), cat("classes"), cat("own"), cat("optimism"))


def measure_uncertainty(
    values,
    labels,
    n_classes: int,
    options: UncertaintyOptions = UncertaintyOptions(),
    *,
    image_index: np.ndarray | None = None,
    point: pl.DataFrame | None = None,
    keep_replicates: bool = False,
) -> UncertaintyResult:
    """Intervals and chance baseline for every unit of one layer.

    values: (images, units), anything sliceable as values[:, a:b] (a numpy array, an h5py
    dataset), the analysed images only; labels: (images,) in 0..n_classes-1. `point`: the
    layer's compute_block units frame if already computed (else it is computed here)."""
    options = options.check()
    labels = np.asarray(labels)
    n_units = values.shape[1]
    if labels.shape != (values.shape[0],):
        raise InputError(f"labels have shape {labels.shape}, expected ({values.shape[0]},) to match the activations")
    draws = make_draws(labels, n_classes, options)

    def run(first: int) -> BlockUncertainty:
        stop = min(n_units, first + options.block_units)
        block_point = None
        if point is not None:
            block_point = (
                point.filter(pl.col("unit").is_between(first, stop - 1))
                .sort("unit")
                .with_columns(pl.col("unit") - first)
            )
        return block_uncertainty(
            np.asarray(values[:, first:stop]),
            labels,
            n_classes,
            draws,
            options,
            first_unit=first,
            point=block_point,
            image_index=image_index,
            keep_replicates=keep_replicates,
        )

    starts = range(0, n_units, options.block_units)
    if options.workers > 1:
        with ThreadPoolExecutor(options.workers) as pool:
            return finish_layer(list(pool.map(run, starts)))
    return finish_layer([run(first) for first in starts])


def _estimate(estimates: pl.DataFrame, measure: str) -> np.ndarray:
    return estimates.sort("unit")[measure].cast(pl.Float64).fill_null(np.nan).to_numpy()


def _point_class(estimates: pl.DataFrame, column: str) -> np.ndarray:
    return estimates.sort("unit")[column].fill_null(-1).to_numpy().astype(np.int64)


# The measures whose interval is the hull of the percentile and basic intervals, with their ranges.
HULL_RANGE = {
    "precision_60": (0.0, 1.0),
    "precision_100": (0.0, 1.0),
    "ccmas": (-1.0, 1.0),
    "ccmas_morcos": (-1.0, 1.0),
    "recall_p1": (0.0, 1.0),
    "recall_p95": (0.0, 1.0),
}
# precision_k takes the percentile interval where its class is this stable (docs/uncertainty.md).
STABLE_PERCENTILE = {"precision_60": 0.9, "precision_100": 0.9}


def _interval(measure: str, estimate: np.ndarray, boot: Replicates, stability: np.ndarray, level: float):
    """lo, hi, bias, replicates used and the method per unit (docs/uncertainty.md's table)."""
    values = boot.values[measure]
    methods = np.full(estimate.size, "hull", dtype=object)
    if measure in boot.optimism and measure in HULL_RANGE:
        lo, hi, bias, used = chance.selection_hull(estimate, values, boot.optimism[measure], level, HULL_RANGE[measure])
        return lo, hi, bias, used, methods
    if measure in boot.optimism:
        lo, hi, bias, used = chance.hull_interval(estimate, values, boot.optimism[measure], level)
        return lo, hi, bias, used, methods
    if measure in HULL_RANGE:
        lo, hi, used = chance.percentile_basic_hull(estimate, values, level, HULL_RANGE[measure])
        if measure in STABLE_PERCENTILE:
            lo, hi, stable = chance.stable_percentile(lo, hi, values, stability, level, STABLE_PERCENTILE[measure])
            methods[stable] = "percentile"
    else:
        lo, hi, used = chance.percentile_interval(values, level)
        methods[:] = "percentile"
    with np.errstate(invalid="ignore"):
        bias = np.nansum(values, axis=1) / np.where(used > 0, used, np.nan) - estimate
    return lo, hi, bias, used, methods


def interval_frame(estimates: pl.DataFrame, boot: Replicates, level: float) -> pl.DataFrame:
    """unit, measure, estimate, lo, hi, level, replicates, class_stability, class_lo, class_hi,
    method, bias, valid, reason (docs/uncertainty.md says which measure gets which interval, and
    seldb.measures.resampling.validity when it is valid)."""
    parts = []
    units = np.sort(estimates["unit"].to_numpy())
    for measure in VALUE_MEASURES:
        estimate = _estimate(estimates, measure)
        nan = np.full(units.size, np.nan)
        stability, class_lo, class_hi = nan, nan, nan
        if measure in CLASS_OF:
            column = CLASS_OF[measure]
            stability = chance.class_stability(_point_class(estimates, column), boot.classes[column])
        if measure in boot.own:
            class_lo, class_hi, _ = chance.percentile_interval(boot.own[measure], level)
        lo, hi, bias, used, methods = _interval(measure, estimate, boot, stability, level)
        valid, reason = bootstrap_validity(measure, lo)
        parts.append(
            pl.DataFrame(
                {
                    "unit": units.astype(np.int32),
                    "measure": [measure] * units.size,
                    "estimate": estimate,
                    "lo": lo,
                    "hi": hi,
                    "level": np.full(units.size, level),
                    "replicates": used.astype(np.int32),
                    "class_stability": stability,
                    "class_lo": class_lo,
                    "class_hi": class_hi,
                    "method": pl.Series(methods.tolist(), dtype=pl.Utf8),
                    "bias": bias,
                    "valid": valid,
                    "reason": pl.Series(reason, dtype=pl.Utf8),
                }
            )
        )
    return nan_to_null(pl.concat(parts))


def chance_frame(estimates: pl.DataFrame, perm: Replicates) -> pl.DataFrame:
    """unit, measure, estimate, direction, p, q (NaN: set per layer by finish_layer), permutations,
    null summary."""
    parts = []
    units = np.sort(estimates["unit"].to_numpy())
    for measure in VALUE_MEASURES:
        observed = _estimate(estimates, measure)
        p, used = chance.permutation_p(observed, perm.values[measure], measure)
        parts.append(
            pl.DataFrame(
                {
                    "unit": units.astype(np.int32),
                    "measure": [measure] * units.size,
                    "estimate": observed,
                    "direction": [chance.direction(measure)] * units.size,
                    "p": p,
                    "q": np.full(units.size, np.nan),
                    "permutations": used.astype(np.int32),
                    **chance.null_summary(perm.values[measure]),
                }
            )
        )
    return nan_to_null(pl.concat(parts))


def layer_null_frame(null_values: dict[str, np.ndarray]) -> pl.DataFrame:
    """Per measure: the null distribution pooled over the layer's units and permutations."""
    rows = []
    for measure in VALUE_MEASURES:
        pooled = null_values[measure].ravel()[None, :]
        summary = chance.null_summary(pooled)
        rows.append(
            {
                "measure": measure,
                "direction": chance.direction(measure),
                "null_values": int((~np.isnan(pooled)).sum()),
                **{k: float(v[0]) for k, v in summary.items()},
            }
        )
    return nan_to_null(pl.DataFrame(rows))


_INTERVAL_COLUMNS = [
    "unit",
    "measure",
    "estimate",
    "lo",
    "hi",
    "level",
    "replicates",
    "class_stability",
    "class_lo",
    "class_hi",
    "method",
    "bias",
    "valid",
    "reason",
]
_CHANCE_COLUMNS = [
    "unit",
    "measure",
    "estimate",
    "direction",
    "p",
    "q",
    "permutations",
    "null_mean",
    *chance.NULL_QUANTILES,
]


COLUMN_TYPES = {  # polars types of the stored columns that are not Float64
    "unit": pl.Int32,
    "measure": pl.Utf8,
    "method": pl.Utf8,
    "direction": pl.Utf8,
    "reason": pl.Utf8,
    "valid": pl.Boolean,
    "replicates": pl.Int32,
    "permutations": pl.Int32,
}


def _empty_intervals() -> pl.DataFrame:
    return pl.DataFrame(schema={c: COLUMN_TYPES.get(c, pl.Float64) for c in _INTERVAL_COLUMNS})


def _empty_chance() -> pl.DataFrame:
    return pl.DataFrame(schema={c: COLUMN_TYPES.get(c, pl.Float64) for c in _CHANCE_COLUMNS})


def _empty_layer_null() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "measure": pl.Utf8,
            "direction": pl.Utf8,
            "null_values": pl.Int64,
            "null_mean": pl.Float64,
            **dict.fromkeys(chance.NULL_QUANTILES, pl.Float64),
        }
    )


def survives(
    intervals: pl.DataFrame,
    chance_rows: pl.DataFrame,
    *,
    measure: str = "precision_60",
    lower_bound: float = 0.75,
    q_max: float = 0.05,
) -> pl.DataFrame:
    """Per unit, whether a detector claim on `measure` survives: interval lower bound above
    `lower_bound` and BH q-value below `q_max` (what detector_claims' "survives" column reads)."""
    lo = intervals.filter(pl.col("measure") == measure).select("unit", "lo")
    q = chance_rows.filter(pl.col("measure") == measure).select("unit", "q")
    joined = lo.join(q, on="unit", how="full", coalesce=True)
    return joined.select(
        "unit", "lo", "q", ((pl.col("lo") > lower_bound) & (pl.col("q") < q_max)).fill_null(False).alias("survives")
    ).sort("unit")
