import uuid
from datetime import datetime

import orjson
import pytest
from msgspec import DecodeError, ValidationError

from contracts.envelope import Envelope
from contracts.ids import NAMESPACE, deterministic_id, uuid7


def test_uuid7_has_version_variant_and_time_order() -> None:
    ids = [uuid7(now_ms=1_700_000_000_000 + i) for i in range(50)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert ids == sorted(ids)
    assert ids[3].int >> 80 == 1_700_000_000_003  # the Unix ms in the first 48 bits
    assert len({uuid7(now_ms=1) for _ in range(1000)}) == 1000


def test_deterministic_id_is_the_text_of_the_uuid5_of_its_parts() -> None:
    for parts in [("a",), ("user-1", "key-a"), ("event", "x" * 300, "0"), ("ünï", "cödé")]:
        assert deterministic_id(*parts) == str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def test_deterministic_id_is_stable_and_distinguishes_parts() -> None:
    assert deterministic_id("user-1", "key-a") == deterministic_id("user-1", "key-a")
    assert deterministic_id("user-1", "key-a") != deterministic_id("user-1key-a")
    assert deterministic_id("user-1", "key-a") != deterministic_id("user-2", "key-a")


def test_envelope_round_trips_through_bytes() -> None:
    env = Envelope(
        type="WalletCredited",
        producer="wallet_svc",
        key="w-1",
        payload={"amount": 2550, "currency": "USD"},
        correlation_id="c-1",
    )
    raw = env.to_bytes()
    assert Envelope.from_bytes(raw) == env
    doc = orjson.loads(raw)
    assert set(doc) == {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "producer",
        "key",
        "correlation_id",
        "causation_id",
        "payload",
    }
    assert uuid.UUID(doc["event_id"]).version == 7
    assert datetime.fromisoformat(doc["occurred_at"]).tzinfo is not None


def test_envelope_from_outside_is_validated() -> None:
    with pytest.raises(ValidationError):
        Envelope.from_bytes(b'{"type": "", "producer": "x", "key": "k"}')
    with pytest.raises(ValidationError):
        Envelope.from_bytes(b'{"type": "T", "producer": "x", "key": "k", "surprise": 1}')
    with pytest.raises(DecodeError):
        Envelope.from_bytes(b"not json")
