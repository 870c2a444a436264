"""The views of this release, rebuilt from sql/ and the catalogue, with their comments.

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-07

The last revision, always: a release's tables come in revisions of their own
before it (0010-0019), and this one drops the views of 0009 (as its frozen
copy, 0009_views.sql, lists them) and creates today's from sql/, with the
COMMENT of every view and column (seldb/db/columns.toml and the catalogue)
and the reader's grants. Dropped and created, not replaced, because columns
may move; a user's own view on ours stops the upgrade (no CASCADE) with
PostgreSQL's message naming it. The downgrade restores 0009's frozen views.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import context, op

from seldb.db import views

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN_0009 = Path(__file__).with_name("0009_views.sql")


def _execute() -> views.Execute:
    """Run the SQL, or print it under `alembic upgrade --sql`."""
    return op.execute if context.is_offline_mode() else views.executor(op.get_bind())


def upgrade() -> None:
    execute = _execute()
    views.drop_views(execute, views.frozen_view_names(FROZEN_0009.read_text(encoding="utf-8")))
    views.create_views(execute, None if context.is_offline_mode() else views.column_lister(op.get_bind()))


def downgrade() -> None:
    execute = _execute()
    views.drop_views(execute)
    execute(FROZEN_0009.read_text(encoding="utf-8").rstrip().rstrip(";"))
    views.grant_reader(execute)
