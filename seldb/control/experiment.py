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

import torch

from seldb.control.options import ControlOptions, model_name
from seldb.control.record import LAYER, Recording, record_network, recording_lists, write_recording
from seldb.control.steps import held_analysis, step_analysis
from seldb.control.task import CONDITIONS, Vocabulary, make_vocabulary
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
    steps: dict[str, list[dict]]  # class space -> per-step summaries (seldb.control.steps)
    held: dict[str, dict[str, dict]]  # period -> class space -> summary

    def provenance_for(self, space: str) -> dict:
        held = {period: spaces[space] for period, spaces in self.held.items()}
        return {
            **self.provenance,
            "class_space": space,
            "file": self.files[space].name,
            "step_analysis": self.steps[space],
            "held_analysis": held,
        }


def vocabulary_of(opts: ControlOptions) -> Vocabulary:
    return make_vocabulary(opts.words, opts.letters, opts.slots)


def _provenance(
    opts: ControlOptions, vocab: Vocabulary, seed: int, condition: str, result: TrainResult, n_rows: int
) -> dict:
    train = opts.train
    return {
        "control": "superposition",
        "seed": seed,
        "condition": condition,
        "cell": opts.cell,
        "hidden": opts.hidden,
        "layer": LAYER,
        "vocabulary": vocab.words,
        "letters": vocab.letter_names,
        "slots": vocab.n_slots,
        "train": train.as_json(),
        "optimizer": "Adam",
        "loss": "cross-entropy per slot, every step",
        "criterion": train.criterion,
        "criterion_reached": result.criterion_reached,
        "accuracy": result.accuracy,
        "epochs": result.epochs,
        "lists_seen": result.epochs * (train.lists_per_epoch // train.batch_size) * train.batch_size,
        "loss_curve": result.loss_curve,
        "accuracy_curve": result.accuracy_curve,
        "train_seconds": round(result.seconds, 3),
        "recorded_lists_per_length": opts.record_lists_per_length,
        "recorded_steps": n_rows,
        "torch": torch.__version__,
    }


def check(opts: ControlOptions) -> Vocabulary:
    """Every option checked (one line each) before anything is trained or written; returns the vocabulary."""
    opts.validate()
    vocab = vocabulary_of(opts)
    opts.train.validate(vocab.n_words)
    return vocab


def networks(opts: ControlOptions, notify: Notify | None = None) -> Iterator[ControlNetwork]:
    """Train, record and write both conditions for every seed, yielding each network once its files exist."""
    vocab = check(opts)
    out = Path(opts.out)
    for seed in opts.seed_list:
        lists = recording_lists(vocab, opts.train.list_lengths, opts.record_lists_per_length, seed)
        for condition in CONDITIONS:
            yield train_and_record(opts, vocab, seed, condition, lists, out, notify)


def run_control(opts: ControlOptions | None = None, notify: Notify | None = None) -> list[ControlNetwork]:
    """All networks of the control, in (seed, condition) order."""
    return list(networks(opts or ControlOptions(), notify))


def train_and_record(
    opts: ControlOptions, vocab: Vocabulary, seed: int, condition: str, lists, out: Path, notify: Notify | None = None
) -> ControlNetwork:
    name = model_name(opts.cell, condition)
    result = train_network(vocab, condition, opts.cell, opts.hidden, seed, opts.train)
    if notify:
        notify(f"{name} seed {seed}: {_training_line(opts, result)}")
    rec: Recording = record_network(result.model, vocab, condition, lists)
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
    )


def _training_line(opts: ControlOptions, result: TrainResult) -> str:
    reached = "reached" if result.criterion_reached else "NOT reached"
    return (
        f"criterion {opts.train.criterion:.0%} {reached} after {result.epochs} epochs "
        f"({result.accuracy:.1%} of lists recalled exactly, {result.seconds:.1f} s)"
    )


__all__ = ["ControlNetwork", "ControlOptions", "model_name", "networks", "run_control", "train_and_record"]
