"""`seldb import netdissect`: a tally.csv in NetDissect(-Lite)'s own column layout, joined with seldb's measures."""

from __future__ import annotations

import csv

import pytest
from test_reports import CONCEPT, _rows, toy  # noqa: F401  (the module's imported toy run)

pytestmark = pytest.mark.db

CATEGORIES = ["color", "object", "part", "material", "scene", "texture"]
HEADER = ["unit", "category", "label", "score"] + [
    f"{cat}-{part}" for cat in CATEGORIES for part in ("label", "truth", "activation", "intersect", "iou")
]
# (unit 1-based, top category, top label, score, {category: (label, iou)}) as NetDissect-Lite writes them
TALLY = [
    (
        1,
        "object",
        "R4_Bus",
        0.2031,
        {
            "color": ("red-c", 0.041),
            "object": ("R4_Bus", 0.2031),
            "part": ("wheel", 0.0311),
            "material": ("metal", 0.0209),
            "scene": ("street", 0.0120),
            "texture": ("striped", 0.0051),
        },
    ),
    (
        3,
        "texture",
        "striped",
        0.0712,
        {
            "color": ("blue-c", 0.0284),
            "object": ("r4_bus", 0.0112),
            "part": ("", 0.0),
            "material": ("wood", 0.0204),
            "scene": ("", 0.0),
            "texture": ("striped", 0.0712),
        },
    ),
    (
        10,
        "scene",
        "street",
        0.0433,
        {
            "color": ("", 0.0),
            "object": ("car", 0.031),
            "part": ("", 0.0),
            "material": ("", 0.0),
            "scene": ("street", 0.0433),
            "texture": ("", 0.0),
        },
    ),
]


def write_tally(path, rows=TALLY, header=HEADER):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for unit, category, label, score, per in rows:
            values = [unit, category, label, score]
            for cat in CATEGORIES:
                name, iou = per[cat]
                values += [name, 1000, 800, int(iou * 1800), iou]
            writer.writerow(values)
    return path


def test_tally_imports_and_joins_iou_with_precision_and_ccmas(migrated_db, toy, cli, tmp_path):  # noqa: F811
    tally = write_tally(tmp_path / "tally.csv")
    result = cli("import", "netdissect", tally, "--run", toy.run_id, "--layer", "fc6")
    assert result.exit_code == 0, result.output
    assert "3 units, 12 labels imported" in result.stdout  # 6 + 4 + 2: one row per distinct label of a unit
    joined = _rows(
        "SELECT nd.unit_label, nd.label, nd.iou, nd.precision_60, nd.ccmas, m.precision_60 AS p60, m.ccmas AS c"
        " FROM seldb.netdissect AS nd JOIN seldb.unit_measures AS m USING (run_id, unit_label)"
        " WHERE nd.run_id = :r AND nd.is_top ORDER BY nd.unit",
        r=toy.run_id,
    )
    assert [(j["unit_label"], j["label"], j["iou"]) for j in joined] == [
        ("fc6.0", "R4_Bus", 0.2031),
        ("fc6.2", "striped", 0.0712),
        ("fc6.9", "street", 0.0433),
    ]
    for j in joined:
        assert (j["precision_60"], j["ccmas"]) == (j["p60"], j["c"]) and j["p60"] is not None
    concept = _rows(
        "SELECT unit_label, iou FROM seldb.concept_measures WHERE run_id = :r AND concept = :c"
        " AND iou IS NOT NULL ORDER BY unit",
        r=toy.run_id,
        c=CONCEPT,
    )
    assert [(c["unit_label"], c["iou"]) for c in concept] == [("fc6.0", 0.2031), ("fc6.2", 0.0112)]


def test_reimport_replaces_the_layer(migrated_db, toy, cli, tmp_path):  # noqa: F811
    first = cli(
        "import", "netdissect", write_tally(tmp_path / "a.csv", TALLY[:2]), "--run", toy.run_id, "--layer", "conv2"
    )  # conv2 has 8 units: TALLY's unit 10 is beyond it
    assert first.exit_code == 0, first.output
    before = _rows("SELECT unit FROM seldb.netdissect WHERE run_id = :r AND layer = 'conv2'", r=toy.run_id)
    assert {r["unit"] for r in before} == {0, 2}  # the whole first tally landed
    result = cli(
        "import", "netdissect", write_tally(tmp_path / "b.csv", TALLY[:1]), "--run", toy.run_id, "--layer", "conv2"
    )
    assert result.exit_code == 0, result.output
    rows = _rows("SELECT unit, is_top FROM seldb.netdissect WHERE run_id = :r AND layer = 'conv2'", r=toy.run_id)
    assert {r["unit"] for r in rows} == {0} and sum(r["is_top"] for r in rows) == 1


