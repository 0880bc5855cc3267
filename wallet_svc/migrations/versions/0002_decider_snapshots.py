"""Decider snapshots: per partition, the wallet states as of a wallet-events offset.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decider_snapshots",
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("wallets", sa.Integer, nullable=False),
        sa.Column("states", sa.LargeBinary, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        schema="wallets",
    )


def downgrade() -> None:
    op.drop_table("decider_snapshots", schema="wallets")
