"""Settings of transaction_svc."""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class TransactionSettings(Settings):
    """A saga not finished this many seconds after its request is driven to a terminal
    state: its debit and credit commands expire and the decider rejects them."""

    transfer_timeout_s: int = Field(default=30, ge=1, le=3600)
