"""Intersection and union counts per (unit, label), IoU and best labels, as NetDissect-Lite defines them.

NetDissect-Lite's `tally_job`, restated per image (docs/dissect.md has the
derivation and the places where its text and code differ):

- a unit takes part in an image only if its map's maximum exceeds its
  threshold; its map is resized to the segmentation's size (PIL bilinear,
  seldb.dissect.upsample) and its *thresholded pixels* are those above the
  threshold (n of them);
- intersection[unit, label] += the thresholded pixels carrying the label,
  counted once per label plane (a pixel labelled in two planes counts twice);
  a whole-image label (scene, texture) gets all n;
- truth[label] += the label's pixels (per plane), or sh x sw for a whole-image
  label; pixel label 0 means unlabelled and counts nowhere;
- activation[unit, category] += n when the category is *present under the
  unit's thresholded pixels* (some thresholded pixel carries a label whose
  primary category it is) or the image has a whole-image label of it;
- IoU[unit, label] = intersection / (activation[unit, primary(label)] +
  truth[label] - intersection + 1e-10).

`--union annotated` (the 2017 code) and `--union all` (davidbau/dissect)
change only the activation term's condition (seldb.dissect.rules); `--upsample
receptive-field` only the resize.

Per category, a unit's best label is the argmax of IoU over the labels whose
primary category it is (the lowest label number on ties, label 0 - name '' -
when every IoU is 0); its top category is the last of the tied best
categories after numpy's argsort, as in NetDissect-Lite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seldb.dissect.broden import ImageLabels
from seldb.dissect.upsample import resize_maps

EPSILON = 1e-10  # NetDissect-Lite's guard in the IoU denominator


@dataclass(frozen=True)
class ImageIndex:
    """One image's labels arranged for the tally; built once and shared by every layer."""

    labels: np.ndarray  # (K,) label numbers present in the pixel planes (0 excluded)
    columns: np.ndarray  # (planes, pixels): each pixel's index into `labels`, K where unlabelled
    pixel_counts: np.ndarray  # (K,) int64: the labels' pixels summed over planes
    label_categories: np.ndarray  # (K, categories) int64 one-hot of each label's primary category
    scalars: np.ndarray  # (S,) whole-image labels, repeats kept
    scalar_categories: np.ndarray  # (categories,) how many whole-image labels have each primary category
    sh: int
    sw: int


def index_image(labels: ImageLabels, primary: np.ndarray, n_categories: int) -> ImageIndex:
    numbers = np.unique(labels.channels)
    numbers = numbers[numbers != 0]
    columns = np.searchsorted(numbers, labels.channels).astype(np.int32)
    columns[labels.channels == 0] = len(numbers)
    scalars = np.asarray(labels.scalars, dtype=np.int64)
    return ImageIndex(
        labels=numbers.astype(np.int64),
        columns=columns,
        pixel_counts=np.bincount(columns.ravel(), minlength=len(numbers) + 1)[:-1].astype(np.int64),
        label_categories=np.eye(n_categories, dtype=np.int64)[primary[numbers]],
        scalars=scalars,
        scalar_categories=np.bincount(primary[scalars], minlength=n_categories).astype(np.int64),
        sh=labels.sh,
        sw=labels.sw,
    )


def add_truth(truth: np.ndarray, index: ImageIndex) -> None:
    """truth[label] += the label's pixels in this image (per plane; sh x sw per whole-image label)."""
    truth[index.labels] += index.pixel_counts
    np.add.at(truth, index.scalars, index.sh * index.sw)


def _inside(above: np.ndarray, index: ImageIndex) -> np.ndarray:
    """(A, K): per active unit, its thresholded pixels carrying each label, summed over planes."""
    units, pixels = np.nonzero(above)
    width = len(index.labels) + 1  # the last column collects unlabelled pixels
    counts = np.zeros(above.shape[0] * width, np.int64)
    for plane in index.columns:
        counts += np.bincount(units * width + plane[pixels].astype(np.int64), minlength=len(counts))
    return counts.reshape(above.shape[0], width)[:, :-1]


