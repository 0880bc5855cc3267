"""The pure parts of common.service_token: when a held token is renewed, and refusals that
never show a secret."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from common.service_token import HeldToken, ServiceTokens

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ0cmFuc2FjdGlvbl9zdmMifQ.c2lnbmF0dXJl"


def test_a_token_is_renewed_a_margin_before_it_expires() -> None:
    # given a grant of a 900 s token received at t=1000, renewed 60 s early
    held = HeldToken.from_grant({"access_token": TOKEN, "expires_in": 900}, 1000.0, 60.0)
    # then it is the bearer header until t=1840 and stale from then on
    assert held.authorization == f"Bearer {TOKEN}"
    assert held.fresh(1839.9)
    assert not held.fresh(1840.0)


def test_a_short_lived_token_is_still_used_for_half_its_life() -> None:
    # given a 30 s token and a margin longer than its whole lifetime
    held = HeldToken.from_grant({"access_token": TOKEN, "expires_in": 30}, 0.0, 60.0)
    # then it is kept for 15 s rather than never
    assert held.fresh(14.9) and not held.fresh(15.0)


@pytest.mark.parametrize(
    "grant",
    [
        {"expires_in": 900},
        {"access_token": "", "expires_in": 900},
        {"access_token": TOKEN},
        {"access_token": TOKEN, "expires_in": "soon"},
    ],
)
def test_a_grant_without_token_or_lifetime_is_refused_without_showing_it(
    grant: dict[str, object],
) -> None:
    with pytest.raises(ValueError) as refused:
        HeldToken.from_grant(grant, 0.0, 60.0)
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize(("client_id", "secret"), [("", "s3cret-s3cret-s3cret"), ("svc", "")])
def test_tokens_need_an_id_and_a_secret(client_id: str, secret: str) -> None:
    with pytest.raises(ValueError, match="client id and secret"):
        ServiceTokens("http://127.0.0.1:1", client_id, SecretStr(secret))
