"""Docs from one source: every view and column of a live database has a doc, in its COMMENT too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from seldb.db.views import VIEW_NAMES, column_doc, view_doc

pytestmark = pytest.mark.db


def _live_columns(conn: sa.Connection) -> dict[str, list[tuple[str, str | None]]]:
    """{view: [(column, its COMMENT)]} of schema seldb, from the catalog."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = 'seldb'"
            " JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE c.relkind = 'v' ORDER BY c.relname, a.attnum"
        )
    ).all()
    views: dict[str, list[tuple[str, str | None]]] = {}
    for view, column, comment in rows:
        views.setdefault(view, []).append((column, comment))
    return views


def test_every_view_and_column_is_documented_and_commented(db_conn):
    live = _live_columns(db_conn)
    assert set(live) == set(VIEW_NAMES)
    missing = [
        f"{view}.{column}" for view, columns in live.items() for column, _ in columns if not column_doc(view, column)
    ]
    assert not missing, f"document these view columns in seldb/db/columns.toml: {missing}"
    uncommented = [
        f"{view}.{column}"
        for view, columns in live.items()
        for column, comment in columns
        if comment != column_doc(view, column)
    ]
    assert not uncommented, uncommented
    for view in VIEW_NAMES:
        assert view_doc(view) and db_conn.execute(
            sa.text("SELECT obj_description(to_regclass(:v), 'pg_class')"), {"v": f"seldb.{view}"}
        ).scalar() == view_doc(view)


REGENERATE = "python -m seldb.db.docgen docs/views.md --api seldb/api_views.py"


def test_docs_views_md_is_what_docgen_writes(db_conn):
    """docs/views.md is generated from the one source of the views' docs."""
    from pathlib import Path

    from seldb.db.docgen import view_columns, views_markdown

    path = Path(__file__).resolve().parents[1] / "docs" / "views.md"
    assert path.read_text(encoding="utf-8") == views_markdown(view_columns(db_conn)), (
        f"docs/views.md is out of date: run `{REGENERATE}`"
    )


def test_the_handles_view_methods_are_what_docgen_writes(db_conn):
    """seldb/api_views.py (the handle's typed query methods) is generated from the views too, and the
    handle has exactly one method per view, each reading its own view."""
    import inspect
    from pathlib import Path

    import seldb.api
    from seldb.db.docgen import api_source, view_columns

    path = Path(__file__).resolve().parents[1] / "seldb" / "api_views.py"
    assert path.read_text(encoding="utf-8") == api_source(view_columns(db_conn)), (
        f"seldb/api_views.py is out of date: run `{REGENERATE}`"
    )
    for view in VIEW_NAMES:
        method = getattr(seldb.api.Seldb, view)
        assert f'self.view("{view}", run, **filters)' in inspect.getsource(method)


@pytest.mark.unit
def test_docs_explain_every_measure():
    """docs/measures.md names every measure of the catalogue (the prose that explains it)."""
    from pathlib import Path

    from seldb import catalogue

    text = (Path(__file__).resolve().parents[1] / "docs" / "measures.md").read_text(encoding="utf-8")
    missing = [m.name for m in (*catalogue.UNIT_MEASURES, *catalogue.CONCEPT_MEASURES) if f"`{m.name}`" not in text]
    assert not missing, f"docs/measures.md does not explain {missing}"
