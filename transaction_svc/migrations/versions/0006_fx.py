"""FX (docs/fx.md): every change of an exchange rate, one row per currency against the
pivot currency (USD), kept for good; and the quotes given out, each locking a rate.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "transactions"


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rate", sa.Numeric, nullable=False),  # units of currency per one USD
        sa.Column("source", sa.Text, nullable=False),  # config, feed or admin
        sa.Column("changed_by", sa.Text),  # the admin's user id
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name="fx_rate_positive"),
        schema=S,
    )
    op.create_index("fx_rates_by_currency", "fx_rates", ["currency", "id"], schema=S)
    op.create_index("fx_rates_by_time", "fx_rates", ["created_at"], schema=S)
    op.create_table(
        "fx_quotes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("from_currency", sa.String(3), nullable=False),
        sa.Column("to_currency", sa.String(3), nullable=False),
        sa.Column("rate", sa.Numeric, nullable=False),
        sa.Column("from_amount", sa.BigInteger, nullable=False),
        sa.Column("to_amount", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("fx_quotes", schema=S)
    op.drop_table("fx_rates", schema=S)
