"""Two checks of the control's design, stored with each run: selectivity per step, and of what is held.

The runs analyse every recorded step together, each labelled with the word
the step is about. Two other ways of looking are recorded beside them, so
that the report can show whether the choice hides selective units:

- per step (`step_analysis`): the rows of one step kind only (encode1,
  encode2, ..., recall1, ...), each labelled with the word (letter) of that
  step, as the Bowers-lab replication code analyses its networks (one
  selectivity analysis per time step; Bowers et al. 2014 used the first).
  A step kind at which the network can only be in one state per word (the
  first step of a list, from the fixed start state) makes every unit
  'localist' trivially: `distinct_states` and `n_classes` show it.
- what is held (`held_analysis`): a step under superposition holds several
  words at once (every word presented and not yet recalled), which one label
  per row cannot say. Here each word (letter in a slot) is its own yes/no
  class, 'held at this step' against 'not held', and a unit counts when
  every step holding the word beats every step not holding it; once over all
  steps and once over the memory period (the recall steps) alone.

Both count only the steps the network got right, as the import does.

`unit_frame` computes the per-unit measures of a control activation file
without a database (the same numbers the import stores).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import numpy as np
import polars as pl

from seldb.control.task import ENCODE, LAYER, RECALL, Vocabulary, class_spaces, step_plan
from seldb.h5.reader import ActivationFile
from seldb.measures import compute_block

MARGIN = 0.1  # a second, stricter count: localist margin at least this (the replication counts from 0 to 0.5)


def step_name(phase: int, position: int) -> str:
    """'encode1', 'recall2', ...: a step kind (position 0-based)."""
    return f"{'encode' if phase == ENCODE else 'recall'}{position + 1}"


def _summary(values: np.ndarray, labels: np.ndarray, n_classes: int) -> dict:
    units = compute_block(values, labels, n_classes).units
    margin = units["localist_margin"].fill_nan(None)
    best = margin.max()
    return {
        "rows": int(len(labels)),
        "n_classes": int(len(np.unique(labels))),
        "distinct_states": int(len(np.unique(values, axis=0))),
        "n_localist": int(units["is_localist"].fill_null(False).sum()),
        "n_margin_01": int((margin.fill_null(-1.0) >= MARGIN).sum()),
        "best_margin": None if best is None else round(float(cast(float, best)), 6),
    }


def step_analysis(rec, vocab: Vocabulary) -> dict[str, list[dict]]:
    """{class space: [one summary per step kind, encode steps first]} over the steps answered right."""
    kinds = sorted(set(zip(rec.phase.tolist(), rec.position.tolist())))  # encode (0) before recall (1)
    result = {}
    for name, space in class_spaces(vocab, rec.words, rec.pred_words, rec.pred_letters).items():
        rows = []
        for phase, position in kinds:
            keep = (rec.phase == phase) & (rec.position == position) & (space.answers == space.labels)
            if keep.any():
                summary = _summary(rec.hidden[keep], space.labels[keep], len(space.names))
                rows.append({"step": step_name(phase, position), **summary})
        result[name] = rows
    return result


def held_positions(rec, condition: str) -> np.ndarray:
    """(rows, longest list) True where that list position's word is held at the row's step.

    Held: presented at this step or before, and not recalled before this step.
    """
    held = np.zeros(rec.list_words.shape, bool)
    lengths = rec.length
    for n in np.unique(lengths):
        position, phase = step_plan(condition, int(n))
        for t in range(len(position)):
            presented = set(position[: t + 1][phase[: t + 1] == ENCODE].tolist())
            recalled = set(position[:t][phase[:t] == RECALL].tolist())
            rows = (lengths == n) & (rec.position == position[t]) & (rec.phase == phase[t])
            held[np.ix_(rows, sorted(presented - recalled))] = True
    return held


def held_margins(values: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(units,) lowest activation of the rows holding the class minus the highest of the rows not holding it."""
    if member.all() or not member.any():
        return np.full(values.shape[1], np.nan)
    return values[member].min(axis=0) - values[~member].max(axis=0)


def _held_summary(values: np.ndarray, held_codes: list[np.ndarray]) -> dict:
    """held_codes: per yes/no class, (rows,) True where it is held; a unit counts for its best class."""
    margins = np.stack([held_margins(values, member) for member in held_codes])  # (classes, units)
    best = np.nanmax(margins, axis=0) if np.isfinite(margins).any() else np.full(values.shape[1], np.nan)
    finite = best[np.isfinite(best)]
    return {
        "rows": int(len(values)),
        "n_localist": int((best > 0).sum()),
        "n_margin_01": int((best >= MARGIN).sum()),
        "best_margin": round(float(finite.max()), 6) if finite.size else None,
    }


def held_analysis(rec, vocab: Vocabulary, condition: str) -> dict[str, dict[str, dict]]:
    """{'all_steps' | 'memory_period': {'word' | 'letter-slotN': summary}} over the steps answered right."""
    held = held_positions(rec, condition)
    right = (rec.pred_letters == vocab.letters_of[rec.words]).all(axis=1)
    padded_letters = np.where(rec.list_words[..., None] >= 0, vocab.letters_of[np.maximum(rec.list_words, 0)], -1)
    result = {}
    for period, rows in (("all_steps", right), ("memory_period", right & (rec.phase == RECALL))):
        hidden, held_here = rec.hidden[rows], held[rows]
        words = [((rec.list_words[rows] == w) & held_here).any(axis=1) for w in range(vocab.n_words)]
        summary = {"word": _held_summary(hidden, words)}
        for s in range(vocab.n_slots):
            letters = [((padded_letters[rows, :, s] == c) & held_here).any(axis=1) for c in range(vocab.n_letters)]
            summary[f"letter-slot{s + 1}"] = _held_summary(hidden, letters)
        result[period] = summary
    return result


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
