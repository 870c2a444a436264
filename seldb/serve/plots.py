"""Plots for the pages, drawn on demand by the reports' own code and kept on disk.

A unit's Figure-3 plot (jitterplot and histogram, seldb.reports.unit_plot)
reads the run's activation file when it is there and the stored histograms
otherwise; a layer's box plot (seldb.reports.layer_plot) reads
seldb.layer_summary. Drawing takes a fraction of a second to a few seconds,
so a page asks for its plot separately and each PNG is drawn once: its file
name is a digest of everything that decides the picture (run, unit, class,
where the points come from, the AM image shown beside it; for box plots the
measure, dead units, and when the chance band was computed). Runs never
change once imported, so a cached plot is only stale when one of those
inputs changes, and then its name changes too.

Matplotlib is not thread-safe: one lock serialises drawing; a request
waiting on it finds the file made by the first when it gets its turn.

The cache is bounded (`max_bytes`, 256 MiB by default): after each new plot
the oldest plots are removed until it fits again, so no number of distinct
requests can fill the disk (a removed plot is drawn again when asked for). The folder is checked when the app
is made: a file, or a folder seldb cannot write, is refused in one line
before the server starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from seldb.db.database import Database
from seldb.db.read import Run
from seldb.errors import InputError

_DRAWING = threading.Lock()
MAX_CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Plot:
    png: Path
    sidecar: dict  # what the report's JSON sidecar says was drawn (source of the points, lines, counts)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:24]


def _read_sidecar(png: Path) -> dict:
    try:
        return json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _adopt(made: list[Path], target: Path) -> None:
    """Move a freshly drawn PNG and its sidecar to their cache names (sidecar first: the PNG marks completion)."""
    png = next(p for p in made if p.suffix == ".png")
    os.replace(png.with_suffix(".json"), target.with_suffix(".json"))
    os.replace(png, target)


def _usable_folder(root: Path) -> Path:
    """`root` made if need be, and written to once; otherwise one InputError line naming it."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()
    except FileExistsError:
        raise InputError(f"--cache {root}: not a folder (plots are kept in a folder of their own)") from None
    except OSError as exc:
        raise InputError(f"--cache {root}: plots cannot be kept there ({exc.strerror or exc})") from None
    return root


class PlotCache:
    """PNGs under `root`, one directory per run, at most `max_bytes` of them (the oldest go first)."""

    def __init__(self, root: str | os.PathLike, max_bytes: int = MAX_CACHE_BYTES):
        self.root = _usable_folder(Path(root))
        self.max_bytes = max_bytes

    def _draw(self, target: Path, draw) -> Plot:
        if target.is_file():
            return Plot(target, _read_sidecar(target))
        with _DRAWING:
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                scratch = Path(tempfile.mkdtemp(prefix=".drawing-", dir=target.parent))
                try:
                    _adopt(draw(scratch), target)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
                self._evict(keep=target)
            plot = Plot(target, _read_sidecar(target))
        return plot

    def _evict(self, keep: Path) -> None:
        """Remove the oldest plots (PNG and sidecar) until the cache holds at most max_bytes."""
        plots = []
        for png in self.root.glob("run*/*.png"):
            try:
                sizes = [png.stat()] + [s for s in [_stat(png.with_suffix(".json"))] if s]
            except OSError:
                continue
            plots.append((sizes[0].st_mtime_ns, sum(s.st_size for s in sizes), png))
        total = sum(size for _, size, _ in plots)
        for _, size, png in sorted(plots):
            if total <= self.max_bytes:
                break
            if png != keep:
                png.unlink(missing_ok=True)  # the PNG first: it marks a complete plot
                png.with_suffix(".json").unlink(missing_ok=True)
                total -= size

    def unit_plot(self, db: Database, run: Run, layer: str, unit: int, class_label: str) -> Plot:
        """The unit's Figure-3 PNG for `class_label`, drawn once."""
        from seldb.reports.unit_plot import plot_unit

        with db.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            inputs = _unit_inputs(conn, run.run_id, layer, unit)
        target = self.root / f"run{run.run_id}" / f"unit-{_digest(layer, unit, class_label, *inputs)}.png"

        def draw(out: Path) -> list[Path]:  # a connection only while drawing, not while waiting for the lock
            with db.connect() as conn:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                return plot_unit(conn, run, layer, unit, class_label, out)

        return self._draw(target, draw)

    def box_plot(self, db: Database, run: Run, measure: str, include_dead: bool) -> Plot:
        """The box plot of `measure` across the run's layers (Figure 2), drawn once."""
        with db.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            band = conn.execute(
                sa.text("SELECT max(computed_at) FROM seldb.uncertainty_layers WHERE run_id = :r"), {"r": run.run_id}
            ).scalar()
        target = self.root / f"run{run.run_id}" / f"layers-{_digest(measure, include_dead, band)}.png"

        def draw(out: Path) -> list[Path]:
            from seldb.reports.layers import layers_report

            return layers_report(db, run.run_id, [measure], plot=True, out_dir=out, include_dead=include_dead).files

        return self._draw(target, draw)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _unit_inputs(conn: sa.Connection, run_id: int, layer: str, unit: int) -> tuple:
    """What besides the unit and class decides its plot: whether the activation file is there, the AM image."""
    from seldb.reports.am_panels import latest_image  # the image the plot draws beside the points

    source = conn.execute(
        sa.text("SELECT source_file, source_sha256 FROM seldb.runs WHERE run_id = :r"), {"r": run_id}
    ).first()
    try:  # the file as it is now: a file replaced or removed since gives another picture, and another name
        stat = os.stat(source.source_file) if source and source.source_file else None
    except OSError:
        stat = None
    am = latest_image(conn, run_id, layer, unit)
    return (stat and (stat.st_size, stat.st_mtime_ns), am["sha256"] if am else None)
