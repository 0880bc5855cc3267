"""The audit log's masking rules (audit_svc/masking.py): examples and properties."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit_svc.masking import last4, mask, mask_email, reduce_name

LOCAL = st.text(string.ascii_letters + string.digits + "._+-", min_size=2, max_size=20)
DOMAIN = st.from_regex(r"[a-z]{2,10}\.(com|org|dev)", fullmatch=True)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


def test_the_verification_event_loses_its_token_and_keeps_masked_identity() -> None:
    # given a version 1 EmailVerificationRequested, which carried its one-time token
    payload = {
        "type": "EmailVerificationRequested", "user_id": "u-1", "email": "ada@example.com",
        "full_name": "Ada Lovelace", "token": "ev_8Hq-2kP", "expires_in": 3600,
    }  # fmt: skip
    # when it is masked
    masked = mask(payload)
    # then the token is gone, the email and name are reduced, ids and numbers stay
    assert masked == {
        "type": "EmailVerificationRequested", "user_id": "u-1", "email": "a***@example.com",
        "full_name": "A. L.", "expires_in": 3600,
    }  # fmt: skip


def test_cards_ibans_and_secrets_by_key_and_inside_text() -> None:
    data = {
        "card_number": "4242 4242 4242 4242",
        "iban": "GB33BUKB20201555555555",
        "client_secret": "s3cr3t",
        "accessToken": "eyJ.x.y",
        "card_pin": "1234",
        "shipping": "kept",  # holds "pin" but is not a PIN
        "note": "paid with 4000000000000002 from GB94BARC10201530093459, ask bob@corp.io",
        "nested": [{"password": "pw", "holder_name": "Grace Brewster Hopper"}],
    }
    assert mask(data) == {
        "card_number": "****4242",
        "iban": "****5555",
        "shipping": "kept",
        "note": "paid with ****0002 from ****3459, ask b***@corp.io",
        "nested": [{"holder_name": "G. B. H."}],
    }


@given(LOCAL, DOMAIN)
def test_an_email_keeps_its_first_character_and_domain_only(local: str, domain: str) -> None:
    masked = mask({"email": f"{local}@{domain}"})["email"]
    assert masked == f"{local[0]}***@{domain}"
    assert mask_email(masked) == masked


@given(st.lists(st.integers(0, 9), min_size=13, max_size=19))
def test_a_card_number_anywhere_keeps_only_its_last_four(digits: list[int]) -> None:
    number = "".join(map(str, digits))
    masked = mask({"card_number": number, "memo": f"card {number} used"})
    assert masked["card_number"] == f"****{number[-4:]}"
    assert masked["memo"] == f"card ****{number[-4:]} used"
    assert number not in json.dumps(masked)


@given(JSONISH, st.text(min_size=8, max_size=30).filter(str.strip))
def test_no_secret_survives_anywhere_and_masking_twice_changes_nothing(
    data: Any, secret: str
) -> None:
    # given any JSON-like data with secrets under secret keys at two depths
    doc = {"data": data, "token": secret, "inner": {"refresh_token": secret, "pin": secret}}
    masked = mask(doc)
    # then no secret key is left, and masking is idempotent
    assert "token" not in masked and masked["inner"] == {}
    assert mask(masked) == masked


@given(st.text(max_size=40))
def test_names_and_last4_are_idempotent(value: str) -> None:
    assert reduce_name(reduce_name(value)) == reduce_name(value)
    assert last4(last4(value)) == last4(value)


def test_every_kind_of_field_of_an_event_is_masked_by_its_key_at_any_depth() -> None:
    # given a payload with scalars, strings under each rule, and nested maps and lists
    payload = {
        "amount": 2550, "ok": True, "gone": None, "rate": 1.5, "currency": "USD",
        "email": "ada@example.com", "iban": "DE44500105175407324931",
        "postings": [{"account": "w-1", "amount": -2550, "holder_name": "Ada Lovelace"}],
        "note": "from bob@example.org, card 4242 4242 4242 4242", "auth": {"pin": "1234"},
        "ids": ("t-1", "4111111111111111"),
    }  # fmt: skip
    # when it is masked
    masked = mask(payload)
    # then each string is masked by the rule of the key it is under, secrets are gone,
    # scalars stay, tuples become lists
    assert masked == {
        "amount": 2550, "ok": True, "gone": None, "rate": 1.5, "currency": "USD",
        "email": "a***@example.com", "iban": "****4931",
        "postings": [{"account": "w-1", "amount": -2550, "holder_name": "A. L."}],
        "note": "from b***@example.org, card ****4242", "auth": {},
        "ids": ["t-1", "****1111"],
    }  # fmt: skip
