"""A pending charge's decision, its callback body, and the provider's callback retry policy
(``common.retry`` with pgw_svc's backoff and limits): the wait between delivery attempts,
and when a callback is given up."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.retry import GiveUp
from common.signatures import sign, verify
from contracts.provider import ChargeCallback
from pgw_svc.domain import (
    RETRY_BASE_MS,
    RETRY_CAP_MS,
    FailureReason,
    Outcome,
    Status,
    charge_status,
)
from pgw_svc.settings import PgwSettings
from pgw_svc.settlement import callback_body, decision

SUCCEEDED = Outcome(Status.SUCCEEDED)
POLICY = PgwSettings(pgw_callback_max_attempts=10, pgw_callback_max_age_s=3600).callback_retry
retry_delay_ms = POLICY.backoff_ms


def test_a_success_is_captured_or_authorized_and_anything_else_keeps_its_status() -> None:
    declined = Outcome(Status.FAILED, FailureReason.CARD_DECLINED)
    assert charge_status(SUCCEEDED, capture=True) == "captured"
    assert charge_status(SUCCEEDED, capture=False) == "authorized"
    assert charge_status(declined, capture=True) == "failed"
    assert charge_status(Outcome(Status.PENDING), capture=True) == "pending"


def test_the_asynchronous_card_is_decided_captured_in_full_or_authorized() -> None:
    # given a pending charge of 1234 that was to be captured, and one only to be authorized
    captured = decision({"capture": True, "amount": 1234})
    authorized = decision({"capture": False, "amount": 1234})
    # then the first is captured in full, the second authorized with nothing captured
    assert captured == {"status": "captured", "failure_reason": None, "captured_amount": 1234}
    assert authorized == {"status": "authorized", "failure_reason": None, "captured_amount": 0}


def test_the_retry_wait_doubles_from_half_a_second_to_a_minute() -> None:
    assert [retry_delay_ms(n) for n in (1, 2, 3, 4)] == [500, 1000, 2000, 4000]
    assert retry_delay_ms(8) == RETRY_CAP_MS and retry_delay_ms(10_000) == RETRY_CAP_MS


@given(st.integers(min_value=1, max_value=10**6))
def test_the_retry_wait_never_shrinks_and_stays_within_bounds(attempts: int) -> None:
    wait = retry_delay_ms(attempts)
    assert RETRY_BASE_MS <= wait <= RETRY_CAP_MS
    assert retry_delay_ms(attempts + 1) >= wait


def test_the_callback_body_is_the_contract_and_its_signature_verifies() -> None:
    # given a decided charge's row
    charge_id = uuid.uuid4()
    row = {"id": charge_id, "idempotency_key": "dep-1", "status": "captured", "amount": 1000,
           "currency": "EUR", "failure_reason": None}  # fmt: skip
    # when its callback body is made and signed
    body = callback_body(row)
    header = sign(b"secret", 1_790_000_000, body)
    # then the receiver decodes the contract from the exact bytes and the signature holds
    assert msgspec.json.decode(body, type=ChargeCallback) == ChargeCallback(
        charge_id=str(charge_id), idempotency_key="dep-1", status="captured", amount=1000,
        currency="EUR", failure_reason=None,
    )  # fmt: skip
    assert verify(header, body, b"secret", now=1_790_000_010).timestamp == 1_790_000_000


def _after(attempts: int = 1, status: int | None = 500, retry_after: int | None = None,
           age_ms: int = 0) -> int | GiveUp:  # fmt: skip
    return POLICY.after_failure(attempts=attempts, status=status, retry_after_ms=retry_after,
                                age_ms=age_ms)  # fmt: skip


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 408, 429, 301])
def test_no_answer_a_5xx_408_and_429_are_tried_again_after_the_backoff(
    status: int | None,
) -> None:
    assert _after(attempts=3, status=status) == retry_delay_ms(3) == 2000


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_any_other_4xx_gives_the_callback_up_at_once(status: int) -> None:
    assert _after(attempts=1, status=status) is GiveUp.REFUSED


def test_retry_after_lengthens_the_wait_but_never_shortens_it() -> None:
    assert _after(attempts=1, status=429, retry_after=7000) == 7000
    assert _after(attempts=4, status=503, retry_after=100) == retry_delay_ms(4)


def test_the_last_attempt_and_a_wait_past_the_age_limit_give_up() -> None:
    assert _after(attempts=9) == retry_delay_ms(9)
    assert _after(attempts=10) is GiveUp.ATTEMPTS_EXHAUSTED
    assert _after(attempts=2, age_ms=3_599_000) == 1000  # due at the limit exactly
    assert _after(attempts=2, age_ms=3_599_001) is GiveUp.EXPIRED
    assert _after(attempts=1, status=429, retry_after=3_600_001) is GiveUp.EXPIRED


@given(
    st.integers(min_value=1, max_value=10**6),
    st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
    st.integers(min_value=0, max_value=10**8),
)
def test_a_callback_is_never_sent_past_its_limits(
    attempts: int, status: int | None, retry_after: int | None, age_ms: int
) -> None:
    step = _after(attempts, status, retry_after, age_ms)
    if not isinstance(step, GiveUp):
        assert POLICY.max_attempts is not None and attempts < POLICY.max_attempts
        assert age_ms + step <= POLICY.max_age_ms
        assert step >= max(RETRY_BASE_MS, retry_after or 0)
