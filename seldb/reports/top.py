"""`seldb report top`: the most selective units by a measure, every other measure beside them (Table A1).

A query on seldb.unit_measures ordered by one measure: a unit that is top by
precision can then be read off against its recall at precision 1 and its
informedness in the same row, which is the paper's point. Without a measure,
one table per headline measure.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from seldb import catalogue
from seldb.db.database import Database
from seldb.db.read import frame, resolve_run
from seldb.errors import InputError
from seldb.reports.base import Report, Section
from seldb.reports.intervals import ranked_interval
from seldb.reports.layers import check_measures

DEFAULT_MEASURES = ["precision_60", "ccmas", "recall_p1", "max_informedness"]
BRIEF = [
    "rank",
    "unit_label",
    "precision_60",
    "precision_60_class",
    "ccmas",
    "ccmas_class",
    "recall_p1",
    "max_informedness",
    "mi_class",
    "mi_recall",
    "mi_false_alarm_rate",
    "mi_false_discovery_rate",
    "is_localist",
]


def top_report(
    db: Database, run: int | None = None, measures: Sequence[str] | None = None, n: int = 10, lowest: bool = False
) -> Report:
    """The n units with the highest (lowest=True: lowest) value of each measure; NULLs never rank."""
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    wanted = check_measures(measures, catalogue.rankable()) if measures else DEFAULT_MEASURES
    with db.connect() as conn:
        r = resolve_run(conn, run)
        sections = [_top_units(conn, r.run_id, m, n, lowest) for m in wanted]
    which = "lowest" if lowest else "top"
    title = f"The {n} {which} units per measure (Table A1): {r.name}"
    return Report("top", title, r.run_id, sections)


def _top_units(conn, run_id: int, measure: str, n: int, lowest: bool) -> Section:
    # `measure` is a rankable catalogue measure (checked), so it is safe to splice into the SQL
    direction = "ASC" if lowest else "DESC"
    rows = frame(
        conn,
        f"SELECT * FROM seldb.unit_measures WHERE run_id = :r AND {measure} IS NOT NULL"
        f" ORDER BY {measure} {direction}, layer, unit LIMIT :n",
        {"r": run_id, "n": n},
    )
    rows = rows.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int32))
    rows = ranked_interval(conn, run_id, measure, rows)  # <measure>_lo/_hi when seldb uncertainty ran
    first = ["rank", "unit_label", measure, *[c for c in (f"{measure}_lo", f"{measure}_hi") if c in rows.columns]]
    rows = rows.select(first + [c for c in rows.columns if c not in first])
    brief = list(dict.fromkeys(first + BRIEF))
    word = "lowest" if lowest else "highest"
    return Section(f"by_{measure}", f"{word} {measure}", rows, brief)
