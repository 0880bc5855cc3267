"""W3C trace context (``traceparent``): every hop gets a span of its own in the trace of
what caused it. An HTTP request gets a child of its caller's (common.context); a Kafka
message a child of the request or the record that caused it (common.kafka.headers), so
the terminal event of a transfer is in the trace of the request that began it."""

from __future__ import annotations

import random
import re

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def child_traceparent(parent: str | None) -> str:
    """A new span in ``parent``'s trace (its trace id and flags), or the first span of
    a new trace when ``parent`` is missing or malformed. Ids are random, never zero (span
    ids need no secrecy: ``random`` spares a system call a message)."""
    m = TRACEPARENT.match(parent or "")
    trace_id = m.group(1) if m else f"{random.getrandbits(128) or 1:032x}"
    flags = m.group(3) if m else "01"
    return f"00-{trace_id}-{random.getrandbits(64) or 1:016x}-{flags}"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a well-formed ``traceparent``, else None."""
    m = TRACEPARENT.match(traceparent or "")
    return m.group(1) if m else None
