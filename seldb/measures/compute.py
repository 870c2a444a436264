"""The block driver: numpy passes for the heavy lifting, polars for the rules.

`compute_block` runs the three vectorised passes over a block of units
(class statistics, the threshold sweep, top-k counts), lays their per-class
results out as one long polars frame and lets the registered measure
functions of `seldb.measures.per_unit` (one per group of catalogue columns)
reduce it per unit. The result keeps the numpy arrays for the bulk loader and
offers polars frames for everyone else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

import seldb.measures.per_unit as m
from seldb import catalogue
from seldb.errors import InputError
from seldb.measures.block import Block, prepare_block
from seldb.measures.classstats import ClassStats, Histograms, class_stats, histograms
from seldb.measures.sweep import Sweep, sweep
from seldb.measures.topk import TopImages, TopKCounts, top_images, topk_counts

ENGINES = ("numba", "numpy")
DEFAULT_K = catalogue.DEFAULT_TOP_K
P_LEVELS = catalogue.P_LEVELS


@functools.cache
def numba_available() -> bool:
    try:
        import seldb.measures.kernel_block  # noqa: F401
    except ImportError:
        return False
    return True


def measure_engine() -> str:
    """The per-block measures' engine: SELDB_ENGINE (numba | numpy), else numba when it imports.

    numba is the compiled kernel (seldb.measures.kernel), numpy the vectorised reference; both
    give the same rows, bit for bit. Asking for numba without it installed falls back to numpy.
    """
    name = os.environ.get("SELDB_ENGINE", "").strip().lower() or "numba"
    if name not in ENGINES:
        raise InputError(f"SELDB_ENGINE is one of {', '.join(ENGINES)}, got {name!r}")
    return "numba" if name == "numba" and numba_available() else "numpy"


def p_name(p: float) -> str:
    """Column stem for recall at precision p: 1.0 -> recall_p1, 0.95 -> recall_p95."""
    return "recall_p1" if p == 1.0 else "recall_p" + f"{p:.10g}".split(".")[1]


def nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t == pl.Float64]
    return frame.with_columns([pl.col(c).fill_nan(None) for c in floats])


def _class_frame(parts: _Parts, p_levels) -> pl.DataFrame:
    stats, swept, counts = parts.stats, parts.swept, parts.counts
    n_units, n_classes = stats.sum.shape
    columns = {
        "unit": np.repeat(np.arange(n_units, dtype=np.int32), n_classes),
        "class_index": np.tile(np.arange(n_classes, dtype=np.int32), n_units),
        "n": np.tile(stats.n, n_units),
        "n_distinct": np.repeat(parts.n_distinct, n_classes),
    }
    for name in ("sum", "mean", "min", "max", "first_at_max"):
        columns[name] = getattr(stats, name).ravel()
    for name in ("mi", "mi_threshold", "mi_tp", "mi_selected"):
        columns[name] = getattr(swept, name).ravel()
    for p in p_levels:
        recall, threshold = swept.recall_p[p]
        columns[p_name(p)] = recall.ravel()
        columns[p_name(p) + "_threshold"] = threshold.ravel()
    for c in counts:
        columns[f"count_{c.k_requested}"] = c.scaled.ravel()
        columns[f"tie_size_{c.k_requested}"] = np.repeat(c.tie_size, n_classes)
        columns[f"k_{c.k_requested}"] = np.full(n_units * n_classes, c.k)
    frame = nan_to_null(pl.DataFrame(columns))
    return m.with_class_ccmas(frame, parts.n_images)


@dataclass
class BlockResult:
    """Every number of measures.md for one block of units (units numbered from 0)."""

    units: pl.DataFrame
    precision_k: pl.DataFrame
    class_ccmas: np.ndarray  # (U, K)
    stats: ClassStats
    swept: Sweep
    hist: Histograms
    top: TopImages
    engine: str = "numpy"  # which passes computed it: numba (seldb.measures.kernel) or numpy

    @cached_property
    def class_stats(self) -> pl.DataFrame:
        n_units, n_classes = self.class_ccmas.shape
        n = np.tile(self.stats.n, n_units).astype(np.float64)
        std = self.stats.std.ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame = pl.DataFrame(
                {
                    "unit": np.repeat(np.arange(n_units, dtype=np.int32), n_classes),
                    "class_index": np.tile(np.arange(n_classes, dtype=np.int32), n_units),
                    "n": n.astype(np.int64),
                    "mean": self.stats.mean.ravel(),
                    "std": std,
                    "sem": std / np.sqrt(n),
                    "min": self.stats.min.ravel(),
                    "max": self.stats.max.ravel(),
                    "n_nonzero": self.stats.n_nonzero.ravel(),
                    "frac_nonzero": np.where(n > 0, self.stats.n_nonzero.ravel() / n, np.nan),
                    "ccmas": self.class_ccmas.ravel(),
                    "max_informedness": self.swept.mi.ravel(),
                    "mi_threshold": self.swept.mi_threshold.ravel(),
                }
            )
        return nan_to_null(frame)

    @cached_property
    def histograms(self) -> pl.DataFrame:
        n_units, n_classes = self.class_ccmas.shape
        rows = []
        for u in range(n_units):
            width = int(self.hist.n_bins[u])
            for c in range(n_classes):
                counts = self.hist.counts[u, c, :width].tolist()
                rows.append((u, c, self.hist.lo[u], self.hist.width[u], width, int(self.stats.n_zero[u, c]), counts))
        schema = ["unit", "class_index", "bin_lo", "bin_width", "n_bins", "n_zero", "counts"]
        return pl.DataFrame(rows, schema=schema, orient="row")

    @cached_property
    def top_images(self) -> pl.DataFrame:
        n_units, width = self.top.image_index.shape
        frame = pl.DataFrame(
            {
                "unit": np.repeat(np.arange(n_units, dtype=np.int32), width),
                "rank": np.tile(np.arange(1, width + 1, dtype=np.int32), n_units),
                "image_index": self.top.image_index.ravel(),
                "class_index": self.top.label.ravel(),
                "activation": self.top.activation.ravel(),
            }
        )
        return frame.filter(pl.col("image_index") >= 0)


def sweep_and_counts(block: Block, top_k, p_levels) -> tuple[Sweep, list[TopKCounts]]:
    swept = sweep(block, p_levels)
    assert swept.kth_code is not None and swept.runs is not None  # a fresh sweep has both
    counts = [topk_counts(block, swept.kth_code, swept.runs, k) for k in sorted(set(top_k) | set(DEFAULT_K))]
    return swept, counts


CHUNK_ELEMENTS = 3_000_000  # images x units per numpy pass: arrays malloc recycles (under ~32 MB)


@dataclass
class _Parts:
    """What the numpy passes give for some units: per-class arrays, histograms, top images."""

    n_images: int
    stats: ClassStats
    swept: Sweep  # kth_code and runs only while one chunk: they are not merged
    counts: list[TopKCounts]
    hist: Histograms
    top: TopImages
    n_distinct: np.ndarray

    @classmethod
    def merge(cls, chunks: list[_Parts]) -> _Parts:
        if len(chunks) == 1:
            return chunks[0]

        def cat(objects, kind, shared=()):
            fields = kind.__dataclass_fields__
            return kind(
                **{
                    f: getattr(objects[0], f) if f in shared else np.concatenate([getattr(o, f) for o in objects])
                    for f in fields
                }
            )

        first = chunks[0]
        sweeps = [c.swept for c in chunks]
        recall_p = {
            p: (np.concatenate([s.recall_p[p][0] for s in sweeps]), np.concatenate([s.recall_p[p][1] for s in sweeps]))
            for p in first.swept.recall_p
        }
        merged = {
            f: np.concatenate([getattr(s, f) for s in sweeps]) for f in ("mi", "mi_threshold", "mi_tp", "mi_selected")
        }
        swept = Sweep(kth_code=None, recall_p=recall_p, runs=None, **merged)
        counts = [
            cat([c.counts[i] for c in chunks], TopKCounts, ("k_requested", "k")) for i in range(len(first.counts))
        ]
        return cls(
            first.n_images,
            cat([c.stats for c in chunks], ClassStats, ("n",)),
            swept,
            counts,
            cat([c.hist for c in chunks], Histograms),
            cat([c.top for c in chunks], TopImages),
            np.concatenate([c.n_distinct for c in chunks]),
        )


def _numpy_passes(values, labels, n_classes, top_k, bins, image_index, n_top_images) -> _Parts:
    block = prepare_block(values, labels, n_classes, image_index)
    swept, counts = sweep_and_counts(block, top_k, P_LEVELS)
    assert swept.kth_code is not None  # a fresh sweep has it
    return _Parts(
        block.n_images,
        class_stats(block),
        swept,
        counts,
        histograms(block, bins),
        top_images(block, swept.kth_code, n_top_images),
        swept.kth_code.n_distinct(),
    )


def _compiled_passes(values, labels, n_classes, top_k, bins, image_index, n_top_images) -> _Parts | None:
    """The numba kernel's arrays (seldb.measures.kernel); None for activations float32 cannot hold."""
    from seldb.measures import kernel_block as kernel

    x32 = kernel.float32_units(values)
    if x32 is None:
        return None
    layout = kernel.layout_of(labels, n_classes, image_index)
    every_k = sorted(set(top_k) | set(DEFAULT_K))
    stats, swept, counts, hist, top, n_distinct = kernel.compiled_parts(
        x32, layout, every_k, P_LEVELS, bins, n_top_images
    )
    return _Parts(values.shape[0], stats, swept, counts, hist, top, n_distinct)


