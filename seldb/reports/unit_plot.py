"""The picture of one unit (the paper's Figure 3): a jitterplot of every image's
activation with one class highlighted, and that class's histogram, with the
class's max-informedness threshold and the top-60 threshold drawn on both.

The thresholds come from the views (seldb.unit_class_stats.mi_threshold for
the class, the 60th-ranked activation of seldb.unit_top_images), never from
the points, so a plot from the database's histograms marks them where an
exact plot does. The sidecar JSON lists the axes, lines, source and counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa
from matplotlib.ticker import MaxNLocator

from seldb.db.read import Run, frame
from seldb.errors import SeldbError
from seldb.figures import CLASS_COLOUR, LINE_STYLES, OTHER_COLOUR, new_figure, safe_name, save
from seldb.reports.unit_points import FILE, Bins, Points, exact_points, histogram_points

TOP_K = 60  # the precision criterion's k (Zhou et al. 2015)
MAX_CLASS_TICKS = 30  # name the classes on the y axis up to this many
DEAD_TITLE = "\nDEAD UNIT: never above its lowest value; no threshold separates any image"


@dataclass
class Line:
    kind: str  # "max_informedness_threshold" or "top60_threshold"
    x: float
    label: str


def _thresholds(conn: sa.Connection, run: Run, layer: str, unit: int, class_label: str) -> list[Line]:
    where = {"r": run.run_id, "l": layer, "u": unit}
    mi = conn.execute(
        sa.text(
            "SELECT mi_threshold FROM seldb.unit_class_stats"
            " WHERE run_id = :r AND layer = :l AND unit = :u AND class = :c"
        ),
        {**where, "c": class_label},
    ).scalar()
    top = conn.execute(
        sa.text(
            "SELECT rank, activation FROM seldb.unit_top_images WHERE run_id = :r AND layer = :l AND unit = :u"
            " AND rank <= :k ORDER BY rank DESC LIMIT 1"
        ),
        {**where, "k": TOP_K},
    ).first()
    lines = []
    if mi is not None:
        lines.append(Line("max_informedness_threshold", float(mi), f"max-informedness threshold of {class_label}"))
    if top is not None and top.activation is not None:
        label = f"top-{TOP_K} threshold (activation of rank {top.rank})"
        lines.append(Line("top60_threshold", float(top.activation), label))
    return lines


def _class_counts(points: Points, histograms: pl.DataFrame, bins: Bins, class_index: int) -> np.ndarray:
    """The class's histogram: from the exact values when the points are exact, else the stored counts."""
    if points.source == FILE:
        return bins.counts(points.activation[points.class_index == class_index])
    row = histograms.filter(pl.col("class_index") == class_index).row(0, named=True)
    return np.asarray(row["counts"], dtype=np.int64)


def plot_unit(
    conn: sa.Connection, run: Run, layer: str, unit: int, class_label: str, out_dir: str | Path, use_file: bool = True
) -> list[Path]:
    """Write unit-run<ID>-<unit>-<class>.png and its .json sidecar; returns both paths."""
    histograms = frame(
        conn,
        "SELECT * FROM seldb.unit_histograms WHERE run_id = :r AND layer = :l AND unit = :u ORDER BY class_index",
        {"r": run.run_id, "l": layer, "u": unit},
    )
    if histograms.is_empty():
        raise SeldbError(f"{layer}.{unit} of {run.name} has no stored histograms to plot")
    names = dict(zip(histograms["class_index"].to_list(), histograms["class"].to_list()))
    class_index = next(i for i, name in names.items() if name == class_label)
    points, why = exact_points(conn, run.run_id, layer, unit) if use_file else (None, "on request")
    points = points or histogram_points(histograms)
    if points.source != FILE:
        points.note += f" ({why})"
    bins = Bins.of(histograms)
    counts = _class_counts(points, histograms, bins, class_index)
    lines = _thresholds(conn, run, layer, unit, class_label)
    unit_label = f"{layer}.{unit}"
    dead = bool(
        conn.execute(
            sa.text("SELECT is_dead FROM seldb.unit_measures WHERE run_id = :r AND layer = :l AND unit = :u"),
            {"r": run.run_id, "l": layer, "u": unit},
        ).scalar()
    )
    from seldb.reports import am_panels as in_reports  # the unit's AM image, when `seldb am` made one

    am = in_reports.latest_image(conn, run.run_id, layer, unit)
    title = f"{unit_label}: {class_label}, {run.name}" + (DEAD_TITLE if dead else "")
    figure, axes = _draw(points, names, class_index, bins, counts, lines, title, am)
    sidecar = _sidecar(run, unit_label, class_label, points, bins, counts, lines, axes)
    sidecar["dead"] = dead
    if am is not None:
        sidecar["am_image"] = in_reports.sidecar(am)
    png = Path(out_dir) / f"unit-run{run.run_id}-{safe_name(unit_label)}-{safe_name(class_label)}.png"
    return save(figure, png, sidecar)


