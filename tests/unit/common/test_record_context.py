"""What the Kafka workers' log lines say about the records they were handling."""

from __future__ import annotations

from aiokafka import ConsumerRecord

from common.kafka.consumer import record_context
from contracts.envelope import Envelope


def _record(value: bytes, offset: int = 7, partition: int = 2) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="wallet-events",
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"w-1",
        value=value,
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=len(value),
        headers=[],
    )


def test_one_record_is_named_by_its_place_and_its_event_id() -> None:
    envelope = Envelope(type="WalletOpened", producer="wallet_svc", key="w-1")
    context = record_context([_record(envelope.to_bytes())], ValueError("bad wallet id"))
    assert context == {
        "topic": "wallet-events",
        "partition": 2,
        "offset": 7,
        "event_id": envelope.event_id,
        "error": "ValueError: bad wallet id",
    }


def test_a_record_that_is_no_envelope_is_named_by_its_place_only() -> None:
    for value in (b"\xffnot json", b"[1, 2]", b'{"event_id": 5}'):
        assert record_context([_record(value)]) == {
            "topic": "wallet-events",
            "partition": 2,
            "offset": 7,
        }


def test_a_batch_is_named_by_its_first_and_last_record_and_its_size() -> None:
    batch = [_record(b"{}", offset=o) for o in (10, 11, 12)]
    assert record_context(batch) == {
        "topic": "wallet-events",
        "partition": 2,
        "offset": 10,
        "last_offset": 12,
        "records": 3,
    }
    across = [_record(b"{}", offset=10), _record(b"{}", offset=4, partition=5)]
    assert record_context(across)["last"] == "wallet-events:5:4"


def test_a_long_error_is_cut() -> None:
    assert len(record_context([], RuntimeError("x" * 1000))["error"]) == 200
