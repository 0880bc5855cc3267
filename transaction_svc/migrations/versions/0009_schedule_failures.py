"""What the scheduler tells of a schedule's runs (docs/schedules.md): a run is settled
once its outcome is known (and its failure told); a schedule counts its failures in a
row, and pauses itself at ``schedule_pause_after_failures``.

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

S = "transactions"


def upgrade() -> None:
    op.add_column(
        "schedules",
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        schema=S,
    )
    op.add_column(
        "schedule_runs",
        sa.Column("settled", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=S,
    )
    # the runs made before this revision are not told any more
    op.execute(f"UPDATE {S}.schedule_runs SET settled = true")
    op.create_index(
        "schedule_runs_unsettled",
        "schedule_runs",
        ["schedule_id", "run"],
        schema=S,
        postgresql_where=sa.text("NOT settled"),
    )


def downgrade() -> None:
    op.drop_index("schedule_runs_unsettled", "schedule_runs", schema=S)
    op.drop_column("schedule_runs", "settled", schema=S)
    op.drop_column("schedules", "failures", schema=S)
