"""The audit log through the gateway: a transfer appears masked and chained, every query
is itself recorded, only auditors and admins may read it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from infra.testing.api import User, login, money_post, register, two_users

pytestmark = pytest.mark.e2e


async def an_auditor(api: httpx.AsyncClient, admin: User) -> User:
    """A registered user whom the admin made an auditor (logged in again for the role)."""
    person = await register(api, "auditor")
    r = await api.patch(
        f"/admin/users/{person.id}/role", json={"role": "auditor"}, headers=admin.auth
    )
    assert r.status_code == 200, r.text
    return await login(api, person.email, person.password)


async def until_logged(
    api: httpx.AsyncClient, auditor: User, want: set[str], field: str = "type", **filters: str
) -> list[dict[str, Any]]:
    """The records matching ``filters`` once the values of their ``field`` (in ``data``
    unless it is ``type``) include ``want``."""
    for _ in range(150):
        r = await api.get("/audit/logs", params=filters, headers=auditor.auth)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        if want <= {i["type"] if field == "type" else i["data"][field] for i in items}:
            return items
        await asyncio.sleep(0.2)
    raise AssertionError(f"{want} not in the audit log for {filters}")


async def test_a_transfer_is_in_the_audit_log_masked_and_chained(
    api: httpx.AsyncClient, admin: User
) -> None:
    # given alice and bob, and a completed transfer from alice to bob
    alice, _, wa, wb = await two_users(api, ("alice", "bob"), 10_000)
    r = await money_post(api, alice, "/transfers",
                         {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 2550,
                          "currency": "USD"}, wait=15)  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    tx = r.json()["id"]
    auditor = await an_auditor(api, admin)
    # when the auditor searches the log by the transaction
    records = await until_logged(
        api, auditor, {"TransferRequested", "TransferCompleted"}, transaction_id=tx
    )
    # then its events are there, newest first, naming both wallets, with the amount
    assert [r["seq"] for r in records] == sorted((r["seq"] for r in records), reverse=True)
    requested = next(r for r in records if r["type"] == "TransferRequested")
    assert set(requested["subjects"]["wallet_ids"]) == {wa, wb}
    assert requested["data"]["amount"] == 2550 and requested["actor"]["kind"] == "service"
    # and alice's registration is there masked: first letter and domain, initials
    registered = await until_logged(
        api, auditor, {"UserRegistered"}, user_id=alice.id, type="UserRegistered"
    )
    assert registered[0]["data"]["email"] == f"{alice.email[0]}***@example.com"
    assert registered[0]["data"]["full_name"] == "A."
    assert alice.email not in orjson.dumps(registered).decode()
    # and the chain verifies through the transfer's last record
    last = max(r["seq"] for r in records)
    r = await api.get("/audit/verify", params={"to_seq": last}, headers=auditor.auth)
    assert r.status_code == 200 and r.json() == {"ok": True, "checked": last, "first_bad_seq": None}
    # and the export streams the same records oldest first, with their hashes
    r = await api.get(
        "/audit/logs/export", params={"transaction_id": tx, "to_seq": last}, headers=auditor.auth
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in r.content.splitlines()]
    assert [x["hash"] for x in lines] == [x["hash"] for x in reversed(records)]
    # and the auditor's own queries are in the log: who asked what, from where
    paths = {"/audit/logs", "/audit/verify", "/audit/logs/export"}
    asked = await until_logged(
        api, auditor, paths, "path", actor_id=auditor.id, type="AuditLogQueried"
    )
    exported = next(a for a in asked if a["data"]["path"] == "/audit/logs/export")
    assert exported["data"]["query"] == {"transaction_id": tx, "to_seq": str(last)}
    assert all(a["actor"]["role"] == "auditor" and a["actor"]["address"] for a in asked)


async def test_only_auditors_and_admins_read_the_audit_log(
    api: httpx.AsyncClient, admin: User
) -> None:
    user = await register(api, "curious")
    for path in ("/audit/logs", "/audit/logs/export", "/audit/verify"):
        r = await api.get(path, headers=user.auth)
        assert r.status_code == 403, (path, r.text)
        assert (await api.get(path)).status_code == 401
    assert (await api.get("/audit/verify", headers=admin.auth)).status_code == 200


async def test_bad_filters_ranges_and_cursors_are_clear_4xx(
    api: httpx.AsyncClient, admin: User
) -> None:
    bad = {
        "/audit/logs?wallet_id=%24ne": 422,
        "/audit/logs?since=yesterday": 422,
        "/audit/logs?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z": 422,
        "/audit/logs?cursor=bm90LWEtc2Vx": 400,
        "/audit/logs/export?from_seq=1&to_seq=100001": 422,
        "/audit/verify?from_seq=5&to_seq=4": 422,
    }
    for path, status in bad.items():
        r = await api.get(path, headers=admin.auth)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
