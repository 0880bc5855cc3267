"""An audit record from an event (audit_svc/records.py): actor, subjects, masked data."""

from __future__ import annotations

from datetime import UTC, datetime

from audit_svc.records import record_of
from contracts.audit import AuditLogQueried
from contracts.envelope import Envelope
from contracts.transaction import TransferRequested
from contracts.user import UserRegistered, UserRoleChanged

AT = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_a_transfer_names_its_wallets_and_transaction_and_its_service() -> None:
    event = TransferRequested(transaction_id="t-1", from_wallet_id="w-a", to_wallet_id="w-b",
                              amount=2550, currency="USD", deadline=0)  # fmt: skip
    env = Envelope.of(event, key="t-1", producer="transaction_svc", occurred_at=AT,
                      correlation_id="req-1")  # fmt: skip
    record = record_of("transaction-events", env)
    assert record["occurred_at"] == datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert record["actor"] == {"kind": "service", "id": "transaction_svc", "role": None,
                               "address": None}  # fmt: skip
    assert record["subjects"] == {"user_ids": [], "wallet_ids": ["w-a", "w-b"],
                                  "transaction_ids": ["t-1"], "payment_ids": []}  # fmt: skip
    # and the keys the filters find it by: its type, actor and every subject
    assert record["keys"] == ["type:TransferRequested", "actor_id:transaction_svc",
                              "wallet_id:w-a", "wallet_id:w-b", "transaction_id:t-1"]  # fmt: skip
    assert record["correlation_id"] == "req-1" and record["data"]["amount"] == 2550
    assert "type" not in record["data"] and record["type"] == "TransferRequested"


def test_a_registration_is_the_users_own_act_with_masked_identity() -> None:
    event = UserRegistered(user_id="u-1", email="ada@example.com", full_name="Ada King",
                           role="user")  # fmt: skip
    record = record_of("user-events", Envelope.of(event, key="u-1", producer="user_svc"))
    assert record["actor"]["kind"] == "user" and record["actor"]["id"] == "u-1"
    assert record["data"] == {"user_id": "u-1", "email": "a***@example.com",
                              "full_name": "A. K.", "role": "user"}  # fmt: skip


def test_a_role_change_is_the_admins_act_on_the_user() -> None:
    event = UserRoleChanged(user_id="u-1", old_role="user", new_role="auditor", changed_by="a-9")
    record = record_of("user-events", Envelope.of(event, key="u-1", producer="user_svc"))
    assert record["actor"] == {"kind": "admin", "id": "a-9", "role": "admin", "address": None}
    assert record["subjects"]["user_ids"] == ["u-1"]


def test_an_audit_query_names_who_asked_from_where_and_about_whom() -> None:
    query = {"wallet_id": "w-a", "limit": "10"}
    event = AuditLogQueried(actor_id="aud-1", actor_role="auditor", path="/audit/logs",
                            query=query, address="10.0.0.7")  # fmt: skip
    record = record_of("audit-events", Envelope.of(event, key="aud-1", producer="audit_svc"))
    assert record["actor"] == {"kind": "user", "id": "aud-1", "role": "auditor",
                               "address": "10.0.0.7"}  # fmt: skip
    assert record["subjects"]["wallet_ids"] == ["w-a"]
