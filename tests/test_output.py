"""Terminal tables: no value is ever cut, numbers show `digits` significant digits, wide rows become blocks."""

from __future__ import annotations

import math
import re

import pytest

from seldb.render import table_text

COLUMNS = [
    "run_id",
    "unit_label",
    "precision_60",
    "precision_60_class",
    "mi_false_discovery_rate",
    "ccmas",
    "recall_p1_threshold",
    "is_localist",
    "note",
]
ROWS = [
    (3, "features.10.1199", 0.7534567891, "school bus (n04146614)", 0.99999, -0.0123456, 1234567.25, True, None),
    (
        12,
        "fc6.7",
        1e-30,
        "trolleybus, trolley coach, trackless trolley",
        0.5,
        0.0588235294117647,
        0.0,
        False,
        "a long note " * 12 + "ending in a space ",
    ),
]


def _values(text: str) -> list[str]:
    """Every cell of a grid, or every (unfolded) value of a block layout."""
    lines = text.splitlines()
    if not lines[0].startswith("─[ row"):
        return [cell.strip() for line in lines for cell in re.split(r"[│┼]", line)]
    values: list[str] = []
    for line in lines:
        if line.startswith("─[ row"):
            continue
        label, _, value = line.partition(" │ ")
        if label.strip():
            values += [label.strip(), value]
        else:  # a continuation of the value above
            values[-1] += value
    return values


def _shown(value, digits: int) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


@pytest.mark.unit
@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("digits", [2, 4, 9])
def test_nothing_is_cut_at_any_width(width, digits):
    text = table_text(COLUMNS, ROWS, width=width, digits=digits)
    assert all(len(line) <= width for line in text.splitlines()), "a line is wider than the terminal"
    values = _values(text)
    for row in ROWS:
        for value in row:
            shown = _shown(value, digits)
            assert shown in values, shown  # whole, not cut
            if isinstance(value, float):  # the digits shown are the value's, rounded
                assert math.isclose(float(shown), value, rel_tol=10 ** (1 - digits), abs_tol=0)
    for name in COLUMNS:
        assert name in values
    assert "…" not in text


@pytest.mark.unit
def test_a_table_that_fits_is_a_grid_and_one_that_does_not_is_blocks():
    small = table_text(["unit_label", "ccmas"], [("fc6.1", 0.123456), ("fc6.20", None)], width=80)
    assert small.splitlines() == [
        " unit_label │  ccmas",
        "────────────┼───────",
        " fc6.1      │ 0.1235",
        " fc6.20     │   NULL",
    ]
    wide = table_text(COLUMNS, ROWS, width=80)
    assert wide.startswith("─[ row 1 ]") and "─[ row 2 ]" in wide
    assert "unit_label              │ features.10.1199" in wide
    assert table_text(COLUMNS, ROWS, width=None).count("\n") == 4  # a pipe: one line per row, any width


@pytest.mark.db
def test_cli_tables_fit_the_terminal(migrated_db, cli, monkeypatch):
    import seldb_cli.output

    monkeypatch.setattr(seldb_cli.output, "table_width", lambda: 80)
    sql = (
        "SELECT 0.123456789 AS a_rather_long_column_name, 'x' || repeat('y', 150) AS long_text,"
        " 12345678.5 AS big, 3 AS three"
    )
    result = cli("sql", sql, "--digits", "3")
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    values = _values(result.stdout)
    assert {"0.123", "1.23e+07", "x" + "y" * 150, "3"} <= set(values)
