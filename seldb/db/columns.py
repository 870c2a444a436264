"""What each view and view column means, from one source: the views' COMMENTs and docs/views.md.

The docs are the data file beside this module, columns.toml, plus the
catalogue of measures for columns that are measures, so a measure's line is
written once. `create_views` (seldb.db.views) turns them into `COMMENT ON
VIEW` / `COMMENT ON COLUMN`, which BI tools show as descriptions, and
`seldb.db.docgen` into docs/views.md; a test checks that every column of every
live view has a doc.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from seldb import catalogue

MEASURE_LISTS = {"unit": "UNIT_MEASURES", "concept": "CONCEPT_MEASURES"}


@cache
def _docs() -> dict:
    text = resources.files(__package__).joinpath("columns.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def view_doc(view: str) -> str:
    """One or two sentences on what a row of the view is ('' when undocumented)."""
    return _docs()["views"].get(view, {}).get("doc", "")


def column_doc(view: str, column: str) -> str | None:
    """The column's doc: the view's own, else the catalogue's (for measure views), else the common one."""
    entry = _docs()["views"].get(view, {})
    own = entry.get("columns", {}).get(column)
    if own:
        return own
    if "measures" in entry:
        measures = getattr(catalogue, MEASURE_LISTS[entry["measures"]])
        measure = catalogue.by_name(measures).get(column)
        if measure is not None:
            return measure.doc
    return _docs()["common"].get(column)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(view: str, columns: list[str], schema: str = "seldb") -> list[str]:
    """COMMENT ON VIEW and on each documented column (undocumented columns are left alone)."""
    statements = [f"COMMENT ON VIEW {schema}.{view} IS {_literal(view_doc(view))}"] if view_doc(view) else []
    for column in columns:
        doc = column_doc(view, column)
        if doc:
            statements.append(f'COMMENT ON COLUMN {schema}.{view}."{column}" IS {_literal(doc)}')
    return statements
