"""Recording a trained recall network as ordinary seldb activation files.

The network recalls a fixed, seeded set of lists; the hidden layer is kept at
every step, since every step is about one word (the word presented or the
word to be recalled). One row per step, one column per hidden unit. The same
rows are written once per class space: the word, and the letter in each
slot (a row holds one label per file, so each slot is its own file). Each
file's /images/pred is the network's own answer at that step, so importing
with the default filter analyses the steps the network got right, as the
paper analysed correctly classified images; /images/path names the list,
phase and position of each step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seldb.activations import write_activation_file
from seldb.control.model import RecallNet
from seldb.control.task import ENCODE, Vocabulary, build_trials, sample_lists
from seldb.control.train import RECORD_STREAM, one_thread, stream

LAYER = "hidden"
WORD_SPACE = "word"


def letter_space(slot: int) -> str:
    """Class-space name of the letter in slot `slot` (0-based), e.g. 'letter-slot1'."""
    return f"letter-slot{slot + 1}"


def class_spaces(vocab: Vocabulary) -> list[str]:
    return [WORD_SPACE, *[letter_space(s) for s in range(vocab.n_slots)]]


@dataclass(frozen=True)
class Recording:
    hidden: np.ndarray  # (rows, units) float32
    words: np.ndarray  # (rows,) the word each step is about
    pred_words: np.ndarray  # (rows,) the vocabulary word the network's output makes most probable
    pred_letters: np.ndarray  # (rows, slots) the letter the output names in each slot
    paths: list[str]  # "list0007/L3/recall2": list, its length, phase and 1-based position

    @property
    def n_rows(self) -> int:
        return int(self.hidden.shape[0])


def recording_lists(vocab: Vocabulary, lengths, per_length: int, seed: int) -> list[np.ndarray]:
    rng = stream(seed, RECORD_STREAM)
    return [sample_lists(rng, per_length, n, vocab.n_words) for n in lengths]


def _most_probable_word(logits: torch.Tensor, vocab: Vocabulary) -> np.ndarray:
    """Vocabulary word with the highest joint probability of its letters, per step."""
    log_p = torch.log_softmax(logits, dim=-1)  # (steps, batch, slots, letters)
    slots = torch.arange(vocab.n_slots)
    letters = torch.from_numpy(vocab.letters_of)  # (words, slots)
    scores = log_p[..., slots, letters].sum(-1)  # (steps, batch, words)
    return scores.argmax(-1).numpy()


def _record_batch(model: RecallNet, vocab: Vocabulary, lists: np.ndarray, condition: str, first_list: int) -> Recording:
    trials = build_trials(vocab, lists, condition)
    with torch.no_grad():
        logits, hidden = model(torch.from_numpy(trials.inputs))
    steps, batch = trials.words.shape
    phase = np.where(trials.phase == ENCODE, "encode", "recall")
    paths = [f"list{first_list + b:05d}/L{lists.shape[1]}/{phase[t]}{trials.position[t] + 1}"
             for b in range(batch) for t in range(steps)]  # fmt: skip
    return Recording(
        hidden=_list_major(hidden.numpy()).astype(np.float32),
        words=_list_major(trials.words),
        pred_words=_list_major(_most_probable_word(logits, vocab)),
        pred_letters=_list_major(logits.argmax(-1).numpy()),
        paths=paths,
    )


def _list_major(steps_first: np.ndarray) -> np.ndarray:
    """(steps, batch, ...) -> (batch * steps, ...): rows go list by list, each list step by step."""
    swapped = np.swapaxes(steps_first, 0, 1)
    return swapped.reshape(swapped.shape[0] * swapped.shape[1], *swapped.shape[2:])


def record_network(model: RecallNet, vocab: Vocabulary, condition: str, lists_by_length: list[np.ndarray]) -> Recording:
    """Hidden activations at every step of every list, lists in the order given."""
    parts, first = [], 0
    with one_thread():
        for lists in lists_by_length:
            parts.append(_record_batch(model, vocab, lists, condition, first))
            first += len(lists)
    return Recording(
        hidden=np.concatenate([p.hidden for p in parts]),
        words=np.concatenate([p.words for p in parts]),
        pred_words=np.concatenate([p.pred_words for p in parts]),
        pred_letters=np.concatenate([p.pred_letters for p in parts]),
        paths=[path for p in parts for path in p.paths],
    )


def write_recording(rec: Recording, vocab: Vocabulary, out_dir: Path, model_name: str, stem: str) -> dict[str, Path]:
    """One activation file per class space: {space: path}; `stem` prefixes the file names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    letter_names = vocab.letter_names
    spaces = {WORD_SPACE: (vocab.words, None, rec.words, rec.pred_words)}
    for s in range(vocab.n_slots):
        keys = [f"slot{s + 1}:{name}" for name in letter_names]
        spaces[letter_space(s)] = (letter_names, keys, vocab.letters_of[rec.words, s], rec.pred_letters[:, s])
    files = {}
    for space, (names, keys, labels, preds) in spaces.items():
        files[space] = write_activation_file(
            out_dir / f"{stem}_{space}.h5",
            class_names=names, class_keys=keys,
            labels=labels.astype(np.int32), preds=preds.astype(np.int32),
            layers={LAYER: rec.hidden}, paths=rec.paths,
            model=model_name, dataset=f"control-{space}",
        )  # fmt: skip
    return files
