"""Bad input and interruptions: one clear line, a non-zero exit, and nothing written."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from support import import_file, rows
from typer.testing import CliRunner

from seldb.h5.reader import write_activation_file
from seldb_cli.main import app

pytestmark = pytest.mark.db

TABLES = ["runs", "run_classes", "run_images", "run_layers", "unit_measures", "unit_arrays", "measure_correlations"]


def _counts() -> dict[str, int]:
    return {t: rows(f"SELECT count(*) AS n FROM seldb_store.{t}")[0]["n"] for t in TABLES}


def _good(path, n=60, units=4, **changes):
    rng = np.random.default_rng(3)
    args = dict(
        class_names=["a", "b", "c"],
        labels=rng.integers(0, 3, n),
        layers={"fc6": rng.random((n, units)).astype(np.float32)},
        model="m",
        dataset="d",
    )
    args.update(changes)
    return write_activation_file(path, **args)


def _edit(path, fn):
    with h5py.File(path, "a") as h5:
        fn(h5)
    return path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _nan(h5):
    values = h5["/layers/fc6"][()]
    values[5, 2] = np.nan
    h5["/layers/fc6"][...] = values


CASES = {
    "missing labels": (lambda p: _edit(_good(p), lambda h5: h5.__delitem__("/images/label")), [], "/images/label"),
    "missing classes": (lambda p: _edit(_good(p), lambda h5: h5.__delitem__("/classes")), [], "/classes/name"),
    "label out of range": (lambda p: _good(p, labels=np.full(60, 3)), [], "out of range"),
    "row counts differ": (
        lambda p: _edit(_good(p), lambda h5: h5.create_dataset("/layers/fc7", data=np.zeros((59, 2), np.float32))),
        [],
        "/layers/fc7",
    ),
    "nan activation": (lambda p: _edit(_good(p), _nan), [], "NaN"),
    "empty layer": (
        lambda p: _edit(_good(p), lambda h5: h5.create_dataset("/layers/fc7", shape=(60, 0), dtype="f4")),
        [],
        "no unit",
    ),
    "truncated": (lambda p: _truncate(_good(p, n=4000, units=64)), [], "HDF5"),
    "not hdf5": (lambda p: (p.write_text("unit,label\n1,dog\n"), p)[1], [], "HDF5"),
    "unknown layer": (lambda p: _good(p), ["--layers", "fc9"], "fc9"),
    "pred without correct image": (lambda p: _good(p, preds=np.full(60, 7)), [], "--all-images"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(case, migrated_db, tmp_path):
    make, extra, needle = CASES[case]
    path = make(tmp_path / "bad.h5")
    before = _counts()
    result = CliRunner().invoke(app, ["import-h5", str(path), *extra])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(path) in lines[0] and needle in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _counts() == before


def test_nan_policy_drop_records_the_count(migrated_db, tmp_path):
    path = _edit(_good(tmp_path / "nan.h5"), _nan)
    result = CliRunner().invoke(app, ["import-h5", str(path), "--nan-policy", "drop", "-q"])
    assert result.exit_code == 0, result.output
    run = rows("SELECT n_dropped, n_images_analysed FROM seldb.runs ORDER BY run_id DESC LIMIT 1")[0]
    assert run["n_dropped"] == 1 and run["n_images_analysed"] == 59


def test_same_file_same_options_is_refused_unless_forced(migrated_db, tmp_path):
    path = _good(tmp_path / "dup.h5")
    first = CliRunner().invoke(app, ["import-h5", str(path), "-q"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, ["import-h5", str(path), "-q"])
    assert again.exit_code == 1 and "already imported" in again.output and "run " in again.output
    other_options = CliRunner().invoke(app, ["import-h5", str(path), "-q", "--bins", "8"])
    assert other_options.exit_code == 0, other_options.output
    forced = CliRunner().invoke(app, ["import-h5", str(path), "-q", "--force"])
    assert forced.exit_code == 0, forced.output


@pytest.mark.parametrize("exception", [KeyboardInterrupt, RuntimeError])
def test_interrupted_import_leaves_no_trace(exception, migrated_db, tmp_path, monkeypatch):
    """Ctrl-C or a failure after some blocks were COPYed rolls the whole run back."""
    import seldb.h5.reader
    import seldb.load.import_h5 as importer

    path = _good(tmp_path / "big.h5", n=200, units=40)
    monkeypatch.setattr(seldb.h5.reader, "ELEMENTS_PER_BLOCK", 200 * 8)  # 5 blocks of 8 units
    real = importer.encode_unit_arrays
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise exception()
        return real(*args)

    monkeypatch.setattr(importer, "encode_unit_arrays", failing)
    before = _counts()
    with pytest.raises(exception):
        import_file(path)
    assert len(calls) >= 3
    assert _counts() == before


def test_runs_list_show_delete(migrated_db, tmp_path):
    path = _good(tmp_path / "r.h5")
    before = {r["run_id"] for r in rows("SELECT run_id FROM seldb.runs")}
    imported = CliRunner().invoke(app, ["import-h5", str(path), "-q", "--force"])
    assert imported.exit_code == 0, imported.output
    (run_id,) = {r["run_id"] for r in rows("SELECT run_id FROM seldb.runs")} - before
    assert f"run {run_id} imported" in imported.output
    listing = CliRunner().invoke(app, ["runs"])
    assert listing.exit_code == 0 and str(run_id) in listing.output
    shown = CliRunner().invoke(app, ["runs", "show", str(run_id)])
    assert shown.exit_code == 0 and "source_sha256" in shown.output
    deleted = CliRunner().invoke(app, ["runs", "delete", str(run_id), "--yes"])
    assert deleted.exit_code == 0
    missing = CliRunner().invoke(app, ["runs", "show", str(run_id)])
    assert missing.exit_code == 1 and f"no run {run_id}" in missing.output
