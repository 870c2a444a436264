"""Training a recall network to a stated criterion, bit-identical on CPU for a seed.

An epoch is a fixed number of freshly drawn lists (the papers' networks saw
new lists all the time, not a fixed training set), taken in minibatches
that cycle through the list lengths. After every epoch the network recalls
a fixed evaluation set; training stops as soon as the share of lists
recalled exactly (every word, every letter, in order) reaches the
criterion, or at `max_epochs`. The loss curve, the accuracy curve and
whether the criterion was reached go into the run's provenance.

Determinism: the weights are drawn under `torch.manual_seed(seed)` inside a
forked RNG (the caller's torch RNG is left alone), the lists come from numpy
generators keyed by the seed, and training runs on one CPU thread, so the
same seed gives the same weights bit for bit.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from seldb.control.model import RecallNet
from seldb.control.options import TrainConfig
from seldb.control.task import RECALL, Vocabulary, build_trials, sample_lists

TRAIN_STREAM, EVAL_STREAM, RECORD_STREAM = 1, 2, 3  # independent numpy streams per seed


@dataclass
class TrainResult:
    model: RecallNet
    epochs: int
    criterion_reached: bool
    accuracy: float  # share of evaluation lists recalled exactly after the last epoch
    loss_curve: list[float] = field(default_factory=list)  # mean loss per epoch
    accuracy_curve: list[float] = field(default_factory=list)
    seconds: float = 0.0


@contextmanager
def one_thread():
    """Run torch on one thread (reductions then happen in one fixed order), restoring the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def stream(seed: int, which: int) -> np.random.Generator:
    return np.random.default_rng([seed, which])


def evaluation_lists(vocab: Vocabulary, config: TrainConfig, seed: int) -> list[np.ndarray]:
    rng = stream(seed, EVAL_STREAM)
    return [sample_lists(rng, config.eval_lists_per_length, n, vocab.n_words) for n in config.list_lengths]


def recalled_exactly(model: RecallNet, vocab: Vocabulary, lists: np.ndarray, condition: str) -> np.ndarray:
    """Per list: did every recall step name every letter of its word?"""
    trials = build_trials(vocab, lists, condition)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(trials.inputs))
    right = (logits.argmax(-1).numpy() == trials.targets).all(axis=-1)  # (steps, batch)
    return right[trials.phase == RECALL].all(axis=0)


def accuracy(model: RecallNet, vocab: Vocabulary, eval_sets: list[np.ndarray], condition: str) -> float:
    hits = np.concatenate([recalled_exactly(model, vocab, lists, condition) for lists in eval_sets])
    return float(hits.mean())


def new_model(vocab: Vocabulary, cell: str, hidden: int, seed: int) -> RecallNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RecallNet(vocab.n_inputs, hidden, vocab.n_slots, vocab.n_letters, cell)


def _epoch(model, optimiser, vocab: Vocabulary, condition: str, config: TrainConfig, rng) -> float:
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for b in range(max(1, config.lists_per_epoch // config.batch_size)):
        length = config.list_lengths[b % len(config.list_lengths)]
        trials = build_trials(vocab, sample_lists(rng, config.batch_size, length, vocab.n_words), condition)
        logits, _ = model(torch.from_numpy(trials.inputs))
        loss = loss_fn(logits.reshape(-1, vocab.n_letters), torch.from_numpy(trials.targets).reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def train_network(
    vocab: Vocabulary, condition: str, cell: str, hidden: int, seed: int, config: TrainConfig | None = None
) -> TrainResult:
    """Train until `config.criterion` of the evaluation lists are recalled exactly (or max_epochs)."""
    config = config or TrainConfig()
    config.validate(vocab.n_words)
    started = time.perf_counter()
    with one_thread():
        model = new_model(vocab, cell, hidden, seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        rng, eval_sets = stream(seed, TRAIN_STREAM), evaluation_lists(vocab, config, seed)
        result = TrainResult(model, 0, False, 0.0)
        while result.epochs < config.max_epochs and not result.criterion_reached:
            result.loss_curve.append(_epoch(model, optimiser, vocab, condition, config, rng))
            result.accuracy = accuracy(model, vocab, eval_sets, condition)
            result.accuracy_curve.append(result.accuracy)
            result.epochs += 1
            result.criterion_reached = result.accuracy >= config.criterion
    model.eval()
    result.seconds = time.perf_counter() - started
    return result
