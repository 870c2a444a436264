"""Hostile and careless input, and faults, as a user meets them (issue 23, item 4).

Each test here once failed: a NaN IoU that made a unit a detector, a `--replace`
that deleted other raters' ratings, a signal that left tracebacks or a commit
behind, values too large for the database or for memory reaching them, web
requests with NUL bytes answered 503, a plot cache anyone could fill, and
error lines that echoed raw control bytes. Every fault ends in one line and a
non-zero exit, with nothing half-written.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support import import_file
from test_import_netdissect import HEADER, write_tally
from test_reports import _rows, toy  # noqa: F401  (the module's imported toy run)
from test_serve_app import BASE, STUDY, demo  # noqa: F401  (the web app's demo-like run)


def _one_error_line(result, *needles: str) -> str:
    """The result failed with exactly one line on stderr, starting 'error: ', holding every needle."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- 4a: IoUs of an imported tally


@pytest.mark.db
@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "-0.25", "1.5"])
@pytest.mark.parametrize("where", ["score", "object-iou", "color-iou"])
def test_tally_iou_outside_0_1_is_refused(migrated_db, toy, cli, tmp_path, bad, where):  # noqa: F811
    path = write_tally(tmp_path / "tally.csv")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][HEADER.index(where)] = bad  # unit 1: top label R4_Bus in category object
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    before = _rows("SELECT count(*) AS n FROM seldb_store.netdissect")[0]["n"]
    result = cli("import", "netdissect", path, "--run", toy.run_id, "--layer", "fc6")
    _one_error_line(result, "line 2", where, "is not an IoU (a number from 0 to 1)")
    assert _rows("SELECT count(*) AS n FROM seldb_store.netdissect")[0]["n"] == before


@pytest.mark.db
def test_netdissect_view_never_calls_a_nan_or_infinite_iou_a_detector(migrated_db, toy, db):  # noqa: F811
    """Rows written around the import (an older seldb, a hand-made INSERT) with IoUs PostgreSQL sorts above 1."""
    layer_id = _rows("SELECT layer_id FROM seldb_store.run_layers WHERE run_id = :r AND name = 'conv1'", r=toy.run_id)
    values = {0: "NaN", 1: "Infinity", 2: "0.5", 3: "0.04"}
    try:
        for unit, iou in values.items():
            db.execute(
                "INSERT INTO seldb_store.netdissect (run_id, layer_id, unit, category, label, score, iou)"
                f" VALUES ({toy.run_id}, {layer_id[0]['layer_id']}, {unit}, 'object', 'x{unit}', 0.5, '{iou}')",
                write=True,
            )
        got = _rows(
            "SELECT unit, is_detector, iou FROM seldb.netdissect WHERE run_id = :r AND layer = 'conv1' ORDER BY unit",
            r=toy.run_id,
        )
        assert [(r["unit"], r["is_detector"]) for r in got] == [(0, False), (1, False), (2, True), (3, False)]
        assert got[0]["iou"] is None
    finally:
        db.execute(
            f"DELETE FROM seldb_store.netdissect WHERE run_id = {toy.run_id} AND layer_id = {layer_id[0]['layer_id']}",
            write=True,
        )


# --------------------------------------------------------------------------- 4b, 4j: ratings from a CSV


def _ratings_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit", "rater", "judged_object", "label"])
        writer.writerows(rows)
    return path


def _ratings_of_run(run_id: int) -> list[tuple]:
    return [
        (r["unit_label"], r["rater"], r["label"])
        for r in _rows(
            "SELECT unit_label, rater, label FROM seldb.am_ratings WHERE run_id = :r ORDER BY unit_label, rater",
            r=run_id,
        )
    ]


