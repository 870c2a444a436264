"""One unit's activations, image by image, for plotting: exact or from the database's histograms.

A jitterplot needs every image's activation. The exact values live in the
run's activation file (runs.source_file), of which the run used the images
marked analysed; when that file is gone, moved or no longer matches the run,
the database still holds each (unit, class)'s quantised histogram with the
exact count of zeros (seldb.unit_histograms), from which every image can be
placed at its bin's centre. `Points.source` says which one a plot used, and
`Points.note` why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from seldb.errors import SeldbError

FILE = "activation_file"
HISTOGRAMS = "database_histograms"


@dataclass
class Points:
    activation: np.ndarray  # float64, one per analysed image
    class_index: np.ndarray  # int, the image's class
    source: str  # FILE or HISTOGRAMS
    note: str  # where the values came from, in words


@dataclass(frozen=True)
class Bins:
    lo: float
    width: float
    n: int

    @classmethod
    def of(cls, histograms: pl.DataFrame) -> Bins:
        first = histograms.row(0, named=True)
        return cls(float(first["bin_lo"]), float(first["bin_width"]), int(first["n_bins"]))

    def index(self, values: np.ndarray) -> np.ndarray:
        """measures.md's rule: bin = min(B - 1, floor((a - lo) / w)); one bin when w = 0."""
        if self.width == 0:
            return np.zeros(values.shape, dtype=np.int64)
        return np.minimum(self.n - 1, np.floor((values - self.lo) / self.width)).astype(np.int64)

    def centres(self) -> np.ndarray:
        return self.lo + (np.arange(self.n) + 0.5) * self.width

    def counts(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.index(values), minlength=self.n)[: self.n]


def exact_points(conn: sa.Connection, run_id: int, layer: str, unit: int) -> tuple[Points | None, str]:
    """The analysed images' exact activations from the run's activation file, or (None, why not)."""
    from seldb.h5.reader import ActivationFile  # h5py only when a plot asks for it

    source = conn.execute(sa.text("SELECT source_file FROM seldb.runs WHERE run_id = :r"), {"r": run_id}).scalar()
    if not source or not Path(source).is_file():
        return None, f"the run's activation file {source or '(none recorded)'} is not there"
    # per-image flags are not in any view; the run's own table says which images it analysed
    query = "SELECT label, analysed FROM seldb_store.run_images WHERE run_id = :r ORDER BY image_index"
    images = conn.execute(sa.text(query), {"r": run_id}).all()
    labels = np.array([row.label for row in images], dtype=np.int64)
    analysed = np.array([row.analysed for row in images], dtype=bool)
    try:
        with ActivationFile(source) as afile:
            if layer not in afile.layers or afile.n_images != labels.size or not np.array_equal(afile.labels, labels):
                return None, f"the activation file {source} no longer matches the run"
            values = afile.read_units(layer, unit, unit + 1)[:, 0].astype(np.float64)
    except SeldbError as exc:
        return None, f"the activation file cannot be read ({exc})"
    note = f"exact activations of the {int(analysed.sum())} analysed images, from {source}"
    return Points(values[analysed], labels[analysed], FILE, note), ""


def histogram_points(histograms: pl.DataFrame) -> Points:
    """Every analysed image at its bin's centre, exact zeros at 0, from seldb.unit_histograms rows."""
    bins = Bins.of(histograms)
    centres = bins.centres() if bins.width > 0 else np.array([bins.lo])
    zero_bin = int(bins.index(np.array([0.0]))[0])
    xs, cs = [], []
    for row in histograms.iter_rows(named=True):
        counts = np.asarray(row["counts"], dtype=np.int64)
        n_zero = int(row["n_zero"] or 0)
        if n_zero and 0 <= zero_bin < counts.size:
            counts = counts.copy()
            counts[zero_bin] -= min(n_zero, counts[zero_bin])  # the zeros get their exact place below
        xs += [np.repeat(centres[: counts.size], counts), np.zeros(n_zero)]
        cs.append(np.full(int(counts.sum()) + n_zero, row["class_index"], dtype=np.int64))
    note = f"quantised: {bins.n} bins per class from the database, points at bin centres, exact zeros at 0"
    activation = np.concatenate(xs) if xs else np.empty(0)
    return Points(activation, np.concatenate(cs) if cs else np.empty(0, np.int64), HISTOGRAMS, note)
