"""Payment methods: tokenised cards and bank accounts, owned per user, deleted softly.

No card number, CVC or full IBAN has a column: only what the domain's tokens hold.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "pgw"


def upgrade() -> None:
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("brand", sa.Text),
        sa.Column("last4", sa.Text, nullable=False),
        sa.Column("exp_month", sa.SmallInteger),
        sa.Column("exp_year", sa.SmallInteger),
        sa.Column("country", sa.String(2)),
        sa.Column("holder_name", sa.Text),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("type IN ('card', 'bank_account')", name="payment_method_type"),
        schema=S,
    )
    op.create_index("payment_methods_owner", "payment_methods", ["owner_id", "id"], schema=S)


def downgrade() -> None:
    op.drop_table("payment_methods", schema=S)
