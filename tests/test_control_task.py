"""The superposition control's task, network, training and recording, at tiny sizes.

Expected values are hand-worked (trial layout), recomputed independently in
the test (the logistic recurrence from the weights; exact recall decoded by
hand), or facts of the files (labels agree with the vocabulary).
"""

from __future__ import annotations

import numpy as np
import pytest

from seldb.control.task import ENCODE, RECALL, build_trials, make_vocabulary, sample_lists, step_plan
from seldb.errors import InputError

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from seldb.control.experiment import run_control  # noqa: E402
from seldb.control.options import ControlOptions, TrainConfig  # noqa: E402
from seldb.control.record import record_network  # noqa: E402
from seldb.control.train import evaluation_lists, train_network  # noqa: E402
from seldb.h5.reader import ActivationFile  # noqa: E402

TINY = TrainConfig(
    list_lengths=(1, 2), lists_per_epoch=128, learning_rate=0.01, max_epochs=300, eval_lists_per_length=20
)
SMALL = make_vocabulary(n_words=8, n_letters=4, n_slots=3)  # trains in a second or two


def test_vocabulary_is_fixed_distinct_and_balanced():
    vocab = make_vocabulary()
    assert vocab.n_words == 30 and vocab.n_slots == 3 and vocab.n_letters == 10 and vocab.n_inputs == 31
    assert len(set(vocab.words)) == 30
    for slot in range(3):
        assert np.bincount(vocab.letters_of[:, slot], minlength=10).tolist() == [3] * 10
    assert make_vocabulary().words == vocab.words  # fixed, not drawn per run


def test_lists_hold_distinct_words():
    lists = sample_lists(np.random.default_rng(0), 50, 4, 30)
    assert lists.shape == (50, 4)
    assert all(len(set(row)) == 4 for row in lists.tolist())


def test_trials_by_hand():
    vocab = make_vocabulary(n_words=4, n_letters=2, n_slots=2)  # every word of {a, b} x {a, b}
    w0, w1 = 0, 1
    l0, l1 = vocab.letters_of[w0], vocab.letters_of[w1]
    sup = build_trials(vocab, np.array([[w0, w1]]), "superposition")
    # steps: encode w0, encode w1, recall w0, recall w1
    assert sup.phase.tolist() == [ENCODE, ENCODE, RECALL, RECALL]
    assert sup.words[:, 0].tolist() == [w0, w1, w0, w1]
    expected = np.zeros((4, 5), np.float32)  # inputs: slot1 a, slot1 b, slot2 a, slot2 b, recall cue
    expected[0, [l0[0], 2 + l0[1]]] = 1
    expected[1, [l1[0], 2 + l1[1]]] = 1
    expected[2:, 4] = 1
    assert np.array_equal(sup.inputs[:, 0], expected)
    assert sup.targets[:, 0].tolist() == [l0.tolist(), l1.tolist(), l0.tolist(), l1.tolist()]
    single = build_trials(vocab, np.array([[w0, w1]]), "single")
    # steps: encode w0, recall w0, encode w1, recall w1
    assert single.phase.tolist() == [ENCODE, RECALL, ENCODE, RECALL]
    assert single.words[:, 0].tolist() == [w0, w0, w1, w1]
    assert np.array_equal(single.inputs[:, 0], expected[[0, 2, 1, 3]])


def test_unknown_condition_is_one_line():
    with pytest.raises(InputError, match="condition 'pairs'"):
        step_plan("pairs", 2)


def _recalled_by_hand(model, vocab, lists, condition) -> float:
    """Share of lists whose every recall step names all letters, decoded step by step here."""
    right = 0
    for row in lists:
        trials = build_trials(vocab, row[None, :], condition)
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(trials.inputs))
        ok = True
        for t in np.flatnonzero(trials.phase == RECALL):
            word = vocab.letters_of[row[trials.position[t]]]
            ok &= [int(logits[t, 0, s].argmax()) for s in range(vocab.n_slots)] == word.tolist()
        right += ok
    return right / len(lists)


@pytest.mark.parametrize("condition", ["superposition", "single"])
def test_training_reaches_the_criterion(condition):
    vocab = SMALL
    result = train_network(vocab, condition, "rnn", 16, seed=3, config=TINY)
    assert result.criterion_reached and result.epochs < TINY.max_epochs
    assert len(result.loss_curve) == len(result.accuracy_curve) == result.epochs
    assert result.loss_curve[-1] < result.loss_curve[0]
    eval_sets = evaluation_lists(vocab, TINY, 3)
    by_length = [_recalled_by_hand(result.model, vocab, lists, condition) for lists in eval_sets]
    assert np.mean(by_length) == pytest.approx(result.accuracy)
    assert np.mean(by_length) >= TINY.resolved("serial").criterion


