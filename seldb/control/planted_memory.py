"""Recordings with planted memory units: the control's own task, units of known kind and margin.

Before the control's analysis may say that a network has no grandmother
cell, it must find one that is there. `planted_memory` lays out the steps of
the control's task (free or serial recall, any list lengths, the test lists
of seldb.control.task.balanced_lists) and builds hidden units by hand:

- 'memory' (word w): on from w's presentation to the end of the list;
- 'off' (word w): the same unit upside down, selectively off;
- 'position' (word w, list position p): on from w's presentation at p to the end of the list;
- 'letter' (letter l, slot s): on at the steps whose word has l in slot s;
- 'distributed': noise around a slightly different mean per word;
- 'dead': the same value at every step.

An 'on' step of a selective unit draws from [lo + m, 1] and an 'off' step from
[0, lo], lo = (1 - m) / 2, so its margin is at least its built margin m.
Each planted unit lists where seldb.control.memory must find it (list
length, step, class space, class, direction). `write_planted_memory` writes the
rows as the control's activation files (the word, the letter in each slot),
so the same check runs on files and, imported, in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seldb.control.memory import IN_LIST, WORD, MemoryRows, step_name
from seldb.control.task import ENCODE, LAYER, RECALL, Vocabulary, balanced_lists, task_plan
from seldb.h5.reader import write_activation_file

MEMORY_KINDS = ("memory", "off", "position", "letter", "distributed", "dead")
BUILT_MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class PlantedUnit:
    kind: str
    cls: int | None  # word (memory, off, position) or letter (letter)
    margin: float | None
    slot: int | None = None  # letter units
    list_position: int | None = None  # position units
    expected: list[tuple[int, str, str, int, str]] = field(default_factory=list)  # length, step, space, class, dir


@dataclass(frozen=True)
class PlantedMemory:
    rows: MemoryRows
    units: list[PlantedUnit]
    task: str
    condition: str
    vocab: Vocabulary


def _lists_and_steps(task: str, condition: str, lengths, n_words: int, repeats: int, rng):
    """Rows list by list, step by step: list id, phase, position, padded list."""
    longest = max(lengths)
    ids, phases, positions, padded = [], [], [], []
    first = 0
    for n in lengths:
        lists = balanced_lists(rng, n_words, n, repeats)
        position, phase = task_plan(task, condition, n)
        for k, words in enumerate(lists):
            row = np.full(longest, -1, np.int64)
            row[:n] = words
            ids += [first + k] * len(position)
            phases.append(phase)
            positions.append(position)
            padded += [row] * len(position)
        first += len(lists)
    return np.array(ids), np.concatenate(phases), np.concatenate(positions), np.stack(padded)


def _from_presentation(ids: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """(rows,) True from the first row of a list with `hit` to the end of that list (rows list by list)."""
    change = np.r_[True, ids[1:] != ids[:-1]]
    start = np.maximum.accumulate(np.where(change, np.arange(len(ids)), 0))
    counted = np.cumsum(hit)
    return counted - (counted[start] - hit[start]) > 0


def _fill(rng, on: np.ndarray, margin: float) -> np.ndarray:
    lo = (1.0 - margin) / 2.0
    values = rng.uniform(0.0, lo, len(on))
    values[on] = rng.uniform(lo + margin, 1.0, int(on.sum()))
    return values


def planted_memory(
    task: str = "free",
    condition: str = "superposition",
    lengths=(1, 3, 5, 7),
    n_words: int = 30,
    n_letters: int = 10,
    n_slots: int = 3,
    repeats: int = 10,
    per_kind: int = 6,
    seed: int = 0,
) -> PlantedMemory:
    """per_kind units of every kind (built margins cycling through 0, 0.1, ..., 0.5) on the task's test lists."""
    from seldb.control.task import make_vocabulary

    vocab = make_vocabulary(n_words, n_letters, n_slots)
    rng = np.random.default_rng(seed)
    ids, phase, position, list_words = _lists_and_steps(task, condition, list(lengths), n_words, repeats, rng)
    pos = np.maximum(position, 0)
    word_at = np.where(position >= 0, np.take_along_axis(list_words, pos[:, None], axis=1)[:, 0], -1)
    step_of = _steps_by_length(task, condition, lengths)
    columns, units = [], []
    for i in range(per_kind):
        m = BUILT_MARGINS[i % len(BUILT_MARGINS)]
        w = (7 * i + 3) % n_words
        on = _from_presentation(ids, (phase == ENCODE) & (word_at == w))
        columns.append(_fill(rng, on, m))
        units.append(PlantedUnit("memory", w, m, expected=_in_list_steps(step_of, w, "on")))
        columns.append(1.0 - _fill(rng, on, m))
        units.append(PlantedUnit("off", w, m, expected=_in_list_steps(step_of, w, "off")))
        p = i % max(lengths)
        on = _from_presentation(ids, (phase == ENCODE) & (word_at == w) & (position == p))
        columns.append(_fill(rng, on, m))
        units.append(PlantedUnit("position", w, m, list_position=p, expected=_position_steps(step_of, w, p)))
        s, letter = i % n_slots, (3 * i + 1) % n_letters
        on = (word_at >= 0) & (vocab.letters_of[np.maximum(word_at, 0), s] == letter)
        columns.append(_fill(rng, on, m))
        units.append(PlantedUnit("letter", letter, m, slot=s, expected=_letter_steps(step_of, s, letter)))
        means = rng.uniform(0.4, 0.6, n_words + 1)
        columns.append(np.clip(means[word_at] + rng.normal(0.0, 0.15, len(phase)), 0.0, 1.0))
        units.append(PlantedUnit("distributed", None, None))
        columns.append(np.full(len(phase), 0.25))
        units.append(PlantedUnit("dead", None, None))
    hidden = np.stack(columns, axis=1).astype(np.float32)
    rows = MemoryRows(hidden, ids, phase, position, list_words, np.ones(len(ids), bool), vocab.letters_of)
    return PlantedMemory(rows, units, task, condition, vocab)


