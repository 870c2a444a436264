"""The rules a dissection followed (issue 21).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07

- dissections.rules: the union, upsampling and threshold rules of the
  dissection (seldb.dissect.rules), e.g. {"union": "lite", "upsample":
  "bilinear", "threshold": "exact"}. Dissections stored before had only
  NetDissect-Lite's rules, which the default records for them.

A column only: the views are rebuilt by revision 0020, last.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"
LITE = '\'{"union": "lite", "upsample": "bilinear", "threshold": "exact"}\'::jsonb'


def upgrade() -> None:
    op.add_column(
        "dissections",
        sa.Column("rules", postgresql.JSONB, nullable=False, server_default=sa.text(LITE)),
        schema=S,
    )


def downgrade() -> None:
    op.drop_column("dissections", "rules", schema=S)
