"""The positive control in the database: `db.control_superposition`, its views, its report, its CLI.

One tiny control (one seed, 16 hidden units, 8 words of 3 letters out of 4,
lists of 1 or 2 words) is trained and imported once for the module, beside a
generated 'CNN' run whose units are planted (localist, precise-not-recall,
distributed). Expected numbers come from the activation files, computed here
with numpy from the definitions, or from the planted construction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import rows

pytestmark = pytest.mark.db

torch = pytest.importorskip("torch")

from seldb.control.options import ControlOptions, TrainConfig  # noqa: E402
from seldb.control.planted_units import KINDS, planted_units, write_planted_file  # noqa: E402
from seldb.h5.reader import ActivationFile  # noqa: E402
from seldb.load.options import ImportOptions  # noqa: E402

TINY = TrainConfig(
    list_lengths=(1, 2), lists_per_epoch=128, learning_rate=0.01, max_epochs=300, eval_lists_per_length=20
)
SPACES = ["word", "letter-slot1", "letter-slot2", "letter-slot3"]


def tiny_options(out: Path, **changes) -> ControlOptions:
    return ControlOptions(
        **{
            "seeds": 1,
            "hidden": 16,
            "cell": "rnn",
            "out": out,
            "train": TINY,
            "record_repeats": 4,
            "words": 8,
            "letters": 4,
            "slots": 3,
            "task": "serial",
        }
        | changes
    )


@pytest.fixture(scope="module")
def control(database_url, tmp_path_factory):
    """(the control's result, the planted 'CNN' run id), imported once into the session database."""
    import seldb

    out = tmp_path_factory.mktemp("control")
    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        result = db.control_superposition(tiny_options(out / "files"), progress=False)
        planted = write_planted_file(out / "planted.h5", planted_units(per_kind=2, seed=5))
        cnn = db.import_h5(planted, ImportOptions(model="planted-cnn", on_duplicate="new"), progress=False).run_id
        try:
            yield result, cnn
        finally:  # other tests share this database
            for run in [*result.run_ids, cnn]:
                db.delete_run(run)


def analysed(path) -> tuple[np.ndarray, np.ndarray, int]:
    """(activations, labels, classes) of the steps the network answered right, as the import analyses them."""
    with ActivationFile(path) as f:
        values = f.read_units("hidden", 0, f.layers["hidden"].n_units).astype(np.float64)
        keep = f.preds == f.labels
        return values[keep], f.labels[keep], f.n_classes


def localist_by_hand(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per unit: is every step of some class above every step of all other classes (Bowers et al. 2014)?"""
    found = np.zeros(values.shape[1], bool)
    for c in np.unique(labels):
        found |= values[labels == c].min(axis=0) > values[labels != c].max(axis=0)
    return found


def test_every_network_became_four_ordinary_runs(control):
    result, _ = control
    assert [(n.model, n.seed) for n in result.networks] == [("rnn-superposition", 0), ("rnn-single", 0)]
    ids = result.run_ids
    runs = {r["run_id"]: r for r in rows("SELECT * FROM seldb.runs WHERE run_id = ANY(:ids)", ids=ids)}
    assert set(runs) == set(ids) and all(r["source"] == "seldb control" for r in runs.values())
    control_runs = rows("SELECT * FROM seldb.control_runs WHERE run_id = ANY(:ids) ORDER BY run_id", ids=ids)
    for net in result.networks:
        for space, run in net.runs.items():
            row = next(r for r in control_runs if r["run_id"] == run)
            options = runs[run]["options"]
            assert (row["model"], row["dataset"], row["class_space"]) == (net.model, f"control-{space}", space)
            assert (row["condition"], row["seed"], row["cell"], row["hidden"]) == (net.condition, 0, "rnn", 16)
            assert row["epochs"] == net.epochs == len(options["loss_curve"]) == len(options["accuracy_curve"])
            assert row["criterion_reached"] is net.criterion_reached is True and row["criterion"] == 0.95
            assert row["final_loss"] == options["loss_curve"][-1]
            assert [s["step"] for s in options["step_analysis"]][:2] == ["encode1", "encode2"]
            assert set(options["held_analysis"]) == {"all_steps", "memory_period"}
            assert options["recorded_lists_per_length"] == 4 * 8  # balanced: 4 repeats x 8 words per length
            if space == "word":  # the memory analysis ran on those lists, each step over the lists recalled right
                memory = options["memory_analysis"]
                for step in memory["steps"]:
                    correct = memory["lists_correct"][str(step["length"])]
                    assert step["rows"] == round(32 * correct) and step["rows"] > 0
                assert {s["length"] for s in memory["steps"]} == {1, 2}
    counts = rows(
        "SELECT run_id, count(*) AS n FROM seldb.unit_measures WHERE run_id = ANY(:ids) GROUP BY run_id", ids=ids
    )
    assert sorted(r["n"] for r in counts) == [16] * 8


def test_control_units_carry_the_network_and_the_measures(control):
    result, _ = control
    for net in result.networks:
        for space, run in net.runs.items():
            units = rows("SELECT * FROM seldb.control_units WHERE run_id = :r ORDER BY unit", r=run)
            plain = rows("SELECT * FROM seldb.unit_measures WHERE run_id = :r ORDER BY unit", r=run)
            assert [{k: u[k] for k in p} for u, p in zip(units, plain)] == plain  # every unit_measures column
            assert {(u["condition"], u["seed"], u["cell"], u["class_space"]) for u in units} == {
                (net.condition, 0, "rnn", space)
            }
            values, labels, _ = analysed(Path(result.out) / f"{net.model}_seed0_{space}.h5")
            assert [u["is_localist"] for u in units] == localist_by_hand(values, labels).tolist()
            assert units[0]["n_images"] == len(labels)


def test_a_query_compares_a_cnn_run_and_the_control_side_by_side(control):
    result, cnn = control
    query = """
        SELECT COALESCE(c.condition || ' ' || c.class_space, u.model) AS network, count(*) AS n_units,
               count(*) FILTER (WHERE u.is_localist) AS n_localist,
               count(*) FILTER (WHERE u.precision_60 > 0.75) AS n_precision_detectors,
               count(*) FILTER (WHERE u.recall_p1 >= 0.99) AS n_recall_p1
        FROM seldb.unit_measures AS u LEFT JOIN seldb.control_runs AS c USING (run_id)
        WHERE u.run_id = ANY(:ids) GROUP BY 1 ORDER BY 1"""
    table = {r["network"]: r for r in rows(query, ids=[cnn, *result.run_ids])}
    planted = table["planted-cnn"]  # two units of each kind, localist by construction or not
    assert (planted["n_units"], planted["n_localist"], planted["n_recall_p1"]) == (2 * len(KINDS), 2, 2)
    assert planted["n_precision_detectors"] == 4  # the localist and the precise-not-recall units
    for net in result.networks:
        for space in SPACES:
            values, labels, _ = analysed(Path(result.out) / f"{net.model}_seed0_{space}.h5")
            row = table[f"{net.condition} {space}"]
            assert (row["n_units"], row["n_localist"]) == (16, int(localist_by_hand(values, labels).sum()))


def test_the_same_seed_gives_the_same_files_and_runs(control, migrated_db, tmp_path):
    import seldb

    result, _ = control
    with seldb.connect(migrated_db) as db:
        again = db.control_superposition(tiny_options(tmp_path / "again"), progress=False)
    assert again.run_ids == result.run_ids and all(net.reused for net in again.networks)
    for name in ("rnn-superposition_seed0_word.h5", "rnn-single_seed0_letter-slot2.h5"):
        assert (tmp_path / "again" / name).read_bytes() == (Path(result.out) / name).read_bytes()


def test_control_report_counts_from_the_files(control, db, tmp_path):
    result, _ = control
    report = db.reports.control(result.run_ids, plot=True, out_dir=tmp_path)
    per_seed = report.section("per_seed").frame
    for net in result.networks:
        for space in SPACES:
            values, labels, _ = analysed(Path(result.out) / f"{net.model}_seed0_{space}.h5")
            row = per_seed.filter((per_seed["condition"] == net.condition) & (per_seed["class_space"] == space))
            assert row["n_localist"].to_list() == [int(localist_by_hand(values, labels).sum())]
            assert row["n_units"].to_list() == [16]
    assert report.notes[0].startswith("Control (rnn, 16 hidden units), 1 seed(s): under superposition")
    held = report.section("held").frame
    memory = held.filter(
        (held["condition"] == "superposition") & (held["period"] == "memory_period") & (held["class_space"] == "word")
    )["n_localist"][0]
    assert report.notes[1].startswith("Checks (units per network, mean over seeds")
    assert f"in the memory period {memory:.1f} units fire for every step holding a word" in report.notes[1]
    steps = report.section("steps").frame
    first = steps.filter(
        (steps["condition"] == "superposition") & (steps["step"] == "encode1") & (steps["class_space"] == "word")
    ).row(0, named=True)
    assert first["distinct_states"] == first["n_classes"] and first["n_localist"] == 16  # one state per word
    networks = report.section("networks").frame
    assert sorted(networks["condition"].to_list()) == ["single", "superposition"]
    names = sorted(p.name for p in report.files)
    assert (
        f"{report.stem}-boxes.png" in names and sum(n.startswith("unit-run") and n.endswith(".png") for n in names) == 2
    )
    chosen = report.section("most_selective").frame
    assert set(chosen["condition"].to_list()) == {"superposition", "single"}
    boxes = json.loads((tmp_path / f"{report.stem}-boxes.json").read_text())
    assert boxes["groups"] == ["rnn\n16\nsingle", "rnn\n16\nsuperposition"]


def test_report_control_and_every_report_on_a_control_run_through_the_cli(control, migrated_db, cli):
    result, cnn = control
    ids = ",".join(map(str, result.run_ids))
    shown = cli("report", "control", "--runs", ids)
    assert shown.exit_code == 0, shown.output
    assert "under superposition" in " ".join(shown.stdout.split())
    run = result.networks[0].runs["letter-slot1"]
    for args in (("detectors",), ("top",), ("layers",), ("unit", "hidden.3"), ("correlations",)):
        done = cli("report", *args, "--run", run)
        assert done.exit_code == 0, (args, done.output)
    wrong = cli("report", "control", "--runs", f"{cnn}")
    assert wrong.exit_code == 1 and f"--runs: {cnn} not control run(s)" in wrong.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--seeds", "0"), "seeds 0: must be a whole number of at least 1"),
        (("--hidden", "0"), "hidden 0: must be a whole number of at least 1"),
        (("--cell", "gru"), "cell 'gru': expected one of rnn, lstm"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(migrated_db, cli, tmp_path, args, message):
    before = rows("SELECT count(*) AS n FROM seldb.runs")[0]["n"]
    done = cli("control", "superposition", "--out", tmp_path / "never", *args)
    assert done.exit_code == 1
    assert done.stderr.strip().splitlines() == [f"error: {message}"]
    assert rows("SELECT count(*) AS n FROM seldb.runs")[0]["n"] == before
    assert not (tmp_path / "never").exists()


def test_the_cli_trains_and_imports(migrated_db, cli, tmp_path, monkeypatch):
    import seldb.control.options as control_options

    # the CLI's own defaults, with training cut to two epochs so that the test takes seconds
    monkeypatch.setattr(control_options, "DEFAULT_TRAIN", TrainConfig(max_epochs=2, lists_per_epoch=64))
    done = cli(
        "control",
        "superposition",
        "--task",
        "serial",
        "--seeds",
        "1",
        "--hidden",
        "8",
        "--out",
        tmp_path / "files",
        "--quiet",
    )
    assert done.exit_code == 0, done.output
    made = rows(
        "SELECT * FROM seldb.control_runs WHERE created_at >= now() - interval '1 hour' AND hidden = 8 ORDER BY run_id"
    )
    try:
        assert [(r["model"], r["class_space"]) for r in made] == [
            (m, s) for m in ("rnn-superposition", "rnn-single") for s in SPACES
        ]
        assert all(r["epochs"] == 2 and r["criterion_reached"] is False for r in made)
        assert f"rnn-superposition seed 0: runs word {made[0]['run_id']}," in " ".join(done.stdout.split())
        assert len(list((tmp_path / "files").glob("*.h5"))) == 8
    finally:
        import seldb

        with seldb.connect(migrated_db) as db:
            for r in made:
                db.delete_run(r["run_id"])
