"""The immediate-serial-recall task of the superposition control, as plain numpy.

Words are letters in slots (three slots of ten letters by default), so one
word is three active input units and the same letter in another slot is
another unit. A trial presents a list of words one per step and then asks for
them back, one per step, while a recall cue unit is on. Everything here is
deterministic from a seed and needs no torch: the trainer and the recorder
both build their steps through `build_trials`, so they cannot disagree on what
a step means. docs/control.md says which parts follow the papers and which
are choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seldb.errors import InputError

CONDITIONS = ("superposition", "single")
TASKS = ("free", "serial")  # free: Bowers et al. (2014) free recall, one network per list length; serial: 0.2's task
ENCODE, RECALL = 0, 1
VOCABULARY_SEED = 2014  # the vocabulary is fixed, not drawn per run seed
LAYER = "hidden"  # the one recorded layer of every control network


@dataclass(frozen=True)
class Vocabulary:
    """Words as letter indices, shape (n_words, n_slots); letters are 'a', 'b', ..."""

    letters_of: np.ndarray
    n_letters: int

    @property
    def n_words(self) -> int:
        return int(self.letters_of.shape[0])

    @property
    def n_slots(self) -> int:
        return int(self.letters_of.shape[1])

    @property
    def letter_names(self) -> list[str]:
        return [chr(ord("a") + i) for i in range(self.n_letters)]

    @property
    def words(self) -> list[str]:
        names = self.letter_names
        return ["".join(names[i] for i in row) for row in self.letters_of]

    @property
    def n_inputs(self) -> int:
        """Letter-in-slot units plus the recall cue."""
        return self.n_slots * self.n_letters + 1


def make_vocabulary(
    n_words: int = 30, n_letters: int = 10, n_slots: int = 3, seed: int = VOCABULARY_SEED
) -> Vocabulary:
    """Distinct words in which every letter occurs equally often in every slot.

    Balance keeps every letter-in-slot class the same size, so the letter
    class spaces compare like with like; it needs n_words to be a multiple of
    n_letters.
    """
    if n_letters < 2 or n_letters > 26:
        raise InputError(f"letters {n_letters}: must be between 2 and 26")
    if n_slots < 1:
        raise InputError(f"slots {n_slots}: must be at least 1")
    if n_words < 2 or n_words % n_letters or n_words > n_letters**n_slots:
        raise InputError(
            f"words {n_words}: must be a multiple of letters ({n_letters}) and at most {n_letters}^{n_slots}"
        )
    rng = np.random.default_rng(seed)
    column = np.repeat(np.arange(n_letters), n_words // n_letters)
    for _ in range(10_000):
        letters_of = np.stack([rng.permutation(column) for _ in range(n_slots)], axis=1)
        if len(np.unique(letters_of, axis=0)) == n_words:
            return Vocabulary(letters_of.astype(np.int64), n_letters)
    raise InputError(f"no balanced vocabulary of {n_words} distinct words found")  # pragma: no cover


def sample_lists(rng: np.random.Generator, n_lists: int, length: int, n_words: int) -> np.ndarray:
    """n_lists lists of `length` distinct words each, shape (n_lists, length)."""
    keys = rng.random((n_lists, n_words))
    return np.argsort(keys, axis=1)[:, :length].astype(np.int64)


def step_plan(condition: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each step of a trial: which list position it is about and whether it encodes or recalls.

    superposition: all words in, then all words back (several held at once).
    single: each word in and straight back out, so at most one is held.
    """
    positions = np.arange(length)
    if condition == "superposition":
        return np.concatenate([positions, positions]), np.repeat([ENCODE, RECALL], length)
    if condition == "single":
        return np.repeat(positions, 2), np.tile([ENCODE, RECALL], length)
    raise InputError(f"condition {condition!r}: expected one of {', '.join(CONDITIONS)}")


