"""A callback's end when the receiver never takes it: given up, and why.

``callback_first_due_at``: when the decided charge's callback was first due (its age is
measured from it). ``callback_last_answer``: what the last failed attempt got (a status
code, or the error's name when nothing answered). ``callback_given_up_at`` and
``callback_give_up_reason`` (``common.retry.GiveUp``): set once, when the provider stops
sending it (``callback_due_at`` is then NULL, ``callback_delivered_at`` too). Callbacks
due or delivered before get their charge's last change as their first due time.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "pgw"
COLUMNS = (
    ("callback_first_due_at", sa.DateTime(timezone=True)),
    ("callback_last_answer", sa.Text),
    ("callback_given_up_at", sa.DateTime(timezone=True)),
    ("callback_give_up_reason", sa.Text),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("charges", sa.Column(name, kind), schema=S)
    op.execute(
        "UPDATE pgw.charges SET callback_first_due_at = updated_at"
        " WHERE callback_due_at IS NOT NULL OR callback_delivered_at IS NOT NULL"
    )


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("charges", name, schema=S)