def _draw(
    points: Points,
    names: dict[int, str],
    class_index: int,
    bins: Bins,
    counts: np.ndarray,
    lines: list[Line],
    title: str,
    am: dict | None = None,
):
    figure = new_figure(10.0 if am is None else 13.0, 7.2)
    plots = figure
    if am is not None:  # the AM image in a panel on the right
        from seldb.reports.am_panels import draw_panel

        plots, side = np.asarray(figure.subfigures(1, 2, width_ratios=[10, 3])).ravel()
        draw_panel(side, am)
    jitter_ax, hist_ax = plots.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    _jitterplot(jitter_ax, points, names, class_index)
    _histogram(hist_ax, bins, counts, names[class_index])
    for ax in (jitter_ax, hist_ax):
        for line in lines:
            ax.axvline(line.x, label=f"{line.label}: {line.x:.4g}", **LINE_STYLES[line.kind])
        ax.grid(axis="x", alpha=0.25)
    hist_ax.set_xlabel("activation")
    figure.suptitle(title, fontsize=12)
    figure.legend(
        *jitter_ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=8, frameon=False
    )
    jitter_ax.set_title(f"points: {points.note}", fontsize=8, color="#444444", loc="left", wrap=True)
    return figure, {"jitterplot": jitter_ax, "histogram": hist_ax}


def _jitterplot(ax, points: Points, names: dict[int, str], class_index: int) -> None:
    rng = np.random.default_rng(0)  # the same picture every time
    y = points.class_index + rng.uniform(-0.38, 0.38, size=points.class_index.size)
    mine = points.class_index == class_index
    size = 4 if points.activation.size > 20_000 else 9
    ax.scatter(
        points.activation[~mine],
        y[~mine],
        s=size,
        c=OTHER_COLOUR,
        alpha=0.45,
        linewidths=0,
        label=f"other classes (n={int((~mine).sum())})",
        rasterized=True,
    )
    ax.scatter(
        points.activation[mine],
        y[mine],
        s=size * 2,
        c=CLASS_COLOUR,
        alpha=0.85,
        linewidths=0,
        label=f"{names[class_index]} (n={int(mine.sum())})",
        rasterized=True,
    )
    if len(names) <= MAX_CLASS_TICKS:
        ax.set_yticks(list(names), [names[i] for i in names], fontsize=8)
        ax.set_ylabel("class (jittered)")
    else:
        ax.set_ylabel(f"class index (jittered; {len(names)} classes)")
    ax.set_ylim(min(names) - 0.6, max(names) + 0.6)
    ax.invert_yaxis()


def _histogram(ax, bins: Bins, counts: np.ndarray, class_label: str) -> None:
    width = bins.width if bins.width > 0 else max(abs(bins.lo) * 0.05, 0.05)
    left = bins.lo + np.arange(counts.size) * bins.width
    ax.bar(left, counts, width=width, align="edge", color=CLASS_COLOUR, alpha=0.75, edgecolor="white", linewidth=0.5)
    ax.set_ylabel(f"images of {class_label}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of images


def _sidecar(
    run: Run,
    unit_label: str,
    class_label: str,
    points: Points,
    bins: Bins,
    counts: np.ndarray,
    lines: list[Line],
    axes: dict,
) -> dict:
    n_class, n_all = int(counts.sum()), int(points.activation.size)
    return {
        "kind": "unit_plot",
        "run_id": run.run_id,
        "model": run.model,
        "unit": unit_label,
        "class": class_label,
        "source": points.source,
        "source_note": points.note,
        "axes": [
            {"panel": name, "x_label": ax.get_xlabel() or "activation", "y_label": ax.get_ylabel()}
            for name, ax in axes.items()
        ],
        "lines": [{"kind": line.kind, "x": line.x, "label": line.label} for line in lines],
        "points": {"total": n_all, "class": n_class, "other": n_all - n_class},
        "histogram": {"bin_lo": bins.lo, "bin_width": bins.width, "n_bins": bins.n, "counts": counts.tolist()},
    }
