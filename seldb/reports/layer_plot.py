"""Box plots of one measure across layers (the paper's Figure 2), from seldb.layer_summary.

The boxes are drawn from the view's numbers (matplotlib's `bxp` takes
precomputed statistics), not from the units: quartiles and median as the
box, min and max as the whiskers, the mean as a diamond. So the picture shows
exactly what the table says, and plotting needs no pass over the units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from seldb.db.read import Run
from seldb.figures import CLASS_COLOUR, new_figure, safe_name, save

NOTE = "box: quartiles, line: median, diamond: mean, whiskers: min and max (seldb.layer_summary)"
BOX = {"facecolor": "#c6dbef", "edgecolor": "#3a3a3a"}
MEDIAN = {"color": CLASS_COLOUR, "linewidth": 2}
CHANCE_COLOUR = "#9a9a9a"
CHANCE_NOTE = ";\nshaded: chance band, the 95th-99th percentile under shuffled labels (seldb.layer_measure_null)"
MEAN = {"marker": "D", "markerfacecolor": "black", "markeredgecolor": "black", "markersize": 5}


def _box(row: dict) -> dict | None:
    if not row["n_units"] or row["median"] is None or math.isnan(row["median"]):
        return None
    return {
        "label": row["layer"],
        "med": row["median"],
        "q1": row["q25"],
        "q3": row["q75"],
        "whislo": row["min"],
        "whishi": row["max"],
        "mean": row["mean"],
        "fliers": [],
    }


def _draw_band(ax, band: pl.DataFrame | None, measure: str, shown: Sequence[str]) -> list[dict]:
    """The chance band behind each layer's box: shaded from the null's 95th to its 99th percentile
    ('less' measures: 5th to 1st), from seldb.layer_measure_null; nothing without permutations."""
    if band is None or band.is_empty():
        return []
    rows = {r["layer"]: r for r in band.filter(pl.col("measure") == measure).iter_rows(named=True)}
    drawn: list[dict] = []
    for i, name in enumerate(shown):
        r = rows.get(name)
        if r is None or r["band_95"] is None:
            continue
        lo, hi = sorted((r["band_95"], r["band_99"]))
        ax.fill_between(
            [i + 0.6, i + 1.4],
            lo,
            max(hi, lo),
            color=CHANCE_COLOUR,
            alpha=0.35,
            linewidth=0,
            zorder=0,
            label="chance band" if not drawn else None,
        )
        ax.hlines(r["band_95"], i + 0.6, i + 1.4, colors=CHANCE_COLOUR, linestyles="--", linewidth=1, zorder=0)
        drawn.append(r)
    if drawn:
        ax.legend(loc="best", fontsize=7, frameon=False)
    return drawn


def plot_measure(
    rows: pl.DataFrame, layers: Sequence[str], measure: str, png: Path, run: Run, band: pl.DataFrame | None = None
) -> list[Path]:
    """One PNG (and sidecar) of `measure`'s distribution in every layer, layers in network order;
    with `band` (seldb.reports.intervals.chance_band) the chance band behind the boxes."""
    by_layer = {r["layer"]: r for r in rows.filter(pl.col("measure") == measure).iter_rows(named=True)}
    shown = [name for name in layers if name in by_layer]
    figure = new_figure(max(5.0, 1.0 * len(shown) + 2.0), 4.6)
    ax = figure.add_subplot()
    boxes = [(i + 1, _box(by_layer[name])) for i, name in enumerate(shown)]
    drawn = [(pos, box) for pos, box in boxes if box is not None]
    if drawn:
        ax.bxp(
            [box for _, box in drawn],
            positions=[pos for pos, _ in drawn],
            showmeans=True,
            widths=0.55,
            patch_artist=True,
            boxprops=BOX,
            medianprops=MEDIAN,
            meanprops=MEAN,
        )
    chance = _draw_band(ax, band, measure, shown)
    ax.set_xticks(range(1, len(shown) + 1), [f"{name}\nn={by_layer[name]['n_units']}" for name in shown])
    ax.set_xlim(0.4, len(shown) + 0.6)
    ax.set_xlabel("layer")
    ax.set_ylabel(measure)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"{measure} per layer\n{run.name}", fontsize=11)
    figure.supxlabel(
        NOTE + (CHANCE_NOTE if chance else ""), fontsize=7, color="#555555"
    )  # a caption that constrained layout makes room for
    sidecar = {
        "kind": "layer_boxplot",
        "run_id": run.run_id,
        "model": run.model,
        "measure": measure,
        "source": "seldb.layer_summary",
        "x_label": "layer",
        "y_label": measure,
        "whiskers": "min and max",
        "layers": [by_layer[name] for name in shown],
    }
    if chance:
        sidecar["chance_band"] = {"source": "seldb.layer_measure_null", "layers": chance}
    return save(figure, png, sidecar)


def plot_layer_boxes(
    rows: pl.DataFrame,
    layers: Sequence[str],
    measures: Sequence[str],
    out_dir: Path,
    run: Run,
    band: pl.DataFrame | None = None,
) -> list[Path]:
    """One box-plot PNG per measure in out_dir, named layers-run<ID>-<measure>.png."""
    paths: list[Path] = []
    for measure in measures:
        png = out_dir / f"layers-run{run.run_id}-{safe_name(measure)}.png"
        paths += plot_measure(rows, layers, measure, png, run, band)
    return paths
