"""Which indexes the audit log makes (audit_svc/store.py): a choice by the server."""

from __future__ import annotations

from audit_svc.store import indexes_for


def test_the_search_indexes_are_made_only_where_a_query_can_use_them() -> None:
    # on MongoDB every filter has its index; on FerretDB v1 (every filter a scan) only
    # the unique seq that keeps the writer one, and the search indexes are dropped
    everywhere, obsolete = indexes_for(scans_every_filter=False)
    assert [ix.document["name"] for ix in everywhere] == ["seq", "occurred_at_seq", "keys_seq"]
    assert {"keys_seq", "occurred_at_seq"}.isdisjoint(obsolete)
    scanning, dropped = indexes_for(scans_every_filter=True)
    assert [ix.document["name"] for ix in scanning] == ["seq"]
    assert scanning[0].document["unique"] is True
    assert {"keys_seq", "occurred_at_seq", "type_seq"} <= dropped