def test_logistic_recurrence_matches_the_weights():
    vocab = make_vocabulary()
    model = train_network(
        vocab,
        "superposition",
        "rnn",
        8,
        seed=1,
        config=TrainConfig(max_epochs=1, lists_per_epoch=32, list_lengths=(3,), eval_lists_per_length=2),
    ).model
    lists = sample_lists(np.random.default_rng(5), 2, 3, vocab.n_words)
    rec = record_network(model, vocab, "superposition", [lists])
    w_in, b_in = model.input_to_hidden.weight.detach().double(), model.input_to_hidden.bias.detach().double()
    w_rec = model.hidden_to_hidden.weight.detach().double()
    inputs = torch.from_numpy(build_trials(vocab, lists, "superposition").inputs).double()
    for b in range(2):
        h = torch.zeros(8, dtype=torch.float64)
        for t in range(6):
            h = torch.sigmoid(w_in @ inputs[t, b] + b_in + w_rec @ h)
            np.testing.assert_allclose(rec.hidden[b * 6 + t], h.numpy(), atol=1e-5)
    steps = ("encode1", "encode2", "encode3", "recall1", "recall2", "recall3")
    assert rec.paths[:6] == [f"list00000/L3/{step}" for step in steps]


def _tiny_run(tmp_path, name, seed=0, cell="rnn"):
    return run_control(
        ControlOptions(
            1,
            16,
            cell,
            tmp_path / name,
            first_seed=seed,
            train=TINY,
            record_repeats=1,
            words=8,
            letters=4,
            slots=3,
            task="serial",
        )
    )


def test_same_seed_gives_bit_identical_activations(tmp_path):
    first, again, other = _tiny_run(tmp_path, "a"), _tiny_run(tmp_path, "b"), _tiny_run(tmp_path, "c", seed=1)
    for net_a, net_b, net_c in zip(first, again, other):
        assert net_a.provenance["loss_curve"] == net_b.provenance["loss_curve"]
        with (
            ActivationFile(net_a.files["word"]) as fa,
            ActivationFile(net_b.files["word"]) as fb,
            ActivationFile(net_c.files["word"]) as fc,
        ):
            a, b, c = (f.read_units("hidden", 0, 16) for f in (fa, fb, fc))
            assert a.tobytes() == b.tobytes()
            assert a.shape == c.shape and not np.array_equal(a, c)  # another seed is another network


def test_files_are_ordinary_runs_with_consistent_labels(tmp_path):
    vocab = SMALL
    nets = _tiny_run(tmp_path, "f")
    assert [(n.model_name, n.condition, n.seed) for n in nets] == [
        ("rnn-superposition", "superposition", 0),
        ("rnn-single", "single", 0),
    ]
    n_rows = 8 * (2 * 1 + 2 * 2)  # 8 lists per length (1 repeat x 8 words), two steps per word
    for net in nets:
        assert set(net.files) == {"word", "letter-slot1", "letter-slot2", "letter-slot3"}
        assert net.provenance["criterion_reached"] and net.provenance["epochs"] == len(net.provenance["loss_curve"])
        assert net.provenance_for("letter-slot2")["class_space"] == "letter-slot2"
        with ActivationFile(net.files["word"]) as words:
            assert words.model == net.model_name and words.dataset == "control-word"
            assert words.class_names == vocab.words and words.n_images == n_rows
            assert list(words.layers) == ["hidden"] and words.layers["hidden"].n_units == 16
            word_labels, paths = words.labels, words.paths
        for slot in range(3):
            with ActivationFile(net.files[f"letter-slot{slot + 1}"]) as letters:
                assert letters.class_names == list("abcd")
                assert letters.labels.tolist() == vocab.letters_of[word_labels, slot].tolist()
                assert letters.paths == paths
                assert np.array_equal(letters.read_units("hidden", 0, 16), _hidden(net.files["word"]))
        # balanced test lists: per length, each word once at each list position (counted from the encode rows)
        counts: dict = {}
        for path, word in zip(paths, word_labels.tolist()):
            _, length, step = path.split("/")
            if step.startswith("encode"):
                counts[length, int(step[6:]), word] = counts.get((length, int(step[6:]), word), 0) + 1
        expected = {(f"L{n}", p, w): 1 for n in (1, 2) for p in range(1, n + 1) for w in range(8)}
        assert counts == expected


def _hidden(path):
    with ActivationFile(path) as f:
        return f.read_units("hidden", 0, f.layers["hidden"].n_units)


def test_lstm_cells_train_and_record(tmp_path):
    nets = _tiny_run(tmp_path, "lstm", cell="lstm")
    assert [n.model_name for n in nets] == ["lstm-superposition", "lstm-single"]
    assert all(n.provenance["criterion_reached"] for n in nets)
    assert np.abs(_hidden(nets[0].files["word"])).max() <= 1.0  # LSTM outputs are o * tanh(c)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seeds": 0}, "seeds 0: must be a whole number of at least 1"),
        ({"seeds": -2}, "seeds -2"),
        ({"hidden": 0}, "hidden 0: must be a whole number of at least 1"),
        ({"hidden": 2.5}, "hidden 2.5"),
        ({"cell": "gru"}, "cell 'gru': expected one of rnn, lstm"),
        ({"train": TrainConfig(list_lengths=(0, 2))}, "list lengths"),
    ],
)
def test_bad_options_give_one_line(tmp_path, kwargs, message):
    args = {"seeds": 1, "hidden": 8, "cell": "rnn", "out": tmp_path / "never", "task": "serial"} | kwargs
    with pytest.raises(InputError) as caught:
        run_control(ControlOptions(**args))
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "never").exists()  # refused before anything was trained or written
