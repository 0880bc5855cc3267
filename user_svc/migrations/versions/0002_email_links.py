"""One-time email tokens are issued at delivery: a request (its id travels on Kafka)
holds the token's hash only once notification_worker asked for the link.

``email_tokens`` is keyed by ``request_id``; ``token_hash`` is empty until issued (and
replaced by each issue: only the latest link works); ``issued_at`` says when.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "users"


def upgrade() -> None:
    op.add_column("email_tokens", sa.Column("request_id", sa.Uuid), schema=S)
    op.add_column("email_tokens", sa.Column("issued_at", sa.DateTime(timezone=True)), schema=S)
    op.execute(f"UPDATE {S}.email_tokens SET request_id = gen_random_uuid(), issued_at = now()")
    op.drop_constraint("email_tokens_pkey", "email_tokens", schema=S)
    op.alter_column("email_tokens", "request_id", nullable=False, schema=S)
    op.alter_column("email_tokens", "token_hash", nullable=True, schema=S)
    op.create_primary_key("email_tokens_pkey", "email_tokens", ["request_id"], schema=S)
    op.create_unique_constraint("email_tokens_token_hash", "email_tokens", ["token_hash"], schema=S)


def downgrade() -> None:
    op.execute(f"DELETE FROM {S}.email_tokens WHERE token_hash IS NULL")
    op.drop_constraint("email_tokens_token_hash", "email_tokens", schema=S)
    op.drop_constraint("email_tokens_pkey", "email_tokens", schema=S)
    op.alter_column("email_tokens", "token_hash", nullable=False, schema=S)
    op.create_primary_key("email_tokens_pkey", "email_tokens", ["token_hash"], schema=S)
    op.drop_column("email_tokens", "issued_at", schema=S)
    op.drop_column("email_tokens", "request_id", schema=S)
