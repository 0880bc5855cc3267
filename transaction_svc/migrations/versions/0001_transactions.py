"""Transactions (with their saga state), idempotency records, the wallet directory the
command API checks ownership against, and the saga worker's consumed offsets.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "transactions"


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("from_wallet_id", sa.Text),
        sa.Column("to_wallet_id", sa.Text),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("description", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("saga", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("tx_owner_time", "transactions", ["owner_id", "created_at", "id"], schema=S)
    op.create_index("tx_from_time", "transactions", ["from_wallet_id", "created_at"], schema=S)
    op.create_index("tx_to_time", "transactions", ["to_wallet_id", "created_at"], schema=S)
    op.create_index("tx_time", "transactions", ["created_at", "id"], schema=S)
    op.create_table(
        "idempotency",
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("transaction_id", sa.Text, nullable=False),
        sa.Column("status_code", sa.SmallInteger, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "key"),
        schema=S,
    )
    op.create_table(
        "wallet_directory",
        sa.Column("wallet_id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        schema=S,
    )
    op.create_table(
        "offsets",
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "topic", "partition"),
        schema=S,
    )


def downgrade() -> None:
    for table in ("offsets", "wallet_directory", "idempotency", "transactions"):
        op.drop_table(table, schema=S)