def compute_block(
    values: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    top_k: Sequence[int] = DEFAULT_K,
    bins: int = 32,
    image_index: np.ndarray | None = None,
    n_top_images: int = 100,
) -> BlockResult:
    """All measures for a block: values (images, units), labels (images,) in 0..K-1.

    `image_index` names each row (default 0..N-1): it orders ties and is what
    top images report. The numpy passes run over chunks of units small enough
    for malloc to recycle their arrays (big ones are mapped and page-faulted
    in anew each time: system time); the rules in polars, whose cost is per
    call, run once for the whole block.
    """
    parts, engine = None, "numba"
    if values.shape[1] and values.shape[0] and measure_engine() == "numba":
        parts = _compiled_passes(values, labels, n_classes, top_k, bins, image_index, n_top_images)
    if parts is None:
        engine = "numpy"
        step = max(1, CHUNK_ELEMENTS // max(1, values.shape[0]))
        parts = _Parts.merge(
            [
                _numpy_passes(values[:, u0 : u0 + step], labels, n_classes, top_k, bins, image_index, n_top_images)
                for u0 in range(0, max(1, values.shape[1]), step)
            ]
        )
    n_units = parts.stats.sum.shape[0]
    classes = _class_frame(parts, P_LEVELS)
    units = pl.DataFrame({"unit": np.arange(n_units, dtype=np.int32)})
    for producer in m.PRODUCERS:
        units = units.join(
            producer.compute(classes, parts.n_images).select("unit", *producer.columns), on="unit", how="left"
        )
    precision = pl.concat(
        [
            m.precision_k(classes, k).select(
                "unit",
                pl.lit(k).alias("k"),
                pl.col(f"precision_{k}").alias("precision"),
                pl.col(f"precision_{k}_class").alias("class_index"),
            )
            for k in sorted(set(top_k))
        ]
    ).sort("unit", "k")
    class_ccmas = classes["ccmas"].fill_null(np.nan).to_numpy().reshape(n_units, n_classes)
    return BlockResult(
        units=units.select("unit", *catalogue.names()),
        precision_k=precision,
        class_ccmas=class_ccmas,
        stats=parts.stats,
        swept=parts.swept,
        hist=parts.hist,
        top=parts.top,
        engine=engine,
    )