def annotated_categories(index: ImageIndex) -> np.ndarray:
    """(categories,) bool: a label of the category has pixels in the image, or is a whole-image label
    (2017's `count_act_with_labelcat`: dot(ground-truth counts, labelcat) > 0, label 0 in no category)."""
    return (index.pixel_counts @ index.label_categories + index.scalar_categories) > 0


class LayerTally:
    """Running intersection and per-category activation counts of one layer's units.

    union (seldb.dissect.rules): in which images a unit's thresholded pixels count towards a category's
    union - "lite" (the category occurs under them), "annotated" (it is annotated in the image) or "all".
    resize: (maps, sh, sw) -> the maps at the segmentation's size (default: PIL's bilinear, Lite's).
    """

    def __init__(
        self,
        thresholds: np.ndarray,
        n_labels: int,
        n_categories: int,
        union: str = "lite",
        resize: Callable[[np.ndarray, int, int], np.ndarray] = resize_maps,
    ):
        self.union, self.resize = union, resize
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        n_units = len(self.thresholds)
        self.intersection = np.zeros((n_units, n_labels), np.int64)
        self.activation = np.zeros((n_units, n_categories), np.int64)
        self.active_pairs = 0  # (image, unit) pairs whose map exceeded the threshold somewhere

    def add(self, maps: np.ndarray, index: ImageIndex) -> None:
        """Count one image: maps is (units, h, w) float32 for that image."""
        peaks = maps.reshape(len(maps), -1).max(axis=1)
        active = np.flatnonzero(peaks > self.thresholds)
        if not active.size:
            return
        self.active_pairs += active.size
        resized = self.resize(maps[active], index.sh, index.sw)
        above = resized.reshape(active.size, -1) > self.thresholds[active, None]
        counts = above.sum(axis=1)
        hits = np.broadcast_to(index.scalar_categories, (active.size, len(index.scalar_categories))).copy()
        if index.labels.size:
            inside = _inside(above, index)
            self.intersection[np.ix_(active, index.labels)] += inside
            hits += inside @ index.label_categories
        for label in index.scalars:
            self.intersection[active, label] += counts
        if self.union == "annotated":
            hits = np.broadcast_to(annotated_categories(index), hits.shape)
        elif self.union == "all":
            hits = np.ones_like(hits)
        self.activation[active] += counts[:, None] * (hits > 0)


@dataclass(frozen=True)
class Scores:
    """IoU and its parts for every (unit, label) of one layer, on the dense label axis (0 = unlabelled)."""

    intersection: np.ndarray  # (U, L) int64
    activation: np.ndarray  # (U, L) the unit's pixels in images where the label's category counts
    truth: np.ndarray  # (L,) int64
    iou: np.ndarray  # (U, L) float64

    @property
    def union(self) -> np.ndarray:
        return self.activation + self.truth[None, :] - self.intersection


def scores(tally: LayerTally, truth: np.ndarray, primary: np.ndarray) -> Scores:
    activation = tally.activation[:, primary]  # each label takes its primary category's count
    both = tally.intersection.astype(np.float64)
    iou = both / (activation + truth[None, :].astype(np.float64) - both + EPSILON)
    return Scores(tally.intersection, activation, truth, iou)


@dataclass(frozen=True)
class BestLabels:
    """Per (category, unit): best label number and its IoU; per unit: top category; units by score."""

    label: np.ndarray  # (categories, U) label numbers
    iou: np.ndarray  # (categories, U)
    top_category: np.ndarray  # (U,)
    order: np.ndarray  # units, best top score first (tally.csv's row order)


def best_labels(iou: np.ndarray, primary: np.ndarray, n_categories: int) -> BestLabels:
    per_category = np.array([iou * (primary == c)[None, :] for c in range(n_categories)])  # (C, U, L)
    label = per_category.argmax(axis=2)
    best = np.take_along_axis(per_category, label[:, :, None], axis=2)[:, :, 0]
    # numpy's argsort reversed, exactly NetDissect-Lite's tie rules for the top category and row order
    top_category = best.argsort(axis=0)[::-1][0]
    order = best.max(axis=0).argsort()[::-1]
    return BestLabels(label, best, top_category, order)
