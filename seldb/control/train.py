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

from seldb.control.model import FreeRecallNet, RecallNet
from seldb.control.options import TrainConfig, parse_init
from seldb.control.task import RECALL, Vocabulary, build_free_trials, build_trials, sample_lists

TRAIN_STREAM, EVAL_STREAM, RECORD_STREAM = 1, 2, 3  # independent numpy streams per seed


@dataclass
class TrainResult:
    model: RecallNet | FreeRecallNet
    epochs: int
    criterion_reached: bool
    accuracy: float  # share of evaluation lists recalled exactly after the last epoch
    loss_curve: list[float] = field(default_factory=list)  # mean loss per epoch
    accuracy_curve: list[float] = field(default_factory=list)
    seconds: float = 0.0
    criterion_epoch: int | None = None  # the epoch at which the criterion was first reached


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
    return [sample_lists(rng, config.eval_lists_per_length, n, vocab.n_words) for n in config.list_lengths or ()]


def free_recalled(model: FreeRecallNet, vocab: Vocabulary, lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per list: every word of the list above 0.5 at the recall step and every other word below; and the outputs."""
    trials = build_free_trials(vocab, lists)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(trials.inputs))
    on = logits[-1].numpy() > 0  # sigmoid > 0.5
    return (on == (trials.targets > 0.5)).all(axis=1), logits[-1].numpy()


def recalled_exactly(model: RecallNet, vocab: Vocabulary, lists: np.ndarray, condition: str) -> np.ndarray:
    """Per list: did every recall step name every letter of its word?"""
    trials = build_trials(vocab, lists, condition)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(trials.inputs))
    right = (logits.argmax(-1).numpy() == trials.targets).all(axis=-1)  # (steps, batch)
    return right[trials.phase == RECALL].all(axis=0)


def accuracy(model, vocab: Vocabulary, eval_sets: list[np.ndarray], condition: str, task: str = "serial") -> float:
    if task == "free":
        hits = np.concatenate([free_recalled(model, vocab, lists)[0] for lists in eval_sets])
    else:
        hits = np.concatenate([recalled_exactly(model, vocab, lists, condition) for lists in eval_sets])
    return float(hits.mean())


def new_model(
    vocab: Vocabulary, cell: str, hidden: int, seed: int, config: TrainConfig | None = None, task: str = "serial"
) -> RecallNet | FreeRecallNet:
    """The untrained network of a seed: the same weights for every list length (the shapes do not depend on it)."""
    c = (config or TrainConfig()).resolved(task)
    start, radius = float(c.start_state or 0.0), parse_init(str(c.init))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if task == "free":
            return FreeRecallNet(
                vocab.n_inputs, hidden, vocab.n_words, cell, start_state=start, init_radius=radius, feedback=c.feedback
            )
        return RecallNet(
            vocab.n_inputs,
            hidden,
            vocab.n_slots,
            vocab.n_letters,
            cell,
            start_state=start,
            init_radius=radius,
            feedback=c.feedback,
        )


def _loss(model, vocab: Vocabulary, lists: np.ndarray, condition: str, task: str) -> torch.Tensor:
    if task == "free":
        free = build_free_trials(vocab, lists)
        logits, _ = model(torch.from_numpy(free.inputs))
        summed = nn.functional.binary_cross_entropy_with_logits(
            logits[-1], torch.from_numpy(free.targets), reduction="sum"
        )
        return summed / len(lists)  # summed over the output units as LENS does, mean over the lists
    trials = build_trials(vocab, lists, condition)
    logits, _ = model(torch.from_numpy(trials.inputs))
    return nn.functional.cross_entropy(
        logits.reshape(-1, vocab.n_letters), torch.from_numpy(trials.targets).reshape(-1)
    )


def _optimiser(model, config: TrainConfig):
    lr = float(config.learning_rate or 0.0)  # resolved: never None here
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=float(config.momentum or 0.0))
    return torch.optim.Adam(model.parameters(), lr=lr)


def _epoch(model, optimiser, vocab: Vocabulary, condition: str, config: TrainConfig, rng, task: str) -> float:
    losses = []
    lengths = config.list_lengths or ()
    for b in range(max(1, config.lists_per_epoch // config.batch_size)):
        length = lengths[b % len(lengths)]
        loss = _loss(model, vocab, sample_lists(rng, config.batch_size, length, vocab.n_words), condition, task)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def train_network(
    vocab: Vocabulary,
    condition: str,
    cell: str,
    hidden: int,
    seed: int,
    config: TrainConfig | None = None,
    task: str = "serial",
) -> TrainResult:
    """Train until `criterion` of the evaluation lists are recalled correctly, then `train_past` epochs more
    (or stop at max_epochs). Free recall: the lists are of the config's list length(s), recalled correctly
    when every output is on the right side of 0.5; serial recall: every letter of every word in order."""
    config = (config or TrainConfig()).resolved(task)
    config.validate(vocab.n_words, task)
    started = time.perf_counter()
    with one_thread():
        model = new_model(vocab, cell, hidden, seed, config, task)
        optimiser = _optimiser(model, config)
        rng, eval_sets = stream(seed, TRAIN_STREAM), evaluation_lists(vocab, config, seed)
        result = TrainResult(model, 0, False, 0.0)
        while result.epochs < (config.max_epochs or 0):
            if result.criterion_epoch is not None and result.epochs >= result.criterion_epoch + config.train_past:
                break
            result.loss_curve.append(_epoch(model, optimiser, vocab, condition, config, rng, task))
            result.accuracy = accuracy(model, vocab, eval_sets, condition, task)
            result.accuracy_curve.append(result.accuracy)
            result.epochs += 1
            if result.criterion_epoch is None and result.accuracy >= config.criterion:  # type: ignore[operator]
                result.criterion_epoch = result.epochs
            result.criterion_reached = result.criterion_epoch is not None
    model.eval()
    result.seconds = time.perf_counter() - started
    return result
