"""Memory units: selectivity per time step and per list length, selectively on and off.

The pooled runs of the control label each recorded step with one word, which
cannot see a unit that holds a word in memory: such a unit is on from the
word's presentation to the end of the list, whatever the step is about. This
module looks the way the Bowers-lab replication code does (one analysis per
time step, Selectivity/RNN_sel.py in github.com/Nickdotmartin/library) and
adds the class space a memory unit needs:

- 'word': the word the step is about (presented at an encode step, to be
  recalled at a serial recall step; a free-recall recall step has none);
- 'word-in-list': each vocabulary word its own yes/no class, 'in this list'
  against 'not in it', at every step from the last presentation on (before
  it, a later word is in the list but not yet seen);
- 'letter-slotN': the letter in slot N of the word the step is about.

Per (list length, step, class space, unit) the best class is found twice:
selectively on (every member above every non-member; margin = lowest member
minus highest non-member) and selectively off (every member below every
non-member; margin = lowest non-member minus highest member). A unit is
localist at a step when its margin is > 0, and is counted at the thresholds
0, 0.1, ..., 0.5 (margin > 0, then margin >= t). Only the lists the network
recalled correctly are used. A unit localist at every step of its list length
in one class space, for the same class and direction, is flagged
`same_every_step` and counted apart (such a unit may simply follow one input
feature). A step at which the network can be in only one state per class
(the first step, from a fixed start state; every step of a one-word list)
separates classes by construction, its margins aside: `trivial` says so, and
the dose-response counts such steps apart.

`MemoryRows` is what the analysis needs; it is built from a recording
(`rows_from_recording`), from a word activation file (`rows_from_file`) or by
the planted-unit generator (seldb.control.planted_memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from seldb.control.task import ENCODE, LAYER, RECALL

MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
WORD, IN_LIST = "word", "word-in-list"


def margin_column(t: float) -> str:
    return f"m{int(round(t * 10)):02d}"  # m00, m01, ..., m05


@dataclass(frozen=True)
class MemoryRows:
    """One row per recorded step; lists in order, each list step by step."""

    hidden: np.ndarray  # (rows, units)
    list_id: np.ndarray  # (rows,)
    phase: np.ndarray  # (rows,) ENCODE or RECALL
    position: np.ndarray  # (rows,) list position the step is about, -1 for a free-recall recall step
    list_words: np.ndarray  # (rows, longest) the step's list, padded with -1
    correct: np.ndarray  # (rows,) the list was recalled correctly
    letters_of: np.ndarray  # (n_words, slots)

    @property
    def length(self) -> np.ndarray:
        return (self.list_words >= 0).sum(axis=1)

    @property
    def word_at_step(self) -> np.ndarray:
        pos = np.maximum(self.position, 0)
        word = np.take_along_axis(self.list_words, pos[:, None], axis=1)[:, 0]
        return np.where(self.position >= 0, word, -1)


def step_name(phase: int, position: int) -> str:
    """'encode1', 'recall2', and 'recall' for the one recall step of free recall."""
    if phase == ENCODE:
        return f"encode{position + 1}"
    return "recall" if position < 0 else f"recall{position + 1}"


def _step_index(rows: MemoryRows, keep: np.ndarray) -> np.ndarray:
    """(rows,) index of each row's step within its list (rows go list by list, step by step)."""
    index = np.zeros(len(keep), np.int64)
    change = np.r_[True, rows.list_id[1:] != rows.list_id[:-1]]
    start = np.maximum.accumulate(np.where(change, np.arange(len(keep)), 0))
    index[:] = np.arange(len(keep)) - start
    return index


