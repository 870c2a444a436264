"""Calibration suite: do seldb's intervals cover the population value as often as they say?

For every unit type of benchmarks/calibration_units.py (ReLU with graded class
shifts, lognormal, near-localist with bounded support, weak, null) this draws
`--samples` independent samples (10 classes x 200 images), runs seldb's own
bootstrap (`measure_uncertainty`, the compiled engine when numba is installed)
on each, and counts per measure how often the stored interval [lo, hi] holds
the population value, over every sample and over the samples whose interval
seldb flags valid (as seldb.unit_measure_intervals shows it: the permutations
run on every sample, since CCMAS's flag needs its q-value, over the `--chunk`
units of one call: a layer of units of one type). Binomial standard
errors beside each share. For the null unit it also reports how uniform the
p-values are (share <= 0.05 and a Kolmogorov-Smirnov test) for the continuous
measures.

Samples are units of one synthetic layer sharing its labels, in chunks of
`--chunk` with a different replicate seed per chunk (seldb's draws are shared
by the units of a call), so the coverage of different samples is nearly
independent.

    python benchmarks/calibration.py [--samples 1000] [--bootstrap 200] [--permutations 200]
        [--types weak,null] [--write docs/uncertainty.md]

--write replaces the table between the markers in the file (the docs' table).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from calibration_units import UNIT_TYPES, UnitType, population_values  # noqa: E402

from seldb.measures.resampling.estimates import UncertaintyOptions, measure_uncertainty  # noqa: E402
from seldb.measures.resampling.unit_replicates import VALUE_MEASURES  # noqa: E402
from seldb.measures.resampling.validity import combined_validity  # noqa: E402

PER_CLASS, K = 200, 10
BEGIN, END = "<!-- calibration table: begin -->", "<!-- calibration table: end -->"
CONTINUOUS = ("ccmas", "ccmas_morcos", "max_informedness")


def run_type(unit: UnitType, labels, samples: int, bootstrap: int, permutations: int, chunk: int, seed: int):
    """Per measure: estimate, lo, hi and valid (as seldb.unit_measure_intervals shows it, the chance
    baseline included) over the samples; and the p-values."""
    rng = np.random.default_rng([seed, UNIT_TYPES.index(unit)])
    parts = []
    for first in range(0, samples, chunk):
        n = min(chunk, samples - first)
        values = unit.sample(rng, labels, n)
        options = UncertaintyOptions(bootstrap=bootstrap, permutations=permutations, seed=seed + first)
        result = measure_uncertainty(values, labels, K, options)
        parts.append(result.intervals.join(result.chance.select("unit", "measure", "p", "q"), on=["unit", "measure"]))
    out, pvalues = {}, {}
    for measure in VALUE_MEASURES:
        rows = pl.concat([p.filter(p["measure"] == measure) for p in parts])
        pick = {c: rows[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in ("estimate", "lo", "hi", "p", "q")}
        pick["valid"] = np.array(
            [combined_validity(measure, v, r, q)[0] is True for v, r, q in rows.select("valid", "reason", "q").rows()]
        )
        out[measure], pvalues[measure] = pick, pick["p"]
    return out, pvalues


def coverage(truth: float, lo: np.ndarray, hi: np.ndarray, eps: float = 1e-9) -> tuple[float, float, int]:
    """Share of intervals holding the truth, its binomial SE, and how many intervals."""
    ok = ~np.isnan(lo) & ~np.isnan(hi)
    if not ok.any():
        return np.nan, np.nan, 0
    hit = (lo[ok] - eps <= truth) & (truth <= hi[ok] + eps)
    share = hit.mean()
    return share, np.sqrt(share * (1 - share) / ok.sum()), int(ok.sum())


def cell(truth: float | None, got: dict) -> str:
    if truth is None or np.isnan(truth):
        return "no population value"
    share, se, n = coverage(truth, got["lo"], got["hi"])
    valid = got["valid"]
    if valid.all():
        return f"{100 * share:.1f} ± {100 * se:.1f}"
    if not valid.any():
        return f"flagged ({100 * share:.0f} if used)"
    v_share, v_se, v_n = coverage(truth, got["lo"][valid], got["hi"][valid])
    return f"{100 * v_share:.1f} ± {100 * v_se:.1f} ({100 * valid.mean():.0f}% valid; all {100 * share:.0f})"


def table(results: dict, truths: dict) -> list[str]:
    types = [u for u in UNIT_TYPES if u.name in results]
    header = "| measure | " + " | ".join(u.label for u in types) + " |"
    lines = [header, "| --- " * (len(types) + 1) + "|"]
    for measure in VALUE_MEASURES:
        cells = [cell(truths[u.name].get(measure), results[u.name][measure]) for u in types]
        lines.append(f"| {measure} | " + " | ".join(cells) + " |")
    return lines


RANGE = {"ccmas": (-1.0, 1.0), "ccmas_morcos": (-1.0, 1.0)}  # every other measure: [0, 1]


def outside_band(results: dict, truths: dict, band=(0.93, 0.97)) -> list[str]:
    """Why a valid cell lies outside the band: where its intervals sit (at the measure's bound, a
    single point) and on which side of the population value the estimates and the misses fall."""
    lines = [
        "| measure | unit type | coverage | lo at range min | hi at range max | lo = hi | estimate > truth"
        " | missed (hi < truth) | missed (lo > truth) |",
        "| --- " * 9 + "|",
    ]
    for measure in VALUE_MEASURES:
        for name, got in results.items():
            truth, valid = truths[name].get(measure), got[measure]["valid"]
            if truth is None or np.isnan(truth) or not valid.any():
                continue
            lo, hi, est = (got[measure][c][valid] for c in ("lo", "hi", "estimate"))
            share, _, _ = coverage(truth, lo, hi)
            if band[0] <= share <= band[1]:
                continue
            low, high = RANGE.get(measure, (0.0, 1.0))
            shares = [lo <= low, hi >= high, lo == hi, est > truth, hi < truth - 1e-9, lo > truth + 1e-9]
            cells = " | ".join(f"{100 * x.mean():.0f}%" for x in shares)
            lines.append(f"| {measure} | {name} | {100 * share:.1f} | {cells} |")
    return lines


def null_pvalues(pvalues: dict) -> list[str]:
    lines = ["| measure (null unit) | share p <= 0.05 | KS p (uniform) |", "| --- | --- | --- |"]
    for measure in CONTINUOUS:
        p = pvalues[measure][~np.isnan(pvalues[measure])]
        share = (p <= 0.05).mean()
        lines.append(
            f"| {measure} | {100 * share:.1f}% ± {100 * np.sqrt(share * (1 - share) / p.size):.1f} |"
            f" {stats.kstest(p, 'uniform').pvalue:.2f} |"
        )
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=200, help="for the p-values and the validity flags")
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--truth-samples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--types", help="comma-separated unit types (default: all; --write needs all)")
    parser.add_argument("--write", type=Path, help="replace the table between the markers in this file")
    args = parser.parse_args(argv)
    labels = np.repeat(np.arange(K), PER_CLASS)
    started = time.perf_counter()
    results, truths, pvalues = {}, {}, None
    chosen = [u for u in UNIT_TYPES if not args.types or u.name in args.types.split(",")]
    for unit in chosen:
        truths[unit.name] = population_values(unit, labels, args.truth_samples)
        results[unit.name], got_p = run_type(
            unit, labels, args.samples, args.bootstrap, args.permutations, args.chunk, args.seed
        )
        pvalues = got_p if unit.name == "null" else pvalues
        print(f"{unit.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    lines = [
        f"{args.samples:,} samples per cell (10 classes x {PER_CLASS} images), B = {args.bootstrap} bootstrap"
        f" replicates, nominal level 95%; coverage in % ± binomial SE.",
        "",
        *table(results, truths),
        "",
        "Valid cells outside 93-97%, and where their intervals sit (shares of the valid samples):",
        "",
        *outside_band(results, truths),
        "",
        f"P-values of the null unit ({args.permutations} permutations, {args.samples:,} samples):",
        "",
        *(null_pvalues(pvalues) if pvalues else []),
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        doc = args.write.read_text(encoding="utf-8")
        head, rest = doc.split(BEGIN, 1)
        args.write.write_text(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")


if __name__ == "__main__":
    main()
