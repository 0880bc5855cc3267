"""The one helper for Kafka headers: what producers write is what consumers read."""

from __future__ import annotations

from common.kafka.headers import (
    dead_letter_headers,
    header,
    is_chained,
    message_headers,
    message_type,
    traceparent_of,
    with_traceparent,
)
from contracts.envelope import Envelope

TP = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
ENV = Envelope(type="WalletDebited", producer="wallet_svc", key="w1")


def test_a_message_carries_its_type_trace_context_and_chained_mark() -> None:
    headers = message_headers(ENV, TP, chained=True)
    assert message_type(headers) == "WalletDebited"
    assert traceparent_of(headers) == TP
    assert is_chained(headers)
    plain = message_headers(ENV)
    assert plain == [("type", b"WalletDebited")]
    assert traceparent_of(plain) is None and not is_chained(plain)
    assert message_type(None) == "" and header(None, "type") is None


def test_the_trace_context_is_replaced_not_repeated() -> None:
    other = "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01"
    headers = with_traceparent(message_headers(ENV, TP), other)
    assert [k for k, _ in headers].count("traceparent") == 1
    assert traceparent_of(headers) == other
    assert traceparent_of(with_traceparent(headers, None)) is None


def test_a_dead_letter_keeps_the_record_headers_and_says_why_and_where() -> None:
    error = ValueError("bad " + "x" * 1000)
    headers = dead_letter_headers(message_headers(ENV, TP), error, "wallet-commands", 3, 42)
    assert message_type(headers) == "WalletDebited" and traceparent_of(headers) == TP
    reason = header(headers, "dlq_error")
    assert reason is not None and reason.startswith(b"ValueError: bad") and len(reason) == 500
    assert header(headers, "dlq_origin") == b"wallet-commands:3:42"
