"""Merchants' webhook endpoints, one delivery per (endpoint, event), every attempt.

`webhook_deliveries (endpoint_id, event_id)` is unique: the delivery worker records each
event once per endpoint, in the transaction that stores its consumed offsets. A payment's
events are delivered in the order they were read (`source_offset`: a payment's events
share a partition), so the partial index on pending deliveries finds the head of each
(endpoint, payment) line (docs/merchants.md, "Webhooks").

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "transactions"
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", ARRAY(sa.Text), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="enabled"),
        sa.Column("secret", sa.Text, nullable=False),
        # the secret before the last rotation, still signed with until then
        sa.Column("previous_secret", sa.Text),
        sa.Column("previous_secret_until", WHEN),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disabled_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint("status IN ('enabled', 'disabled')", name="webhook_status"),
        schema=S,
    )
    op.create_index(
        "webhook_endpoints_merchant", "webhook_endpoints", ["merchant_id", "created_at"], schema=S
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "endpoint_id",
            sa.Text,
            sa.ForeignKey(f"{S}.webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("source_offset", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # the event's JSON, as sent
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("give_up_at", WHEN, nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", WHEN),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("endpoint_id", "event_id", name="webhook_delivery_once"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="webhook_delivery_status"
        ),
        schema=S,
    )
    op.create_index(
        "webhook_deliveries_line",
        "webhook_deliveries",
        ["endpoint_id", "payment_id", "source_offset"],
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "webhook_deliveries_endpoint",
        "webhook_deliveries",
        ["endpoint_id", "created_at"],
        schema=S,
    )
    op.create_table(
        "webhook_attempts",
        sa.Column(
            "delivery_id",
            sa.Text,
            sa.ForeignKey(f"{S}.webhook_deliveries.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        schema=S,
    )


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_endpoints"):
        op.drop_table(table, schema=S)
