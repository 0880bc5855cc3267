"""``/notifications``: a person's own notification history and preferences (paths without
``/api/v1``: the gateway strips it). Nobody sees another's: every query is by the
caller's id, and a notification of someone else is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import TypeAdapter

from common.cursor import decode_cursor
from common.errors import Problem
from common.openapi import errors
from common.paging import fetch_page
from notification_worker import preferences, store
from notification_worker.deps import App, Person
from notification_worker.schemas import (
    NotificationPublic,
    NotificationsPage,
    Preferences,
    PreferencesIn,
)

router = APIRouter(tags=["notifications"])
PAGE_CURSOR = TypeAdapter(str)  # the id of the last notification of the page


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "kind": doc["kind"], "category": doc["category"],
            "channel": doc["channel"], "title": doc["title"], "status": doc["status"],
            "created_at": doc["created_at"], "read_at": doc.get("read_at")}  # fmt: skip


@router.get("/notifications", response_model=NotificationsPage, responses=errors(400, 403))
async def list_notifications(
    app: App, me: Person,
    limit: Annotated[int, Query(ge=1)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> object:  # fmt: skip
    """The caller's notifications, newest first; ``next_cursor`` continues the list."""
    before = decode_cursor(cursor, PAGE_CURSOR) if cursor else None
    page, next_cursor = await fetch_page(
        lambda n: store.history(app.db, me.subject, before, n),
        min(limit, app.settings.notifications_page_max),
        lambda doc: doc["_id"],
    )
    return {"items": [_public(doc) for doc in page], "next_cursor": next_cursor}


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationPublic,
    responses=errors(403, 404),
)
async def mark_read(app: App, me: Person, notification_id: str) -> object:
    """Mark one of the caller's notifications read (again: no change)."""
    doc = await store.mark_read(app.db, me.subject, notification_id[:64])
    if doc is None:
        raise Problem(404, "notification_not_found", "no such notification")
    return _public(doc)


@router.get("/notifications/preferences", response_model=Preferences, responses=errors(403))
async def get_preferences(app: App, me: Person) -> object:
    """Which channels each category goes out on for the caller."""
    return preferences.effective(await store.stored_preferences(app.db, me.subject))


@router.put("/notifications/preferences", response_model=Preferences, responses=errors(403))
async def put_preferences(app: App, me: Person, body: PreferencesIn) -> object:
    """Turn channels of categories on or off (only those named); security and alerts stay on."""
    change = {
        category: {c: on for c, on in switches.items() if on is not None}
        for category, switches in body.model_dump(exclude_none=True).items()
    }
    await store.save_switches(app.db, me.subject, preferences.merged(None, change))
    return preferences.effective(await store.stored_preferences(app.db, me.subject))
