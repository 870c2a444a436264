"""Units whose selectivity is known by construction, to check that seldb finds what is there.

Three kinds, each planted for a chosen class c:

- 'localist': every item of c is above every other item (the grandmother
  cell of Bowers et al. 2014): is_localist, recall at precision 1 = 1,
  max informedness = 1, precision_60 = 1.
- 'precise-not-recall': the paper's 'detector' that is not one. The 60 top
  items are all of class c, so precision_60 = 1, but the rest of c is mixed
  with everything else, and the 61st item is not of c, so recall at
  precision 1 is exactly 60 / items per class (below 0.1 with 700 per class).
- 'distributed': every class's items come from overlapping normal
  distributions with slightly different means; nothing is selective.

`classify` names a unit's kind from its measures with the paper's
thresholds, so a test (or the demo) can say that every unit came out as
planted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from seldb.h5.reader import write_activation_file

KINDS = ("localist", "precise-not-recall", "distributed")
TOP = 60  # the precision criterion's k


@dataclass(frozen=True)
class PlantedUnits:
    values: np.ndarray  # (items, units) float64
    labels: np.ndarray  # (items,) class index
    kinds: list[str]  # per unit
    classes: list[int | None]  # the planted class per unit (None for distributed)
    n_classes: int

    @property
    def per_class(self) -> int:
        return int(self.labels.shape[0] // self.n_classes)


def _localist(rng, labels, c):
    a = rng.uniform(0.0, 1.0, labels.shape[0])
    a[labels == c] = rng.uniform(1.5, 2.5, int((labels == c).sum()))
    return a


def _precise_not_recall(rng, labels, c):
    a = rng.uniform(0.0, 1.0, labels.shape[0])
    members = np.flatnonzero(labels == c)
    a[rng.choice(members, TOP, replace=False)] = rng.uniform(10.0, 11.0, TOP)
    a[rng.choice(np.flatnonzero(labels != c))] = 5.0  # the 61st item is from another class
    return a


def _distributed(rng, labels, n_classes):
    means = rng.uniform(0.0, 0.5, n_classes)
    return means[labels] + rng.normal(0.0, 1.0, labels.shape[0])


def planted_units(n_classes: int = 10, per_class: int = 700, per_kind: int = 4, seed: int = 0) -> PlantedUnits:
    """per_kind units of each kind, planted classes cycling through the classes; items ordered by class."""
    if per_class <= TOP / 0.1:
        raise ValueError(f"per_class {per_class}: must exceed {int(TOP / 0.1)} for recall at precision 1 below 0.1")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), per_class)
    columns, kinds, classes = [], [], []
    for i in range(per_kind):
        c = i % n_classes
        columns += [
            _localist(rng, labels, c),
            _precise_not_recall(rng, labels, c),
            _distributed(rng, labels, n_classes),
        ]
        kinds += list(KINDS)
        classes += [c, c, None]
    return PlantedUnits(np.stack(columns, axis=1), labels, kinds, classes, n_classes)


def classify(units: pl.DataFrame) -> list[str]:
    """Each unit's kind from its measures (rows in unit order), with the thresholds the paper uses."""
    kinds = []
    for row in units.sort("unit").iter_rows(named=True):
        if row["is_localist"]:
            kinds.append("localist")
        elif row["precision_60"] > 0.75 and row["recall_p1"] < 0.1:
            kinds.append("precise-not-recall")
        elif row["precision_60"] <= 0.75 and row["recall_p1"] < 0.5 and row["max_informedness"] < 0.5:
            kinds.append("distributed")
        else:
            kinds.append("other")
    return kinds


def write_planted_file(path: str | Path, planted: PlantedUnits) -> Path:
    """The planted units as an activation file (layer 'planted'), e.g. to import them into a database."""
    return write_activation_file(
        path,
        class_names=[f"class{c}" for c in range(planted.n_classes)],
        labels=planted.labels.astype(np.int32),
        layers={"planted": planted.values.astype(np.float32)},
        model="planted-units",
        dataset="planted",
    )
