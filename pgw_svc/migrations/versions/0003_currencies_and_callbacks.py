"""A bank account's currency; a pending charge's decision and the callback that reports it.

``payment_methods.currency``: what a bank account pays in (NULL for a card, which pays in
the provider's card currencies); accounts stored before get their country's currency.
``charges.capture``: what a pending charge becomes when it succeeds (captured or
authorized). ``callback_due_at``: when the decided charge's signed callback is next to be
sent (NULL: nothing to send); ``callback_attempts`` and ``callback_delivered_at`` record
the delivery. The decision and the "to deliver" state are one row, so a crash between
deciding and delivering still delivers.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "pgw"

# The country currencies of the accounts 0001 and 0002 could store (pgw_svc.domain.currencies).
_BACKFILL = """
UPDATE pgw.payment_methods SET currency = CASE country
    WHEN 'GB' THEN 'GBP' WHEN 'CH' THEN 'CHF' WHEN 'SE' THEN 'SEK' WHEN 'NO' THEN 'NOK'
    WHEN 'DK' THEN 'DKK' WHEN 'PL' THEN 'PLN' ELSE 'EUR' END
WHERE type = 'bank_account'
"""


def upgrade() -> None:
    op.add_column("payment_methods", sa.Column("currency", sa.String(3)), schema=S)
    op.execute(_BACKFILL)
    op.create_check_constraint(
        "bank_account_currency", "payment_methods",
        "type = 'card' OR currency IS NOT NULL", schema=S,
    )  # fmt: skip
    op.add_column(
        "charges", sa.Column("capture", sa.Boolean, nullable=False, server_default="true"),
        schema=S,
    )  # fmt: skip
    op.add_column("charges", sa.Column("callback_due_at", sa.DateTime(timezone=True)), schema=S)
    op.add_column(
        "charges",
        sa.Column("callback_attempts", sa.Integer, nullable=False, server_default="0"),
        schema=S,
    )
    op.add_column(
        "charges", sa.Column("callback_delivered_at", sa.DateTime(timezone=True)), schema=S
    )
    op.create_index("charges_pending", "charges", ["created_at"], schema=S,
                    postgresql_where=sa.text("status = 'pending'"))  # fmt: skip
    op.create_index("charges_callback_due", "charges", ["callback_due_at"], schema=S,
                    postgresql_where=sa.text("callback_due_at IS NOT NULL"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("charges_callback_due", "charges", schema=S)
    op.drop_index("charges_pending", "charges", schema=S)
    for column in ("callback_delivered_at", "callback_attempts", "callback_due_at", "capture"):
        op.drop_column("charges", column, schema=S)
    op.drop_constraint("bank_account_currency", "payment_methods", schema=S)
    op.drop_column("payment_methods", "currency", schema=S)
