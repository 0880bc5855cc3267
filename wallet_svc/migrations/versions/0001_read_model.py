"""The balance read model: wallets, entries with postings, sharded system accounts,
and the consumed offsets stored with them (exactly-once projection).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "wallets"


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("ledger", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("available", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("wallets_owner", "wallets", ["owner_id", "id"], schema=S)
    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("wallet_id", sa.Uuid, nullable=False),
        sa.Column("transaction_id", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("ledger_after", sa.BigInteger, nullable=False),
        sa.Column("available_after", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("entries_wallet_time", "entries", ["wallet_id", "occurred_at", "id"], schema=S)
    op.create_table(
        "postings",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("seq", sa.SmallInteger, nullable=False),
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "seq"),
        schema=S,
    )
    op.create_table(
        "system_balances",
        sa.Column("account", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("account", "currency", "shard"),
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
    for table in ("offsets", "system_balances", "postings", "entries", "wallets"):
        op.drop_table(table, schema=S)