@pytest.mark.db
def test_replace_deletes_only_the_raters_in_the_file(migrated_db, db, toy, cli, tmp_path):  # noqa: F811
    db.execute(f"DELETE FROM seldb_store.am_ratings WHERE run_id = {toy.run_id}", write=True)
    first = [("fc6.0", "ann", "yes", "bus"), ("fc6.1", "ann", "no", ""), ("fc6.0", "bob", "yes", "van")]
    assert cli("import", "ratings", _ratings_csv(tmp_path / "a.csv", first), "--run", toy.run_id).exit_code == 0
    study = [("fc6.0", "browser-7", "yes", "coach")]  # as a browser study's answer is stored: a rater of its own
    assert cli("import", "ratings", _ratings_csv(tmp_path / "s.csv", study), "--run", toy.run_id).exit_code == 0
    again = [("fc6.2", "ann", "yes", "tram")]
    result = cli("import", "ratings", _ratings_csv(tmp_path / "b.csv", again), "--run", toy.run_id, "--replace")
    assert result.exit_code == 0, result.output
    assert _ratings_of_run(toy.run_id) == [
        ("fc6.0", "bob", "van"),
        ("fc6.0", "browser-7", "coach"),
        ("fc6.2", "ann", "tram"),
    ]
    db.execute(f"DELETE FROM seldb_store.am_ratings WHERE run_id = {toy.run_id}", write=True)


@pytest.mark.db
@pytest.mark.parametrize(
    ("rater", "label", "message"),
    [
        ("ann", "x" * 201, "the label has at most 200 characters"),
        ("ann", "\x1b[31mred\x1b[0m", "the label cannot hold control characters"),
        ("ann", "bus\x07", "the label cannot hold control characters"),
        ("a" * 81, "bus", "a rater's name has at most 80 characters"),
        ("\x1b[2Jann", "bus", "a rater's name cannot hold control characters"),
    ],
)
def test_csv_ratings_obey_the_rating_pages_rules(migrated_db, toy, cli, tmp_path, rater, label, message):  # noqa: F811
    before = _rows("SELECT count(*) AS n FROM seldb_store.am_ratings")[0]["n"]
    path = _ratings_csv(tmp_path / "r.csv", [("fc6.3", rater, "yes", label)])
    result = cli("import", "ratings", path, "--run", toy.run_id)
    line = _one_error_line(result, "line 2: " + message)
    assert "\x1b" not in line and "\x07" not in line
    assert _rows("SELECT count(*) AS n FROM seldb_store.am_ratings")[0]["n"] == before


# --------------------------------------------------------------------------- 4d: signals while uncertainty stores


@pytest.fixture
def small_run(migrated_db, tmp_path):
    """A two-layer run whose activation file stays where it was imported from."""
    from seldb.h5.reader import write_activation_file

    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(4), 30)
    layers = {"a": rng.gamma(1.5, 1.0, (labels.size, 12)).astype(np.float32)}
    path = write_activation_file(tmp_path / "acts.h5", class_names=list("wxyz"), labels=labels, layers=layers)
    return import_file(path, force=True).run_id


SIGNAL_RUNNER = """
import os, sys
import sqlalchemy as sa
import seldb.load.uncertainty as u
SIG, WHEN = int(sys.argv[1]), sys.argv[2]
real_copy, real_commit = u.copy_rows, sa.Connection.commit
def copy_rows(cursor, table, columns, types, rows):
    def signalled():
        for i, row in enumerate(rows):
            if WHEN == "copy" and i == 3:
                os.kill(os.getpid(), SIG)  # mid-COPY
            yield row
    return real_copy(cursor, table, columns, types, signalled())
def commit(self):
    real_commit(self)
    if WHEN == "commit":
        os.kill(os.getpid(), SIG)  # as a signal that arrived while the commit was in flight is raised: after it
u.copy_rows = copy_rows
sa.Connection.commit = commit
sys.argv = ["seldb"] + sys.argv[3:]
from seldb_cli.main import main
main()
"""


