"""Pure wallet domain core (no I/O): state, decide and evolve; its commands and events are
in `contracts.wallet`."""

from wallet_svc.domain.decider import continuation, decide
from wallet_svc.domain.state import (
    CommandLog,
    Hold,
    WalletState,
    WalletStatus,
    evolve,
    from_snapshot,
    to_snapshot,
    wallet_account,
)

__all__ = [
    "CommandLog",
    "Hold",
    "WalletState",
    "WalletStatus",
    "continuation",
    "decide",
    "evolve",
    "from_snapshot",
    "to_snapshot",
    "wallet_account",
]
