"""The check-and-copy pass beside the measuring (seldb.load.checkpass): it overlaps, it stops the
import on a bad value in any layer with one line and nothing written, and it changes no number."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from support import import_file, rows
from typer.testing import CliRunner

import seldb.h5.reader
import seldb.load.import_h5 as importer
from seldb.errors import InputError
from seldb.h5.reader import ActivationFile, write_activation_file
from seldb.load.checkpass import CheckPass
from seldb_cli.main import app


def _file(path, n=300, nan_in=None, seed=5):
    rng = np.random.default_rng(seed)
    layers = {
        "conv": np.maximum(rng.normal(size=(n, 24)), 0).astype(np.float32),
        "fc": np.maximum(rng.normal(size=(n, 16)), 0).astype(np.float32),
    }
    if nan_in:
        layers[nan_in][[7, 40], 3] = [np.nan, np.inf]
    labels = rng.integers(0, 4, n)
    return write_activation_file(path, class_names=list("abcd"), labels=labels, layers=layers, model="m", dataset="d")


@pytest.mark.unit
def test_a_layer_is_ready_while_a_later_one_is_still_in_the_pass(tmp_path, monkeypatch):
    release = threading.Event()
    with ActivationFile(_file(tmp_path / "f.h5")) as afile:
        real = afile.check_and_copy

        def slow_fc(layer, on_rows=None, stop=None):
            if layer == "fc":
                assert release.wait(20)
            return real(layer, on_rows, stop)

        monkeypatch.setattr(afile, "check_and_copy", slow_fc)
        started = time.perf_counter()  # the wait for conv counts too (its pass may compile the transpose first)
        checks = CheckPass(afile, ["conv", "fc"]).start()
        checks.ready("conv")  # returns although fc's pass has not ended
        assert not checks.finished()
        waiters = [threading.Thread(target=checks.ready, args=("fc",)) for _ in range(2)]
        for waiter in waiters:
            waiter.start()
        time.sleep(0.5)
        release.set()
        for waiter in waiters:
            waiter.join()
        elapsed = time.perf_counter() - started
        checks.ready("fc")
        assert checks.finished()
        checks.stop()
        # two workers waited together: the wall time they waited (at most `elapsed`), not its double (~2 x elapsed);
        # measured against `elapsed`, not a fixed bound, which a loaded machine overshoots
        assert 0.5 <= checks.waited_s <= elapsed < 2 * checks.waited_s
        # the copies it wrote read back as the layer itself
        assert np.array_equal(afile.read_units("fc", 0, 16), afile.dataset_of("fc")[()])


@pytest.mark.unit
def test_a_bad_value_fails_its_layer_and_every_later_one(tmp_path):
    with ActivationFile(_file(tmp_path / "f.h5", nan_in="conv")) as afile:
        checks = CheckPass(afile, ["conv", "fc"]).start()
        for layer in ("conv", "fc"):
            with pytest.raises(InputError, match=r"/layers/conv: NaN or infinite activation in image 7 \(2 such"):
                checks.ready(layer)
        with pytest.raises(InputError):
            checks.raise_if_failed()
        checks.stop()


@pytest.mark.unit
def test_a_stopped_pass_never_calls_a_layer_ready(tmp_path, monkeypatch):
    started, release = threading.Event(), threading.Event()
    with ActivationFile(_file(tmp_path / "f.h5")) as afile:
        real = afile.check_and_copy

        def blocked(layer, on_rows=None, stop=None):
            started.set()
            assert release.wait(20)
            return real(layer, on_rows, stop)

        monkeypatch.setattr(afile, "check_and_copy", blocked)
        checks = CheckPass(afile, ["conv", "fc"]).start()
        assert started.wait(20)
        threading.Timer(0.2, release.set).start()
        checks.stop()  # the stop is seen mid-layer: conv is not taken as checked
        for layer in ("conv", "fc"):
            with pytest.raises(RuntimeError, match="stopped"):
                checks.ready(layer)


def _measures(run_id: int) -> list[dict]:
    return rows(
        "SELECT * FROM seldb.unit_measures WHERE run_id = :r ORDER BY layer, unit",
        r=run_id,
    )


@pytest.mark.db
def test_measuring_starts_before_the_pass_ends_and_the_numbers_match_a_pass_run_first(
    migrated_db, tmp_path, monkeypatch
):
    path = _file(tmp_path / "f.h5", n=400)
    monkeypatch.setattr(seldb.h5.reader, "ELEMENTS_PER_BLOCK", 400 * 8)  # conv: 3 blocks of 8 units
    first_block_measured = threading.Event()
    real_compute, real_check = importer.compute_block, ActivationFile.check_and_copy

    def compute(*args, **kwargs):
        first_block_measured.set()
        return real_compute(*args, **kwargs)

    def check_and_copy(self, layer, on_rows=None, stop=None):
        if layer == "fc":  # a pass run first would wait here for ever (20 s): nothing is measured yet
            assert first_block_measured.wait(20), "no block was measured while the pass was running"
        return real_check(self, layer, on_rows, stop)

    monkeypatch.setattr(importer, "compute_block", compute)
    monkeypatch.setattr(ActivationFile, "check_and_copy", check_and_copy)
    beside = import_file(path)
    assert beside.timings["validate_wait_s"] >= 0 and beside.timings["validate_s"] > 0
    monkeypatch.setattr(ActivationFile, "check_and_copy", real_check)
    first = import_file(path, nan_policy="drop")  # no bad value: the same numbers, the pass run first
    assert first.timings["validate_wait_s"] == first.timings["validate_s"]
    got, want = _measures(beside.run_id), _measures(first.run_id)
    assert len(got) == 40
    differ = {k for a, b in zip(got, want) for k in a if a[k] != b[k]}
    assert differ <= {"run_id", "unit_key"}, differ  # the run's own ids, and nothing else


@pytest.mark.db
def test_a_bad_value_in_a_later_layer_is_one_line_and_writes_nothing(migrated_db, tmp_path, monkeypatch):
    path = _file(tmp_path / "bad.h5", n=400, nan_in="fc")
    monkeypatch.setattr(seldb.h5.reader, "ELEMENTS_PER_BLOCK", 400 * 8)
    before = rows("SELECT count(*) AS n FROM seldb_store.unit_measures")[0]["n"]
    runs = rows("SELECT count(*) AS n FROM seldb_store.runs")[0]["n"]
    result = CliRunner().invoke(app, ["import-h5", str(path)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and len(lines) == 1, result.output
    assert "/layers/fc: NaN or infinite activation in image 7 (2 such images" in lines[0]
    assert rows("SELECT count(*) AS n FROM seldb_store.unit_measures")[0]["n"] == before
    assert rows("SELECT count(*) AS n FROM seldb_store.runs")[0]["n"] == runs