def _steps_by_length(task: str, condition: str, lengths) -> dict[int, list[tuple[str, int, int, bool]]]:
    """length -> [(step name, phase, position, from the last presentation on)]."""
    out = {}
    for n in lengths:
        position, phase = task_plan(task, condition, n)
        last = int(np.flatnonzero(phase == ENCODE).max())
        out[n] = [
            (step_name(int(ph), int(p)), int(ph), int(p), t >= last) for t, (p, ph) in enumerate(zip(position, phase))
        ]
    return out


def _in_list_steps(step_of, w: int, direction: str) -> list:
    return [(n, name, IN_LIST, w, direction) for n, steps in step_of.items() for name, _, _, late in steps if late]


def _position_steps(step_of, w: int, p: int) -> list:
    return [
        (n, name, WORD, w, "on")
        for n, steps in step_of.items()
        if n > p
        for name, phase, position, _ in steps
        if position == p and phase in (ENCODE, RECALL)
    ]


def _letter_steps(step_of, slot: int, letter: int) -> list:
    return [
        (n, name, f"letter-slot{slot + 1}", letter, "on")
        for n, steps in step_of.items()
        for name, _, position, _ in steps
        if position >= 0
    ]


def write_planted_memory(planted: PlantedMemory, out_dir: str | Path, stem: str = "planted") -> dict[str, Path]:
    """The control's files for the planted rows: the word and the letter in each slot; every answer right.

    A free-recall recall step is labelled with its list's first word (the file needs one label per row;
    seldb.control.memory reads the lists from the encode rows and never uses that label).
    """
    rows, vocab = planted.rows, planted.vocab
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    word = np.where(rows.position >= 0, rows.word_at_step, rows.list_words[:, 0])
    paths = [
        f"list{lid:05d}/L{n}/{step_name(int(ph), int(p))}"
        for lid, n, ph, p in zip(rows.list_id, rows.length, rows.phase, rows.position)
    ]
    spaces: dict[str, tuple[list[str], list[str] | None, np.ndarray]] = {WORD: (vocab.words, None, word)}
    for s in range(vocab.n_slots):
        slot_keys = [f"slot{s + 1}:{name}" for name in vocab.letter_names]
        spaces[f"letter-slot{s + 1}"] = (vocab.letter_names, slot_keys, vocab.letters_of[word, s])
    files = {}
    for name, (names, keys, labels) in spaces.items():
        files[name] = write_activation_file(
            out / f"{stem}_{name}.h5",
            class_names=names,
            class_keys=keys,
            labels=labels.astype(np.int32),
            preds=labels.astype(np.int32),
            layers={LAYER: rows.hidden},
            paths=paths,
            model=f"planted-{planted.task}",
            dataset=f"control-{name}",
        )
    return files


__all__ = ["MEMORY_KINDS", "PlantedMemory", "PlantedUnit", "planted_memory", "write_planted_memory", "RECALL"]
