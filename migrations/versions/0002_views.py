"""The public views in schema seldb, and the read-only role seldb_reader.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-26

The views are created exactly as they were at this revision, from the frozen
copy beside this file (0002_views.sql); today's definitions live in sql/ and
are applied by the latest revision that changed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import context, op

from seldb.db import views

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN = Path(__file__).with_suffix(".sql")
# the views of this revision, in creation order
VIEWS = (
    "runs",
    "layers",
    "unit_measures",
    "unit_precision_k",
    "unit_class_stats",
    "unit_histograms",
    "unit_top_images",
    "layer_summary",
    "measure_correlations",
    "detector_claims",
    "high_precision_high_false_alarm",
    "concept_measures",
)


def _execute() -> views.Execute:
    """Run the SQL, or print it under `alembic upgrade --sql`."""
    return op.execute if context.is_offline_mode() else views.executor(op.get_bind())


def create(execute: views.Execute) -> None:
    """This revision's schema, views and grants (also what a downgrade to it restores)."""
    execute(f"CREATE SCHEMA IF NOT EXISTS {views.VIEW_SCHEMA}")
    execute(FROZEN.read_text(encoding="utf-8").rstrip().rstrip(";"))
    views.grant_reader(execute)


def upgrade() -> None:
    execute = _execute()
    views.ensure_reader_role(execute)
    create(execute)


def downgrade() -> None:
    # the role stays: it is cluster-wide and other seldb databases may use it
    execute = _execute()
    views.revoke_reader(execute)
    views.drop_views(execute, VIEWS)
    execute(f"DROP SCHEMA IF EXISTS {views.VIEW_SCHEMA}")
