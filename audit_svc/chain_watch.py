"""The audit chain verified in the background, so that a broken link pages (the alert
``AuditVerifyFailing``) without anyone calling ``GET /audit/verify``.

Every ``audit_verify_interval_s`` the whole chain, from seq 1 to the head, is walked
(``MongoAuditLog.verify``) and the outcome exported: ``paystream_audit_verify_ok``,
``paystream_audit_verify_timestamp_seconds``, ``paystream_audit_verify_checked`` (the
records walked) and ``paystream_audit_chain_length`` (the head's seq). A verification
that cannot run (the store unreachable) leaves the gauges as they were, so the
timestamp stops moving; the next interval tries again.
"""

from __future__ import annotations

import asyncio
import logging

from audit_svc.chain import Verdict
from audit_svc.store import MongoAuditLog
from common.metrics import (
    AUDIT_CHAIN_LENGTH,
    AUDIT_VERIFY_CHECKED,
    AUDIT_VERIFY_OK,
    AUDIT_VERIFY_TIME,
)

log = logging.getLogger("paystream.audit_chain_watch")


class ChainWatch:
    """A loop (``common.worker.Loop``) that verifies ``audit_log`` every ``interval_s``."""

    def __init__(self, audit_log: MongoAuditLog, interval_s: float) -> None:
        self.audit_log = audit_log
        self.interval_s = interval_s

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def run(self) -> None:
        while True:
            try:
                await self.verify_once()
            except Exception:  # the gauges keep their last values; the timestamp ages
                log.exception("verifying the audit chain failed")
            await asyncio.sleep(self.interval_s)

    async def verify_once(self) -> Verdict:
        """Walk the whole chain once and export what was found."""
        head, _ = await self.audit_log.head()
        verdict = await self.audit_log.verify(1, head)
        database = self.audit_log.logs.database.name
        AUDIT_VERIFY_OK.labels(database).set(1 if verdict.ok else 0)
        AUDIT_VERIFY_CHECKED.labels(database).set(verdict.checked)
        AUDIT_CHAIN_LENGTH.labels(database).set(head)
        AUDIT_VERIFY_TIME.labels(database).set_to_current_time()
        if not verdict.ok:
            log.error(
                "the audit chain is broken",
                extra={"first_bad_seq": verdict.first_bad_seq, "checked": verdict.checked},
            )
        return verdict
