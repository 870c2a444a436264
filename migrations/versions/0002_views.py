"""The public views in schema seldb, and the read-only role seldb_reader.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-26

The view definitions are the files in sql/ (seldb.db.views). They are the
current definitions, not a snapshot: a later revision that changes a view
edits its file and calls views.create_views() again; one that changes a table
a view reads must keep the files valid at this revision, or give this
revision frozen copies of the old definitions.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

from seldb.db import views

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _execute() -> views.Execute:
    """Run the SQL, or print it under `alembic upgrade --sql`."""
    return op.execute if context.is_offline_mode() else views.executor(op.get_bind())


def upgrade() -> None:
    execute = _execute()
    views.ensure_reader_role(execute)
    views.create_views(execute)


def downgrade() -> None:
    # the role stays: it is cluster-wide and other seldb databases may use it
    views.drop_views(_execute())
