"""A dead-lettered event replayed to its group: the handler sees the record it was at its
origin, and only the group it failed in takes it."""

from __future__ import annotations

from aiokafka import ConsumerRecord

from common.kafka.headers import dead_letter_headers, header, origin_of
from common.kafka.replay import as_origin, is_replay, replayed_for
from common.topics import replay

SENT = [("type", b"WalletCredited"), ("traceparent", b"00-x-y-01")]


Headers = list[tuple[str, bytes]]


def record(
    topic: str, partition: int, offset: int, headers: Headers
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, offset, 0, 0, b"k", b"v", None, 1, 1, headers)


def test_a_replayed_dead_letter_is_seen_as_its_origin_by_its_group_only() -> None:
    # given an event dead-lettered by the projector at wallet-events:3:42, replayed
    dead = dead_letter_headers(SENT, ValueError("no"), "wallet-events", 3, 42, "projector")
    replayed = record(replay("wallet-events"), 3, 7, [*dead, ("dlq_replayed_from", b"x:0:1")])
    # then it is a replay for the projector, not for the saga
    assert is_replay(replayed) and not is_replay(record("wallet-events", 3, 42, SENT))
    assert replayed_for(replayed, "projector") and not replayed_for(replayed, "saga")
    # and the handler sees the record as it was read at its origin, its own headers only
    seen = as_origin(replayed)
    assert (seen.topic, seen.partition, seen.offset) == ("wallet-events", 3, 42)
    assert list(seen.headers) == SENT and seen.value == b"v" and seen.key == b"k"


def test_dead_lettered_again_it_names_its_first_origin_and_one_error() -> None:
    first = dead_letter_headers(SENT, ValueError("first"), "wallet-events", 3, 42, "projector")
    again = dead_letter_headers(first, ValueError("again"), "wallet-events", 3, 42, "projector")
    assert [k for k, _ in again].count("dlq_error") == 1
    assert header(again, "dlq_error") == b"ValueError: again"
    assert origin_of(again) == ("wallet-events", 3, 42)
    assert origin_of(SENT) is None and origin_of([("dlq_origin", b"nonsense")]) is None


def test_a_replay_without_a_readable_origin_keeps_its_place_on_the_base_topic() -> None:
    seen = as_origin(record(replay("payment-events"), 1, 9, [("dlq_group", b"saga")]))
    assert (seen.topic, seen.partition, seen.offset) == ("payment-events", 1, 9)
