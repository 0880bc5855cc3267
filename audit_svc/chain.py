"""The audit log's hash chain: each record's ``hash = SHA-256(prev_hash + canonical JSON of
the record)``, so editing, removing or reordering a stored record breaks a link.

The canonical JSON of a record is its fields other than ``hash``, ``prev_hash`` and
Mongo's ``_id``, with sorted keys, no spaces, UTF-8, and datetimes as RFC 3339 UTC with
milliseconds (what MongoDB stores), so a record read back hashes as it was written.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from audit_svc.records import keys_of_record, readable

GENESIS = "0" * 64  # the prev_hash of record 1
UNHASHED = frozenset({"_id", "hash", "prev_hash"})
# set on a record hashed before it had ``keys`` (``audit_svc.backfill``): its keys are not
# in its hash, and a walk checks that they are the ones its hashed fields give
KEYS_ADDED = "keys_added"
ADDED_LATER = frozenset({"keys", KEYS_ADDED})


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: the record without its unhashed fields, its ``data`` as
    an object however it is stored (``records.readable``)."""
    unhashed = UNHASHED | ADDED_LATER if record.get(KEYS_ADDED) else UNHASHED
    body = {k: v for k, v in readable(record).items() if k not in unhashed}
    return orjson.dumps(
        body, default=instant_text, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    )


def link(prev_hash: str, record: Mapping[str, Any]) -> str:
    """The hash of ``record`` following a record whose hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + canonical(record)).hexdigest()


def chained(prev_hash: str, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` (in seq order) with ``prev_hash`` and ``hash`` set, following
    ``prev_hash``."""
    out = []
    for record in records:
        done = {**record, "prev_hash": prev_hash, "hash": link(prev_hash, record)}
        out.append(done)
        prev_hash = done["hash"]
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a walk over the chain found: ``first_bad_seq`` is None when ``ok``."""

    ok: bool
    checked: int
    first_bad_seq: int | None


class Walk:
    """A walk over the records from ``from_seq`` on, fed one at a time in seq order, that
    stops at the first broken link: a missing seq (a gap), a ``prev_hash`` that is not
    the previous record's hash, or a ``hash`` that is not the record's own.

    ``prev_hash`` is the hash of record ``from_seq - 1`` (``GENESIS`` for 1; None when
    unknown: the first record's own ``prev_hash`` is then taken as given)."""

    def __init__(self, from_seq: int, prev_hash: str | None) -> None:
        self.expected = from_seq
        self.prev_hash = prev_hash
        self.checked = 0
        self.first_bad_seq: int | None = None

    def step(self, record: Mapping[str, Any]) -> bool:
        """Check the next record; False once a link is broken (feed no more)."""
        own_prev = str(record.get("prev_hash"))
        broken = (
            record.get("seq") != self.expected  # a gap (or a record out of place)
            or (self.prev_hash is not None and own_prev != self.prev_hash)
            or record.get("hash") != link(own_prev, record)
            or (bool(record.get(KEYS_ADDED)) and record.get("keys") != keys_of_record(record))
        )
        if broken:
            self.first_bad_seq = self.expected
            return False
        self.prev_hash, self.expected = str(record["hash"]), self.expected + 1
        self.checked += 1
        return True

    def verdict(self, to_seq: int) -> Verdict:
        """The outcome once every record up to ``to_seq`` was fed (a missing tail is a gap)."""
        if self.first_bad_seq is None and self.expected <= to_seq:
            self.first_bad_seq = self.expected
        return Verdict(self.first_bad_seq is None, self.checked, self.first_bad_seq)


def verify(
    records: Iterable[Mapping[str, Any]], from_seq: int, to_seq: int, prev_hash: str | None
) -> Verdict:
    """``Walk`` over ``records`` (sorted by seq) from ``from_seq`` to ``to_seq``."""
    walk = Walk(from_seq, prev_hash)
    for record in records:
        if not walk.step(record):
            break
    return walk.verdict(to_seq)


def instant_text(value: Any) -> str:
    """A datetime as RFC 3339 UTC with milliseconds (orjson's ``default`` for datetimes)."""
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return naive.isoformat(timespec="milliseconds") + "Z"  # (the milliseconds cut)
    raise TypeError(f"not JSON: {type(value).__name__}")
