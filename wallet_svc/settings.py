"""Settings of wallet_svc's processes."""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class WalletSettings(Settings):
    """How often the decider snapshots a partition's wallet states (0 = never).

    A snapshot bounds the replay a new owner of the partition does before deciding."""

    decider_snapshot_interval_s: float = Field(default=60.0, ge=0)
