"""One audit record from one event: who did it, to whom, and the event's data masked.

Every envelope is recorded, whatever its payload type (a type this code does not know
yet is recorded too: the log misses nothing). The ``seq``, ``prev_hash`` and ``hash`` are
added by the store, in the order it appends. Pure: no I/O.

``keys`` holds what the id and type filters match (``search_key``: ``"wallet_id:w-1"``),
so one multikey index serves all six instead of an index each: on FerretDB every index
is evaluated on each insert, and six of them cost the projector about a third of its
store time (docs/benchmarks.md).

The store keeps ``actor``, ``subjects`` and ``data`` as their JSON text (``as_stored``),
not as sub-documents: its cost per record follows the number of fields (FerretDB v1
encodes and decodes each one on every insert and read: about half of its CPU per record,
docs/benchmarks.md), and no query looks inside them (the filters match ``keys``).
Readers, and the hash, see them as objects (``readable``), so a record hashes, reads and
exports the same whichever way it is stored (records written before hold objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from audit_svc.masking import mask
from contracts.envelope import Envelope

# the fields the store keeps as JSON text (module doc)
AS_TEXT = ("actor", "subjects", "data")
# payload keys that name a subject of the event, by kind
SUBJECT_KEYS: dict[str, tuple[str, ...]] = {
    "user_ids": ("user_id", "owner_id"),
    "wallet_ids": ("wallet_id", "from_wallet_id", "to_wallet_id"),
    "transaction_ids": ("transaction_id",),
    "payment_ids": ("payment_id",),
}
ADMIN = "admin"
# subjects kind -> the filter (and key prefix) that matches it
SUBJECT_FILTERS = {
    "user_ids": "user_id",
    "wallet_ids": "wallet_id",
    "transaction_ids": "transaction_id",
    "payment_ids": "payment_id",
}


def record_of(topic: str, envelope: Envelope) -> dict[str, Any]:
    """The audit record of ``envelope`` read from ``topic`` (without seq and hashes)."""
    payload = {k: v for k, v in envelope.payload.items() if k != "type"}
    actor = actor_of(envelope.producer, payload)
    subjects = subjects_of(payload)
    return {
        "event_id": envelope.event_id,
        "type": envelope.type,
        "topic": topic,
        "occurred_at": to_millis(envelope.occurred_at),
        "actor": actor,
        "subjects": subjects,
        "keys": keys_of(envelope.type, actor["id"], subjects),
        "correlation_id": envelope.correlation_id,
        "data": mask(payload),
    }


def as_stored(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` as the store keeps it: ``AS_TEXT`` as their JSON text (module doc)."""
    return {**record, **{n: orjson.dumps(record[n]).decode() for n in AS_TEXT if n in record}}


def readable(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record as readers and the hash see it: ``AS_TEXT`` as objects (an older
    record's objects as they are)."""
    out = dict(record)
    for name in AS_TEXT:
        if isinstance(value := out.get(name), str):
            out[name] = orjson.loads(value)
    return out


def search_key(filter_name: str, value: str) -> str:
    """The key a filter matches in a record's ``keys``: ``wallet_id:w-1``."""
    return f"{filter_name}:{value}"


def keys_of(type_: str, actor_id: str, subjects: dict[str, list[str]]) -> list[str]:
    """Every key the filters of ``GET /audit/logs`` find the record by."""
    return [
        search_key("type", type_),
        search_key("actor_id", actor_id),
        *(search_key(SUBJECT_FILTERS[kind], v) for kind, ids in subjects.items() for v in ids),
    ]


def keys_of_record(record: Mapping[str, Any]) -> list[str]:
    """The keys of a stored record, from its type, actor and subjects."""
    record = readable(record)
    return keys_of(str(record.get("type")), str(record.get("actor", {}).get("id")),
                   dict(record.get("subjects", {})))  # fmt: skip


def actor_of(producer: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Who did it: the admin who changed something, the person who asked (audit queries,
    their source address when known), the user the event is about when only they act on
    it, else the service that produced the event."""
    if payload.get("changed_by"):
        return _actor(ADMIN, str(payload["changed_by"]), ADMIN)
    if payload.get("actor_id"):
        role = str(payload.get("actor_role") or "")
        kind = ADMIN if role == ADMIN else "user"
        return _actor(kind, str(payload["actor_id"]), role or None, payload.get("address"))
    for key in ("owner_id", "user_id"):
        if payload.get(key):
            return _actor("user", str(payload[key]), None)
    return _actor("service", producer, None)


def subjects_of(payload: dict[str, Any]) -> dict[str, list[str]]:
    """The users, wallets, transactions and payments an event names (an audit query's
    filters included), each list sorted and without repeats."""
    query = payload.get("query")
    places = (payload, query) if isinstance(query, dict) else (payload,)
    subjects: dict[str, list[str]] = {}
    for kind, keys in SUBJECT_KEYS.items():
        found = [str(v) for p in places for k in keys if (v := p.get(k))]
        subjects[kind] = sorted(set(found)) if len(found) > 1 else found
    return subjects


def to_millis(instant: datetime) -> datetime:
    """``instant`` cut to whole milliseconds: what MongoDB stores, so it hashes the same
    once read back."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def _actor(kind: str, actor_id: str, role: str | None, address: Any = None) -> dict[str, Any]:
    return {"kind": kind, "id": actor_id, "role": role, "address": address}
