"""benchmarks/gpu_check.sh: the dry run on the CPU, the one-line failure without CUDA, and a short CUDA run.

The numbers themselves are not checked here (they depend on the machine);
what is checked is that every measurement runs through seldb's own code
paths and is reported with its ratio, and that a machine without CUDA gets
one clear line instead of a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^(alexnet|vgg16)\s+(.+?)\s+([0-9.]+) images/s(?:\s+([0-9.]+)% of min\(forward, decode\)\s+(ok|BELOW))?$"
)


def run(command: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **env},
    )


def measured(stdout: str) -> dict[tuple[str, str], tuple[float, float | None]]:
    rows = {}
    for line in stdout.splitlines():
        match = LINE.match(line)
        if match:
            arch, what, rate, ratio, _ = match.groups()
            rows[arch, what] = (float(rate), None if ratio is None else float(ratio) / 100)
    return rows


def check_report(stdout: str, models: list[str], gpu_decoder: str, end_to_end: bool) -> None:
    rows = measured(stdout)
    command = [(what, rate) for (arch, what), (rate, _) in rows.items() if what.startswith("seldb ingest")]
    assert len(command) == end_to_end and "FAILED" not in stdout, stdout
    if end_to_end:
        assert command[0][0].startswith("seldb ingest command, ") and command[0][1] > 0
    for arch in models:
        forward = rows[arch, "forward (bare, batch on device)"][0]
        for decoder in ("cpu", gpu_decoder):
            decode = rows[arch, f"decode+preprocess --decode-on {decoder}"][0]
            ingest, ratio = rows[arch, f"ingest --decode-on {decoder}"]
            assert min(forward, decode, ingest) > 0
            # rates print to 0.1 images/s and the ratio to 0.1%: the ratio lies within what those roundings allow
            low, high = (ingest - 0.05) / (min(forward, decode) + 0.05), (ingest + 0.05) / (min(forward, decode) - 0.05)
            assert low - 0.0005 <= ratio <= high + 0.0005, (arch, decoder, ingest, forward, decode, ratio)
    assert len(rows) == 5 * len(models) + end_to_end, stdout
    assert "target ingest >= 90% of min(forward, decode): met on" in stdout


@pytest.mark.slow
@pytest.mark.db
def test_dry_run_on_cpu_through_the_shell_script(migrated_db):
    """Every line of the CUDA run, on the CPU; `seldb ingest` itself into the test database (SELDB_DATABASE_URL)."""
    result = run(
        ["bash", "benchmarks/gpu_check.sh", "--images", "16", "--batch-size", "8", "--repeats", "1", "--end-to-end"],
        GPU_CHECK_DEVICE="cpu",
        GPU_CHECK_PYTHON=sys.executable,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cpu (dry run)" in result.stdout and "16 JPEGs 160x120 -> crop 64" in result.stdout
    check_report(result.stdout, ["alexnet", "vgg16"], "cuda (run on cpu)", end_to_end=True)


@pytest.mark.unit
def test_no_cuda_is_one_line():
    result = run([sys.executable, "benchmarks/gpu_check.py", "--device", "cuda"], CUDA_VISIBLE_DEVICES="")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("gpu_check: no CUDA device")


@pytest.mark.gpu
def test_short_run_on_cuda():
    result = run(
        [
            sys.executable,
            "benchmarks/gpu_check.py",
            "--device",
            "cuda",
            "--models",
            "alexnet",
            "--images",
            "512",
            "--repeats",
            "1",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    check_report(result.stdout, ["alexnet"], "cuda", end_to_end=True)
