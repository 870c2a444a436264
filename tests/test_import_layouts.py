"""Every storage layout of an activation file imports to the same rows.

Files are written as users write them (contiguous, chunked by rows, tiled,
compressed, float16/32/64); the import copies what is not tiled units-first
(seldb.h5.unitmajor). Whatever the layout, every table of the run must hold the
same rows - only the run's own id, timings and file identity differ.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from support import import_file, rows

from seldb.h5.reader import write_activation_file

pytestmark = pytest.mark.db

N, K = 600, 5
UNITS = {"conv": 40, "fc": 7}
LAYOUTS = {
    "tiled": None,  # seldb's own (ActivationWriter)
    "contiguous": {},
    "rows": {"chunks": (16, None)},
    "gzip": {"chunks": (64, None), "compression": "gzip"},
    "lzf": {"chunks": (32, 8), "compression": "lzf"},
    "float16": {"dtype": np.float16},
    "float64-rows": {"dtype": np.float64, "chunks": (50, None)},
}
RUN_SPECIFIC = {
    "run_id",
    "source_file",
    "source_sha256",
    "fingerprint",
    "timings",
    "created_at",
    "options",
    "imported_at",
    "seldb_version",
}


def _values(rng) -> dict[str, np.ndarray]:
    """Eighths from 0 to 6, ~60% exact zeros: exact in float16, and full of ties."""
    out = {}
    for name, units in UNITS.items():
        values = (rng.integers(0, 49, (N, units)) / 8).astype(np.float32)
        values[rng.random((N, units)) < 0.6] = 0.0
        values[:, 1] = 2.5  # a constant unit
        out[name] = values
    return out


def _write(path, layout: str, values, labels, preds) -> None:
    write_activation_file(
        path,
        class_names=[f"c{k}" for k in range(K)],
        class_keys=[f"k{k}" for k in range(K)],
        labels=labels,
        preds=preds,
        layers=values,
    )
    spec = LAYOUTS[layout]
    if spec is None:
        return
    with h5py.File(path, "a") as h5:
        for name, data in values.items():
            del h5[f"/layers/{name}"]
            kwargs = dict(spec)
            if "chunks" in kwargs:
                kwargs["chunks"] = tuple(min(c or data.shape[1], s) for c, s in zip(kwargs["chunks"], data.shape))
            kwargs.setdefault("dtype", np.float32)
            h5.create_dataset(f"/layers/{name}", data=data.astype(kwargs["dtype"]), **kwargs)


def run_tables(run_id: int) -> dict[str, list]:
    """Every row of every table of the run, without what identifies the run itself, sorted."""
    with_run = rows(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'seldb_store'"
        " AND column_name = 'run_id' ORDER BY table_name"
    )
    out = {}
    for (table,) in [tuple(r.values()) for r in with_run]:
        found = rows(f"SELECT * FROM seldb_store.{table} WHERE run_id = :r", r=run_id)
        out[table] = sorted(repr({k: v for k, v in row.items() if k not in RUN_SPECIFIC}) for row in found)
    return out


@pytest.fixture
def small_blocks(monkeypatch):
    """Several unit blocks per layer and several panels per copy, the last ones short."""
    import seldb.h5.reader
    import seldb.h5.unitmajor

    monkeypatch.setattr(seldb.h5.reader, "ELEMENTS_PER_BLOCK", N * 6)
    monkeypatch.setattr(seldb.h5.unitmajor, "PANEL_BYTES", 70 * 40 * 4)


def _import_all(tmp_path, values, labels, preds, layouts, **options) -> dict[str, dict]:
    got = {}
    for layout in layouts:
        path = tmp_path / f"{layout}.h5"
        _write(path, layout, values, labels, preds)
        got[layout] = run_tables(import_file(path, force=True, **options).run_id)
    return got


def test_every_layout_gives_the_same_rows(migrated_db, tmp_path, small_blocks):
    rng = np.random.default_rng(31)
    labels = rng.integers(0, K, N)
    got = _import_all(tmp_path, _values(rng), labels, None, LAYOUTS)
    reference = got["tiled"]
    assert len(reference["unit_measures"]) == sum(UNITS.values()) and reference["unit_arrays"]
    for layout, tables in got.items():
        for table, table_rows in reference.items():
            assert tables[table] == table_rows, (layout, table)


def test_a_tiled_file_is_read_in_place_without_room_for_a_copy(migrated_db, tmp_path, monkeypatch):
    import shutil

    rng = np.random.default_rng(32)
    labels = rng.integers(0, K, N)
    values = _values(rng)
    copied = _import_all(tmp_path, values, labels, None, ["tiled"])["tiled"]
    real = shutil.disk_usage
    monkeypatch.setattr("seldb.h5.reader.shutil.disk_usage", lambda path: real(path)._replace(free=1000))
    (tmp_path / "tiled.h5").unlink()
    assert _import_all(tmp_path, values, labels, None, ["tiled"])["tiled"] == copied


def test_nan_rows_and_only_correct_images_agree_across_layouts(migrated_db, tmp_path, small_blocks):
    rng = np.random.default_rng(33)
    labels = rng.integers(0, K, N)
    preds = np.where(rng.random(N) < 0.8, labels, (labels + 1) % K)
    values = _values(rng)
    values["fc"][[3, 200, 599], 2] = np.nan
    values["conv"][17, 0] = np.inf
    got = _import_all(tmp_path, values, labels, preds, ["tiled", "rows", "contiguous"], nan_policy="drop")
    run = rows("SELECT n_dropped, n_images_analysed FROM seldb_store.runs ORDER BY run_id DESC LIMIT 1")[0]
    assert run["n_dropped"] == 4 and run["n_images_analysed"] == int((preds == labels).sum()) - int(
        (preds == labels)[[3, 17, 200, 599]].sum()
    )
    assert got["rows"] == got["tiled"] and got["contiguous"] == got["tiled"]
