"""Reports and imports of other tools' results: human AM ratings, and views over them.

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-27

Adds the table seldb_store.am_ratings (`seldb import ratings`) and four
views: seldb.netdissect (imported Network Dissection tallies beside the
unit's measures), seldb.detector_summary (the counts behind `seldb report
detectors`), seldb.am_ratings and seldb.am_ratings_summary (the paper's
Table 1). As in 0002, the views are created as they were at this revision,
from the frozen copy beside this file (0003_reports.sql); the reader role gets
SELECT on the new views like on the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from seldb.db import views

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
FROZEN = Path(__file__).with_suffix(".sql")
# creation order: a view comes after the views it reads
VIEWS = ("netdissect", "detector_summary", "am_ratings", "am_ratings_summary")


def upgrade() -> None:
    op.create_table(
        "am_ratings",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("layer_id", sa.SmallInteger(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("rater", sa.Text(), nullable=False),
        sa.Column("judged_object", sa.Boolean(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("label_key", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "layer_id", "unit", "rater"),
        sa.ForeignKeyConstraint(
            ["run_id", "layer_id"], [f"{S}.run_layers.run_id", f"{S}.run_layers.layer_id"], ondelete="CASCADE"
        ),
        schema=S,
    )
    create_views(_execute())


def create_views(execute: views.Execute) -> None:
    """This revision's views and grants (also what a downgrade to it restores)."""
    execute(FROZEN.read_text(encoding="utf-8").rstrip().rstrip(";"))
    views.grant_reader(execute)


def downgrade() -> None:
    views.drop_views(_execute(), VIEWS)  # no CASCADE, as in 0002: a user's own view on these stops the downgrade
    op.drop_table("am_ratings", schema=S)


def _execute() -> views.Execute:
    """Run the SQL, or print it under `alembic upgrade --sql` (as 0002 does)."""
    return op.execute if context.is_offline_mode() else views.executor(op.get_bind())
