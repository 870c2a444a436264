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
from seldb.measures import chance
from seldb.measures.compute import compute_block
from seldb.measures.replicate_block import Replicates, block_replicates
from seldb.measures.replicates import BOOTSTRAP, PERMUTATION, Draws
from seldb.measures.resample_unit import CLASS_OF, VALUE_MEASURES


@dataclass(frozen=True)
class UncertaintyOptions:
    bootstrap: int = 200
    permutations: int = 200
    seed: int = 0
    level: float = 0.95
    block_units: int = 32
    workers: int = 1

    def check(self) -> "UncertaintyOptions":
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
class _BlockOut:
    units: np.ndarray
    point: pl.DataFrame
    boot: Replicates | None
    perm: Replicates | None


def _point_classes(point: pl.DataFrame) -> list[dict]:
    columns = sorted(set(CLASS_OF.values()))
    return [{c: (-1 if row[c] is None else row[c]) for c in columns} for row in point.iter_rows(named=True)]


def _run_block(values, labels, n_classes, units, options: UncertaintyOptions, image_index, point, draws) -> _BlockOut:
    block = np.asarray(values[:, units[0] : units[-1] + 1])
    if point is None:
        point = compute_block(block, labels, n_classes, image_index=image_index).units
    else:
        point = point.filter(pl.col("unit").is_in(units.tolist())).sort("unit").with_columns(
            (pl.col("unit") - int(units[0])).alias("unit"))  # fmt: skip
        if point.height != units.size:
            raise InputError(f"point estimates lack units {units[0]}..{units[-1]}")
    wanted = {kind: matrix for kind, matrix in draws.items() if matrix is not None}
    got = block_replicates(block, labels, n_classes, wanted, point_classes=_point_classes(point),
                           image_index=image_index)  # fmt: skip
    boot, perm = got.get(BOOTSTRAP), got.get(PERMUTATION)
    return _BlockOut(units, point, boot, perm)


def _stack(parts: list[Replicates | None]) -> Replicates | None:
    if parts[0] is None:
        return None
    cat = lambda field: {k: np.concatenate([getattr(p, field)[k] for p in parts]) for k in getattr(parts[0], field)}
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
    blocks = [np.arange(a, min(n_units, a + options.block_units)) for a in range(0, n_units, options.block_units)]
    made = Draws(labels, n_classes, options.seed)
    draws = {BOOTSTRAP: made.matrix(BOOTSTRAP, options.bootstrap) if options.bootstrap else None,
             PERMUTATION: made.matrix(PERMUTATION, options.permutations) if options.permutations else None}  # fmt: skip
    run = lambda units: _run_block(values, labels, n_classes, units, options, image_index, point, draws)
    if options.workers > 1:
        with ThreadPoolExecutor(options.workers) as pool:
            outs = list(pool.map(run, blocks))
    else:
        outs = [run(units) for units in blocks]
    estimates = pl.concat([o.point.with_columns(pl.col("unit") + int(o.units[0])) for o in outs])
    boot, perm = _stack([o.boot for o in outs]), _stack([o.perm for o in outs])
    result = UncertaintyResult(
        intervals=interval_frame(estimates, boot, options.level) if boot else _empty_intervals(),
        chance=chance_frame(estimates, perm) if perm else _empty_chance(),
        layer_null=layer_null_frame(perm) if perm else _empty_layer_null(),
    )
    if keep_replicates:
        result.bootstrap, result.permutation = boot, perm
    return result


def _estimate(estimates: pl.DataFrame, measure: str) -> np.ndarray:
    return estimates.sort("unit")[measure].cast(pl.Float64).fill_null(np.nan).to_numpy()


def _point_class(estimates: pl.DataFrame, column: str) -> np.ndarray:
    return estimates.sort("unit")[column].fill_null(-1).to_numpy().astype(np.int64)


