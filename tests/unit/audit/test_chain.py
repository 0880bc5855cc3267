"""The audit log's hash chain (audit_svc/chain.py): verify names the first broken link."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from audit_svc.chain import GENESIS, KEYS_ADDED, canonical, chained, link, verify
from audit_svc.records import AS_TEXT, as_stored, keys_of_record, readable

VALUES = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
DATA = st.dictionaries(st.text(min_size=1, max_size=8), VALUES, max_size=5)


def log_of(datas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = [
        {"seq": i, "event_id": f"e-{i}", "type": "T", "data": d,
         "actor": {"kind": "service", "id": "s", "role": None, "address": None},
         "subjects": {"user_ids": [], "wallet_ids": [f"w-{i}"]},
         "occurred_at": datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)}
        for i, d in enumerate(datas, start=1)
    ]  # fmt: skip
    return chained(GENESIS, records)


def test_a_hash_is_sha256_of_the_previous_hash_and_the_canonical_json() -> None:
    record = {"seq": 1, "b": [1, "x"], "a": None, "hash": "ignored", "_id": "ignored",
              "at": datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)}  # fmt: skip
    body = b'{"a":null,"at":"2026-01-01T12:00:00.123Z","b":[1,"x"],"seq":1}'
    assert canonical(record) == body
    assert link(GENESIS, record) == hashlib.sha256(GENESIS.encode() + body).hexdigest()


@given(st.lists(DATA, min_size=1, max_size=12))
def test_an_untouched_chain_verifies(datas: list[dict[str, Any]]) -> None:
    log = log_of(datas)
    assert log[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(log))
    assert verify(log, 1, len(log), GENESIS).ok
    # and read back with its keys in another order (as a store may), it still verifies
    reordered = [dict(reversed(r.items())) for r in log]
    assert verify(reordered, 1, len(log), GENESIS).ok


@given(st.lists(DATA, min_size=1, max_size=12), st.data())
def test_an_edited_record_is_named(datas: list[dict[str, Any]], data: st.DataObject) -> None:
    # given a chain and one record whose data is edited in place
    log = log_of(datas)
    victim = data.draw(st.integers(0, len(log) - 1))
    log[victim] = {**log[victim], "data": {**log[victim]["data"], "edited": True}}
    # then verify names exactly that record
    verdict = verify(log, 1, len(log), GENESIS)
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, victim + 1, victim)


@given(st.lists(DATA, min_size=1, max_size=12), st.data())
def test_a_chain_stored_with_its_data_as_text_verifies_reads_back_and_names_an_edit(
    datas: list[dict[str, Any]], data: st.DataObject
) -> None:
    # given a chain as the store keeps it: each record's actor, subjects and data as text
    log = log_of(datas)
    kept = [as_stored(r) for r in log]
    assert all(isinstance(r[name], str) for r in kept for name in AS_TEXT)
    # then it verifies with the hashes made over the objects, and reads back as made
    assert verify(kept, 1, len(kept), GENESIS).ok
    assert [readable(r) for r in kept] == log
    # and when one record's text is edited in place, verify names exactly that record
    victim = data.draw(st.integers(0, len(kept) - 1))
    edited = orjson.loads(kept[victim]["data"]) | {"edited": True}
    kept[victim] = {**kept[victim], "data": orjson.dumps(edited).decode()}
    verdict = verify(kept, 1, len(kept), GENESIS)
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, victim + 1, victim)


@given(st.lists(DATA, min_size=2, max_size=12), st.data())
def test_a_deleted_record_is_reported_as_the_gap(
    datas: list[dict[str, Any]], data: st.DataObject
) -> None:
    log = log_of(datas)
    victim = data.draw(st.integers(0, len(log) - 1))
    del log[victim]
    verdict = verify(log, 1, len(datas), GENESIS)
    assert (verdict.ok, verdict.first_bad_seq) == (False, victim + 1)


@given(st.lists(DATA, min_size=3, max_size=12), st.data())
def test_an_edit_that_rehashes_the_record_breaks_the_next_link(
    datas: list[dict[str, Any]], data: st.DataObject
) -> None:
    # given a tamperer who also recomputes the edited record's own hash
    log = log_of(datas)
    victim = data.draw(st.integers(0, len(log) - 2))
    edited = {**log[victim], "type": "Other"}
    log[victim] = {**edited, "hash": link(edited["prev_hash"], edited)}
    # then the next record's prev_hash no longer matches: the link after it is named
    assert verify(log, 1, len(log), GENESIS).first_bad_seq == victim + 2


def test_a_range_starts_from_the_hash_before_it() -> None:
    log = log_of([{}, {"a": 1}, {"b": 2}, {"c": 3}])
    assert verify(log[1:3], 2, 3, log[0]["hash"]).ok
    assert verify(log[1:3], 2, 3, None).checked == 2
    assert verify(log[1:3], 2, 3, GENESIS).first_bad_seq == 2


def test_keys_added_after_hashing_are_outside_the_hash_but_must_be_the_records_own() -> None:
    # given a record hashed before it had keys (the earlier shape)
    subjects = {"user_ids": ["u-1"], "wallet_ids": [], "transaction_ids": [], "payment_ids": []}
    [old] = chained(GENESIS, [{"seq": 1, "event_id": "e-1", "type": "UserRegistered",
                               "actor": {"id": "u-1"}, "subjects": subjects}])  # fmt: skip
    # when it is given its keys with the mark (audit_svc.backfill), it still verifies
    keys = ["type:UserRegistered", "actor_id:u-1", "user_id:u-1"]
    upgraded = {**old, "keys": keys, KEYS_ADDED: True}
    assert keys_of_record(upgraded) == keys
    assert verify([upgraded], 1, 1, GENESIS).ok
    # but keys that are not its own break it, and so do keys without the mark
    hidden = {**upgraded, "keys": ["type:Other"]}
    assert verify([hidden], 1, 1, GENESIS).first_bad_seq == 1
    assert not verify([{**old, "keys": keys}], 1, 1, GENESIS).ok


@given(st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.none() | st.timezones()))
def test_an_instant_is_hashed_as_utc_with_its_milliseconds_cut(at: datetime) -> None:
    # given any instant, naive (as Mongo gives it back: UTC) or with any offset
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    # then the canonical JSON holds it as YYYY-MM-DDTHH:MM:SS.mmmZ in UTC, cut (not rounded)
    # to milliseconds, whichever form it came in
    text = f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    assert canonical({"at": at}) == b'{"at":"' + text.encode() + b'"}'
