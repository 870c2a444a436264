"""cli/ray_driver.py: a `--engine ray` command runs in a watched child; a child that ends without passing
through Python's exit (as Ray's `_Exit(1)` ends a driver whose raylet died) gets one line from the parent,
and a child that exits normally is passed on as it is. A stand-in module plays the command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.unit

COMMAND = """
import os, sys
def main():
    from seldb_cli import ray_driver
    assert ray_driver.is_child()
    ray_driver.start_child()
    os.write(2, b"a C-level message for the log\\n")  # as Ray's C++ logs write to the driver's stderr
    how = sys.argv[1:][-1]
    if how == "vanish":
        os._exit(1)  # no atexit: what Ray's _Exit does
    print("error: the command's own line", file=sys.stderr)
    sys.exit(3)
"""


def supervised(tmp_path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "stand_in.py").write_text(textwrap.dedent(COMMAND))
    code = "import sys; from seldb_cli import ray_driver; ray_driver.supervise('stand_in', sys.argv[1:])"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_child_that_vanishes_gets_one_line_and_exit_1(tmp_path):
    done = supervised(tmp_path, "import-h5", "acts.h5", "--engine", "ray", "vanish")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and done.stdout == "" and len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "error: Ray stopped this command (exit status 1): a process it needs died; nothing was written."
    )
    log = lines[0].rsplit("Ray's messages: ", 1)[1]
    with open(log) as handle:
        assert handle.read() == "a C-level message for the log\n"  # the child's fd 2 went to the log
    os.unlink(log)


def test_an_ingest_says_its_recording_is_kept(tmp_path):
    done = supervised(tmp_path, "ingest", "--engine=ray", "vanish")
    assert "the recorded chunks are kept: run the same command again to resume" in done.stderr
    os.unlink(done.stderr.strip().rsplit("Ray's messages: ", 1)[1])


def test_a_child_that_exits_normally_is_passed_on(tmp_path):
    done = supervised(tmp_path, "import-h5", "acts.h5", "--engine", "ray", "exit")
    assert done.returncode == 3 and done.stderr == "error: the command's own line\n"


@pytest.mark.parametrize(
    "args, wanted",
    [
        (["import-h5", "f.h5", "--engine", "ray"], True),
        (["ingest", "--engine=ray"], True),
        (["import-h5", "f.h5", "--engine", "local"], False),
        (["import-h5", "ray"], False),
        (["sql", "SELECT 1"], False),
    ],
)
def test_which_command_lines_are_watched(args, wanted):
    from seldb_cli import ray_driver

    assert ray_driver.wanted(args) is wanted