def class_margins(values: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    """Best on and off margin and class per unit for one label per row; classes absent from the rows skipped.

    Returns (on_margin, on_class, off_margin, off_class), each (units,); margins NaN when fewer than two
    classes are present.
    """
    present = np.unique(labels[labels >= 0])
    units = values.shape[1]
    if len(present) < 2:
        nan = np.full(units, np.nan)
        return nan, np.full(units, -1), nan, np.full(units, -1)
    cmax = np.stack([values[labels == c].max(axis=0) for c in present])  # (C, U)
    cmin = np.stack([values[labels == c].min(axis=0) for c in present])
    on = cmin - _others(cmax, np.max)
    off = _others(cmin, np.min) - cmax
    return (*_best(on, present), *_best(off, present))


def _others(per_class: np.ndarray, reduce) -> np.ndarray:
    """For each class, the max (min) of the other classes' values, per unit."""
    order = np.argsort(per_class, axis=0)
    if reduce is np.max:
        first, second = order[-1], order[-2]
    else:
        first, second = order[0], order[1]
    cols = np.arange(per_class.shape[1])
    top, runner = per_class[first, cols], per_class[second, cols]
    classes = np.arange(per_class.shape[0])[:, None]
    return np.where(classes == first[None, :], runner[None, :], top[None, :])


def set_margins(values: np.ndarray, members: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """As class_margins, for yes/no classes that may overlap (members[c]: (rows,) bool)."""
    units = values.shape[1]
    usable = [c for c, m in enumerate(members) if m.any() and not m.all()]
    if not usable:
        nan = np.full(units, np.nan)
        return nan, np.full(units, -1), nan, np.full(units, -1)
    on = np.stack([values[members[c]].min(axis=0) - values[~members[c]].max(axis=0) for c in usable])
    off = np.stack([values[~members[c]].min(axis=0) - values[members[c]].max(axis=0) for c in usable])
    classes = np.array(usable)
    return (*_best(on, classes), *_best(off, classes))


def _best(margins: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i = np.argmax(margins, axis=0)
    return margins[i, np.arange(margins.shape[1])], classes[i]


def _spaces_at_step(rows: MemoryRows, sel: np.ndarray, from_last: bool) -> dict[str, tuple[str, object]]:
    """Class spaces defined at these rows: name -> ('labels', labels) or ('sets', members)."""
    spaces: dict[str, tuple[str, object]] = {}
    word = rows.word_at_step[sel]
    if (word >= 0).all():
        spaces[WORD] = ("labels", word)
        for s in range(rows.letters_of.shape[1]):
            spaces[f"letter-slot{s + 1}"] = ("labels", rows.letters_of[word, s])
    if from_last:
        lists = rows.list_words[sel]
        spaces[IN_LIST] = ("sets", [(lists == w).any(axis=1) for w in range(rows.letters_of.shape[0])])
    return spaces


@dataclass(frozen=True)
class MemoryAnalysis:
    units: pl.DataFrame  # length, step, step_index, class_space, unit, on_/off_ margin and class, best_*
    steps: pl.DataFrame  # length, step, class_space: rows, lists, trivial, counts per direction and margin

    def as_json(self, keep_units: bool = True) -> dict:
        """For runs.options: the per-step counts, and (keep_units) every unit localist at some step."""
        stored: dict = {"margins": list(MARGINS), "steps": self.steps.to_dicts()}
        if keep_units and not self.units.is_empty():
            localist = self.units.filter(pl.col("best_margin") > 0).select(
                "length",
                "step",
                "class_space",
                "unit",
                "direction",
                "best_class",
                pl.col("best_margin").round(6),
                "same_every_step",
            )
            stored["units"] = {c: localist[c].to_list() for c in localist.columns}
        return stored


def analyse(rows: MemoryRows) -> MemoryAnalysis:
    """Per list length and step, over the lists recalled correctly: every unit's best on and off class."""
    keep = rows.correct
    index = _step_index(rows, keep)
    length = rows.length
    unit_parts, step_rows = [], []
    n_units = rows.hidden.shape[1]
    for n in sorted(np.unique(length[keep]).tolist()):
        mine = keep & (length == n)
        last_encode = int(index[mine & (rows.phase == ENCODE)].max())
        for i in sorted(np.unique(index[mine]).tolist()):
            sel = mine & (index == i)
            phase, position = int(rows.phase[sel][0]), int(rows.position[sel][0])
            values = rows.hidden[sel].astype(np.float64)
            distinct = len(np.unique(values.round(5), axis=0))  # batched float32 may differ in the last bits
            for space, (kind, data) in _spaces_at_step(rows, sel, i >= last_encode).items():
                if kind == "labels":
                    labels = np.asarray(data)
                    n_classes = len(np.unique(labels))
                    on_m, on_c, off_m, off_c = class_margins(values, labels, int(labels.max()) + 1)
                else:
                    members = list(data)  # type: ignore[call-overload]
                    n_classes = sum(1 for m in members if m.any() and not m.all())
                    on_m, on_c, off_m, off_c = set_margins(values, members)
                step = step_name(phase, position)
                frame = pl.DataFrame(
                    {
                        "length": np.full(n_units, n),
                        "step": [step] * n_units,
                        "step_index": np.full(n_units, i),
                        "class_space": [space] * n_units,
                        "unit": np.arange(n_units),
                        "on_margin": on_m,
                        "on_class": on_c,
                        "off_margin": off_m,
                        "off_class": off_c,
                    }
                )
                unit_parts.append(frame)
                step_rows.append(
                    {
                        "length": n,
                        "step": step,
                        "step_index": i,
                        "class_space": space,
                        "rows": int(sel.sum()),
                        "n_classes": n_classes,
                        "distinct_states": distinct,
                        "trivial": bool(distinct <= n_classes),
                    }
                )
    if not unit_parts:
        return MemoryAnalysis(pl.DataFrame(), pl.DataFrame())
    units = _with_best(pl.concat(unit_parts))
    steps = pl.DataFrame(step_rows).join(_counts(units), on=["length", "step", "class_space"], how="left")
    return MemoryAnalysis(units, steps.sort("length", "step_index", "class_space"))


def _with_best(units: pl.DataFrame) -> pl.DataFrame:
    on = pl.col("on_margin").fill_nan(None).fill_null(-np.inf)
    off = pl.col("off_margin").fill_nan(None).fill_null(-np.inf)
    best = (
        units.with_columns(
            direction=pl.when(on >= off).then(pl.lit("on")).otherwise(pl.lit("off")),
            best_margin=pl.max_horizontal(on, off),
        )
        .with_columns(best_class=pl.when(pl.col("direction") == "on").then("on_class").otherwise("off_class"))
        .with_columns(localist=pl.col("best_margin") > 0)
    )
    keys = ["length", "class_space", "unit"]
    same = best.group_by(keys).agg(
        (
            (pl.len() >= 2)
            & pl.col("localist").all()
            & (pl.col("best_class").n_unique() == 1)
            & (pl.col("direction").n_unique() == 1)
        ).alias("same_every_step")
    )
    return best.join(same, on=keys, how="left")


def passes(t: float) -> pl.Expr:
    return pl.col("best_margin") > 0 if t == 0 else pl.col("best_margin") >= t - 1e-12


def _counts(units: pl.DataFrame) -> pl.DataFrame:
    aggs = []
    for t in MARGINS:
        for direction in ("on", "off"):
            hit = passes(t) & (pl.col("direction") == direction)
            aggs.append((hit & ~pl.col("same_every_step")).sum().alias(f"n_{direction}_{margin_column(t)}"))
            aggs.append((hit & pl.col("same_every_step")).sum().alias(f"n_same_{direction}_{margin_column(t)}"))
    best = pl.col("best_margin").filter(pl.col("best_margin").is_finite()).max().round(6).alias("best_margin")
    return units.group_by("length", "step", "class_space").agg(*aggs, best)


def rows_from_recording(rec, letters_of: np.ndarray, correct: np.ndarray) -> MemoryRows:
    """From a seldb.control.record.Recording; `correct`: (rows,) its list was recalled correctly."""
    list_id = np.array([int(p.split("/")[0][4:]) for p in rec.paths])
    return MemoryRows(rec.hidden, list_id, rec.phase, rec.position, rec.list_words, correct, letters_of)


def rows_from_file(path: str | Path) -> MemoryRows:
    """From a control word activation file: lists from the encode rows, 'recalled correctly' from the answers.

    A list counts as recalled correctly when every recall row of it was answered right (the file's
    /images/pred equals its label), as the import's filter counts a step.
    """
    from seldb.h5.reader import ActivationFile

    with ActivationFile(path) as afile:
        hidden = afile.read_units(LAYER, 0, afile.layers[LAYER].n_units)
        labels, preds = np.asarray(afile.labels), afile.preds
        paths = [p.decode() if isinstance(p, bytes) else str(p) for p in afile.paths or []]
        words = list(afile.class_names)
    parsed = [p.split("/") for p in paths]
    list_id = np.array([int(a[4:]) for a, _, _ in parsed])
    phase = np.array([ENCODE if s.startswith("encode") else RECALL for _, _, s in parsed])
    position = np.array([int(s[6:]) - 1 if s[6:] else -1 for _, _, s in parsed])
    lengths = np.array([int(length[1:]) for _, length, _ in parsed])
    longest = int(lengths.max())
    list_words = np.full((len(paths), longest), -1, np.int64)
    right = preds == labels if preds is not None else np.ones(len(paths), bool)
    correct = np.ones(len(paths), bool)
    for lid in np.unique(list_id):
        mine = list_id == lid
        encode = mine & (phase == ENCODE)
        row = np.full(longest, -1, np.int64)
        row[position[encode]] = labels[encode]
        list_words[mine] = row
        correct[mine] = right[mine & (phase == RECALL)].all()
    letters_of = np.array([[ord(ch) - ord("a") for ch in w] for w in words], np.int64)
    return MemoryRows(hidden, list_id, phase, position, list_words, correct, letters_of)
