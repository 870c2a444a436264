"""Recording a trained recall network as ordinary seldb activation files.

The network recalls a fixed, seeded set of balanced test lists (per length,
each word once at each position per repeat: `balanced_test_lists`); the hidden layer is kept at
every step, since at every step at least one word is held: the word just
presented, or the word to be recalled. Under superposition the recall steps
(the memory period) hold every word of the list not yet recalled, with single
words only the one. One row per step, one column per hidden unit, labelled
with the word the step is about (seldb.control.steps checks what labelling
by every held word would change). The same rows are written once per class
space: the word, and the letter in each slot (a row holds one label per
file, so each slot is its own file). Each file's /images/pred is the
network's own answer at that step, so importing with the default filter
analyses the steps the network got right, as the paper analysed correctly
classified images; /images/path names the list, phase and position of each
step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seldb.control.model import FreeRecallNet, RecallNet
from seldb.control.task import (
    ENCODE,
    LAYER,
    RECALL,
    ClassSpace,
    Vocabulary,
    balanced_lists,
    build_free_trials,
    build_trials,
    class_spaces,
    free_plan,
)
from seldb.control.train import RECORD_STREAM, one_thread
from seldb.h5.reader import write_activation_file


@dataclass(frozen=True)
class Recording:
    """One row per recorded step, lists in order and each list step by step."""

    hidden: np.ndarray  # (rows, units) float32
    words: np.ndarray  # (rows,) the word the step is about: presented (encode) or to be recalled
    pred_words: np.ndarray  # (rows,) the vocabulary word the network's output makes most probable
    pred_letters: np.ndarray  # (rows, slots) the letter the output names in each slot
    phase: np.ndarray  # (rows,) ENCODE or RECALL
    position: np.ndarray  # (rows,) the list position the step is about, 0-based
    list_words: np.ndarray  # (rows, longest list) the step's whole list, padded with -1
    paths: list[str]  # "list0007/L3/recall2": list, its length, phase and 1-based position ("recall" in free recall)
    correct: np.ndarray | None = None  # (rows,) the step's list was recalled correctly

    @property
    def n_rows(self) -> int:
        return int(self.hidden.shape[0])

    @property
    def length(self) -> np.ndarray:
        """(rows,) the length of each step's list."""
        return (self.list_words >= 0).sum(axis=1)


def recording_lists(vocab: Vocabulary, lengths, repeats: int, seed: int) -> list[np.ndarray]:
    """A serial-recall seed's recorded lists (both conditions), per length: `balanced_test_lists`."""
    return [balanced_test_lists(vocab, n, repeats, seed) for n in lengths]


def _most_probable_word(logits: torch.Tensor, vocab: Vocabulary) -> np.ndarray:
    """Vocabulary word with the highest joint probability of its letters, per step."""
    log_p = torch.log_softmax(logits, dim=-1)  # (steps, batch, slots, letters)
    slots = torch.arange(vocab.n_slots)
    letters = torch.from_numpy(vocab.letters_of)  # (words, slots)
    scores = log_p[..., slots, letters].sum(-1)  # (steps, batch, words)
    return scores.argmax(-1).numpy()


def _record_batch(
    model: RecallNet, vocab: Vocabulary, lists: np.ndarray, condition: str, first_list: int, longest: int
) -> Recording:
    trials = build_trials(vocab, lists, condition)
    with torch.no_grad():
        logits, hidden = model(torch.from_numpy(trials.inputs))
    steps, batch = trials.words.shape
    phase = np.where(trials.phase == ENCODE, "encode", "recall")
    paths = [
        f"list{first_list + b:05d}/L{lists.shape[1]}/{phase[t]}{trials.position[t] + 1}"
        for b in range(batch)
        for t in range(steps)
    ]
    padded = np.full((batch, longest), -1, np.int64)
    padded[:, : lists.shape[1]] = lists
    return Recording(
        hidden=_list_major(hidden.numpy()).astype(np.float32),
        words=_list_major(trials.words),
        pred_words=_list_major(_most_probable_word(logits, vocab)),
        pred_letters=_list_major(logits.argmax(-1).numpy()),
        phase=np.tile(trials.phase, batch),
        position=np.tile(trials.position, batch),
        list_words=np.repeat(padded, steps, axis=0),
        paths=paths,
    )


