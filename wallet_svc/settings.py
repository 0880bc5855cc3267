"""Settings of wallet_svc's processes."""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class WalletSettings(Settings):
    """Settings of the wallet decider, projector and API.

    ``decider_snapshot_interval_s``: how often the decider snapshots a partition's wallet
    states (0 = never); a snapshot bounds the replay a new owner does before deciding.
    ``hold_sweep_interval_s``: how often the decider looks for holds past their expiry and
    sends ``ExpireHolds`` for them (0 = never: holds then expire only when their wallet
    next sees a command)."""

    decider_snapshot_interval_s: float = Field(default=60.0, ge=0)
    hold_sweep_interval_s: float = Field(default=1.0, ge=0)
