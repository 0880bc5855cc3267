"""Who may call what, through the gateway, on the whole running stack.

- every operation of the public OpenAPI document refuses a request without a token
  (except the few public ones);
- forged and tampered tokens are refused against user_svc's real JWKS;
- a service client's token is not a user's: it reads no wallet and moves no money;
- ownership and roles: user, admin, auditor;
- refresh-token rotation, reuse detection and logout.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
import uuid
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.settings import Settings
from infra.testing.api import (
    User,
    bearer,
    deposit,
    login,
    login_pair,
    money_post,
    open_wallet,
    register,
    service_client,
    service_token,
    settled_balance,
)

pytestmark = pytest.mark.e2e

PREFIX = "/api/v1"
PUBLIC = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/password/forgot"),
    ("POST", "/api/v1/auth/password/reset"),
    ("POST", "/api/v1/service/token"),
    ("GET", "/api/v1/.well-known/jwks.json"),
}
# operations that exist today: the document must list them, so the matrix is not vacuous
KNOWN = {
    ("POST", "/api/v1/wallets"),
    ("GET", "/api/v1/wallets"),
    ("GET", "/api/v1/wallets/{}"),
    ("GET", "/api/v1/wallets/{}/entries"),
    ("POST", "/api/v1/wallets/{}/freeze"),
    ("POST", "/api/v1/wallets/{}/unfreeze"),
    ("POST", "/api/v1/wallets/{}/close"),
    ("POST", "/api/v1/transfers"),
    ("POST", "/api/v1/deposits"),
    ("POST", "/api/v1/payments"),
    ("GET", "/api/v1/payments"),
    ("GET", "/api/v1/payments/{}"),
    ("POST", "/api/v1/payments/{}/refunds"),
    ("POST", "/api/v1/payments/{}/cancel"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{}"),
    ("DELETE", "/api/v1/webhooks/{}"),
    ("POST", "/api/v1/webhooks/{}/rotate-secret"),
    ("GET", "/api/v1/webhooks/{}/deliveries"),
    ("POST", "/api/v1/webhooks/{}/deliveries/{}/redeliver"),
    ("GET", "/api/v1/fees"),
    ("PUT", "/api/v1/admin/fees"),
    ("GET", "/api/v1/limits"),
    ("PUT", "/api/v1/admin/limits"),
    ("GET", "/api/v1/transactions"),
    ("GET", "/api/v1/transactions/{}"),
    ("GET", "/api/v1/users/me"),
    ("PATCH", "/api/v1/users/me"),
    ("GET", "/api/v1/admin/users"),
    ("PATCH", "/api/v1/admin/users/{}/role"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/password/change"),
    ("POST", "/api/v1/service/verify"),
    ("GET", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/{}/read"),
    ("GET", "/api/v1/notifications/preferences"),
    ("PUT", "/api/v1/notifications/preferences"),
} | PUBLIC
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
PARAM = re.compile(r"\{[^}]+\}")


# ---------------------------------------------------------------- helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims_of(token: str) -> dict[str, Any]:
    return dict(orjson.loads(b64url_decode(token.split(".")[1])))


def tampered(token: str, **changes: Any) -> str:
    """``token`` with its payload changed and its (now wrong) signature kept."""
    header, payload, signature = token.split(".")
    claims = {**orjson.loads(b64url_decode(payload)), **changes}
    return f"{header}.{b64url(orjson.dumps(claims))}.{signature}"


def hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(claims))}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def assert_unauthorized(r: httpx.Response, what: str) -> None:
    assert r.status_code == 401, f"{what}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), f"{what}: {r.headers}"
    assert r.json()["status"] == 401, f"{what}: {r.text}"


def assert_problem(r: httpx.Response, statuses: tuple[int, ...], what: str) -> None:
    assert r.status_code in statuses, f"{what}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), f"{what}: {r.headers}"


async def openapi_document(settings: Settings) -> dict[str, Any]:
    """The gateway's merged document, once every upstream has contributed."""
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(60):
            r = await client.get(f"{settings.gateway_url}/openapi.json")
            assert r.status_code == 200, r.text
            doc = dict(r.json())
            fresh = all(v == "ok" for v in doc.get("x-upstreams", {}).values())
            if fresh and set(operations(doc)) >= KNOWN:
                return doc
            await asyncio.sleep(1)
    return doc


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(METHOD, path with params as ``{}``) -> (the real path, the operation)."""
    ops = {}
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                ops[(method.upper(), PARAM.sub("{}", path))] = (path, item[method])
    return ops


# ---------------------------------------------------------------- every operation needs a token


async def test_every_operation_refuses_a_missing_token(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    doc = await openapi_document(settings)
    ops = operations(doc)
    missing = KNOWN - set(ops)
    assert not missing, f"the gateway's document lacks {sorted(missing)}; {doc.get('x-upstreams')}"
    assert all(path.startswith(PREFIX + "/") for path, _ in ops.values())
    # every upstream contributed: no operation is left out of the matrix
    assert set(doc["x-upstreams"].values()) == {"ok"}, doc["x-upstreams"]
    failures = []
    for (method, _), (path, op) in sorted(ops.items()):
        security = op.get("security", doc.get("security"))  # the operation's, else the global
        url = PARAM.sub(lambda _: str(uuid.uuid4()), path).removeprefix(PREFIX)
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = await api.request(method, url, **body)  # type: ignore[arg-type]
        public = (method, path) in PUBLIC
        if public:
            ok = r.status_code != 401 and r.status_code < 500
            # the document says so too
            ok = ok and security == []
        else:
            ok = (
                r.status_code == 401
                and r.headers.get("content-type", "").startswith("application/problem+json")
                and r.headers.get("www-authenticate", "").lower().startswith("bearer")
                and {"bearerAuth": []} in (security or [])
            )
        if not ok:
            failures.append(
                f"{method} {url} ({'public' if public else 'protected'}): "
                f"{r.status_code} {r.text[:200]} security={security}"
            )
    assert not failures, "\n".join(failures)


async def test_a_bad_authorization_header_is_refused(api: httpx.AsyncClient) -> None:
    alice = await register(api, "header")
    pair = await login_pair(api, alice)
    for what, headers in {
        "bearer without a token": {"Authorization": "Bearer"},
        "garbage": {"Authorization": "Bearer not-a-jwt"},
        "basic scheme": {"Authorization": "Basic " + b64url(b"a:b")},
        "token without scheme": {"Authorization": alice.token},
        "refresh token as bearer": bearer(pair["refresh_token"]),
    }.items():
        assert_unauthorized(await api.get("/wallets", headers=headers), what)


async def test_no_way_around_the_token_check(api: httpx.AsyncClient) -> None:
    """HEAD, trailing slashes and encoded paths that pass through a public route."""
    r = await api.head("/wallets")
    assert r.status_code == 401, r.status_code
    for method, path in [
        ("GET", "/wallets/"),
        ("GET", "/.well-known/jwks.json/..%2F..%2Fwallets"),
        ("GET", "/.well-known/jwks.json%2F..%2F..%2Fwallets"),
        ("GET", "/.well-known%2Fjwks.json/%2E%2E/%2E%2E/wallets"),
        ("POST", "/auth/register/%2e%2e/%2e%2e/wallets"),
        ("POST", "/auth/login%2F..%2F..%2Fadmin/users"),
        ("POST", "/service/token/..%2F..%2Fauth/logout"),
        ("GET", "/auth/..%2Fusers/me"),
    ]:
        r = await api.request(method, path, json={} if method == "POST" else None)
        assert r.status_code in (400, 401, 404, 405), f"{method} {path}: {r.status_code} {r.text}"


# ---------------------------------------------------------------- forged tokens


async def test_forged_tokens_are_refused_against_the_real_jwks(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    r = await api.get("/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    keys = r.json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in keys)
    assert not any("d" in k for k in keys), "the JWKS publishes a private key"
    real = claims_of(admin.token)
    kid = jwt.get_unverified_header(admin.token)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    raw_public = b64url_decode(jwk["x"])
    pem_public = Ed25519PublicKey.from_public_bytes(raw_public).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": real["sub"],
        "role": "admin",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    # the admin's own token works: the refusals below are about the forgery
    assert (await api.get("/wallets", headers=admin.auth)).status_code == 200
    other_key = Ed25519PrivateKey.generate()
    none_header = b64url(orjson.dumps({"alg": "none", "typ": "JWT", "kid": kid}))
    forged: dict[str, str] = {
        "alg none": f"{none_header}.{b64url(orjson.dumps(claims))}.",
        "alg none, real signature kept": (
            f"{none_header}.{admin.token.split('.')[1]}.{admin.token.split('.')[2]}"
        ),
        "HS256 keyed with the raw public key": hs256(
            {"alg": "HS256", "typ": "JWT", "kid": kid}, claims, raw_public
        ),
        "HS256 keyed with the JWK x": hs256(
            {"alg": "HS256", "typ": "JWT", "kid": kid}, claims, jwk["x"].encode()
        ),
        "HS256 keyed with the PEM public key": hs256(
            {"alg": "HS256", "typ": "JWT", "kid": kid}, claims, pem_public
        ),
        "EdDSA with another key and a real kid": jwt.encode(
            claims, other_key, algorithm="EdDSA", headers={"kid": kid}
        ),
        "EdDSA with an unknown kid": jwt.encode(
            claims, other_key, algorithm="EdDSA", headers={"kid": f"forged-{uuid.uuid4()}"}
        ),
        "EdDSA without a kid": jwt.encode(claims, other_key, algorithm="EdDSA"),
        "expired (exp tampered)": tampered(admin.token, exp=now - 60),
        "exp extended (tampered)": tampered(admin.token, exp=now + 10 * 365 * 86400),
        "wrong audience (tampered)": tampered(admin.token, aud="someone-else"),
        "wrong issuer (tampered)": tampered(admin.token, iss="https://evil.example"),
        "role raised (tampered)": tampered(admin.token, role="service"),
        "subject changed (tampered)": tampered(admin.token, sub=str(uuid.uuid4())),
        "signature stripped": admin.token.rsplit(".", 1)[0] + ".",
        "signature of another token": (admin.token.rsplit(".", 1)[0] + "." + b64url(b"\x00" * 64)),
    }
    for what, token in forged.items():
        assert_unauthorized(await api.get("/wallets", headers=bearer(token)), f"gateway: {what}")
    # every service verifies again (defense in depth): the same forgeries sent past the
    # gateway straight to the services are refused too
    for base, path in (
        (settings.wallet_svc_url, "/wallets"),
        (settings.transaction_svc_url, "/transactions"),
        (settings.user_svc_url, "/users/me"),
    ):
        async with httpx.AsyncClient(base_url=base, timeout=30) as direct:
            for what, token in forged.items():
                r = await direct.get(path, headers=bearer(token))
                assert_unauthorized(r, f"{base}{path}: {what}")


# ---------------------------------------------------------------- service clients


async def test_admin_creates_service_client_through_the_gateway(
    api: httpx.AsyncClient, admin: User
) -> None:
    """docs/identity.md: POST /admin/service-clients (admin) -> 201 with the secret once."""
    body = {"name": f"svc-{uuid.uuid4().hex[:6]}", "scopes": ["tokens:verify"]}
    r = await api.post("/admin/service-clients", json=body, headers=admin.auth)
    assert r.status_code == 201, r.text
    assert r.json()["client_id"] and r.json()["client_secret"]
    alice = await register(api, "nosvc")
    r = await api.post("/admin/service-clients", json=body, headers=alice.auth)
    assert_problem(r, (403,), "a plain user creates a service client")


async def test_service_token_is_not_a_user(api: httpx.AsyncClient, admin: User) -> None:
    alice, bob = await register(api, "svcowner"), await register(api, "svcpayee")
    wa, wb = await open_wallet(api, alice), await open_wallet(api, bob)
    tx = (await deposit(api, alice, wa, 1000))["id"]
    client = await service_client(api, admin, ["tokens:verify"])
    # wrong secrets and grants are refused
    r = await api.post(
        "/service/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": "wrong",
        },
    )
    assert_problem(r, (401,), "wrong client secret")
    r = await api.post(
        "/service/token",
        json={
            "grant_type": "password",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert_problem(r, (400,), "unsupported grant")
    r = await api.post(
        "/service/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": "wallets:admin",
        },
    )
    assert_problem(r, (400,), "scope beyond the client's")
    token = await service_token(api, client)
    svc = User(client["client_id"], client["client_secret"], token)
    # it may verify tokens
    r = await api.post("/service/verify", json={"token": alice.token}, headers=svc.auth)
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == claims_of(alice.token)["sub"]
    r = await api.post(
        "/service/verify", json={"token": tampered(alice.token, role="admin")}, headers=svc.auth
    )
    assert_problem(r, (401,), "verify a tampered token")
    # a user may not use /service/verify
    r = await api.post("/service/verify", json={"token": bob.token}, headers=alice.auth)
    assert_problem(r, (403,), "a user calls /service/verify")
    # it reads nobody's wallet or transaction, and moves no money
    for what, r in {
        "GET wallet": await api.get(f"/wallets/{wa}", headers=svc.auth),
        "GET entries": await api.get(f"/wallets/{wa}/entries", headers=svc.auth),
        "GET transaction": await api.get(f"/transactions/{tx}", headers=svc.auth),
        "freeze": await api.post(f"/wallets/{wa}/freeze", headers=svc.auth),
        "close": await api.post(f"/wallets/{wa}/close", headers=svc.auth),
    }.items():
        assert_problem(r, (403, 404), f"service token: {what}")
    for what, r in {
        "list wallets": await api.get("/wallets", headers=svc.auth),
        "open a wallet": await api.post("/wallets", json={"currency": "USD"}, headers=svc.auth),
        "users/me": await api.get("/users/me", headers=svc.auth),
        "admin/users": await api.get("/admin/users", headers=svc.auth),
        "transfer": await money_post(
            api,
            svc,
            "/transfers",
            {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1, "currency": "USD"},
        ),
        "deposit": await money_post(
            api,
            svc,
            "/deposits",
            {
                "wallet_id": wa,
                "amount": 1,
                "currency": "USD",
                "payment_method_id": str(uuid.uuid4()),
            },
        ),
    }.items():
        assert_problem(r, (403,), f"service token: {what}")
    r = await api.get("/transactions", headers=svc.auth)
    assert r.status_code in (200, 403), r.text
    if r.status_code == 200:
        assert tx not in {t["id"] for t in r.json()["items"]}


# ---------------------------------------------------------------- ownership and roles


async def test_ownership_and_roles(api: httpx.AsyncClient, admin: User) -> None:
    alice, bob = await register(api, "owner"), await register(api, "intruder")
    wa, wb = await open_wallet(api, alice), await open_wallet(api, bob)
    dep = (await deposit(api, alice, wa, 1000))["id"]
    r = await money_post(
        api,
        alice,
        "/transfers",
        {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 100, "currency": "USD"},
        wait=15,
    )
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    tx = r.json()["id"]
    assert await settled_balance(api, alice, wa, 900) == {"ledger": 900, "available": 900}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    # bob sees none of alice's things
    for what, r in {
        "GET wallet": await api.get(f"/wallets/{wa}", headers=bob.auth),
        "GET entries": await api.get(f"/wallets/{wa}/entries", headers=bob.auth),
        "GET entries as_of": await api.get(
            f"/wallets/{wa}/entries", params={"as_of": now}, headers=bob.auth
        ),
        "GET transfer": await api.get(f"/transactions/{tx}", headers=bob.auth),
        "GET deposit": await api.get(f"/transactions/{dep}", headers=bob.auth),
        "close": await api.post(f"/wallets/{wa}/close", headers=bob.auth),
    }.items():
        assert_problem(r, (403, 404), f"bob: {what}")
    r = await money_post(
        api,
        bob,
        "/transfers",
        {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1, "currency": "USD"},
    )
    assert_problem(r, (404,), "bob transfers from alice's wallet (he may not see it)")
    some_card = str(uuid.uuid4())
    into_alices = {"wallet_id": wa, "amount": 1, "currency": "USD", "payment_method_id": some_card}
    r = await money_post(api, bob, "/deposits", into_alices)
    assert_problem(r, (404,), "bob deposits into alice's wallet (he may not see it)")
    r = await api.get("/transactions", headers=bob.auth)
    assert r.status_code == 200, r.text
    seen = {t["id"] for t in r.json()["items"]}
    assert not seen & {tx, dep}, seen
    r = await api.get("/transactions", params={"wallet_id": wa}, headers=bob.auth)
    assert r.status_code == 200 and r.json()["items"] == [], r.text
    r = await api.get("/wallets", headers=bob.auth)
    assert r.status_code == 200 and {w["id"] for w in r.json()["items"]} == {wb}, r.text
    for path in ("/transactions/not-a-uuid", "/wallets/not-a-uuid", "/wallets/not-a-uuid/entries"):
        r = await api.get(path, headers=bob.auth)
        assert_problem(r, (400, 404, 422), f"bob: GET {path}")

    # a plain user is not an admin
    bob_id = bob.id
    for what, r in {
        "freeze": await api.post(f"/wallets/{wa}/freeze", headers=bob.auth),
        "unfreeze": await api.post(f"/wallets/{wa}/unfreeze", headers=bob.auth),
        "freeze own": await api.post(f"/wallets/{wb}/freeze", headers=bob.auth),
        "list users": await api.get("/admin/users", headers=bob.auth),
        "raise own role": await api.patch(
            f"/admin/users/{bob_id}/role", json={"role": "admin"}, headers=bob.auth
        ),
        "rotate keys": await api.post("/admin/keys/rotate", headers=bob.auth),
        "open a wallet for alice": await api.post(
            "/wallets",
            json={"currency": "USD", "owner_id": claims_of(alice.token)["sub"]},
            headers=bob.auth,
        ),
        "open an overdraft wallet": await api.post(
            "/wallets", json={"currency": "USD", "overdraft_limit": 10_000}, headers=bob.auth
        ),
    }.items():
        assert_problem(r, (403,), f"bob: {what}")
    r = await api.get("/users/me", headers=bob.auth)
    assert r.json()["role"] == "user"
    # nobody registers as admin or auditor
    for role in ("admin", "auditor"):
        r = await api.post(
            "/auth/register",
            json={
                "email": f"x-{uuid.uuid4().hex[:8]}@example.com",
                "password": "Correct-horse-9x",
                "full_name": "X",
                "role": role,
            },
        )
        assert_problem(r, (400, 422), f"register as {role}")

    # the admin reads and freezes any wallet
    r = await api.get(f"/wallets/{wa}", headers=admin.auth)
    assert r.status_code == 200 and r.json()["balance"]["ledger"] == 900, r.text
    r = await api.get(f"/wallets/{wa}/entries", headers=admin.auth)
    assert r.status_code == 200, r.text
    assert [e["amount"] for e in r.json()["items"]][:2] == [-100, 1000], r.text
    r = await api.get(f"/transactions/{tx}", headers=admin.auth)
    assert r.status_code == 200, r.text
    r = await api.post(f"/wallets/{wa}/freeze", json={"reason": "review"}, headers=admin.auth)
    assert r.status_code == 200 and r.json()["status"] == "frozen", r.text
    r = await api.post(f"/wallets/{wa}/unfreeze", headers=admin.auth)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    r = await api.get("/admin/users", headers=admin.auth)
    assert r.status_code == 200 and r.json()["items"], r.text
    # the admin moves no money out of alice's wallet either
    r = await money_post(
        api,
        admin,
        "/transfers",
        {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1, "currency": "USD"},
    )
    assert_problem(r, (403,), "admin transfers from alice's wallet")

    # an auditor reads everything that is money history, and changes nothing
    carol = await register(api, "auditor")
    carol_pair = await login_pair(api, carol)
    carol_id = carol.id
    r = await api.patch(
        f"/admin/users/{carol_id}/role", json={"role": "auditor"}, headers=admin.auth
    )
    assert r.status_code == 200 and r.json()["role"] == "auditor", r.text
    # the role shows in the next token: on refresh (which re-reads the user) and on login
    r = await api.post("/auth/refresh", json={"refresh_token": carol_pair["refresh_token"]})
    assert r.status_code == 200, r.text
    assert claims_of(r.json()["access_token"])["role"] == "auditor"
    carol = await login(api, carol.email, carol.password)
    assert claims_of(carol.token)["role"] == "auditor"
    r = await api.get(f"/transactions/{tx}", headers=carol.auth)
    assert r.status_code == 200 and r.json()["amount"] == 100, r.text
    r = await api.get(f"/transactions/{dep}", headers=carol.auth)
    assert r.status_code == 200, r.text
    r = await api.get(f"/wallets/{wa}/entries", headers=carol.auth)
    assert r.status_code == 200, r.text
    assert [e["amount"] for e in r.json()["items"]][:2] == [-100, 1000], r.text
    r = await api.get("/transactions", params={"wallet_id": wa}, headers=carol.auth)
    assert r.status_code == 200 and {t["id"] for t in r.json()["items"]} == {tx, dep}, r.text
    r = await money_post(
        api,
        carol,
        "/transfers",
        {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 1, "currency": "USD"},
    )
    assert_problem(r, (403,), "auditor transfers from alice's wallet")
    for what, r in {
        "freeze": await api.post(f"/wallets/{wa}/freeze", headers=carol.auth),
        "unfreeze": await api.post(f"/wallets/{wa}/unfreeze", headers=carol.auth),
        "list users": await api.get("/admin/users", headers=carol.auth),
        "open a wallet": await api.post("/wallets", json={"currency": "USD"}, headers=carol.auth),
        "deposit": await money_post(
            api,
            carol,
            "/deposits",
            {
                "wallet_id": wa,
                "amount": 1,
                "currency": "USD",
                "payment_method_id": str(uuid.uuid4()),
            },
        ),
        "set a role": await api.patch(
            f"/admin/users/{carol_id}/role", json={"role": "admin"}, headers=carol.auth
        ),
    }.items():
        assert_problem(r, (403,), f"auditor: {what}")
    r = await api.post(f"/wallets/{wa}/close", headers=carol.auth)
    assert_problem(r, (403, 404), "auditor closes alice's wallet")
    # and nothing moved
    r = await api.get(f"/wallets/{wa}", headers=alice.auth)
    assert r.json()["status"] == "active" and r.json()["balance"]["ledger"] == 900, r.text


# ---------------------------------------------------------------- refresh and logout


async def test_refresh_rotates_and_reuse_revokes_the_family(api: httpx.AsyncClient) -> None:
    alice = await register(api, "rotate")
    first = await login_pair(api, alice)
    r = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await api.get("/users/me", headers=bearer(second["access_token"]))).status_code == 200
    # the old refresh token again: theft; it and the newest token of the family are dead
    r = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_unauthorized(r, "reused refresh token")
    assert r.json()["code"] == "refresh_token_reused", r.text
    r = await api.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_unauthorized(r, "newest refresh token of a revoked family")
    # another session of the same user is untouched
    other = await login_pair(api, alice)
    r = await api.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 200, r.text
    # made-up tokens
    r = await api.post("/auth/refresh", json={"refresh_token": b64url(uuid.uuid4().bytes * 2)})
    assert_unauthorized(r, "unknown refresh token")
    r = await api.post("/auth/refresh", json={"refresh_token": alice.token})
    assert_unauthorized(r, "access token as refresh token")


async def test_logout_revokes_the_refresh_token(api: httpx.AsyncClient) -> None:
    alice, bob = await register(api, "logout"), await register(api, "stranger")
    pair = await login_pair(api, alice)
    bob_pair = await login_pair(api, bob)
    # someone else's refresh token cannot be logged out
    r = await api.post(
        "/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=bob.auth
    )
    assert_problem(r, (403,), "bob logs out alice's session")
    r = await api.post(
        "/auth/logout",
        json={"refresh_token": pair["refresh_token"]},
        headers=bearer(pair["access_token"]),
    )
    assert r.status_code == 204, r.text
    r = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_unauthorized(r, "refresh after logout")
    # logout revokes the whole family: a token rotated before the logout dies too
    pair = await login_pair(api, alice)
    r = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    rotated = r.json()
    r = await api.post(
        "/auth/logout",
        json={"refresh_token": rotated["refresh_token"]},
        headers=bearer(rotated["access_token"]),
    )
    assert r.status_code == 204, r.text
    r = await api.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_unauthorized(r, "refresh after logout (rotated family)")
    # bob's session is untouched
    r = await api.post("/auth/refresh", json={"refresh_token": bob_pair["refresh_token"]})
    assert r.status_code == 200, r.text
