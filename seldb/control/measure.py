"""Per-unit measures of the control's activation files, without a database.

`unit_frame` does for the control's files what an import followed by a
query of seldb.unit_measures does: it computes every measure of every hidden
unit per class space and tags the rows with the network's condition, seed
and cell, in the frame `summarize_control` takes. Tests, the benchmark and
the docs use it; with a database, the runs are imported instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from seldb.control.task import LAYER
from seldb.h5.reader import ActivationFile
from seldb.measures import compute_block


def file_units(path, only_correct: bool = True) -> pl.DataFrame:
    """Every unit measure of the file's hidden layer; by default over the steps the network got right."""
    with ActivationFile(path) as afile:
        values = afile.read_units(LAYER, 0, afile.layers[LAYER].n_units)
        keep = afile.preds == afile.labels if (only_correct and afile.preds is not None) else slice(None)
        return compute_block(values[keep], afile.labels[keep], afile.n_classes).units


def unit_frame(networks: Iterable, only_correct: bool = True) -> pl.DataFrame:
    """One row per (network, class space, unit): measures plus cell, condition, seed, class_space, model."""
    frames = []
    for net in networks:
        for space, path in net.files.items():
            meta = dict(cell=net.cell, condition=net.condition, seed=net.seed, class_space=space, model=net.model_name)
            frames.append(file_units(path, only_correct).with_columns(**{k: pl.lit(v) for k, v in meta.items()}))
    return pl.concat(frames)
