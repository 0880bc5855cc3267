"""audit_svc's own settings (``PAYSTREAM_*`` like the rest)."""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class AuditSettings(Settings):
    """How often, and how much of, the chain is verified in the background (``chain_watch``)."""

    service_name: str = "audit_svc"
    # The audit log's own database, apart from the notification history's (``mongo_db``):
    # on FerretDB's SQLite backend a database is one file with one writer at a time
    # (audit_svc/own_database.py moves a log kept in ``mongo_db`` by an earlier version).
    audit_mongo_db: str = "paystream_audit"

    # Each verification walks the records appended since the last one and up to
    # ``audit_verify_sweep`` older ones, in turn from seq 1 (``chain_watch``): a new record
    # is checked within the interval, an old one within ceil(head / sweep) intervals.
    audit_verify_interval_s: float = Field(default=300.0, gt=0)
    audit_verify_sweep: int = Field(default=100_000, gt=0)
