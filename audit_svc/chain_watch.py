"""The audit chain verified in the background, so that a broken link pages (the alert
``AuditVerifyFailing``) without anyone calling ``GET /audit/verify``.

A round walks the records appended since the last round, from the hash of the last
record it found intact, and a slice of up to ``sweep`` older records, the next slice each
round and from seq 1 again after the last: a new record is checked within a round, an
edit of an old one within ceil(head / sweep) rounds, and no round walks the whole log
again (it grows by thousands of records a second at the money path's rate). A slice also
sees records removed from the end of what was found intact (a gap up to it). A broken
link is walked again each round (neither the slice nor the intact head moves on), so the
verdict stays broken until the chain is repaired.

A round reads both parts with one query (``MongoAuditLog.in_ranges``): on FerretDB v1
any query but by ``_id`` reads the whole collection, so a round there still costs about
250 µs of FerretDB's CPU per stored record (MongoDB 7 reads only the ranges, by the
``seq`` index). So that this cost cannot take the store from the projector as the log
grows, the next round starts ``interval_s`` after the last one ended and never sooner
than ``BUSY_SHARE`` times its duration would allow: at most about a tenth of the time.
And a round that falls due while the projector is more than ``BEHIND_MAX`` records
behind (``behind``: its consumer's lag) waits for it to catch up, up to one more
interval, so a projector catching up (after a restart, say) is not slowed by a round.
Under a sustained full load the projector keeps within a batch between its batches, so a
round still starts then; on FerretDB its whole-collection read let the log's lag grow to
69,878 events in the latency curve, against 2,518 without rounds (docs/benchmarks.md,
"The audit log in its own database, and the chain watch's rounds at saturation").

The outcome is exported: ``paystream_audit_verify_ok``,
``paystream_audit_verify_timestamp_seconds``, ``paystream_audit_verify_checked`` (the
records walked in the round) and ``paystream_audit_chain_length`` (the last seq seen).
A round that cannot run (the store unreachable) leaves the gauges as they were, so the
timestamp stops moving; the next interval tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from audit_svc.chain import GENESIS, Verdict, Walk
from audit_svc.projector import BATCH_MAX
from audit_svc.store import MongoAuditLog
from common.metrics import (
    AUDIT_CHAIN_LENGTH,
    AUDIT_VERIFY_CHECKED,
    AUDIT_VERIFY_OK,
    AUDIT_VERIFY_TIME,
)

log = logging.getLogger("paystream.audit_chain_watch")
SWEEP = 100_000
BUSY_SHARE = 0.1  # of the time, at most, spent in rounds
BEHIND_MAX = BATCH_MAX  # records: one batch of the projector
BEHIND_POLL_S = 1.0


def caught_up() -> int:
    """A watch without a projector beside it (tests, a one-off check) never waits."""
    return 0


class ChainWatch:
    """A loop (``common.worker.Loop``) that verifies ``audit_log`` every ``interval_s``."""

    def __init__(
        self,
        audit_log: MongoAuditLog,
        interval_s: float,
        sweep: int = SWEEP,
        behind: Callable[[], int] = caught_up,
    ) -> None:
        self.audit_log = audit_log
        self.interval_s = interval_s
        self.sweep = sweep
        self.behind = behind  # how many records the projector has still to append
        self.intact: tuple[int, str] = (0, GENESIS)  # (seq, hash) walked intact up to
        # the next slice of older records starts at ``sweep_from``, after the record whose
        # hash (``sweep_hash``) the last slice walked: slices link up too
        self.sweep_from, self.sweep_hash = 1, GENESIS

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def run(self) -> None:
        while True:
            await self.projector_caught_up(self.interval_s)
            started = time.monotonic()
            try:
                await self.verify_once()
            except Exception:  # the gauges keep their last values; the timestamp ages
                log.exception("verifying the audit chain failed")
            took = time.monotonic() - started
            await asyncio.sleep(max(self.interval_s, took * (1 / BUSY_SHARE - 1)))

    async def projector_caught_up(self, at_most_s: float) -> bool:
        """Wait while the projector is more than ``BEHIND_MAX`` records behind, up to
        ``at_most_s``; whether it caught up."""
        deadline = time.monotonic() + at_most_s
        while (lag := self.behind()) > BEHIND_MAX:
            if time.monotonic() >= deadline:
                log.warning("verifying the audit chain although the projector is behind",
                            extra={"records_behind": lag})  # fmt: skip
                return False
            await asyncio.sleep(BEHIND_POLL_S)
        return True

    async def verify_once(self) -> Verdict:
        """One round (see module doc); export and return what was found."""
        verdict, last_seq = await self._round()
        database = self.audit_log.logs.database.name
        AUDIT_VERIFY_OK.labels(database).set(1 if verdict.ok else 0)
        AUDIT_VERIFY_CHECKED.labels(database).set(verdict.checked)
        AUDIT_CHAIN_LENGTH.labels(database).set(last_seq)
        AUDIT_VERIFY_TIME.labels(database).set_to_current_time()
        if not verdict.ok:
            log.error(
                "the audit chain is broken",
                extra={"first_bad_seq": verdict.first_bad_seq, "checked": verdict.checked},
            )
        return verdict

    async def _round(self) -> tuple[Verdict, int]:
        """The round's verdict and the last seq it saw."""
        intact_seq, intact_hash = self.intact
        slice_to = min(self.sweep_from + self.sweep - 1, intact_seq)
        if slice_to >= intact_seq:  # the slice reaches the new records: one walk
            older = None
            newer = Walk(self.sweep_from, self.sweep_hash)
            ranges: list[tuple[int, int | None]] = [(self.sweep_from, None)]
        else:
            older = Walk(self.sweep_from, self.sweep_hash)
            newer = Walk(intact_seq + 1, intact_hash)
            ranges = [(self.sweep_from, slice_to), (intact_seq + 1, None)]
        last_seq = intact_seq
        async for record in self.audit_log.in_ranges(ranges):
            seq = record.get("seq")
            seq = seq if isinstance(seq, int) else 0
            last_seq = max(last_seq, seq)
            walk = older if older is not None and seq <= slice_to else newer
            if walk.first_bad_seq is None:
                walk.step(record)
        # what was found intact must still be there: a missing end is a gap
        new_verdict = newer.verdict(max(intact_seq, newer.expected - 1))
        verdicts = ([older.verdict(slice_to)] if older else []) + [new_verdict]
        checked = sum(v.checked for v in verdicts)
        broken = next((v for v in verdicts if not v.ok), None)
        if broken is not None:
            return Verdict(False, checked, broken.first_bad_seq), last_seq
        if older is None:  # the slice went round: from seq 1 next time
            self.sweep_from, self.sweep_hash = 1, GENESIS
        else:
            self.sweep_from, self.sweep_hash = slice_to + 1, str(older.prev_hash)
        self.intact = (newer.expected - 1, str(newer.prev_hash))
        return Verdict(True, checked, None), last_seq
