"""Access tokens minted by user_svc, checked by common.auth.JwksVerifier: good ones pass,
forged or misused ones are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Container
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from common.auth import JwksVerifier
from common.errors import Problem
from common.logging import RequestInfo, current_request
from user_svc.keys import (
    SigningKey,
    generate_private_key,
    load_private_pem,
    new_kid,
    private_pem,
)
from user_svc.tokens import TokenMinter, opaque_token, token_hash

ISS, AUD = "paystream", "paystream-api"
JWKS_URL = "http://user-svc.test/.well-known/jwks.json"


def _key() -> SigningKey:
    return SigningKey(new_kid(), generate_private_key(), datetime.now(UTC))


KEY = _key()
MINTER = TokenMinter(ISS, AUD)


def verifier(*keys: SigningKey, revoked: Container[str] = frozenset()) -> JwksVerifier:
    jwks = {"keys": [k.public_jwk for k in keys]}
    transport = httpx.MockTransport(lambda req: httpx.Response(200, json=jwks))
    client = httpx.AsyncClient(transport=transport)
    return JwksVerifier(JWKS_URL, ISS, AUD, client=client, revoked=revoked)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": "u-1", "role": "user", "typ": "access",
              "iat": now, "exp": now + 600, "jti": "j-1"}  # fmt: skip
    claims.update(over)
    return claims


def _signed(claims: dict[str, Any], key: SigningKey = KEY, kid: str | None = None) -> str:
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": kid or key.kid})


async def test_a_minted_token_verifies_to_its_principal() -> None:
    # given a token minted for a merchant
    token, claims = MINTER.access_token(KEY, subject="u-42", role="merchant",
                                        now=int(time.time()), ttl_s=3600)  # fmt: skip
    # when any service verifies it against the JWKS
    principal = await verifier(KEY).verify(token)
    # then it is that merchant, and the token carries every claim the contract names
    assert (principal.subject, principal.role, principal.kind) == ("u-42", "merchant", "user")
    assert jwt.get_unverified_header(token)["kid"] == KEY.kid
    assert {"iss", "aud", "sub", "role", "typ", "iat", "exp", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 3600 and claims["typ"] == "access"


async def test_a_token_of_an_ended_session_is_refused_even_when_cached() -> None:
    # given two sessions' tokens, both verified once (so both are in the verifier's cache)
    now = int(time.time())
    ended, _ = MINTER.access_token(KEY, subject="u-1", role="user", now=now, ttl_s=600,
                                   session="s-ended")  # fmt: skip
    other, _ = MINTER.access_token(KEY, subject="u-1", role="user", now=now, ttl_s=600,
                                   session="s-other")  # fmt: skip
    revoked: set[str] = set()
    v = verifier(KEY, revoked=revoked)
    assert (await v.verify(ended)).session_id == "s-ended"
    assert (await v.verify(other)).session_id == "s-other"
    # when the first session is revoked
    revoked.add("s-ended")
    # then its token is refused at once, and the other session's still passes
    with pytest.raises(Problem) as err:
        await v.verify(ended)
    assert err.value.status == 401 and "session" in err.value.detail
    assert (await v.verify(other)).subject == "u-1"


async def test_a_service_token_carries_its_scopes() -> None:
    token, _ = MINTER.access_token(KEY, subject="svc_1", role="service", now=int(time.time()),
                                   ttl_s=60, scope="wallets:read payments:write")  # fmt: skip
    principal = await verifier(KEY).verify(token)
    assert principal.kind == "service"
    assert principal.scopes == {"wallets:read", "payments:write"}


def _alg_none() -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KEY.kid}).encode())
    return f"{header}.{_b64(json.dumps(_claims(role='admin')).encode())}."


def _hs256_with_public_key() -> str:
    public_pem = KEY.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY.kid}).encode())
    body = _b64(json.dumps(_claims(role="admin")).encode())
    sig = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(sig)}"


FORGED = {
    "alg none": lambda: _alg_none(),
    "HS256 keyed with the public key": lambda: _hs256_with_public_key(),
    "expired": lambda: _signed(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 60)),
    "wrong audience": lambda: _signed(_claims(aud="someone-else")),
    "wrong issuer": lambda: _signed(_claims(iss="evil")),
    "unknown kid": lambda: _signed(_claims(), kid="no-such-kid"),
    "refresh typ": lambda: _signed(_claims(typ="refresh")),
    "another key under our kid": lambda: _signed(_claims(), key=_key(), kid=KEY.kid),
    "tampered payload": lambda: _tampered(),
    "no exp": lambda: _signed({k: v for k, v in _claims().items() if k != "exp"}),
}


def _tampered() -> str:
    header, _, sig = _signed(_claims()).split(".")
    return f"{header}.{_b64(json.dumps(_claims(role='admin')).encode())}.{sig}"


@pytest.mark.parametrize("forgery", list(FORGED))
async def test_forged_and_misused_tokens_are_refused(forgery: str) -> None:
    # given a token that must not be accepted
    token = FORGED[forgery]()
    # when it is verified, then the answer is 401
    with pytest.raises(Problem) as refused:
        await verifier(KEY).verify(token)
    assert refused.value.status == 401


async def test_a_token_of_a_rotated_key_verifies_while_both_are_published() -> None:
    old, new = KEY, _key()
    old_token = _signed(_claims(sub="old"), key=old)
    new_token = _signed(_claims(sub="new"), key=new)
    v = verifier(old, new)
    assert (await v.verify(old_token)).subject == "old"
    assert (await v.verify(new_token)).subject == "new"


@pytest.mark.parametrize("passphrase", [None, b"correct horse"])
def test_private_keys_round_trip_through_pem(passphrase: bytes | None) -> None:
    pem = private_pem(KEY.private_key, passphrase)
    assert ("ENCRYPTED" in pem) == bool(passphrase)
    loaded = load_private_pem(pem, passphrase)
    message = b"signed by the same key"
    KEY.private_key.public_key().verify(loaded.sign(message), message)


def test_opaque_tokens_are_random_and_stored_only_as_hashes() -> None:
    a, b = opaque_token(), opaque_token()
    assert a != b and len(a) >= 40
    assert token_hash(a) == hashlib.sha256(a.encode()).hexdigest() != a


async def test_a_remembered_token_still_expires_on_time() -> None:
    # given a verifier that has verified a token with 1 second left
    v = verifier(KEY)
    now = int(time.time())
    token = _signed(_claims(iat=now - 10, exp=now + 1))
    assert (await v.verify(token)).subject == "u-1"
    # when it is presented again after its expiry
    time.sleep(max(0.0, now + 1.05 - time.time()))
    # then the cache does not honour it
    with pytest.raises(Problem) as refused:
        await v.verify(token)
    assert refused.value.status == 401


async def test_the_cache_is_bounded_and_never_confuses_tokens() -> None:
    v = JwksVerifier(JWKS_URL, ISS, AUD, client=verifier(KEY)._client, cache_size=3)
    tokens = [_signed(_claims(sub=f"u-{i}")) for i in range(10)]
    for _ in range(2):
        for i, token in enumerate(tokens):
            assert (await v.verify(token)).subject == f"u-{i}"
    assert len(v._verified) == 3


async def test_a_verified_caller_is_named_in_the_request_log_context() -> None:
    # given a request being served (its log context) and a token for u-7
    info = RequestInfo("req-1", "req-1", "GET", "/wallets")
    t = current_request.set(info)
    try:
        token, _ = MINTER.access_token(KEY, subject="u-7", role="user",
                                       now=int(time.time()), ttl_s=600)  # fmt: skip
        # when the token is verified, first and then from the cache
        await (v := verifier(KEY)).verify(token)
        info.user_id = None
        await v.verify(token)
    finally:
        current_request.reset(t)
    # then every log line of the request, its access line included, names the caller
    assert info.user_id == "u-7"


async def test_a_token_only_asked_about_does_not_name_the_caller() -> None:
    # given a service's request (its log context names the service) that introspects a
    # user's token
    info = RequestInfo("req-2", "req-2", "POST", "/service/verify")
    info.user_id = "svc-1"
    t = current_request.set(info)
    try:
        token, _ = MINTER.access_token(KEY, subject="u-8", role="user",
                                       now=int(time.time()), ttl_s=600)  # fmt: skip
        principal = await verifier(KEY).verify(token, caller=False)
    finally:
        current_request.reset(t)
    # then the token is checked, and the request's lines still name the service
    assert principal.subject == "u-8"
    assert info.user_id == "svc-1"
