"""Views from sql/ and the catalogue of measures.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

The measure columns of unit_measures, concept_measures and layer_summary
are now expanded from seldb.catalogue, and no view filters on runs.status
any more (a run exists only once its import committed). Views change with
CREATE OR REPLACE, so a user's own views built on ours survive the upgrade;
new columns come last, as views only ever gain columns. The downgrade drops
today's views and restores those of revisions 0002 and 0003 from their
frozen copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import context, op

from seldb.db import views

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN = [Path(__file__).with_name(name) for name in ("0002_views.sql", "0003_reports.sql")]


def _execute() -> views.Execute:
    """Run the SQL, or print it under `alembic upgrade --sql`."""
    return op.execute if context.is_offline_mode() else views.executor(op.get_bind())


def upgrade() -> None:
    views.create_views(_execute())


def downgrade() -> None:
    execute = _execute()
    views.drop_views(execute)
    for frozen in FROZEN:
        execute(frozen.read_text(encoding="utf-8").rstrip().rstrip(";"))
    views.grant_reader(execute)
