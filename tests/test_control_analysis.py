"""The control report's counts, verdict and box plots, against a hand-built frame.

Every expected count below was worked out by hand from the rows of
`hand_built()`; none comes from the code under test.
"""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from seldb.control.analysis import plot_control_boxes, summarize_control
from seldb.errors import InputError

pytestmark = pytest.mark.unit

ZERO = (False, 0.0, 0.0, 0.0)
# (condition, seed) -> class space -> per unit: (is_localist, recall_p1, max_informedness, precision_60)
ROWS = {
    ("superposition", 0): {
        "word": [(True, 1.0, 1.0, 1.0), (False, 0.5, 0.7, 0.8), (None, None, None, None), (False, 0.1, 0.2, 0.3)],
        "letter-slot1": [(False, 0.2, 0.3, 0.4), (True, 1.0, 1.0, 0.9), (False, 0.995, 0.99, 0.75), ZERO],
        "letter-slot2": [ZERO, ZERO, ZERO, (True, 1.0, 1.0, 1.0)],
    },
    ("superposition", 1): {
        "word": [(True, 1.0, 1.0, 1.0), ZERO, ZERO, ZERO],
        "letter-slot1": [ZERO] * 4,
        "letter-slot2": [ZERO] * 4,
    },
    ("single", 0): {
        "word": [ZERO, ZERO, (False, 0.49, 0.989, 0.9), ZERO],
        "letter-slot1": [ZERO] * 4,
        "letter-slot2": [ZERO] * 4,
    },
    ("single", 1): {"word": [ZERO] * 4, "letter-slot1": [ZERO] * 4, "letter-slot2": [ZERO] * 4},
}


def hand_built(rows=ROWS, cell: str | None = None) -> pl.DataFrame:
    records = []
    for (condition, seed), spaces in rows.items():
        for space, units in spaces.items():
            for unit, (loc, rp1, mi, p60) in enumerate(units):
                records.append(
                    {
                        "condition": condition,
                        "seed": seed,
                        "class_space": space,
                        "unit": unit,
                        "is_localist": loc,
                        "recall_p1": rp1,
                        "max_informedness": mi,
                        "precision_60": p60,
                        "ccmas": 0.1 * unit,
                        "localist_margin": -0.5 if not loc else 0.2,
                    }
                )
    frame = pl.DataFrame(records)
    return frame.with_columns(cell=pl.lit(cell)) if cell else frame


def row(frame: pl.DataFrame, **where) -> dict:
    picked = frame
    for key, value in where.items():
        picked = picked.filter(pl.col(key) == value)
    assert picked.height == 1, where
    return picked.row(0, named=True)


# (space) -> (localist, recall_p1 >= 0.99, recall_p1 >= 0.5, max informedness >= 0.99, precision_60 > 0.75)
SUPERPOSITION_SEED0 = {
    "word": (1, 1, 2, 1, 2),
    "letter-slot1": (1, 2, 2, 2, 1),
    "letter-slot2": (1, 1, 1, 1, 1),
    "letter-any-slot": (2, 3, 3, 3, 2),
    "any": (3, 4, 4, 4, 3),
}
NAMES = ["localist", "recall_p1_099", "recall_p1_050", "mi_099", "precision_60_075"]


@pytest.mark.parametrize("space", list(SUPERPOSITION_SEED0))
def test_counts_per_condition_and_seed(space):
    summary = summarize_control(hand_built())
    got = row(summary.per_seed, condition="superposition", seed=0, class_space=space)
    assert got["n_units"] == 4
    assert tuple(got[f"n_{n}"] for n in NAMES) == SUPERPOSITION_SEED0[space]
    assert tuple(got[f"share_{n}"] for n in NAMES) == tuple(c / 4 for c in SUPERPOSITION_SEED0[space])


def test_single_condition_counts():
    summary = summarize_control(hand_built())
    word = row(summary.per_seed, condition="single", seed=0, class_space="word")
    # unit 2: recall_p1 0.49 (< 0.5), informedness 0.989 (< 0.99), precision_60 0.9 (> 0.75)
    assert tuple(word[f"n_{n}"] for n in NAMES) == (0, 0, 0, 0, 1)
    assert row(summary.per_seed, condition="single", seed=1, class_space="any")["n_precision_60_075"] == 0


def test_mean_and_sd_across_seeds():
    across = summarize_control(hand_built()).across_seeds
    anywhere = row(across, condition="superposition", class_space="any")
    assert anywhere["n_seeds"] == 2
    assert anywhere["n_localist_mean"] == 2.0  # seeds: 3 and 1
    assert anywhere["n_localist_sd"] == pytest.approx(math.sqrt(2.0))  # sample sd of (3, 1)
    assert anywhere["share_localist_mean"] == pytest.approx(0.5)
    word = row(across, condition="superposition", class_space="word")
    assert word["n_localist_mean"] == 1.0 and word["n_localist_sd"] == 0.0


def test_verdict_states_the_counts_and_the_contrast():
    text = summarize_control(hand_built()).verdict
    assert "2 seed(s)" in text
    assert "under superposition 2.0 +- 1.4 of 4 hidden units (50.0%)" in text
    assert "with single words 0.0 +- 0.0 of 4 hidden units (0.0%)" in text
    assert "more common under superposition (more in 2 of 2 seeds)" in text


def test_verdict_when_nothing_is_localist():
    rows = {key: {space: [ZERO] * 4 for space in spaces} for key, spaces in ROWS.items()}
    text = summarize_control(hand_built(rows)).verdict
    assert "No localist unit in either condition" in text


def test_verdict_when_single_words_have_more():
    rows = {("superposition", 0): {"word": [ZERO, ZERO]}, ("single", 0): {"word": [(True, 1.0, 1.0, 1.0), ZERO]}}
    text = summarize_control(hand_built(rows)).verdict
    assert "1 seed(s)" in text and "0.0 of 2 hidden units" in text and "1.0 of 2 hidden units (50.0%)" in text
    assert "not more common under superposition (more in 0 of 1 seeds)" in text


def test_one_verdict_per_cell():
    frame = pl.concat([hand_built(cell="rnn"), hand_built(cell="lstm")])
    summary = summarize_control(frame)
    assert summary.verdict.startswith("Control (lstm)") and "\nControl (rnn)" in summary.verdict
    assert set(summary.per_seed["cell"].to_list()) == {"rnn", "lstm"}


def test_missing_columns_and_empty_frames_are_one_line():
    with pytest.raises(InputError, match="lacks column.*recall_p1"):
        summarize_control(hand_built().drop("recall_p1"))
    with pytest.raises(InputError, match="no unit measures"):
        summarize_control(hand_built().clear())


def test_box_plot_png_and_sidecar(tmp_path):
    written = plot_control_boxes(hand_built(), tmp_path / "control.png")
    png, meta = written
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = json.loads(meta.read_text())
    assert drawn["groups"] == ["single", "superposition"]
    assert drawn["class_spaces"] == ["word", "letter-slot1", "letter-slot2"]
    word_recall = next(b for b in drawn["boxes"] if b["class_space"] == "word" and b["measure"] == "recall_p1")
    assert word_recall["n"] == [8, 7]  # 2 seeds x 4 units; one superposition unit has no value
