"""Helpers the database tests share: rows of a query, an import with keyword options.

Both use `seldb.connect()` on the database the test's fixtures put in
SELDB_DATABASE_URL, through a handle of their own that they close again.
"""

from __future__ import annotations

import sqlalchemy as sa


def rows(sql: str, **params) -> list[dict]:
    """The rows of one query as dicts."""
    import seldb

    with seldb.connect() as db, db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def import_file(path, *, progress: bool = False, provenance=None, force: bool = False, **options):
    """db.import_h5(path, ImportOptions(**options)); force=True imports another run (on_duplicate="new")."""
    import seldb
    from seldb.load.options import ImportOptions

    if force:
        options["on_duplicate"] = "new"
    with seldb.connect() as db:
        return db.import_h5(path, ImportOptions(**options), provenance, progress)
