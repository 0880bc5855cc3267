"""Reading and changing accounts: a user's own profile and the admin's view of everyone."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from common.cursor import decode_cursor
from common.errors import Problem
from common.paging import fetch_page
from common.topics import USER_EVENTS
from contracts.envelope import Envelope
from contracts.user import UserRoleChanged
from user_svc import outbox, store
from user_svc.identity import Trace

log = logging.getLogger("user_svc.accounts")


PAGE_CURSOR = TypeAdapter(uuid.UUID)  # the id of the last user of the page


def _user_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Problem(404, "user_not_found", "no such user") from None


class Accounts:
    def __init__(self, engine: AsyncEngine, producer_name: str, relay: outbox.PgOutboxRelay
                 ) -> None:  # fmt: skip
        self._engine = engine
        self._producer = producer_name
        self._relay = relay

    async def get(self, user_id: str) -> store.User:
        async with self._engine.connect() as conn:
            user = await store.user_by_id(conn, _user_id(user_id))
        if user is None:
            raise Problem(404, "user_not_found", "no such user")
        return user

    async def rename(self, user_id: str, full_name: str) -> store.User:
        async with self._engine.begin() as conn:
            user = await store.update_user(conn, _user_id(user_id), datetime.now(UTC),
                                           full_name=full_name)  # fmt: skip
        if user is None:
            raise Problem(404, "user_not_found", "no such user")
        return user

    async def page(self, limit: int, cursor: str | None) -> tuple[list[store.User], str | None]:
        """One page in creation order and the cursor of the next (None on the last)."""
        after = decode_cursor(cursor, PAGE_CURSOR) if cursor else None
        async with self._engine.connect() as conn:
            return await fetch_page(
                lambda n: store.users_page(conn, after, n), limit, lambda u: str(u.id)
            )

    async def set_role(self, user_id: str, role: str, by: str, trace: Trace) -> store.User:
        uid = _user_id(user_id)
        async with self._engine.begin() as conn:
            before = await store.user_by_id(conn, uid)
            if before is None:
                raise Problem(404, "user_not_found", "no such user")
            user = await store.update_user(conn, uid, datetime.now(UTC), role=role)
            assert user is not None
            if before.role != role:
                changed = UserRoleChanged(user_id=str(uid), old_role=before.role,
                                          new_role=role, changed_by=by)  # fmt: skip
                event = Envelope.of(changed, key=str(uid), producer=self._producer,
                                    correlation_id=trace.correlation_id)  # fmt: skip
                await outbox.add(conn, USER_EVENTS, event, trace.traceparent)
        self._relay.wake()
        log.info("role changed", extra={"user_id": user_id, "role": role, "by": by})
        return user
