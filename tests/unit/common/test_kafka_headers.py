"""The one helper for Kafka headers: what producers write is what consumers read."""

from __future__ import annotations

from common.kafka.headers import (
    dead_letter_headers,
    header,
    is_chained,
    message_headers,
    message_type,
    traceparent_of,
)
from common.trace import trace_id_of
from contracts.envelope import Envelope

TP = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
ENV = Envelope(type="WalletDebited", producer="wallet_svc", key="w1")


def test_a_message_carries_its_type_trace_context_and_chained_mark() -> None:
    headers = message_headers(ENV, TP, chained=True)
    assert message_type(headers) == "WalletDebited"
    assert is_chained(headers)
    plain = message_headers(ENV)
    assert [k for k, _ in plain] == ["type", "traceparent"]
    assert not is_chained(plain)
    assert message_type(None) == "" and header(None, "type") is None


def test_a_message_is_a_child_span_of_what_caused_it() -> None:
    # given the trace context of the request or record that caused two messages
    first, second = message_headers(ENV, TP), message_headers(ENV, TP)
    # then each is a span of its own in the cause's trace
    spans = {traceparent_of(first), traceparent_of(second), TP}
    assert len(spans) == 3
    assert {trace_id_of(t) for t in spans} == {trace_id_of(TP)}
    # and a message that nothing caused begins a trace of its own
    assert trace_id_of(traceparent_of(message_headers(ENV))) not in (None, trace_id_of(TP))


def test_a_dead_letter_keeps_the_record_headers_and_says_why_and_where() -> None:
    error = ValueError("bad " + "x" * 1000)
    sent = message_headers(ENV, TP)
    headers = dead_letter_headers(sent, error, "wallet-commands", 3, 42, "wallet-decider")
    assert message_type(headers) == "WalletDebited"
    assert traceparent_of(headers) == traceparent_of(sent)
    reason = header(headers, "dlq_error")
    assert reason is not None and reason.startswith(b"ValueError: bad") and len(reason) == 500
    assert header(headers, "dlq_origin") == b"wallet-commands:3:42"