def _signalled_cli(tmp_path: Path, url: str, sig: int, when: str, *args) -> subprocess.CompletedProcess:
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(SIGNAL_RUNNER))
    env = {**os.environ, "SELDB_DATABASE_URL": url}
    command = [sys.executable, str(script), str(sig), when, *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _stored_intervals(run_id: int) -> int:
    return _rows("SELECT count(*) AS n FROM seldb_store.unit_measure_uncertainty WHERE run_id = :r", r=run_id)[0]["n"]


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_mid_copy_rolls_back_in_one_line(migrated_db, small_run, tmp_path, sig, code, word):
    done = _signalled_cli(
        tmp_path,
        migrated_db,
        sig,
        "copy",
        "uncertainty",
        "--run",
        small_run,
        "--bootstrap",
        5,
        "--permutations",
        5,
        "-q",
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.strip().splitlines() == [f"{word}: nothing was written"]
    assert _stored_intervals(small_run) == 0


@pytest.mark.db
@pytest.mark.slow
def test_a_signal_during_the_commit_says_the_rows_were_stored(migrated_db, small_run, tmp_path):
    done = _signalled_cli(
        tmp_path,
        migrated_db,
        signal.SIGTERM,
        "commit",
        "uncertainty",
        "--run",
        small_run,
        "--bootstrap",
        5,
        "--permutations",
        5,
        "-q",
    )
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"terminated (SIGTERM): the signal came during the commit: run {small_run}'s intervals were stored"
    ]
    assert _stored_intervals(small_run) > 0


# --------------------------------------------------------------------------- 4e: any moment, any fault: one line

SELDB = Path(sys.executable).with_name("seldb")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")]
)
@pytest.mark.parametrize("delay", [0.15, 0.4])
def test_a_signal_while_seldb_starts_is_one_line(migrated_db, sig, code, word, delay):
    """`seldb sql -` waits on stdin for its query: the signal comes while starting or while it waits."""
    import time

    process = subprocess.Popen(
        [str(SELDB), "sql", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{word}: ") and "nothing was written" in lines[0], lines


# --------------------------------------------------------------------------- 4e, 4i, 4j: uncertainty's options and runs


@pytest.mark.db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--seed", "99999999999999999999"],
            "--seed is at most 9,223,372,036,854,775,807, got 99,999,999,999,999,999,999",
        ),
        (["--bootstrap", "3000000000"], "--bootstrap is at most 2,147,483,647"),
        (["--permutations", "3000000000"], "--permutations is at most 2,147,483,647"),
        (["--bootstrap", "1000000000", "--permutations", "0"], "GiB of memory (seldb holds at most 8 GiB"),
    ],
)
def test_uncertainty_refuses_out_of_range_options_up_front(small_run, cli, args, message):
    result = cli("uncertainty", "--run", small_run, *args, "-q")
    _one_error_line(result, message)
    assert _stored_intervals(small_run) == 0


@pytest.mark.db
def test_uncertainty_of_a_run_without_an_activation_file_says_so(small_run, db, cli):
    db.execute(
        "UPDATE seldb_store.runs SET source_file = NULL,"
        f' options = options || \'{{"source": "seldb dissect"}}\'::jsonb WHERE run_id = {small_run}',
        write=True,
    )
    result = cli("uncertainty", "--run", small_run, "-q")
    line = _one_error_line(result, f"run {small_run} was not loaded from an activation file (source: seldb dissect)")
    assert "None" not in line


# --------------------------------------------------------------------------- 4e, 4j: dissect's user code and dataset

PLANTED = ["--model-module", "seldb.dissect.planted_net:PlantedNet", "--layers", "planted", "--quiet"]


@pytest.fixture(scope="module")
def mini_broden(tmp_path_factory):
    from seldb.dissect.minibroden import make_mini_broden

    return make_mini_broden(tmp_path_factory.mktemp("mini") / "mini", n_images=6, image_size=16, seed=3).directory


def _dissect_tables() -> dict[str, int]:
    return {t: _rows(f"SELECT count(*) AS n FROM seldb_store.{t}")[0]["n"] for t in ("runs", "dissections")}


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import torch\ndef build():\n    raise ValueError('no weights here')\n",
            "build() of {file} raised ValueError: no weights here",
        ),
        ("def build(:\n    pass\n", "{file} line 1: "),
        ("import sys\ndef build():\n    sys.exit(3)\n", "build() of {file} called sys.exit(3)"),
        ("import sys\nsys.exit(3)\n", "importing {file} called sys.exit(3)"),
        ("raise RuntimeError('at import')\n", "importing {file} raised RuntimeError: at import"),
    ],
)
def test_model_module_faults_are_one_line(migrated_db, mini_broden, cli, tmp_path, source, message):
    module = tmp_path / "net.py"
    module.write_text(source)
    before = _dissect_tables()
    result = cli("dissect", "--model-module", f"{module}:build", "--broden", mini_broden, "--layers", "x", "-q")
    _one_error_line(result, "--model-module: " + message.format(file=module))
    assert _dissect_tables() == before


