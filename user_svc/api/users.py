"""``/users/me`` (any signed-in person) and ``/admin/*`` (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from common.auth import Principal, require_roles
from common.openapi import errors
from user_svc.api.deps import AccountsDep, ClientsDep, KeysDep, SettingsDep, TraceDep
from user_svc.schemas import (
    KeyRotated,
    ProfilePatch,
    RoleIn,
    ServiceClientCreated,
    ServiceClientIn,
    UserPublic,
    UsersPage,
)

PEOPLE = ("user", "merchant", "admin", "auditor")

router = APIRouter(tags=["users"])
Person = Annotated[Principal, require_roles(*PEOPLE)]
Admin = Annotated[Principal, require_roles("admin")]


@router.get("/users/me", response_model=UserPublic, responses=errors(403, 404))
async def me(principal: Person, accounts: AccountsDep) -> object:
    return (await accounts.get(principal.subject)).public()


@router.patch("/users/me", response_model=UserPublic, responses=errors(403, 404))
async def update_me(body: ProfilePatch, principal: Person, accounts: AccountsDep) -> object:
    return (await accounts.rename(principal.subject, body.full_name)).public()


@router.get("/admin/users", response_model=UsersPage, responses=errors(403))
async def list_users(
    _: Admin, accounts: AccountsDep, settings: SettingsDep,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> object:  # fmt: skip
    users, next_cursor = await accounts.page(min(limit, settings.admin_page_max), cursor)
    return {"items": [u.public() for u in users], "next_cursor": next_cursor}


@router.patch("/admin/users/{user_id}/role", response_model=UserPublic, responses=errors(403, 404))
async def set_role(
    user_id: str, body: RoleIn, admin: Admin, accounts: AccountsDep, trace: TraceDep
) -> object:
    return (await accounts.set_role(user_id, body.role, admin.subject, trace)).public()


@router.post("/admin/keys/rotate", response_model=KeyRotated, responses=errors(403))
async def rotate_keys(_: Admin, keys: KeysDep) -> dict[str, str]:
    """Make a new signing key current; the old one stays published until its tokens expire."""
    return {"kid": await keys.rotate()}


@router.post(
    "/admin/service-clients", status_code=status.HTTP_201_CREATED,
    response_model=ServiceClientCreated, responses=errors(403),
)  # fmt: skip
async def create_service_client(body: ServiceClientIn, admin: Admin, clients: ClientsDep) -> object:
    return await clients.create(body.name, body.scopes, admin.subject)
