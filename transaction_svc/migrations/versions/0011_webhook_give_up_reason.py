"""Why a webhook delivery was given up: ``give_up_reason`` (``common.retry.GiveUp``:
``refused`` for a 4xx but 408 and 429, ``expired`` past its horizon), set with
``status = 'failed'`` and cleared when it is sent again. Deliveries given up before were
all past their horizon.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

S = "transactions"


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("give_up_reason", sa.Text), schema=S)
    op.execute(f"UPDATE {S}.webhook_deliveries SET give_up_reason = 'expired' "
               "WHERE status = 'failed'")  # fmt: skip


def downgrade() -> None:
    op.drop_column("webhook_deliveries", "give_up_reason", schema=S)