def _edited_copy(mini_broden: Path, tmp_path: Path, name: str, edit) -> Path:
    import shutil

    copy = tmp_path / "broden"
    shutil.copytree(mini_broden, copy)
    path = copy / name
    path.write_text(edit(path.read_text()))
    return copy


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "index.csv",
            lambda t: t.replace("mini/0001.png", "/etc/hostname", 1),
            "image '/etc/hostname' is not a path inside",
        ),
        ("index.csv", lambda t: t.replace("mini/0002.png", "../../outside.png", 1), "image '../../outside.png' is not"),
        ("index.csv", lambda t: t.replace("mini/0000_color.png", "/tmp/x.png", 1), "color '/tmp/x.png' is not a path"),
        ("label.csv", lambda t: t.replace(",color(", ",colour(", 1), "category 'colour' is not in category.csv"),
    ],
)
def test_broden_files_outside_the_dataset_or_unknown_categories_are_refused(
    migrated_db, mini_broden, cli, tmp_path, name, edit, message
):
    broden = _edited_copy(mini_broden, tmp_path, name, edit)
    before = _dissect_tables()
    result = cli("dissect", *PLANTED, "--broden", broden)
    _one_error_line(result, message)
    assert _dissect_tables() == before


# --------------------------------------------------------------------------- 4f, 4g, 4h, 4j: the web app


@pytest.fixture
def web(demo, db, tmp_path):  # noqa: F811
    from starlette.testclient import TestClient

    from seldb.serve import create_app

    app = create_app(db, "127.0.0.1", tmp_path / "cache")
    with TestClient(app, base_url=BASE, raise_server_exceptions=False, follow_redirects=False) as client:
        yield app, client


@pytest.mark.db
def test_nul_bytes_in_addresses_queries_and_forms_are_400(web, demo):  # noqa: F811
    app, client = web
    run = demo.run_id
    for path in (
        f"/runs/{run}/layer/%00",
        f"/runs/{run}/unit/fc1.%00",
        f"/runs/{run}/plot/fc1.5?class=%00",
        f"/runs/{run}/units?filter=%00",
        f"/runs/{run}/units?layer=fc1&sort=%00",
    ):
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
    posted = client.post(f"/rate/{STUDY}/item/%00", data={"judged_object": "yes"})
    assert posted.status_code == 400, posted.text[:200]
    assert client.get(f"/runs/{run}/layer/fc1").status_code == 200  # the app goes on


@pytest.mark.db
def test_other_sites_cannot_make_the_server_draw_plots(web, demo, tmp_path):  # noqa: F811
    app, client = web
    image = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"}
    refused = client.get(f"/runs/{demo.run_id}/plot/fc1.5?class=five", headers=image)
    assert refused.status_code == 403
    assert not list((tmp_path / "cache").glob("run*/*.png"))  # nothing drawn
    link = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    assert client.get("/runs", headers=link).status_code == 200  # a link from elsewhere still opens the app
    own = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"}
    drawn = client.get(f"/runs/{demo.run_id}/plot/fc1.5?class=five", headers=own)
    assert drawn.status_code == 200 and drawn.content[:4] == b"\x89PNG"


@pytest.mark.db
@pytest.mark.slow
def test_the_plot_cache_stays_within_its_size(web, demo, tmp_path):  # noqa: F811
    app, client = web
    plots = app.state.ctx.plots
    plots.max_bytes = 1  # every new plot evicts all older ones
    for chosen in ("five", "one", "two"):
        response = client.get(f"/runs/{demo.run_id}/plot/fc1.5?class={chosen}")
        assert response.status_code == 200 and response.content[:4] == b"\x89PNG", chosen
        cached = list((tmp_path / "cache").glob("run*/*.png"))
        assert len(cached) == 1 and cached[0].read_bytes() == response.content
        assert len(list((tmp_path / "cache").glob("run*/*.json"))) == 1


