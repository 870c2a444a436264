"""The free-recall control and the planted memory units in the database: stored, reported, refused.

Planted memory units (seldb.control.planted_memory) are written as the
control's activation files, analysed from the word file and imported as
control runs; the analysis read back from the database must still find every
planted unit where it was built. A tiny free-recall control (two list
lengths, 16 hidden units, 8 words) runs through the CLI; the report's
dose-response counts are recomputed here from the stored per-unit rows.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from support import rows
from test_control_memory import check_found

pytestmark = pytest.mark.db

torch = pytest.importorskip("torch")

from seldb.control.command import SOURCE  # noqa: E402
from seldb.control.memory import analyse, rows_from_file  # noqa: E402
from seldb.control.planted_memory import planted_memory, write_planted_memory  # noqa: E402
from seldb.load.import_h5 import run_import  # noqa: E402
from seldb.load.options import ImportOptions, Provenance  # noqa: E402

TINY_FREE = [
    "--seeds", "1", "--hidden", "16", "--list-lengths", "1,3", "--lr", "0.03", "--max-epochs", "40",
    "--criterion", "0.9",
]  # fmt: skip


def import_planted(db, planted, out, seed=0, condition="planted", old=False) -> dict[str, int]:
    files = write_planted_memory(planted, out, f"planted_seed{seed}")
    memory = analyse(rows_from_file(files["word"])).as_json()
    runs = {}
    for space, path in files.items():
        meta = {
            "control": "superposition",
            **({} if old else {"task": planted.task}),
            "seed": seed,
            "condition": condition,
            "cell": "planted",
            "hidden": int(planted.rows.hidden.shape[1]),
            "class_space": space,
            **({"memory_analysis": memory} if space == "word" and not old else {}),
        }
        opts = ImportOptions(model="planted-memory", dataset=f"control-{space}", on_duplicate="new")
        runs[space] = run_import(db, path, opts, Provenance(SOURCE, meta), progress=False).run_id
    return runs


def stored_units(run_id: int) -> pl.DataFrame:
    options = rows("SELECT options FROM seldb.runs WHERE run_id = :r", r=run_id)[0]["options"]
    options = json.loads(options) if isinstance(options, str) else options
    return pl.DataFrame(options["memory_analysis"]["units"])


def test_planted_memory_units_found_in_the_database(migrated_db, tmp_path):
    import seldb

    planted = planted_memory("free", lengths=(1, 3), repeats=3, per_kind=6, seed=7)
    with seldb.connect(migrated_db) as db:
        runs = import_planted(db, planted, tmp_path)
        try:
            units = stored_units(runs["word"])  # only units localist somewhere are stored
            assert check_found(units, planted) > 20
            report = db.reports.control(list(runs.values()))
            steps = report.section("memory_steps").frame
            assert set(steps["class_space"]) >= {"word", "word-in-list", "letter-slot1"}
            dose = report.section("dose_response").frame
            memory_units = [i for i, u in enumerate(planted.units) if u.kind == "memory"]
            in_list = dose.filter(
                (pl.col("class_space") == "word-in-list") & (pl.col("direction") == "on") & (pl.col("length") == 3)
            )
            # every memory unit is localist at every step from the last presentation on: counted apart
            assert in_list["n_same_m00_mean"][0] >= len(memory_units)
        finally:
            for run in runs.values():
                db.delete_run(run)


def test_free_control_through_the_cli(migrated_db, cli, tmp_path):
    out = tmp_path / "files"
    done = cli("control", "superposition", *TINY_FREE, "--out", out, "--quiet")
    assert done.exit_code == 0, done.output
    made = rows("SELECT * FROM seldb.control_runs WHERE model LIKE 'rnn-free-%' ORDER BY run_id")
    try:
        assert [(r["condition"], r["class_space"]) for r in made] == [
            (c, s) for c in ("free-L1", "free-L3") for s in ("word", "letter-slot1", "letter-slot2", "letter-slot3")
        ]
        ids = [r["run_id"] for r in made]
        shown = cli("report", "control", "--runs", ",".join(map(str, ids)), "--format", "json")
        assert shown.exit_code == 0, shown.output
        report = json.loads(shown.stdout)
        dose_note = [n for n in report["notes"] if n.startswith("Dose-response")]
        assert len(dose_note) == 1 and "Bowers et al. (2014)" in dose_note[0]
        assert report["notes"][0].startswith("Control (rnn, 16 hidden units), free recall, pooled over steps")
        # the dose-response counts, recomputed from the stored per-unit rows and per-step table
        for r in (m for m in made if m["class_space"] == "word"):
            options = rows("SELECT options FROM seldb.runs WHERE run_id = :r", r=r["run_id"])[0]["options"]
            memory = (json.loads(options) if isinstance(options, str) else options)["memory_analysis"]
            trivial = {(s["step"], s["class_space"]) for s in memory["steps"] if s["trivial"]}
            units = memory.get("units", {"unit": []})
            by_hand = {}
            for i in range(len(units["unit"])):
                if (units["step"][i], units["class_space"][i]) in trivial or units["same_every_step"][i]:
                    continue
                key = (units["class_space"][i], units["direction"][i])
                by_hand.setdefault(key, set()).add(units["unit"][i])
            dose = [d for d in report["tables"]["dose_per_seed"] if d["condition"] == r["condition"]]
            for d in dose:
                assert d["n_m00"] == len(by_hand.get((d["class_space"], d["direction"]), set())), d
    finally:
        import seldb

        with seldb.connect(migrated_db) as db:
            for r in made:
                db.delete_run(r["run_id"])


def test_free_reruns_are_bit_identical(tmp_path):
    from seldb.control.experiment import run_control
    from seldb.control.options import ControlOptions, TrainConfig

    def run(name):
        train = TrainConfig(list_lengths=(2,), max_epochs=3, lists_per_epoch=64, learning_rate=0.03)
        opts = ControlOptions(seeds=1, hidden=8, out=tmp_path / name, words=8, letters=4, record_repeats=1, train=train)
        return run_control(opts)

    a, b = run("a"), run("b")
    for x, y in zip(a, b):
        for space in x.files:
            assert x.files[space].read_bytes() == y.files[space].read_bytes()
        assert x.memory == y.memory


def test_same_initial_weights_across_lengths():
    from seldb.control.options import TrainConfig
    from seldb.control.task import make_vocabulary
    from seldb.control.train import new_model

    vocab = make_vocabulary(8, 4, 3)
    a = new_model(vocab, "rnn", 8, 5, TrainConfig(list_lengths=(1,)), "free")
    b = new_model(vocab, "rnn", 8, 5, TrainConfig(list_lengths=(7,)), "free")
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert all(float(p.detach().abs().max()) <= 1.0 for p in a.parameters())  # uniform in [-1, 1]
    assert max(float(p.detach().abs().max()) for p in a.parameters()) > 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "cued"], "task 'cued': expected one of free, serial"),
        (["--list-lengths", "0,3"], "list lengths [0, 3]"),
        (["--momentum", "-0.5"], "momentum -0.5: must be in [0, 1)"),
        (["--criterion", "0"], "criterion 0.0: must be in (0, 1]"),
        (["--criterion", "1.5"], "criterion 1.5: must be in (0, 1]"),
        (["--optimizer", "rmsprop"], "optimizer 'rmsprop'"),
        (["--init", "normal:1"], "init 'normal:1'"),
        (["--seeds", "99999999999999999999"], "seeds 99999999999999999999: at most 1000"),
        (["--first-seed", "99999999999999999999"], "first seed 99999999999999999999"),
        (["--hidden", "100000000"], "hidden 100000000: at most 4096 units"),
        (["--list-lengths", "1,x"], "--list-lengths '1,x'"),
    ],
)
def test_bad_options_one_line_nothing_written(migrated_db, cli, tmp_path, args, message):
    before = rows("SELECT count(*) AS n FROM seldb.runs")[0]["n"]
    done = cli("control", "superposition", *args, "--out", tmp_path / "never")
    assert done.exit_code == 1, done.output
    assert done.stderr.strip().splitlines() == [f"error: {message}"] or message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.output
    assert rows("SELECT count(*) AS n FROM seldb.runs")[0]["n"] == before
    assert not (tmp_path / "never").exists()


def test_interrupted_control_says_what_it_kept(migrated_db, cli, tmp_path, monkeypatch):
    from seldb.control import experiment

    real = experiment.train_and_record_free
    calls = []

    def second_interrupts(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(experiment, "train_and_record_free", second_interrupts)
    done = cli("control", "superposition", *TINY_FREE, "--out", tmp_path / "files", "--quiet")
    made = rows("SELECT run_id FROM seldb.control_runs WHERE model = 'rnn-free-L1' ORDER BY run_id")
    try:
        assert done.exit_code == 130
        line = done.stderr.strip()
        assert "\n" not in line and line.startswith("interrupted: kept 1 finished network(s) (rnn-free-L1 seed 0)")
        assert ", ".join(str(r["run_id"]) for r in made) in line
    finally:
        import seldb

        with seldb.connect(migrated_db) as db:
            for r in made:
                db.delete_run(r["run_id"])


def test_report_flags_incomplete_sets(migrated_db, tmp_path):
    import seldb

    planted = planted_memory("free", lengths=(2,), repeats=2, per_kind=1, seed=1)
    with seldb.connect(migrated_db) as db:
        a = import_planted(db, planted, tmp_path / "a", seed=0)
        b = import_planted(db, planted, tmp_path / "b", seed=1)
        try:
            report = db.reports.control([a["word"], *a.values(), b["word"]])
            notes = " ".join(report.notes)
            assert "Incomplete: planted planted seed 1 has only the run(s) of word" in notes
        finally:
            for run in [*a.values(), *b.values()]:
                db.delete_run(run)


def test_report_flags_conditions_with_different_seeds(migrated_db, tmp_path):
    """Two superposition seeds against one single seed: flagged, and the verdict pairs seed 0 only."""
    import seldb

    planted = planted_memory("serial", lengths=(2,), repeats=2, per_kind=1, seed=1)
    with seldb.connect(migrated_db) as db:
        made = [
            import_planted(db, planted, tmp_path / f"{c}{seed}", seed=seed, condition=c)
            for c, seed in (("superposition", 0), ("superposition", 1), ("single", 0))
        ]
        try:
            report = db.reports.control([run for runs in made for run in runs.values()])
            notes = [n for n in report.notes if n.startswith("Incomplete set")]
            assert len(notes) == 1
            assert "single: seeds 0; superposition: seeds 0, 1" in notes[0]
            assert "1 seed(s)" in report.notes[0]  # the pooled verdict pairs the seeds present in both
        finally:
            for runs in made:
                for run in runs.values():
                    db.delete_run(run)


def test_train_past_feedback_and_sgd_options():
    from seldb.control.options import TrainConfig
    from seldb.control.task import make_vocabulary
    from seldb.control.train import new_model, train_network

    vocab = make_vocabulary(8, 4, 3)
    base = dict(list_lengths=(1,), lists_per_epoch=64, learning_rate=0.05, criterion=0.5, max_epochs=200)
    first = train_network(vocab, "free-L1", "rnn", 8, 0, TrainConfig(**base), task="free")
    assert first.criterion_reached and first.epochs == first.criterion_epoch
    past = train_network(vocab, "free-L1", "rnn", 8, 0, TrainConfig(**base, train_past=3), task="free")
    assert past.criterion_epoch == first.criterion_epoch and past.epochs == first.epochs + 3
    assert past.loss_curve[: first.epochs] == first.loss_curve  # the same run, three epochs longer
    sgd = train_network(vocab, "free-L1", "rnn", 8, 0, TrainConfig(**base, optimizer="sgd", momentum=0.9), task="free")
    assert sgd.loss_curve != first.loss_curve
    plain = new_model(vocab, "rnn", 8, 0, TrainConfig(), "free")
    fed = new_model(vocab, "rnn", 8, 0, TrainConfig(feedback=True), "free")
    assert not hasattr(plain, "output_to_hidden") and fed.output_to_hidden.weight.shape == (8, vocab.n_words)
    fed.load_state_dict(plain.state_dict(), strict=False)  # the same weights but the feedback's
    x = torch.zeros(3, 2, vocab.n_inputs)
    x[0, :, 0] = 1.0
    with torch.no_grad():
        _, h_plain = plain(x)
        _, h_fed = fed(x)
    w_in, b_in, w_hh = plain.input_to_hidden.weight, plain.input_to_hidden.bias, plain.hidden_to_hidden.weight
    by_hand = torch.sigmoid(w_in[:, 0] + b_in + w_hh @ torch.full((8,), 0.5))  # from the 0.5 start state
    torch.testing.assert_close(h_plain[0, 0], by_hand.detach())
    assert torch.equal(h_plain[0], h_fed[0])  # nothing has been output before the first step
    assert not torch.allclose(h_plain[1:], h_fed[1:])  # feedback changes the hidden state from step 2 on


def test_report_on_runs_of_the_earlier_control(migrated_db, tmp_path):
    """Runs as seldb 0.2 made them (no task, no memory analysis): the report works and says so."""
    import seldb

    planted = planted_memory("serial", lengths=(2,), repeats=2, per_kind=1, seed=1)
    with seldb.connect(migrated_db) as db:
        made = [import_planted(db, planted, tmp_path / c, condition=c, old=True) for c in ("superposition", "single")]
        try:
            ids = [run for runs in made for run in runs.values()]
            report = db.reports.control(ids)
            assert report.notes[0].startswith("Control (planted, 6 hidden units), 1 seed(s): under superposition")
            assert report.notes[-1].startswith("These runs carry no memory analysis (made by an earlier seldb)")
            assert report.section("dose_response").frame.is_empty()
            assert report.to_text("markdown")
        finally:
            for runs in made:
                for run in runs.values():
                    db.delete_run(run)
