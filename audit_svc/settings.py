"""audit_svc's own settings (``PAYSTREAM_*`` like the rest)."""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class AuditSettings(Settings):
    """How often the whole chain is verified in the background (``chain_watch``)."""

    service_name: str = "audit_svc"

    # Each verification walks every record from seq 1 (a full read of the log), so the
    # interval is the bound on how late a broken link is seen, paid in reads.
    audit_verify_interval_s: float = Field(default=300.0, gt=0)