def free_plan(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Free recall (Bowers et al. 2014): the words one per step, then one recall step (position -1) at which
    every word of the list must be on at the output."""
    return np.r_[np.arange(length), -1], np.r_[np.full(length, ENCODE), RECALL]


def task_plan(task: str, condition: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(position, phase) of every step of a trial of `task` ('free' ignores the condition)."""
    if task == "free":
        return free_plan(length)
    if task == "serial":
        return step_plan(condition, length)
    raise InputError(f"task {task!r}: expected one of {', '.join(TASKS)}")


def balanced_lists(rng: np.random.Generator, n_words: int, length: int, repeats: int) -> np.ndarray:
    """repeats * n_words lists in which each word appears once at each position per repeat.

    Repeat r takes a random order sigma_r of the words and lists sigma_r[i], sigma_r[i+1], ... (mod n_words)
    for i = 0 .. n_words - 1, so words never repeat within a list and which words share a list changes from
    one repeat to the next.
    """
    if not 1 <= length <= n_words:
        raise InputError(f"list length {length}: must be between 1 and {n_words}")
    offsets = (np.arange(n_words)[:, None] + np.arange(length)[None, :]) % n_words
    return np.concatenate([rng.permutation(n_words)[offsets] for _ in range(repeats)]).astype(np.int64)


@dataclass(frozen=True)
class Trials:
    """A batch of equally long trials, time-major like torch's recurrent layers."""

    inputs: np.ndarray  # (steps, batch, n_inputs) float32
    targets: np.ndarray  # (steps, batch, n_slots) letter index the output must name
    words: np.ndarray  # (steps, batch) the word each step is about
    position: np.ndarray  # (steps,) its list position, 0-based
    phase: np.ndarray  # (steps,) ENCODE or RECALL


def build_trials(vocab: Vocabulary, lists: np.ndarray, condition: str) -> Trials:
    """Inputs and targets of every step; the output names the step's word in both phases."""
    batch, length = lists.shape
    position, phase = step_plan(condition, length)
    words = lists[:, position].T  # (steps, batch)
    targets = vocab.letters_of[words]  # (steps, batch, slots)
    inputs = np.zeros((len(position), batch, vocab.n_inputs), np.float32)
    slot_offset = np.arange(vocab.n_slots) * vocab.n_letters
    encode = np.flatnonzero(phase == ENCODE)
    for t in encode:
        units = targets[t] + slot_offset  # (batch, slots)
        np.put_along_axis(inputs[t], units, 1.0, axis=1)
    inputs[phase == RECALL, :, -1] = 1.0
    return Trials(inputs, targets, words, position, phase)


@dataclass(frozen=True)
class FreeTrials:
    """Free recall: the words one per step, then the recall cue; the target is every word of the list."""

    inputs: np.ndarray  # (length + 1, batch, n_inputs) float32
    targets: np.ndarray  # (batch, n_words) float32, 1 for the words of the list


def build_free_trials(vocab: Vocabulary, lists: np.ndarray) -> FreeTrials:
    batch, length = lists.shape
    inputs = np.zeros((length + 1, batch, vocab.n_inputs), np.float32)
    slot_offset = np.arange(vocab.n_slots) * vocab.n_letters
    for t in range(length):
        np.put_along_axis(inputs[t], vocab.letters_of[lists[:, t]] + slot_offset, 1.0, axis=1)
    inputs[length, :, -1] = 1.0
    targets = np.zeros((batch, vocab.n_words), np.float32)
    np.put_along_axis(targets, lists, 1.0, axis=1)
    return FreeTrials(inputs, targets)


WORD_SPACE = "word"


def letter_space(slot: int) -> str:
    """Class-space name of the letter in slot `slot` (0-based), e.g. 'letter-slot1'."""
    return f"letter-slot{slot + 1}"


@dataclass(frozen=True)
class ClassSpace:
    """One way of labelling the recorded steps: class names (and keys), each step's label and the answer given."""

    names: list[str]
    keys: list[str] | None
    labels: np.ndarray  # (rows,)
    answers: np.ndarray  # (rows,) the class the network's output named at that step


def class_spaces(
    vocab: Vocabulary, words: np.ndarray, pred_words: np.ndarray, pred_letters: np.ndarray
) -> dict[str, ClassSpace]:
    """The word, and the letter in each slot, of the word each step is about."""
    spaces = {WORD_SPACE: ClassSpace(vocab.words, None, words, pred_words)}
    for s in range(vocab.n_slots):
        keys = [f"slot{s + 1}:{name}" for name in vocab.letter_names]
        spaces[letter_space(s)] = ClassSpace(vocab.letter_names, keys, vocab.letters_of[words, s], pred_letters[:, s])
    return spaces
