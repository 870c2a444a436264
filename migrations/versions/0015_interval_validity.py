"""Interval validity and per-half seeds (issue 25).

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-07

- unit_measure_uncertainty.valid / reason: whether a unit's bootstrap interval
  of a measure can be trusted to cover at its level (docs/uncertainty.md gives
  the rule and the calibration behind it); reason says why not (NULL when valid).
- uncertainty_layers.permutation_seed: the seed of the permutation replicates,
  which may differ from the bootstrap's (`seed`) now that a bootstrap-only or
  permutation-only pass keeps the other half of a layer's rows.

Tables only: the views are rebuilt by revision 0020, last.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "seldb_store"


def upgrade() -> None:
    op.add_column("unit_measure_uncertainty", sa.Column("valid", sa.Boolean), schema=S)
    op.add_column("unit_measure_uncertainty", sa.Column("reason", sa.Text), schema=S)
    op.add_column("uncertainty_layers", sa.Column("permutation_seed", sa.BigInteger), schema=S)
    # rows stored before: the seed was the seed of both halves
    op.execute(f"UPDATE {S}.uncertainty_layers SET permutation_seed = seed WHERE permutations > 0")


def downgrade() -> None:
    op.drop_column("uncertainty_layers", "permutation_seed", schema=S)
    op.drop_column("unit_measure_uncertainty", "reason", schema=S)
    op.drop_column("unit_measure_uncertainty", "valid", schema=S)
