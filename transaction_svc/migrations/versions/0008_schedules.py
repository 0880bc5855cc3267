"""Schedules (auto-pay) and their runs (docs/schedules.md).

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "transactions"
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        # who the owner was when the schedule was made: its runs are made as them
        sa.Column("owner_role", sa.Text, nullable=False),
        sa.Column("owner_email_verified", sa.Boolean, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("interval", sa.Text),
        sa.Column("cron", sa.Text),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("start_at", WHEN, nullable=False),
        sa.Column("end_at", WHEN),
        sa.Column("max_runs", sa.Integer),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("next_run_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint("kind IN ('transfer', 'payment')", name="schedule_kind"),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'completed', 'deleted')", name="schedule_status"
        ),
        sa.CheckConstraint("(interval IS NULL) <> (cron IS NULL)", name="schedule_recurrence"),
        schema=S,
    )
    op.create_index("schedules_owner", "schedules", ["owner_id", "created_at"], schema=S)
    op.create_index(
        "schedules_due",
        "schedules",
        ["next_run_at"],
        schema=S,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("schedule_id", sa.Text, sa.ForeignKey(f"{S}.schedules.id"), primary_key=True),
        sa.Column("run", sa.Integer, primary_key=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("transaction_id", sa.Text),  # None: the run was refused (error)
        sa.Column("error", sa.Text),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("schedule_runs", schema=S)
    op.drop_table("schedules", schema=S)
