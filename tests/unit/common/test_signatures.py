"""Callback signatures: the header format, round trip, tampering, window, malformed headers."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.signatures import SignatureProblem, SignatureRejected, Verified, sign, verify

SECRET = b"whsec_test"
NOW = 1_790_000_000
BODY = b'{"id":"evt_1","type":"charge.succeeded","amount":1000}'


def problem_of(header: str, body: bytes = BODY, now: int = NOW, secret: bytes = SECRET):
    with pytest.raises(SignatureRejected) as caught:
        verify(header, body, secret, now)
    return caught.value.reason


def test_the_header_is_t_and_hex_hmac_of_timestamp_dot_body() -> None:
    # given the format of api.md's webhooks, computed independently
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


def test_a_fresh_signature_verifies_and_says_what_to_remember() -> None:
    header = sign(SECRET, NOW, BODY)
    verified = verify(header, BODY, SECRET, NOW + 10)
    assert verified == Verified(timestamp=NOW, signature=header.split("v1=")[1])


@pytest.mark.parametrize("skew", [301, -301, 10_000, -10_000])
def test_a_timestamp_outside_five_minutes_either_way_is_stale(skew: int) -> None:
    # given a correctly signed message, when verified too late or too early, then refused
    assert problem_of(sign(SECRET, NOW, BODY), now=NOW + skew) is SignatureProblem.STALE_TIMESTAMP


@pytest.mark.parametrize("skew", [300, -300, 0])
def test_the_window_edges_are_inside(skew: int) -> None:
    assert verify(sign(SECRET, NOW, BODY), BODY, SECRET, NOW + skew).timestamp == NOW


def test_another_secret_or_a_shifted_timestamp_is_a_bad_signature() -> None:
    header = sign(SECRET, NOW, BODY)
    assert problem_of(header, secret=b"another") is SignatureProblem.BAD_SIGNATURE
    shifted = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert problem_of(shifted) is SignatureProblem.BAD_SIGNATURE


def test_one_matching_signature_among_several_verifies() -> None:
    # given a sender rotating its secret, signing with the old and the new one
    old = sign(b"old", NOW, BODY).split("v1=")[1]
    header = f"{sign(SECRET, NOW, BODY)},v1={old},v0=ignored"
    assert verify(header, BODY, SECRET, NOW).signature != old


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={NOW}",
        "v1=" + "a" * 64,
        f"t={NOW},v1=",
        f"t={NOW},v1={'a' * 63}",
        f"t={NOW},v1={'A' * 64}",
        f"t={NOW},v1={'g' * 64}",
        f"t={NOW},v1={'é' * 64}",
        f"t=-5,v1={'a' * 64}",
        f"t=1e9,v1={'a' * 64}",
        f"t={'9' * 40},v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",
        f"t={NOW},v1={'a' * 64},junk",
    ],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    assert problem_of(header) is SignatureProblem.MALFORMED_HEADER


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=64), st.integers(0, 2**33))
def test_sign_then_verify_round_trips(body: bytes, secret: bytes, timestamp: int) -> None:
    assert verify(sign(secret, timestamp, body), body, secret, timestamp).timestamp == timestamp


@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_single_byte_change_of_the_body_is_refused(body: bytes, data: st.DataObject) -> None:
    # given a signed body, when one byte of it is changed, then verification refuses it
    header = sign(SECRET, NOW, body)
    position = data.draw(st.integers(0, len(body) - 1))
    new_byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[position]))
    tampered = body[:position] + bytes([new_byte]) + body[position + 1 :]
    assert problem_of(header, body=tampered) is SignatureProblem.BAD_SIGNATURE


@given(st.data())
def test_any_single_character_change_of_the_header_is_refused(data: st.DataObject) -> None:
    header = sign(SECRET, NOW, BODY)
    position = data.draw(st.integers(0, len(header) - 1))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != header[position]))
    tampered = header[:position] + char + header[position + 1 :]
    with pytest.raises(SignatureRejected):
        verify(tampered, BODY, SECRET, NOW)


def test_a_rotating_sender_signs_with_each_secret_and_either_verifies() -> None:
    # given a sender holding a new and an old secret
    old, new = b"whsec_old", b"whsec_new"
    header = sign([new, old], NOW, BODY)
    # then the header has one t and a v1 per secret, the new one first
    t, first, second = header.split(",")
    assert t == f"t={NOW}"
    assert first == "v1=" + hmac.new(new, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert second == "v1=" + hmac.new(old, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    # and a receiver with either secret accepts it, one with another secret does not
    assert verify(header, BODY, new, NOW).signature == first.removeprefix("v1=")
    assert verify(header, BODY, old, NOW).signature == second.removeprefix("v1=")
    assert problem_of(header, secret=b"whsec_other") is SignatureProblem.BAD_SIGNATURE
