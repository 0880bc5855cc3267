"""The money series count what a transaction that ended moved, in integer minor units."""

from __future__ import annotations

from prometheus_client import REGISTRY

from common.metrics import declare_terminal, observe_terminal


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_completed_transaction_counts_its_amount_and_fee() -> None:
    # given the counters of a kind no other test uses
    kind = "unit-completed"
    moved = sample("paystream_money_moved_minor_units_total", type=kind, currency="JPY")
    # when two transfers complete
    observe_terminal(kind, "COMPLETED", None, "JPY", 12_345, 30)
    observe_terminal(kind, "COMPLETED", None, "JPY", 1, 0)
    # then both are counted, their amounts and fees summed exactly, and no failure
    assert sample("paystream_transactions_total", type=kind, status="COMPLETED") == 2
    assert sample("paystream_money_moved_minor_units_total", type=kind, currency="JPY") == (
        moved + 12_346
    )
    assert sample("paystream_fees_collected_minor_units_total", type=kind, currency="JPY") == 30
    assert (
        REGISTRY.get_sample_value(
            "paystream_transaction_failures_total", {"type": kind, "reason": "unknown"}
        )
        is None
    )


def test_a_failed_transaction_counts_its_reason_and_moves_nothing() -> None:
    kind = "unit-failed"
    observe_terminal(kind, "FAILED", "insufficient_funds", "USD", 10_000, 0)
    observe_terminal(kind, "REVERSED", None, "USD", 500, 0)
    assert (
        sample("paystream_transaction_failures_total", type=kind, reason="insufficient_funds") == 1
    )
    assert sample("paystream_transaction_failures_total", type=kind, reason="unknown") == 1
    assert (
        REGISTRY.get_sample_value(
            "paystream_money_moved_minor_units_total", {"type": kind, "currency": "USD"}
        )
        is None
    )


def test_declared_series_exist_at_zero_before_any_transaction() -> None:
    declare_terminal(["unit-declared"], ["COMPLETED", "FAILED"])
    for status in ("COMPLETED", "FAILED"):
        assert (
            REGISTRY.get_sample_value(
                "paystream_transactions_total", {"type": "unit-declared", "status": status}
            )
            == 0.0
        )
