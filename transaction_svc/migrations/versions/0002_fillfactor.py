"""Room for HOT updates: a transaction row is updated at every saga step (status, saga
state, updated_at, none of them indexed); with free space on its page Postgres rewrites
it in place without touching the five indexes.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE transactions.transactions SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE transactions.transactions RESET (fillfactor)")
