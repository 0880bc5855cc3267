"""The provider's money: charges, refunds and payouts, each keyed by (client, idempotency key).

``client_id`` is the service client that asked; its key makes a retry find the first
answer instead of a second charge. ``request_hash`` tells a retry from a reuse of the key.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "pgw"


def _keyed(name: str, *columns: sa.Column[object] | sa.CheckConstraint) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        *columns,
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=f"{name}_amount_positive"),
        sa.UniqueConstraint("client_id", "idempotency_key", name=f"{name}_client_key"),
        schema=S,
    )


def _method_column() -> sa.Column[object]:
    return sa.Column("payment_method_id", sa.Uuid, sa.ForeignKey(f"{S}.payment_methods.id"),
                     nullable=False)  # fmt: skip


def upgrade() -> None:
    _keyed(
        "charges",
        _method_column(),
        sa.Column("failure_reason", sa.Text),
        sa.Column("captured_amount", sa.BigInteger, nullable=False),
        sa.Column("refunded_amount", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'authorized', 'captured', 'voided', 'failed')",
            name="charge_status",
        ),
        sa.CheckConstraint(
            "0 <= refunded_amount AND refunded_amount <= captured_amount"
            " AND captured_amount <= amount",
            name="charge_refunds_within_capture",
        ),
    )
    _keyed(
        "refunds",
        sa.Column("charge_id", sa.Uuid, sa.ForeignKey(f"{S}.charges.id"), nullable=False),
        sa.CheckConstraint("status = 'succeeded'", name="refund_status"),
    )
    _keyed(
        "payouts",
        _method_column(),
        sa.Column("failure_reason", sa.Text),
        sa.CheckConstraint("status IN ('succeeded', 'failed')", name="payout_status"),
    )


def downgrade() -> None:
    for name in ("payouts", "refunds", "charges"):
        op.drop_table(name, schema=S)
