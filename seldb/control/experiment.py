"""The superposition control end to end: per seed, train both conditions, record, write.

Both networks of a seed start from the same weights and see the same lists
(only the order of presentation and recall differs), so the pair differs in
the superposition constraint and nothing else. The vocabulary is the same for
every seed. Each network's files come back with the provenance its runs
store: seed, condition, cell, sizes, criterion, epochs, loss curve, and the
per-step and held-word checks of seldb.control.steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch

from seldb.control.memory import analyse, rows_from_recording
from seldb.control.model import FreeRecallNet, RecallNet
from seldb.control.options import ControlOptions, TrainConfig, free_condition, model_name
from seldb.control.record import (
    LAYER,
    Recording,
    balanced_test_lists,
    record_free,
    record_network,
    recording_lists,
    write_recording,
)
from seldb.control.steps import held_analysis, step_analysis
from seldb.control.task import CONDITIONS, WORD_SPACE, Vocabulary, make_vocabulary
from seldb.control.train import TrainResult, train_network

Notify = Callable[[str], None]


@dataclass(frozen=True)
class ControlNetwork:
    """One trained network of the control and its activation files, one per class space."""

    seed: int
    cell: str
    condition: str
    model_name: str
    files: dict[str, Path]
    provenance: dict  # common to all its files; `provenance_for` adds what belongs to one class space
    steps: dict[str, list[dict]]  # class space -> per-step summaries (seldb.control.steps); serial only
    held: dict[str, dict[str, dict]]  # period -> class space -> summary; serial only
    memory: dict | None = None  # seldb.control.memory's analysis (stored with the word run)

    def provenance_for(self, space: str) -> dict:
        held = {period: spaces[space] for period, spaces in self.held.items() if space in spaces}
        extra = {"memory_analysis": self.memory} if space == WORD_SPACE and self.memory is not None else {}
        return {
            **self.provenance,
            "class_space": space,
            "file": self.files[space].name,
            "step_analysis": self.steps.get(space, []),
            "held_analysis": held,
            **extra,
        }


def vocabulary_of(opts: ControlOptions) -> Vocabulary:
    return make_vocabulary(opts.words, opts.letters, opts.slots)


def _provenance(
    opts: ControlOptions, vocab: Vocabulary, seed: int, condition: str, result: TrainResult, n_rows: int
) -> dict:
    train = opts.train_config
    return {
        "control": "superposition",
        "task": opts.task,
        "seed": seed,
        "condition": condition,
        "cell": opts.cell,
        "hidden": opts.hidden,
        "layer": LAYER,
        "vocabulary": vocab.words,
        "letters": vocab.letter_names,
        "slots": vocab.n_slots,
        "train": train.as_json(),
        "optimizer": "Adam" if train.optimizer == "adam" else f"SGD, momentum {train.momentum}",
        "loss": "cross-entropy per slot, every step"
        if opts.task == "serial"
        else "binary cross-entropy of every word unit at the recall step, summed over units",
        "criterion_epoch": result.criterion_epoch,
        "train_past": train.train_past,
        "criterion": train.criterion,
        "criterion_reached": result.criterion_reached,
        "accuracy": result.accuracy,
        "epochs": result.epochs,
        "lists_seen": result.epochs * (train.lists_per_epoch // train.batch_size) * train.batch_size,
        "loss_curve": result.loss_curve,
        "accuracy_curve": result.accuracy_curve,
        "train_seconds": round(result.seconds, 3),
        "recorded_lists_per_length": opts.record_repeats * vocab.n_words,
        "recorded_steps": n_rows,
        "torch": torch.__version__,
    }


def check(opts: ControlOptions) -> Vocabulary:
    """Every option checked (one line each) before anything is trained or written; returns the vocabulary."""
    opts.validate()
    vocab = vocabulary_of(opts)
    opts.train.validate(vocab.n_words, opts.task)
    return vocab


def networks(opts: ControlOptions, notify: Notify | None = None) -> Iterator[ControlNetwork]:
    """Train, record and write both conditions for every seed, yielding each network once its files exist."""
    vocab = check(opts)
    out = Path(opts.out)
    config = opts.train_config
    for seed in opts.seed_list:
        if opts.task == "free":
            for n in config.list_lengths or ():
                yield train_and_record_free(opts, vocab, seed, n, out, notify)
            continue
        lists = recording_lists(vocab, config.list_lengths, opts.record_repeats, seed)
        for condition in CONDITIONS:
            yield train_and_record(opts, vocab, seed, condition, lists, out, notify)


def train_and_record_free(
    opts: ControlOptions, vocab: Vocabulary, seed: int, length: int, out: Path, notify: Notify | None = None
) -> ControlNetwork:
    """One free-recall network: lists of `length` words only, from the seed's initial weights."""
    condition = free_condition(length)
    name = model_name(opts.cell, condition)
    one_length = TrainConfig(**{**opts.train_config.__dict__, "list_lengths": (length,)})
    result = train_network(vocab, condition, opts.cell, opts.hidden, seed, one_length, task="free")
    if notify:
        notify(f"{name} seed {seed}: {_training_line(opts, result)}")
    rec = record_free(
        cast(FreeRecallNet, result.model), vocab, balanced_test_lists(vocab, length, opts.record_repeats, seed)
    )
    files = write_recording(rec, vocab, out, name, f"{name}_seed{seed}")
    provenance = {**_provenance(opts, vocab, seed, condition, result, rec.n_rows), "list_length": length}
    memory = _memory(rec, vocab)
    return ControlNetwork(seed, opts.cell, condition, name, files, provenance, {}, {}, memory)


def _memory(rec: Recording, vocab: Vocabulary) -> dict:
    assert rec.correct is not None
    analysis = analyse(rows_from_recording(rec, vocab.letters_of, rec.correct))
    stored = analysis.as_json()
    stored["lists_correct"] = {
        str(n): round(float(rec.correct[rec.length == n].mean()), 6) for n in sorted(set(rec.length.tolist()))
    }
    return stored


def run_control(opts: ControlOptions | None = None, notify: Notify | None = None) -> list[ControlNetwork]:
    """All networks of the control, in (seed, condition) order."""
    return list(networks(opts or ControlOptions(), notify))


def train_and_record(
    opts: ControlOptions, vocab: Vocabulary, seed: int, condition: str, lists, out: Path, notify: Notify | None = None
) -> ControlNetwork:
    name = model_name(opts.cell, condition)
    result = train_network(vocab, condition, opts.cell, opts.hidden, seed, opts.train, task="serial")
    if notify:
        notify(f"{name} seed {seed}: {_training_line(opts, result)}")
    rec: Recording = record_network(cast(RecallNet, result.model), vocab, condition, lists)
    files = write_recording(rec, vocab, out, name, f"{name}_seed{seed}")
    provenance = _provenance(opts, vocab, seed, condition, result, rec.n_rows)
    return ControlNetwork(
        seed,
        opts.cell,
        condition,
        name,
        files,
        provenance,
        step_analysis(rec, vocab),
        held_analysis(rec, vocab, condition),
        _memory(rec, vocab),
    )


def _training_line(opts: ControlOptions, result: TrainResult) -> str:
    reached = "reached" if result.criterion_reached else "NOT reached"
    return (
        f"criterion {opts.train_config.criterion:.0%} {reached} after {result.epochs} epochs "
        f"({result.accuracy:.1%} of lists recalled exactly, {result.seconds:.1f} s)"
    )


__all__ = ["ControlNetwork", "ControlOptions", "model_name", "networks", "run_control", "train_and_record"]