def interval_frame(estimates: pl.DataFrame, boot: Replicates, level: float) -> pl.DataFrame:
    """unit, measure, estimate, lo, hi, level, replicates, class_stability, class_lo, class_hi,
    method, bias (docs/uncertainty.md says which measure gets which interval)."""
    parts = []
    units = np.sort(estimates["unit"].to_numpy())
    for measure in VALUE_MEASURES:
        estimate = _estimate(estimates, measure)
        if measure in boot.optimism:
            method = "optimism"
            lo, hi, bias, used = chance.optimism_interval(estimate, boot.optimism[measure], level)
        else:
            method = "percentile"
            lo, hi, used = chance.percentile_interval(boot.values[measure], level)
            with np.errstate(invalid="ignore"):
                bias = np.nansum(boot.values[measure], axis=1) / np.where(used > 0, used, np.nan) - estimate
        nan = np.full(units.size, np.nan)
        stability, class_lo, class_hi = nan, nan, nan
        if measure in CLASS_OF:
            column = CLASS_OF[measure]
            stability = chance.class_stability(_point_class(estimates, column), boot.classes[column])
        if measure in boot.own:
            class_lo, class_hi, _ = chance.percentile_interval(boot.own[measure], level)
        parts.append(pl.DataFrame({
            "unit": units.astype(np.int32), "measure": [measure] * units.size,
            "estimate": estimate, "lo": lo, "hi": hi, "level": np.full(units.size, level),
            "replicates": used.astype(np.int32), "class_stability": stability,
            "class_lo": class_lo, "class_hi": class_hi, "method": [method] * units.size, "bias": bias,
        }))  # fmt: skip
    return _nan_to_null(pl.concat(parts))


def chance_frame(estimates: pl.DataFrame, perm: Replicates) -> pl.DataFrame:
    """unit, measure, estimate, direction, p, q (BH over the layer's units), permutations, null summary."""
    parts = []
    units = np.sort(estimates["unit"].to_numpy())
    for measure in VALUE_MEASURES:
        observed = _estimate(estimates, measure)
        p, used = chance.permutation_p(observed, perm.values[measure], measure)
        parts.append(pl.DataFrame({
            "unit": units.astype(np.int32), "measure": [measure] * units.size, "estimate": observed,
            "direction": [chance.direction(measure)] * units.size, "p": p, "q": chance.bh_qvalues(p),
            "permutations": used.astype(np.int32), **chance.null_summary(perm.values[measure]),
        }))  # fmt: skip
    return _nan_to_null(pl.concat(parts))


def layer_null_frame(perm: Replicates) -> pl.DataFrame:
    """Per measure: the null distribution pooled over the layer's units and permutations."""
    rows = []
    for measure in VALUE_MEASURES:
        pooled = perm.values[measure].ravel()[None, :]
        summary = chance.null_summary(pooled)
        rows.append({"measure": measure, "direction": chance.direction(measure),
                     "null_values": int((~np.isnan(pooled)).sum()),
                     **{k: float(v[0]) for k, v in summary.items()}})  # fmt: skip
    return _nan_to_null(pl.DataFrame(rows))


def _nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns([pl.col(c).fill_nan(None) for c, t in frame.schema.items() if t == pl.Float64])


_INTERVAL_COLUMNS = ["unit", "measure", "estimate", "lo", "hi", "level", "replicates", "class_stability",
                     "class_lo", "class_hi", "method", "bias"]  # fmt: skip
_CHANCE_COLUMNS = ["unit", "measure", "estimate", "direction", "p", "q", "permutations", "null_mean",
                   *chance.NULL_QUANTILES]  # fmt: skip


def _empty_intervals() -> pl.DataFrame:
    return pl.DataFrame(schema={c: (pl.Utf8 if c in ("measure", "method") else pl.Float64) for c in _INTERVAL_COLUMNS})


def _empty_chance() -> pl.DataFrame:
    return pl.DataFrame(schema={c: (pl.Utf8 if c in ("measure", "direction") else pl.Float64) for c in _CHANCE_COLUMNS})


def _empty_layer_null() -> pl.DataFrame:
    return pl.DataFrame(schema={"measure": pl.Utf8, "direction": pl.Utf8, "null_values": pl.Int64,
                                "null_mean": pl.Float64, **{k: pl.Float64 for k in chance.NULL_QUANTILES}})  # fmt: skip


def survives(intervals: pl.DataFrame, chance_rows: pl.DataFrame, *, measure: str = "precision_60",
             lower_bound: float = 0.75, q_max: float = 0.05) -> pl.DataFrame:  # fmt: skip
    """Per unit, whether a detector claim on `measure` survives: interval lower bound above
    `lower_bound` and BH q-value below `q_max` (what detector_claims' "survives" column reads)."""
    lo = intervals.filter(pl.col("measure") == measure).select("unit", "lo")
    q = chance_rows.filter(pl.col("measure") == measure).select("unit", "q")
    joined = lo.join(q, on="unit", how="full", coalesce=True)
    return joined.select("unit", "lo", "q", ((pl.col("lo") > lower_bound) & (pl.col("q") < q_max)).fill_null(False)
                         .alias("survives")).sort("unit")  # fmt: skip