def _list_major(steps_first: np.ndarray) -> np.ndarray:
    """(steps, batch, ...) -> (batch * steps, ...): rows go list by list, each list step by step."""
    swapped = np.swapaxes(steps_first, 0, 1)
    return swapped.reshape(swapped.shape[0] * swapped.shape[1], *swapped.shape[2:])


def record_network(model: RecallNet, vocab: Vocabulary, condition: str, lists_by_length: list[np.ndarray]) -> Recording:
    """Hidden activations at every step of every list, lists in the order given."""
    parts, first = [], 0
    longest = max(lists.shape[1] for lists in lists_by_length)
    with one_thread():
        for lists in lists_by_length:
            parts.append(_record_batch(model, vocab, lists, condition, first, longest))
            first += len(lists)
    arrays = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in ("hidden", "words", "pred_words", "pred_letters", "phase", "position", "list_words")
    }
    paths = [path for p in parts for path in p.paths]
    return Recording(**arrays, paths=paths, correct=serial_correct(arrays, vocab, paths))


def serial_correct(arrays: dict, vocab: Vocabulary, paths: list[str]) -> np.ndarray:
    """(rows,) every recall step of the row's list named every letter of its word."""
    right = (arrays["pred_letters"] == vocab.letters_of[arrays["words"]]).all(axis=1)
    list_id = np.array([int(path.split("/")[0][4:]) for path in paths])
    wrong = np.zeros(list_id.max() + 1, bool)
    np.logical_or.at(wrong, list_id, ~right & (arrays["phase"] == RECALL))
    return ~wrong[list_id]


def balanced_test_lists(vocab: Vocabulary, length: int, repeats: int, seed: int) -> np.ndarray:
    """The recorded lists of one list length (both tasks): each word once at each position per repeat."""
    return balanced_lists(np.random.default_rng([seed, RECORD_STREAM, length]), vocab.n_words, length, repeats)


def record_free(model: FreeRecallNet, vocab: Vocabulary, lists: np.ndarray) -> Recording:
    """Hidden activations at every step of every list (the words, then the recall step), lists in order.

    A row's word is the word presented at it; the recall step's is the list's first word (the files need
    one label per row). A row's answer is its own label when the list was recalled correctly (every output
    on the right side of 0.5) and another class when not, so the import's filter keeps the lists recalled
    correctly, as Bowers et al. (2014) analysed them.
    """
    from seldb.control.train import free_recalled

    batch, length = lists.shape
    trials = build_free_trials(vocab, lists)
    with one_thread(), torch.no_grad():
        _, hidden = model(torch.from_numpy(trials.inputs))
        correct_lists, _ = free_recalled(model, vocab, lists)
    position, phase = free_plan(length)
    steps = len(position)
    words = np.where(position[None, :] >= 0, lists[:, np.maximum(position, 0)], lists[:, :1]).reshape(-1)
    correct = np.repeat(correct_lists, steps)
    letters = vocab.letters_of[words]
    names = np.where(phase == ENCODE, "encode", "recall")
    paths = [
        f"list{b:05d}/L{length}/{names[t]}{position[t] + 1 if position[t] >= 0 else ''}"
        for b in range(batch)
        for t in range(steps)
    ]
    return Recording(
        hidden=_list_major(hidden.numpy()).astype(np.float32),
        words=words,
        pred_words=np.where(correct, words, (words + 1) % vocab.n_words),
        pred_letters=np.where(correct[:, None], letters, (letters + 1) % vocab.n_letters),
        phase=np.tile(phase, batch),
        position=np.tile(position, batch),
        list_words=np.repeat(lists, steps, axis=0),
        paths=paths,
        correct=correct,
    )


def spaces_of(rec: Recording, vocab: Vocabulary) -> dict[str, ClassSpace]:
    return class_spaces(vocab, rec.words, rec.pred_words, rec.pred_letters)


def write_recording(rec: Recording, vocab: Vocabulary, out_dir: Path, model_name: str, stem: str) -> dict[str, Path]:
    """One activation file per class space: {space: path}; `stem` prefixes the file names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, space in spaces_of(rec, vocab).items():
        files[name] = write_activation_file(
            out_dir / f"{stem}_{name}.h5",
            class_names=space.names,
            class_keys=space.keys,
            labels=space.labels.astype(np.int32),
            preds=space.answers.astype(np.int32),
            layers={LAYER: rec.hidden},
            paths=rec.paths,
            model=model_name,
            dataset=f"control-{name}",
        )
    return files
