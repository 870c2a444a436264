"""`seldb import ratings` and seldb.am_ratings_summary (the paper's Table 1), recomputed in Python."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
from test_reports import NAMES, _rows, toy  # noqa: F401  (the module's imported toy run)

pytestmark = pytest.mark.db

# unit, rater, judged_object, label: unequal numbers of raters per unit, labels in mixed case and synonyms
RATINGS = [
    ("fc6.0", "ann", "yes", "School  Bus"),
    ("fc6.0", "bob", "yes", "bus"),
    ("fc6.0", "cy", "yes", "coach"),
    ("fc6.0", "dee", "no", ""),
    ("fc6.1", "ann", "yes", "trolleybus"),
    ("fc6.1", "bob", "no", ""),
    ("fc6.1", "cy", "yes", "tram"),
    ("fc6.5", "ann", "yes", "fish"),
    ("fc6.5", "bob", "yes", "Crane"),
    ("conv2.3", "ann", "no", ""),
    ("conv2.3", "bob", "no", "blob"),
    ("conv2.3", "cy", "yes", "monarch"),
    ("conv1.0", "ann", "yes", "dots"),
]
SYNONYMS = "# groups of labels that mean the same\nbus, school bus, coach\nfish, tench\n\n"


def key(label: str, synonyms: dict[str, str]) -> str | None:
    k = " ".join(label.lower().split())
    return synonyms.get(k, k) or None


def expected_table1(toy, ratings, synonyms):  # noqa: F811
    """Table 1 per layer, computed here from the ratings and the activation arrays."""
    classes = toy.labels[toy.analysed]
    by_layer = defaultdict(lambda: defaultdict(list))
    for unit, rater, judged, label in ratings:
        layer, number = unit.rsplit(".", 1)
        by_layer[layer][int(number)].append((rater, judged == "yes", key(label, synonyms)))
    table = {}
    for layer, units in by_layer.items():
        yes = sum(j for rs in units.values() for _, j, _ in rs)
        n = sum(len(rs) for rs in units.values())
        pairs = [
            (a[2] == b[2])
            for rs in units.values()
            for a, b in itertools.combinations(sorted(rs), 2)
            if a[1] and b[1] and a[2] and b[2]
        ]
        top_match = ccmas_match = labelled = 0
        for unit, rs in units.items():
            values = toy.layers[layer][toy.analysed, unit].astype(float)
            top = NAMES[classes[int(np.argmax(values))]]
            ccmas = NAMES[int(np.argmax([values[classes == c].mean() for c in range(len(NAMES))]))]
            for _, judged, k in rs:
                if judged and k:
                    labelled += 1
                    top_match += k == top
                    ccmas_match += k == ccmas
        table[layer] = {
            "n_units": len(units),
            "n_ratings": n,
            "pct_yes": 100 * yes / n,
            "pct_units_80_yes": 100
            * sum(5 * sum(j for _, j, _ in rs) >= 4 * len(rs) for rs in units.values())
            / len(units),
            "n_label_pairs": len(pairs),
            "pct_raters_agree": 100 * sum(pairs) / len(pairs) if pairs else None,
            "n_labels": labelled,
            "pct_match_top_class": 100 * top_match / labelled if labelled else None,
            "pct_match_ccmas_class": 100 * ccmas_match / labelled if labelled else None,
            "fleiss_kappa": fleiss_kappa([[j for _, j, _ in rs] for rs in units.values()]),
        }
    return table


def fleiss_kappa(units: list[list[bool]]) -> float | None:
    """Fleiss' kappa of yes/no judgements, the per-unit agreement averaged over units with >= 2 raters."""
    units = [u for u in units if len(u) >= 2]
    if not units:
        return None
    p_i = [(sum(u) ** 2 + (len(u) - sum(u)) ** 2 - len(u)) / (len(u) * (len(u) - 1)) for u in units]
    p_yes = sum(sum(u) for u in units) / sum(len(u) for u in units)
    p_e = p_yes**2 + (1 - p_yes) ** 2
    return None if p_e == 1 else (np.mean(p_i) - p_e) / (1 - p_e)


def write_ratings(path, ratings=RATINGS, header="unit,rater,judged_object,label"):
    path.write_text(header + "\n" + "".join(f"{u},{r},{j},{lab}\n" for u, r, j, lab in ratings))
    return path


