"""`seldb report ...` through the real CLI: formats, --out, and one-line errors for bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_ratings import write_ratings
from test_reports import CONCEPT, toy  # noqa: F401  (the module's imported toy run)

pytestmark = pytest.mark.db


def _one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


REPORTS = {  # CLI arguments -> the library call that makes the same report
    ("correlations",): lambda db, run: db.reports.correlations(run),
    ("layers",): lambda db, run: db.reports.layers(run),
    ("top", "--n", "3"): lambda db, run: db.reports.top(run, n=3),
    ("unit", "fc6.0"): lambda db, run: db.reports.unit("fc6.0", run),
    ("concept", CONCEPT): lambda db, run: db.reports.concept(CONCEPT, run),
    ("detectors",): lambda db, run: db.reports.detectors(run),
    ("ratings",): lambda db, run: db.reports.ratings(run),
}


def test_every_report_in_every_format(db, toy, cli, tmp_path):  # noqa: F811
    """The CLI prints, in each format, exactly the report the library makes from the views
    (whose numbers test_reports checks against independent computations)."""
    run = toy.run_id
    imported = cli("import", "ratings", write_ratings(tmp_path / "r.csv"), "--run", run, "--replace")
    assert imported.exit_code == 0, imported.output
    for args, make in REPORTS.items():
        report = make(db, run)
        assert report.run_id == run and all(section.frame.height for section in report.sections), args
        table = cli("report", *args, "--run", run)
        assert table.exit_code == 0, table.output
        assert " ".join(report.title.split()) in " ".join(table.stdout.split())  # however the terminal wraps it
        for fmt in ("json", "markdown", "csv"):
            printed = cli("report", *args, "--run", run, "--format", fmt)
            assert printed.exit_code == 0, printed.output
            assert printed.stdout == report.to_text(fmt), (args, fmt)
        parsed = json.loads(report.to_text("json"))
        assert parsed["run_id"] == run
        assert {name: len(rows) for name, rows in parsed["tables"].items()} == {
            section.name: section.frame.height for section in report.sections
        }
    ratings = json.loads(cli("report", "ratings", "--run", run, "-f", "json").stdout)["tables"]["ratings"]
    assert {row["layer"] for row in ratings} == {"conv1", "conv2", "fc6"}  # the layers rated in RATINGS


def test_csv_is_plain_csv_and_the_verdict_goes_to_stderr(migrated_db, toy, cli):  # noqa: F811
    result = cli("report", "detectors", "--run", toy.run_id, "-f", "csv")
    assert result.exit_code == 0
    assert result.stdout.startswith("# claims\nunit_label,precision_60,")
    assert "pass the precision criterion" in result.stderr
    layers = cli("report", "layers", "--run", toy.run_id, "--measure", "ccmas", "-f", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(layers)))
    assert [r["layer"] for r in rows] == ["conv1", "conv2", "fc6"] and {r["measure"] for r in rows} == {"ccmas"}


def test_table_shows_whole_values_when_piped(migrated_db, toy, cli):  # noqa: F811
    result = cli("report", "top", "--run", toy.run_id, "--measure", "mi_false_discovery_rate", "--n", "2")
    assert result.exit_code == 0, result.output
    assert "mi_false_discovery_rate" in result.stdout and "…" not in result.stdout


def test_out_writes_files_and_plots(migrated_db, toy, cli, tmp_path):  # noqa: F811
    result = cli("report", "unit", "fc6.0", "--run", toy.run_id, "--plot", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    stem = f"unit-run{toy.run_id}-fc6.0"
    assert {f"{stem}-measures.csv", f"{stem}-school_bus.png", f"{stem}-school_bus.json"} <= names
    assert f"wrote {tmp_path / (stem + '-school_bus.png')}" in result.stderr
    cli("report", "correlations", "--run", toy.run_id, "-f", "json", "--out", tmp_path)
    assert json.loads((tmp_path / f"correlations-run{toy.run_id}.json").read_text())["report"] == "correlations"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["unit", "fc9.1"], ["no unit 'fc9.1'", "no layer 'fc9'", "conv1, conv2, fc6"]),
        (["unit", "conv1.99"], ["no unit 'conv1.99'", "units 0..5"]),
        (["unit", "banana"], ["'banana' is not a unit label"]),
        (["unit", "fc6.0", "--class", "zebra"], ["no class 'zebra'"]),
        (["concept", "no_such_concept"], ["no concept 'no_such_concept'"]),
        (["top", "--measure", "precison_60"], ["unknown measure 'precison_60'", "did you mean 'precision_60'"]),
        (["correlations", "--layer", "fc7"], ["no layer 'fc7'"]),
        (["concept", CONCEPT, "--sort", "nope"], ["cannot sort by 'nope'"]),
    ],
)
def test_bad_input_is_one_line(migrated_db, toy, cli, args, fragments):  # noqa: F811
    _one_error_line(cli("report", *args, "--run", toy.run_id), *fragments)


def test_unknown_run_is_one_line(migrated_db, toy, cli):  # noqa: F811
    for report in ("correlations", "layers", "top", "detectors", "ratings"):
        _one_error_line(cli("report", report, "--run", 987654), "no run 987654")
    _one_error_line(cli("report", "unit", "fc6.0", "--run", 987654), "no run 987654")
