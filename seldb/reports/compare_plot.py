"""Paired box plots of two runs, one panel per measure, from seldb.run_measure_summary's numbers.

Boxes are drawn with matplotlib's `bxp` from the view's quartiles, median,
min and max (as seldb.reports.layer_plot does), so the figure shows exactly
what the report's table says.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from seldb.figures import new_figure, save

MEASURES = ["precision_60", "ccmas", "localist_margin", "recall_p1", "max_informedness", "mi_false_discovery_rate"]
COLOURS = {"a": "#c6dbef", "b": "#fdd0a2"}
NOTE = "box: quartiles, line: median, whiskers: min and max over live units (seldb.run_measure_summary)"


def _box(row: dict, side: str, label: str) -> dict | None:
    median = row.get(f"median_{side}")
    if median is None or (isinstance(median, float) and math.isnan(median)):
        return None
    return {
        "label": label,
        "med": median,
        "q1": row[f"q25_{side}"],
        "q3": row[f"q75_{side}"],
        "whislo": row[f"min_{side}"],
        "whishi": row[f"max_{side}"],
        "fliers": [],
    }


def plot_compare(paired: pl.DataFrame, png: Path, tag_a: str, tag_b: str) -> list[Path]:
    figure = new_figure(13, 3.6)
    axes = figure.subplots(1, len(MEASURES))
    first = {r["measure"]: r for r in reversed(paired.rows(named=True))}  # one row per measure
    for ax, measure in zip(axes, MEASURES, strict=True):
        row = first.get(measure)
        ax.set_title(measure, fontsize=9)
        if row is None:
            continue
        for pos, side in ((1, "a"), (2, "b")):
            box = _box(row, side, side.upper())
            if box is None:
                continue
            ax.bxp([box], positions=[pos], widths=0.6, showfliers=False, patch_artist=True,
                   boxprops={"facecolor": COLOURS[side], "edgecolor": "#3a3a3a"},
                   medianprops={"color": "#b2182b", "linewidth": 2})  # fmt: skip
        ax.set_xticks([1, 2], ["A", "B"])
        ax.set_xlim(0.4, 2.6)
    figure.suptitle(f"{tag_a}   vs   {tag_b}", fontsize=9)
    figure.supxlabel(NOTE, fontsize=8)
    return save(figure, png, {"a": tag_a, "b": tag_b, "summary": paired.to_dicts()})
