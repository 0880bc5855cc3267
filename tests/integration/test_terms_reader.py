"""Fees and limits read together (transaction_svc.terms.TermsReader) on real Postgres:
requests made at once, with different and repeated keys, each get their own terms (the
user's limit over the role's, a currency's fee rule or none), and a change is seen by
the next read (nothing cached)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from transaction_svc import terms
from transaction_svc.domain.fees import NO_FEE

pytestmark = pytest.mark.integration


async def test_reads_made_at_once_each_get_their_own_terms_and_changes_apply_at_once(
    engine: AsyncEngine,
) -> None:
    # given a kind of our own with a fee in USD only, a role limit and one user's own limit
    kind, role = f"kind-{uuid.uuid4()}", f"role-{uuid.uuid4()}"
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    async with engine.begin() as conn:
        await terms.set_fee(conn, {"kind": kind, "currency": "USD", "basis_points": 100,
                                   "fixed": 5, "minimum": 0, "maximum": None,
                                   "updated_by": "test"})  # fmt: skip
        for subject, per_transaction in ((terms.role_subject(role), 1000),
                                         (terms.user_subject(alice), 50)):  # fmt: skip
            await terms.set_limit(conn, {"subject": subject, "kind": kind, "currency": "USD",
                                         "per_transaction": per_transaction, "daily": None,
                                         "updated_by": "test"})  # fmt: skip
    read = terms.TermsReader(engine)

    # when many reads of both users in two currencies are made at once
    asks = [(c, u) for _ in range(20) for c in ("USD", "EUR") for u in (alice, bob)]
    found = await asyncio.gather(*(read(kind, c, role, u) for c, u in asks))

    # then each has its own: alice's limit over the role's, the fee in USD only
    for (currency, user), got in zip(asks, found, strict=True):
        assert got.fee.fee(1000) == (15 if currency == "USD" else 0)
        if currency == "EUR":
            assert got.fee == NO_FEE and got.limit is None
        else:
            assert got.limit is not None
            assert got.limit.per_transaction == (50 if user == alice else 1000)

    # and a change of alice's limit applies to the very next read
    async with engine.begin() as conn:
        await terms.set_limit(conn, {"subject": terms.user_subject(alice), "kind": kind,
                                     "currency": "USD", "per_transaction": 70, "daily": 200,
                                     "updated_by": "test"})  # fmt: skip
    after = await read(kind, "USD", role, alice)
    assert after.limit is not None
    assert (after.limit.per_transaction, after.limit.daily) == (70, 200)
