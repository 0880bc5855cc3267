"""The Kafka headers paystream writes and reads: their names and values in one place.

- ``type``: the envelope's type, so a consumer can skip a record without decoding it;
- ``traceparent``: the message's own span (W3C trace context), a child of the request or
  record that caused it (:func:`common.trace.child_traceparent`): every message has one;
- ``chained``: on a ``WalletDebited`` whose command's continuation (``DebitWallet.then``)
  the decider appended or decided in the same transaction, so the saga need not react
  to it;
- ``dlq_error``, ``dlq_origin`` and ``dlq_group``: on a dead letter, why it failed,
  where it was read (``topic:partition:offset``) and the consumer group it failed in;
- ``dlq_replayed_from``: on a dead-lettered event appended to ``<topic>.replay``, the
  dead letter's own place (``topic:partition:offset``), so a replay is appended once
  (``common.kafka.replay``).
"""

from __future__ import annotations

from collections.abc import Sequence

from common.trace import child_traceparent
from contracts.envelope import Envelope

Headers = list[tuple[str, bytes]]
Received = Sequence[tuple[str, bytes]] | None  # as a consumer record carries them

TYPE = "type"
TRACEPARENT = "traceparent"
CHAINED = "chained"
DLQ_ERROR = "dlq_error"
DLQ_ORIGIN = "dlq_origin"
DLQ_GROUP = "dlq_group"
DLQ_REPLAYED_FROM = "dlq_replayed_from"
DLQ_HEADERS = frozenset({DLQ_ERROR, DLQ_ORIGIN, DLQ_GROUP, DLQ_REPLAYED_FROM})
MAX_ERROR_CHARS = 500


def message_headers(
    envelope: Envelope, cause: str | None = None, *, chained: bool = False
) -> Headers:
    """The headers of ``envelope`` as sent: its type, its trace context (a new span in
    the trace of ``cause``, the ``traceparent`` of the request or record that caused it;
    a new trace without one) and the mark of a chained debit."""
    headers = [
        (TYPE, envelope.type.encode()),
        (TRACEPARENT, child_traceparent(cause).encode()),
    ]
    if chained:
        headers.append((CHAINED, b"1"))
    return headers


def header(headers: Received, name: str) -> bytes | None:
    """The value of the first header called ``name``, or None."""
    for key, value in headers or ():
        if key == name:
            return value
    return None


def message_type(headers: Received) -> str:
    """The ``type`` header ("" when there is none)."""
    value = header(headers, TYPE)
    return value.decode() if value else ""


def traceparent_of(headers: Received) -> str | None:
    """The trace context a record carries, or None."""
    value = header(headers, TRACEPARENT)
    return value.decode() if value else None


def is_chained(headers: Received) -> bool:
    """True for a debit whose continuation the decider appended with it."""
    return header(headers, CHAINED) is not None


def dead_letter_headers(
    headers: Received, error: BaseException, topic: str, partition: int, offset: int, group: str
) -> Headers:
    """A dead letter's headers: the record's own (without earlier ``dlq_*`` ones), then
    why it failed, where it was and the consumer group it failed in."""
    reason = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS].encode()
    return [
        *without_dead_letter_headers(headers),
        (DLQ_ERROR, reason),
        (DLQ_ORIGIN, f"{topic}:{partition}:{offset}".encode()),
        (DLQ_GROUP, group.encode()),
    ]


def without_dead_letter_headers(headers: Received) -> Headers:
    """The record's headers as they were before it was dead-lettered."""
    return [(k, v) for k, v in headers or () if k not in DLQ_HEADERS]


def origin_of(headers: Received) -> tuple[str, int, int] | None:
    """A dead letter's origin (topic, partition, offset), or None without a readable one."""
    value = (header(headers, DLQ_ORIGIN) or b"").decode(errors="replace")
    topic, _, rest = value.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not (topic and partition.isdigit() and rest.isdigit()):
        return None
    return topic, int(partition), int(rest)
