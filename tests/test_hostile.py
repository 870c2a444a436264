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

import pytest
from test_import_netdissect import CATEGORIES, HEADER, TALLY, write_tally
from test_reports import _rows, toy  # noqa: F401  (the module's imported toy run)


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


assert CATEGORIES and TALLY  # the tally layout this module borrows


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
