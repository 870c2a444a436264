"""`seldb study add/list` and `seldb serve` as a user runs them: one line for bad input, a real server otherwise."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import free_port
from serve_support import AM_UNITS, make_demo_like
from support import rows

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def demo(database_url, tmp_path_factory):
    import seldb

    root = tmp_path_factory.mktemp("serve-cli")
    with pytest.MonkeyPatch.context() as mp, seldb.connect(database_url) as db:
        mp.setenv("SELDB_DATABASE_URL", database_url)
        db.upgrade("head")
        made = make_demo_like(db, root, study="cli-pilot", am_seed=300)
        try:
            yield made
        finally:
            db.delete_run(made.run_id)


def _second_sheet(db, demo, out: Path, seed: int) -> Path:
    return db.am_sheet(list(AM_UNITS[:2]), out, run=demo.run_id, seed=seed).key


def test_study_add_and_list(cli, db, demo, tmp_path):
    key = _second_sheet(db, demo, tmp_path / "sheet2", seed=11)
    added = cli("study", "add", key, "--name", "second-look")
    assert added.exit_code == 0, added.output
    assert "study second-look: 2 items of run" in added.output
    listed = cli("study", "list")
    assert "second-look" in listed.output and "cli-pilot" in listed.output
    items = rows("SELECT item, unit_label FROM seldb.rating_study_items WHERE study = 'second-look' ORDER BY position")
    key_items = json.loads(Path(key).read_text())["items"]
    assert [(i["item"], i["unit_label"]) for i in items] == [(e["item"], e["unit"]) for e in key_items]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "cli-pilot"], "there is a study named 'cli-pilot' already"),
        (["--name", "bad name!"], "study name 'bad name!'"),
        (["--run", "987654"], "is the key of a sheet of run"),
    ],
)
def test_study_add_refuses_in_one_line(cli, db, demo, tmp_path, args, message):
    key = _second_sheet(db, demo, tmp_path / "sheet3", seed=12)
    before = rows("SELECT count(*) AS n FROM seldb.rating_studies")[0]["n"]
    result = cli("study", "add", key, *args)
    assert result.exit_code == 1 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert rows("SELECT count(*) AS n FROM seldb.rating_studies")[0]["n"] == before


def test_a_sheet_is_one_study_and_its_images_must_be_unchanged(cli, db, demo, tmp_path):
    taken = cli("study", "add", demo.sheet_dir / "key.json", "--name", "again")
    assert taken.exit_code == 1 and "is already the study 'cli-pilot'" in taken.output
    key = _second_sheet(db, demo, tmp_path / "sheet4", seed=13)
    image = Path(json.loads(Path(key).read_text())["items"][0]["images"][0])
    original = image.read_bytes()
    from PIL import Image

    Image.new("RGB", (48, 48), (1, 2, 3)).save(image)
    try:
        changed = cli("study", "add", key, "--name", "changed")
        assert changed.exit_code == 1 and "changed since the sheet was made" in changed.output
    finally:
        image.write_bytes(original)
    missing = cli("study", "add", tmp_path / "nowhere" / "key.json")
    assert missing.exit_code == 1 and "no such key file" in missing.output


def test_serve_refuses_a_bad_port_and_a_port_in_use(cli, demo):
    bad = cli("serve", "--port", "0")
    assert bad.exit_code == 1 and "--port must be from 1 to 65535" in bad.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = cli("serve", "--port", taken.getsockname()[1])
    assert busy.exit_code == 1 and "cannot listen on 127.0.0.1" in busy.output
    assert "choose another --port" in busy.output


def _wait_for_line(process, needle: str, timeout: float = 60) -> str:
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen += line
        if needle in line:
            return seen
        if process.poll() is not None:
            break
    raise AssertionError(f"no {needle!r} from seldb serve; got: {seen}")


def test_serve_beyond_loopback_warns_serves_and_stops_on_ctrl_c(demo, database_url, tmp_path):
    port = free_port()
    env = dict(os.environ, SELDB_DATABASE_URL=database_url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seldb_cli.main",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--cache",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(process, "seldb serve:")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/runs/{demo.run_id}/units", timeout=30) as response:
            assert response.status == 200 and b"fc1.0" in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert "beyond this machine" in err and "there is no login" in err
    assert process.returncode == 0
