"""Fees and limits (docs/fees-and-limits.md): the fee schedule per transaction type and
currency; limits per type and currency for a role (``subject`` ``role:<role>``) or one
user (``user:<id>``, which overrides the role's); each owner's daily use, and the share
each accepted transaction reserved of it (given back when the transaction fails).

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "transactions"


def _changed() -> list[sa.Column[object]]:
    return [
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "fee_schedule",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("basis_points", sa.Integer, nullable=False),
        sa.Column("fixed", sa.BigInteger, nullable=False),
        sa.Column("minimum", sa.BigInteger, nullable=False),
        sa.Column("maximum", sa.BigInteger),
        *_changed(),
        sa.PrimaryKeyConstraint("kind", "currency"),
        sa.CheckConstraint(
            "basis_points BETWEEN 0 AND 10000 AND fixed >= 0 AND minimum >= 0 "
            "AND (maximum IS NULL OR maximum >= minimum)",
            name="fee_rule_valid",
        ),
        schema=S,
    )
    op.create_table(
        "limits",
        sa.Column("subject", sa.Text, nullable=False),  # role:<role> or user:<id>
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("per_transaction", sa.BigInteger),  # None: no maximum
        sa.Column("daily", sa.BigInteger),  # None: no daily total
        *_changed(),
        sa.PrimaryKeyConstraint("subject", "kind", "currency"),
        schema=S,
    )
    op.create_table(
        "limit_usage",
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date, nullable=False),  # UTC
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "kind", "currency", "day"),
        schema=S,
    )
    op.create_table(
        "limit_reservations",
        sa.Column("transaction_id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for table in ("limit_reservations", "limit_usage", "limits", "fee_schedule"):
        op.drop_table(table, schema=S)