@pytest.mark.db
def test_serve_with_a_file_as_its_cache_is_refused_before_it_starts(migrated_db, cli, tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    result = cli("serve", "--port", _free_port(), "--cache", taken)
    _one_error_line(result, f"--cache {taken}: not a folder")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.db
@pytest.mark.slow
def test_serve_stopped_by_sigterm_says_what_was_kept(migrated_db, tmp_path):
    import socket
    import time

    port = _free_port()
    env = {**os.environ, "SELDB_DATABASE_URL": migrated_db}
    command = [str(SELDB), "serve", "--port", str(port), "--cache", str(tmp_path / "cache")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert (
        err.strip().splitlines()[-1]
        == "terminated (SIGTERM): the server stopped; every rating was saved as it was given"
    )
    assert "nothing was written" not in err


@pytest.mark.db
def test_a_layer_named_dot_dot_is_refused(migrated_db, cli, tmp_path):
    """Its page, /runs/N/layer/.., is a link browsers resolve to the run's page (HDF5 cannot name one '.')."""
    import h5py

    from seldb.h5.reader import write_activation_file

    labels = np.repeat(np.arange(3), 10)
    values = np.random.default_rng(0).random((30, 2)).astype(np.float32)
    path = write_activation_file(tmp_path / "a.h5", class_names=list("abc"), labels=labels, layers={"x": values})
    with h5py.File(path, "a") as h5:
        h5["layers"].move("x", "..")
    before = _rows("SELECT count(*) AS n FROM seldb_store.runs")[0]["n"]
    _one_error_line(cli("import-h5", path, "-q"), "a layer cannot be named '..'")
    assert _rows("SELECT count(*) AS n FROM seldb_store.runs")[0]["n"] == before


# --------------------------------------------------------------------------- one line, whatever went wrong


@pytest.mark.db
def test_error_lines_never_carry_raw_control_characters(migrated_db, cli, tmp_path):
    name = tmp_path / "run\x1b[2J\x1b[31mred\u202e.h5"
    result = cli("import-h5", name, "-q")
    line = _one_error_line(result, "\\x1b[2J\\x1b[31mred\\u202e.h5")
    assert line.isprintable()


@pytest.mark.db
def test_an_unexpected_exception_is_one_line_naming_it(migrated_db, cli, monkeypatch):
    from seldb.api import Seldb

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(Seldb, "runs_overview", broken)
    result = cli("runs")
    _one_error_line(result, "unexpected ZeroDivisionError: division by zero (a bug in seldb; SELDB_TRACEBACK=1")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "interrupted: the file keeps every finished chunk"),
        ("terminated", 143, "terminated (SIGTERM): the file keeps every finished chunk"),
    ],
)
def test_a_command_that_says_what_it_kept_exits_with_the_signals_code(raised, code, line):
    """As `seldb ingest` does: the command catches the signal itself and names what it kept."""
    import typer
    from typer.testing import CliRunner

    from seldb.errors import Terminated
    from seldb_cli.common import friendly, interrupted

    app = typer.Typer()

    @app.command()
    @friendly
    def long_command() -> None:
        try:
            raise Terminated() if raised == "terminated" else raised
        except KeyboardInterrupt as exc:
            interrupted(exc, "the file keeps every finished chunk")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == code
    assert result.stderr.strip().splitlines() == [line]


PARSING_RUNNER = """
import os, sys
import typer.main
SIG = int(sys.argv[1])
real_get_command = typer.main.get_command
def get_command(app):
    command = real_get_command(app)
    real_make_context = command.make_context
    def make_context(*args, **kwargs):
        os.kill(os.getpid(), SIG)  # while typer parses the command line, before any command of seldb runs
        return real_make_context(*args, **kwargs)
    command.make_context = make_context
    return command
typer.main.get_command = get_command
sys.argv = ["seldb"] + sys.argv[2:]
from seldb_cli.main import main
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_while_the_command_line_is_parsed_is_one_line(tmp_path, sig, code, word):
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(PARSING_RUNNER))
    done = subprocess.run([sys.executable, str(script), str(sig), "runs"], capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    assert done.stderr.strip().splitlines() == [f"{word}: nothing was written"]
