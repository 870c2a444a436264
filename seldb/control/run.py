"""The superposition control end to end: per seed, train both conditions, record, write.

Both networks of a seed start from the same weights and see the same lists
(only the order of presentation and recall differs), so the pair differs in
the superposition constraint and nothing else. The vocabulary is the same for
every seed. Each network's files come back with the provenance the run must
store: seed, condition, cell, sizes, criterion, epochs, loss curve.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from seldb.control.model import CELLS
from seldb.control.record import LAYER, class_spaces, record_network, recording_lists, write_recording
from seldb.control.task import CONDITIONS, Vocabulary, make_vocabulary
from seldb.control.train import TrainConfig, TrainResult, train_network
from seldb.errors import InputError

DEFAULT_SEEDS = 5
DEFAULT_HIDDEN = 200


@dataclass(frozen=True)
class ControlOptions:
    seeds: int = DEFAULT_SEEDS  # how many seeds: first_seed, first_seed + 1, ...
    hidden: int = DEFAULT_HIDDEN
    cell: str = "rnn"
    first_seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)
    record_lists_per_length: int = 100

    def validate(self) -> None:
        """One clear line per bad option, before anything is trained."""
        for name in ("seeds", "hidden", "record_lists_per_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name.replace('_', ' ')} {value!r}: must be a whole number of at least 1")
        if self.cell not in CELLS:
            raise InputError(f"cell {self.cell!r}: expected one of {', '.join(CELLS)}")
        if isinstance(self.first_seed, bool) or not isinstance(self.first_seed, int) or self.first_seed < 0:
            raise InputError(f"first seed {self.first_seed!r}: must be a whole number of at least 0")


def model_name(cell: str, condition: str) -> str:
    """'rnn-superposition', 'rnn-single', 'lstm-superposition', 'lstm-single'."""
    return f"{cell}-{condition}"


@dataclass(frozen=True)
class ControlNetwork:
    """One trained network of the control and its activation files, one per class space."""

    seed: int
    cell: str
    condition: str
    model_name: str
    files: dict[str, Path]
    provenance: dict  # common to all its files; `provenance_for` adds the class space

    def provenance_for(self, space: str) -> dict:
        return {**self.provenance, "class_space": space, "file": self.files[space].name}


def _provenance(opts: ControlOptions, vocab: Vocabulary, seed: int, condition: str, result: TrainResult,
                n_rows: int) -> dict:  # fmt: skip
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
        "train": opts.train.as_json(),
        "optimizer": "Adam",
        "loss": "cross-entropy per slot, every step",
        "criterion": opts.train.criterion,
        "criterion_reached": result.criterion_reached,
        "accuracy": result.accuracy,
        "epochs": result.epochs,
        "lists_seen": result.epochs * (opts.train.lists_per_epoch // opts.train.batch_size) * opts.train.batch_size,
        "loss_curve": result.loss_curve,
        "accuracy_curve": result.accuracy_curve,
        "train_seconds": round(result.seconds, 3),
        "recorded_lists_per_length": opts.record_lists_per_length,
        "recorded_steps": n_rows,
        "torch": torch.__version__,
    }


def run_control(seeds: int = DEFAULT_SEEDS, hidden: int = DEFAULT_HIDDEN, cell: str = "rnn",
                out_dir: str | os.PathLike = "control", *, first_seed: int = 0, train: TrainConfig | None = None,
                record_lists_per_length: int = 100, vocab: Vocabulary | None = None,
                notify: Callable[[str], None] | None = None) -> list[ControlNetwork]:  # fmt: skip
    """Train, record and write both conditions for every seed; returns the networks in (seed, condition) order."""
    opts = ControlOptions(seeds, hidden, cell, first_seed, train or TrainConfig(), record_lists_per_length)
    opts.validate()
    vocab = vocab or make_vocabulary()
    opts.train.validate(vocab)
    out = Path(out_dir)
    networks = []
    for seed in range(opts.first_seed, opts.first_seed + opts.seeds):
        lists = recording_lists(vocab, opts.train.list_lengths, opts.record_lists_per_length, seed)
        for condition in CONDITIONS:
            networks.append(_one_network(opts, vocab, seed, condition, lists, out, notify))
    return networks


def _one_network(opts: ControlOptions, vocab: Vocabulary, seed: int, condition: str, lists, out: Path,
                 notify) -> ControlNetwork:  # fmt: skip
    name = model_name(opts.cell, condition)
    result = train_network(vocab, condition, opts.cell, opts.hidden, seed, opts.train)
    if notify:
        reached = "reached" if result.criterion_reached else "NOT reached"
        notify(f"{name} seed {seed}: criterion {opts.train.criterion:.0%} {reached} after {result.epochs} epochs "
               f"({result.accuracy:.1%} of lists recalled exactly, {result.seconds:.1f} s)")
    rec = record_network(result.model, vocab, condition, lists)
    files = write_recording(rec, vocab, out, name, f"{name}_seed{seed}")
    provenance = _provenance(opts, vocab, seed, condition, result, rec.n_rows)
    return ControlNetwork(seed, opts.cell, condition, name, files, provenance)


__all__ = ["ControlNetwork", "ControlOptions", "class_spaces", "model_name", "run_control"]