def _malformed(tmp_path):
    """(file, the message it must give) for every way a tally can be broken."""
    cases = {
        "missing.csv": ("unit,category,label\n1,object,bus\n", "no column score"),
        "empty.csv": ("", "empty file"),
        "score.csv": (None, "line 2: score 'high' is not a number"),
        "unit.csv": (None, "line 2: unit 'one' is not an integer"),
        "zero.csv": (None, "line 2: unit 0 is below 1"),
        "fields.csv": (",".join(HEADER) + "\n1,object,bus,0.2\n", "line 2: 4 fields, the header has 34"),
        "twice.csv": (None, "line 3: unit 1 appears again (first on line 2)"),
        "beyond.csv": (None, "unit 11 (1-based) is beyond layer fc6's 10 units"),
        "half.csv": (
            "unit,category,label,score,object-label,object-iou\n1,object,bus,0.1,bus,0.1\n",
            "category 'object' lacks column object-truth",
        ),
    }
    rows = {
        "score.csv": [(1, "object", "bus", "high", TALLY[0][4])],
        "unit.csv": [("one", "object", "bus", 0.1, TALLY[0][4])],
        "zero.csv": [(0, "object", "bus", 0.1, TALLY[0][4])],
        "twice.csv": [TALLY[0], TALLY[0]],
        "beyond.csv": [(11, "object", "bus", 0.1, TALLY[0][4])],
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        if text is None:
            write_tally(path, rows[name])
        else:
            path.write_text(text)
        yield path, message
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00unit")
    yield binary, "not a readable CSV file"


def test_malformed_tally_is_one_line_and_writes_nothing(migrated_db, toy, cli, tmp_path):  # noqa: F811
    before = _rows("SELECT count(*) AS n FROM seldb_store.netdissect")[0]["n"]
    for path, message in _malformed(tmp_path):
        result = cli("import", "netdissect", path, "--run", toy.run_id, "--layer", "fc6")
        assert result.exit_code == 1, (path.name, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (path.name, lines)
    assert _rows("SELECT count(*) AS n FROM seldb_store.netdissect")[0]["n"] == before


def test_unknown_run_layer_or_file(migrated_db, toy, cli, tmp_path):  # noqa: F811
    tally = write_tally(tmp_path / "tally.csv")
    for args, message in [
        (["--run", 987654, "--layer", "fc6"], "error: no run 987654 (seldb runs lists them)"),
        (["--run", toy.run_id, "--layer", "fc7"], "error: no layer 'fc7' in run"),
    ]:
        result = cli("import", "netdissect", tally, *args)
        assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
    missing = cli("import", "netdissect", tmp_path / "nope.csv", "--run", toy.run_id, "--layer", "fc6")
    assert missing.exit_code == 1 and "nope.csv: no such file" in missing.stderr


def test_zero_based_files_and_the_websites_numbering(migrated_db, toy, cli, tmp_path):  # noqa: F811
    """--one-based (the default) is the NetDissect website's and tally.csv's numbering: its unit 1 is seldb's
    fc6.0; --zero-based reads a file numbered from 0, and both land on the same rows."""
    query = "SELECT unit, label, score FROM seldb.netdissect WHERE run_id = :r AND layer = 'fc6' ORDER BY unit, label"
    one = cli("import", "netdissect", write_tally(tmp_path / "one.csv", TALLY), "--run", toy.run_id, "--layer", "fc6")
    assert one.exit_code == 0, one.output
    from_one = _rows(query, r=toy.run_id)
    assert sorted({r["unit"] for r in from_one}) == [0, 2, 9]
    shifted = [(unit - 1, *rest) for unit, *rest in TALLY]
    zero = cli(
        "import", "netdissect", write_tally(tmp_path / "zero.csv", shifted), "--run", toy.run_id, "--layer", "fc6",
        "--zero-based",
    )  # fmt: skip
    assert zero.exit_code == 0, zero.output
    assert _rows(query, r=toy.run_id) == from_one
    refused = cli("import", "netdissect", tmp_path / "zero.csv", "--run", toy.run_id, "--layer", "fc6", "--one-based")
    lines = refused.stderr.strip().splitlines()
    assert refused.exit_code == 1 and len(lines) == 1 and "unit 0 is below 1" in lines[0] and "--zero-based" in lines[0]
    assert _rows(query, r=toy.run_id) == from_one
