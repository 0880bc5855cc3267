"""Batches of transfers (``POST /transfers/batch``): each batch's items as accepted or
refused (a transfer's id, or the item's problem); the transfers themselves are ordinary
rows of ``transactions``.

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

S = "transactions"


def upgrade() -> None:
    op.create_table(
        "transfer_batches",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("transfer_batches", schema=S)
