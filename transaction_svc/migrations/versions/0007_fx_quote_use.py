"""A quote is used once: the transfer that converted with it (docs/fx.md).

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fx_quotes", sa.Column("used_by", sa.Text), schema="transactions")


def downgrade() -> None:
    op.drop_column("fx_quotes", "used_by", schema="transactions")
