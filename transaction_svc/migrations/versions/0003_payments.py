"""Payments to merchants and their refunds; the merchants transaction_svc knows (projected
from user-events); the wallet directory found by owner and currency (a merchant's wallet).

`payments (merchant_id, order_id)` is unique: one payment per order, decided by Postgres
(docs/merchants.md). `reserved` is the sum of the refunds recorded and not failed,
`refunded` of those completed: refunds never exceed the amount (`reserved <= amount`).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "transactions"


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        schema=S,
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Text, primary_key=True),  # the payment's transaction id
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("payer_id", sa.Text, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("customer_email", sa.Text),
        sa.Column("customer_name", sa.Text),
        sa.Column("metadata", JSONB),
        sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("refunded", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("merchant_id", "order_id", name="payments_one_per_order"),
        sa.CheckConstraint("refunded <= reserved AND reserved <= amount", name="refunds_bounded"),
        schema=S,
    )
    op.create_index("payments_payer", "payments", ["payer_id", "created_at"], schema=S)
    op.create_table(
        "refunds",
        sa.Column("id", sa.Text, primary_key=True),  # the refund's transaction id
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("refunds_payment", "refunds", ["payment_id", "created_at"], schema=S)
    op.create_index(
        "wallet_directory_owner", "wallet_directory", ["owner_id", "currency"], schema=S
    )


def downgrade() -> None:
    op.drop_index("wallet_directory_owner", "wallet_directory", schema=S)
    for table in ("refunds", "payments", "merchants"):
        op.drop_table(table, schema=S)
