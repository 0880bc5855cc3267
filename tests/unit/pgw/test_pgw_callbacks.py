"""A pending charge's decision, its callback body, and the wait between delivery attempts."""

from __future__ import annotations

import uuid

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from common.signatures import sign, verify
from contracts.provider import ChargeCallback
from pgw_svc.domain import FailureReason, Outcome, Status, charge_status, retry_delay_ms
from pgw_svc.domain.callbacks import RETRY_BASE_MS, RETRY_CAP_MS
from pgw_svc.settlement import callback_body, decision

SUCCEEDED = Outcome(Status.SUCCEEDED)


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
