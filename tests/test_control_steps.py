"""The control's two design checks (seldb.control.steps), on recordings built by hand.

Which list positions are held at which step is worked out by hand from the
trial layout; the planted units below are selective by construction, so the
expected counts follow from how they were built, not from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from seldb.control.task import ENCODE, RECALL, build_trials, make_vocabulary

pytestmark = pytest.mark.unit

pytest.importorskip("torch")

from seldb.control.record import Recording  # noqa: E402
from seldb.control.steps import held_analysis, held_margins, held_positions, step_analysis, step_name  # noqa: E402

VOCAB = make_vocabulary(n_words=8, n_letters=4, n_slots=3)


def recording(lists: np.ndarray, condition: str, hidden_of) -> Recording:
    """Rows list by list, step by step, answered right; hidden_of(list, step, trials) -> activations."""
    trials = build_trials(VOCAB, lists, condition)
    steps = len(trials.phase)
    rows = [(b, t) for b in range(len(lists)) for t in range(steps)]
    words = np.array([trials.words[t, b] for b, t in rows])
    return Recording(
        hidden=np.array([hidden_of(lists[b], t, trials) for b, t in rows], np.float32),
        words=words,
        pred_words=words.copy(),
        pred_letters=VOCAB.letters_of[words],
        phase=np.array([trials.phase[t] for _, t in rows]),
        position=np.array([trials.position[t] for _, t in rows]),
        list_words=np.array([lists[b] for b, _ in rows]),
        paths=[f"list{b}/{t}" for b, t in rows],
    )


def test_step_names():
    assert [step_name(ENCODE, 0), step_name(RECALL, 2)] == ["encode1", "recall3"]


def test_held_positions_by_hand():
    lists = np.array([[0, 1, 2]])
    sup = held_positions(recording(lists, "superposition", lambda *_: [0.0]), "superposition")
    # steps: encode1, encode2, encode3, recall1, recall2, recall3
    assert sup.astype(int).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 0, 1]]
    single = held_positions(recording(lists, "single", lambda *_: [0.0]), "single")
    # steps: encode1, recall1, encode2, recall2, encode3, recall3
    assert single.astype(int).tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]


def test_held_margins_by_hand():
    values = np.array([[3.0, 1.0], [2.0, 5.0], [1.0, 2.0]])
    member = np.array([True, True, False])
    assert held_margins(values, member).tolist() == [1.0, -1.0]  # min(3, 2) - 1; min(1, 5) - 2
    assert np.isnan(held_margins(values, np.ones(3, bool))).all()  # nothing outside the class: no margin


def _held_word_unit(word: int):
    """Unit 0 fires (1 to 1.1) while `word` is held, else 0 to 0.1; unit 1 is noise."""
    rng = np.random.default_rng(4)

    def hidden_of(lst, t, trials):
        noise = rng.uniform(0, 0.1, 2)
        return [float(word in lst[held_positions_of(lst, t, trials)]) + noise[0], noise[1]]

    return hidden_of


def held_positions_of(lst, t, trials):
    presented = {int(p) for p, ph in zip(trials.position[: t + 1], trials.phase[: t + 1]) if ph == ENCODE}
    recalled = {int(p) for p, ph in zip(trials.position[:t], trials.phase[:t]) if ph == RECALL}
    return sorted(presented - recalled)


def test_a_unit_coding_a_held_word_is_found_by_the_held_check_only():
    lists = np.random.default_rng(1).permuted(np.tile(np.arange(8), (40, 1)), axis=1)[:, :3]
    rec = recording(lists, "superposition", _held_word_unit(word=5))
    held = held_analysis(rec, VOCAB, "superposition")
    assert held["all_steps"]["word"]["n_localist"] == 1 and held["memory_period"]["word"]["n_localist"] == 1
    assert held["all_steps"]["word"]["best_margin"] > 0.8  # about 1 - 0.1 by construction
    # labelled with the step's own word, the same unit fires for steps of other words too: not localist
    pooled = {row["step"]: row for row in step_analysis(rec, VOCAB)["word"]}
    assert pooled["recall1"]["n_localist"] == 0  # at recall1 every word of the list is held


def test_the_first_step_gives_one_state_per_word():
    lists = np.random.default_rng(2).permuted(np.tile(np.arange(8), (30, 1)), axis=1)[:, :2]
    rng = np.random.default_rng(3)
    start = {w: rng.normal(size=4) for w in range(8)}  # a deterministic function of the first word only

    def hidden_of(lst, t, trials):
        return start[int(lst[0])] if t == 0 else rng.normal(size=4)

    steps = {row["step"]: row for row in step_analysis(recording(lists, "superposition", hidden_of), VOCAB)["word"]}
    first = steps["encode1"]
    assert first["rows"] == 30 and first["distinct_states"] == first["n_classes"] == len(set(lists[:, 0]))
    assert first["n_localist"] == 4  # every unit's top word beats all others: trivially "localist"
    assert steps["recall2"]["distinct_states"] == 30  # later steps: one state per list
