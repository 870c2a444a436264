"""The views of seldb 0.2: from sql/ and the catalogue of measures, with column comments.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

This release's tables come first (revisions 0004-0008); this revision,
the last, drops the views of revision 0003 and creates today's from sql/:
the measure columns of unit_measures, concept_measures and layer_summary
are expanded from seldb.catalogue, no view filters on runs.status any more
(a run exists only once its import committed), the BI-grade views are new,
and every view and column carries a COMMENT from docs' one source
(seldb/db/columns.toml and the catalogue). Views are dropped and created,
not replaced: their columns may be reordered. A user's own view on ours
stops the upgrade (no CASCADE) with PostgreSQL's message naming it.

The downgrade drops today's views and restores those of revisions 0002 and
0003 from their frozen copies. The views are created as they were at this
revision, from the frozen copy beside this file (0009_views.sql, written by
`seldb.db.views.all_views_sql()` when 0.2 was released); their COMMENTs
come with revision 0020, which rebuilds every view from sql/ (so a fresh
database upgraded through every revision never meets a view that reads a
table of a later revision).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import context, op

from seldb.db import views

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN = [Path(__file__).with_name(name) for name in ("0002_views.sql", "0003_reports.sql")]
THIS = Path(__file__).with_suffix(".sql")


def _execute() -> views.Execute:
    """Run the SQL, or print it under `alembic upgrade --sql`."""
    return op.execute if context.is_offline_mode() else views.executor(op.get_bind())


# the views revision 0003 left (creation order), dropped before today's are created
OLD_VIEWS = (
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
    "netdissect",
    "detector_summary",
    "am_ratings",
    "am_ratings_summary",
)


def upgrade() -> None:
    execute = _execute()
    views.drop_views(execute, OLD_VIEWS)
    execute(f"CREATE SCHEMA IF NOT EXISTS {views.VIEW_SCHEMA}")
    execute(THIS.read_text(encoding="utf-8").rstrip().rstrip(";"))
    views.grant_reader(execute)


def downgrade() -> None:
    execute = _execute()
    views.drop_views(execute, views.frozen_view_names(THIS.read_text(encoding="utf-8")))
    for frozen in FROZEN:
        execute(frozen.read_text(encoding="utf-8").rstrip().rstrip(";"))
    views.grant_reader(execute)
