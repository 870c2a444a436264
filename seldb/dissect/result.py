"""What a dissection returns: every (unit, label) IoU with its counts, and each unit's best labels.

This is the seam to the database: plain arrays per layer plus two polars
frames in long form, one row per (layer, unit, label) and one per (layer,
unit, category), which the integration step loads into tables; nothing here
knows about runs or connections. Units are 0-based, as in seldb's tables
(tally.csv's are 1-based; seldb.dissect.tallycsv converts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from seldb.dissect.rules import DissectRules
from seldb.dissect.tally import BestLabels, Scores


@dataclass(frozen=True)
class LayerDissection:
    layer: str  # the name asked for (conv5)
    module: str  # the module recorded (features.11)
    map_shape: tuple[int, int, int]  # (units, h, w)
    thresholds: np.ndarray  # (units,) float64
    scores: Scores
    best: BestLabels
    active_pairs: int  # (image, unit) pairs whose map exceeded the threshold somewhere

    @property
    def n_units(self) -> int:
        return self.map_shape[0]


@dataclass(frozen=True)
class DissectResult:
    dataset: str  # the Broden directory
    fingerprint: str  # sha256 of its index.csv, label.csv and category.csv
    categories: tuple[str, ...]
    n_images: int
    quantile: float
    label_names: list[str]  # by label number
    primary: np.ndarray  # (L,) category index of each label
    in_categories: np.ndarray  # (L,) the label belongs to a chosen category (and is in label.csv)
    layers: dict[str, LayerDissection]
    rules: DissectRules = field(default_factory=DissectRules)  # union, upsampling and threshold rules

    def label_numbers(self) -> np.ndarray:
        """The labels reported: in label.csv and in one of the chosen categories."""
        return np.flatnonzero(self.in_categories)

    def labels_frame(self) -> pl.DataFrame:
        """One row per (layer, unit, label): category, label, iou, intersection, union, activation, truth, threshold."""
        numbers = self.label_numbers()
        frames = [self._layer_labels(d, numbers) for d in self.layers.values()]
        return pl.concat(frames) if frames else pl.DataFrame()

    def _layer_labels(self, d: LayerDissection, numbers: np.ndarray) -> pl.DataFrame:
        n_units, n_labels = d.n_units, len(numbers)
        s = d.scores
        names = np.array(self.label_names, dtype=object)[numbers]
        categories = np.array(self.categories, dtype=object)[self.primary[numbers]]
        return pl.DataFrame(
            {
                "layer": [d.layer] * (n_units * n_labels),
                "unit": np.repeat(np.arange(n_units, dtype=np.int32), n_labels),
                "category": np.tile(categories, n_units).tolist(),
                "label": np.tile(names, n_units).tolist(),
                "label_number": np.tile(numbers.astype(np.int32), n_units),
                "iou": s.iou[:, numbers].ravel(),
                "intersection": s.intersection[:, numbers].ravel(),
                "union": s.union[:, numbers].ravel().astype(np.int64),
                "activation": s.activation[:, numbers].ravel(),
                "truth": np.tile(s.truth[numbers], n_units),
                "threshold": np.repeat(d.thresholds, n_labels),
            }
        )

    def best_frame(self) -> pl.DataFrame:
        """One row per (layer, unit, category): its best label (null when no IoU is above 0), IoU, is_top."""
        frames = [self._layer_best(d) for d in self.layers.values()]
        return pl.concat(frames) if frames else pl.DataFrame()

    def _layer_best(self, d: LayerDissection) -> pl.DataFrame:
        n_cats, n_units = d.best.label.shape
        labels = d.best.label.T.ravel()  # unit-major: unit 0's categories first
        ious = d.best.iou.T.ravel()
        names = [self.label_names[n] if iou > 0 else None for n, iou in zip(labels.tolist(), ious.tolist())]
        return pl.DataFrame(
            {
                "layer": [d.layer] * (n_units * n_cats),
                "unit": np.repeat(np.arange(n_units, dtype=np.int32), n_cats),
                "category": list(self.categories) * n_units,
                "label": pl.Series(names, dtype=pl.String),
                "label_number": pl.Series(
                    [n if iou > 0 else None for n, iou in zip(labels.tolist(), ious.tolist())], dtype=pl.Int32
                ),
                "iou": ious,
                "is_top": (np.arange(n_cats)[None, :] == d.best.top_category[:, None]).ravel(),
                "threshold": np.repeat(d.thresholds, n_cats),
            }
        )

    def top_frame(self) -> pl.DataFrame:
        """Each unit's top label (tally.csv's category, label, score)."""
        return self.best_frame().filter(pl.col("is_top")).rename({"iou": "score"})