def test_table1_matches_python(migrated_db, toy, cli, tmp_path):  # noqa: F811
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text(SYNONYMS)
    ratings = write_ratings(tmp_path / "r.csv")
    result = cli("import", "ratings", ratings, "--run", toy.run_id, "--synonyms", synonyms, "--replace")
    assert result.exit_code == 0, result.output
    assert "13 ratings of 5 units by 4 raters" in result.stdout
    mapping = {
        "bus": "school bus",
        "school bus": "school bus",
        "coach": "school bus",
        "fish": "tench",
        "tench": "tench",
    }
    want = expected_table1(toy, RATINGS, mapping)
    got = {r["layer"]: r for r in _rows("SELECT * FROM seldb.am_ratings_summary WHERE run_id = :r", r=toy.run_id)}
    assert set(got) == set(want)
    for layer, expected in want.items():
        for name, value in expected.items():
            assert value is None and got[layer][name] is None or math.isclose(got[layer][name], value), (layer, name)
    keys = _rows(
        "SELECT rater, label_key FROM seldb.am_ratings WHERE run_id = :r AND unit_label = 'fc6.0' ORDER BY rater",
        r=toy.run_id,
    )
    assert [k["label_key"] for k in keys] == ["school bus"] * 3 + [None]
    report = cli("report", "ratings", "--run", toy.run_id, "-f", "csv").stdout
    assert report.splitlines()[0].startswith("layer,n_units,n_raters,n_ratings,pct_yes,pct_units_80_yes")
    assert [line.split(",")[0] for line in report.splitlines()[1:]] == ["conv1", "conv2", "fc6"]


def test_without_synonyms_labels_still_match_case_insensitively(migrated_db, db, toy, cli, tmp_path):  # noqa: F811
    db.execute(f"DELETE FROM seldb_store.am_ratings WHERE run_id = {toy.run_id}", write=True)  # --replace keeps others
    ratings = [("fc6.0", "ann", "yes", " SCHOOL bus "), ("fc6.0", "bob", "yes", "school bus")]
    assert (
        cli("import", "ratings", write_ratings(tmp_path / "r.csv", ratings), "--run", toy.run_id, "--replace").exit_code
        == 0
    )
    row = _rows("SELECT * FROM seldb.am_ratings_summary WHERE run_id = :r", r=toy.run_id)[0]
    assert (row["pct_raters_agree"], row["pct_match_top_class"], row["pct_match_ccmas_class"]) == (100, 100, 100)
    again = cli("import", "ratings", tmp_path / "r.csv", "--run", toy.run_id)
    assert again.exit_code == 1 and "already has a rating of fc6.0 by rater 'ann'" in again.stderr


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("fc6.0", "ann", "maybe", "")], "line 2: judged_object 'maybe' is not yes or no"),
        ([("fc9.1", "ann", "yes", "x")], "line 2: no unit 'fc9.1' in run"),
        ([("conv1.6", "ann", "yes", "x")], "line 2: no unit 'conv1.6' in run"),
        ([("banana", "ann", "yes", "x")], "line 2: unit 'banana' is not a unit label like fc8.12"),
        ([("fc6.0", "ann", "yes", "x"), ("fc6.0", "ann", "no", "")], "line 3: 'ann' rated fc6.0 already on line 2"),
        ([("fc6.0", "", "yes", "x")], "line 2: rater is empty"),
        ([], "no ratings under the header"),
    ],
)
def test_bad_ratings_are_one_line_and_write_nothing(migrated_db, toy, cli, tmp_path, lines, message):  # noqa: F811
    before = _rows("SELECT count(*) AS n FROM seldb_store.am_ratings")[0]["n"]
    result = cli("import", "ratings", write_ratings(tmp_path / "bad.csv", lines), "--run", toy.run_id, "--replace")
    assert result.exit_code == 1
    lines_out = result.stderr.strip().splitlines()
    assert len(lines_out) == 1 and lines_out[0].startswith("error: ") and message in lines_out[0], lines_out
    assert _rows("SELECT count(*) AS n FROM seldb_store.am_ratings")[0]["n"] == before


def test_bad_files(migrated_db, toy, cli, tmp_path):  # noqa: F811
    no_label = tmp_path / "a.csv"
    no_label.write_text("unit,rater,judged_object\nfc6.0,ann,yes\n")
    short = tmp_path / "b.csv"
    short.write_text("unit,rater,judged_object,label\nfc6.0,ann\n")
    clash = tmp_path / "syn.txt"
    clash.write_text("bus, coach\ncoach, van\n")
    cases = [
        (["import", "ratings", no_label, "--run", toy.run_id], "no column label"),
        (["import", "ratings", short, "--run", toy.run_id], "line 2: the row's fields do not match the header"),
        (
            ["import", "ratings", write_ratings(tmp_path / "c.csv"), "--run", toy.run_id, "--synonyms", clash],
            "line 2: 'coach' is already in the group on line 1",
        ),
        (["import", "ratings", write_ratings(tmp_path / "d.csv"), "--run", 987654], "no run 987654"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
