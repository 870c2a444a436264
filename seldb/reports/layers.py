"""`seldb report layers`: every measure's distribution per layer (the paper's Figure 2).

Reads seldb.layer_summary (n, mean, sem, median, quartiles, min, max per
layer and measure; the view computes them in SQL) and, with plot=True,
draws one box-plot PNG per measure across layers from those same numbers
(seldb.reports.layer_plot), so the figure and the table cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from seldb import catalogue
from seldb.db.database import Database
from seldb.db.read import by_layer, dead_note, frame, layer_order, resolve_run
from seldb.errors import InputError, did_you_mean
from seldb.reports.base import Report, Section
from seldb.reports.intervals import chance_band

COLUMNS = ["layer", "measure", "n_units", "mean", "sem", "median", "q25", "q75", "min", "max"]


def check_measures(measures: Sequence[str] | None, known: Sequence[str] | None = None) -> list[str]:
    """The measures asked for, in report order (default: seldb.layer_summary's); an unknown name is one line."""
    known = catalogue.summarised() if known is None else known
    if not measures:
        return list(known)
    for name in measures:
        if name not in known:
            raise InputError(f"unknown measure {name!r}{did_you_mean(name, list(known))}; known: {', '.join(known)}")
    return [m for m in known if m in measures]


def layers_report(
    db: Database,
    run: int | None = None,
    measures: Sequence[str] | None = None,
    plot: bool = False,
    out_dir: str | Path = ".",
    include_dead: bool = False,
) -> Report:
    """Per layer and measure: n, mean, sem, median, quartiles, min, max over the live units (every unit
    with include_dead); plot=True adds box plots."""
    wanted = check_measures(measures)
    view = "layer_summary_with_dead" if include_dead else "layer_summary"
    with db.connect() as conn:
        r = resolve_run(conn, run)
        rows = frame(
            conn,
            f"SELECT {', '.join(COLUMNS)} FROM seldb.{view} WHERE run_id = :r AND measure = ANY(:m)",
            {"r": r.run_id, "m": wanted},
        )
        layers = layer_order(conn, r.run_id)
        notes = dead_note(conn, r.run_id, include_dead)
        band = chance_band(conn, r.run_id, wanted) if plot else None
    by_measure = pl.col("measure").replace_strict({m: i for i, m in enumerate(wanted)}, return_dtype=pl.Int32)
    rows = rows.sort(by_measure, by_layer(layers))
    title = f"Measures per layer (Figure 2): {r.name}"
    report = Report("layers", title, r.run_id, [Section("layers", title, rows)], notes=notes)
    if plot:
        from seldb.reports.layer_plot import plot_layer_boxes  # matplotlib only when asked

        report.files = plot_layer_boxes(rows, layers, wanted, Path(out_dir), r, band)
    return report
