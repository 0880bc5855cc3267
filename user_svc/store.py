"""Postgres access for users, one-time email tokens and service clients (schema ``users``).

Functions take a connection so callers decide the transaction (and can add outbox rows
to it); ``EmailTaken`` is the one domain error raised here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

_USER_COLS = "id, email, full_name, role, email_verified, created_at, password_hash"


class EmailTaken(Exception):
    """Another account already uses this email."""


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    full_name: str
    role: str
    email_verified: bool
    created_at: datetime
    password_hash: str

    def public(self) -> dict[str, Any]:
        """What the API shows: never the hash."""
        return {"id": str(self.id), "email": self.email, "full_name": self.full_name,
                "role": self.role, "email_verified": self.email_verified,
                "created_at": self.created_at}  # fmt: skip


def _user(row: Any) -> User | None:
    return User(**row._mapping) if row is not None else None


async def insert_user(
    conn: AsyncConnection, *, user_id: uuid.UUID, email: str, full_name: str, role: str,
    password_hash: str, email_verified: bool = False, now: datetime,
) -> User:  # fmt: skip
    """Insert a user in a savepoint; raises :class:`EmailTaken` on a duplicate email."""
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(
                    text(
                        "INSERT INTO users.users (id, email, full_name, role, password_hash,"
                        " email_verified, created_at, updated_at)"
                        " VALUES (:id, :email, :name, :role, :hash, :verified, :now, :now)"
                        f" RETURNING {_USER_COLS}"
                    ),
                    {
                        "id": user_id,
                        "email": email,
                        "name": full_name,
                        "role": role,
                        "hash": password_hash,
                        "verified": email_verified,
                        "now": now,
                    },
                )
            ).one()
    except IntegrityError as exc:
        raise EmailTaken(email) from exc
    user = _user(row)
    assert user is not None
    return user


async def user_by_email(conn: AsyncConnection, email: str) -> User | None:
    q = text(f"SELECT {_USER_COLS} FROM users.users WHERE email = :email")
    return _user((await conn.execute(q, {"email": email})).one_or_none())


async def user_by_id(conn: AsyncConnection, user_id: uuid.UUID) -> User | None:
    q = text(f"SELECT {_USER_COLS} FROM users.users WHERE id = :id")
    return _user((await conn.execute(q, {"id": user_id})).one_or_none())


async def update_user(
    conn: AsyncConnection, user_id: uuid.UUID, now: datetime, **changes: Any
) -> User | None:
    """Set the given columns (full_name, role, password_hash, email_verified)."""
    allowed = {"full_name", "role", "password_hash", "email_verified"}
    assert changes and set(changes) <= allowed
    sets = ", ".join(f"{col} = :{col}" for col in changes)
    q = text(
        f"UPDATE users.users SET {sets}, updated_at = :now WHERE id = :id RETURNING {_USER_COLS}"
    )
    return _user((await conn.execute(q, {**changes, "id": user_id, "now": now})).one_or_none())


async def users_page(conn: AsyncConnection, after: uuid.UUID | None, limit: int) -> list[User]:
    """Users in id order (= creation order, ids are UUIDv7) after the cursor."""
    where = "WHERE id > :after" if after is not None else ""
    q = text(f"SELECT {_USER_COLS} FROM users.users {where} ORDER BY id LIMIT :limit")
    rows = (await conn.execute(q, {"after": after, "limit": limit})).all()
    return [u for u in map(_user, rows) if u is not None]


async def add_email_token(
    conn: AsyncConnection, request_id: uuid.UUID, user_id: uuid.UUID, purpose: str,
    now: datetime, ttl_s: int,
) -> None:  # fmt: skip
    """A request for a one-time token; the token itself is made at delivery
    (`issue_email_token`), so no secret exists before the mail is sent."""
    await conn.execute(
        text(
            "INSERT INTO users.email_tokens (request_id, user_id, purpose, expires_at)"
            " VALUES (:rid, :uid, :purpose, :exp)"
        ),
        {"rid": request_id, "uid": user_id, "purpose": purpose,
         "exp": now + timedelta(seconds=ttl_s)},
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class IssuedToken:
    user_id: uuid.UUID
    purpose: str
    expires_at: datetime


async def issue_email_token(
    conn: AsyncConnection, request_id: uuid.UUID, token_hash: str, now: datetime
) -> IssuedToken | None:
    """Give an unused, unexpired request the token hashed as ``token_hash`` (replacing any
    earlier one: only the latest link works); None when there is no such request."""
    row = (
        await conn.execute(
            text(
                "UPDATE users.email_tokens SET token_hash = :h, issued_at = :now"
                " WHERE request_id = :rid AND used_at IS NULL AND expires_at > :now"
                " RETURNING user_id, purpose, expires_at"
            ),
            {"h": token_hash, "rid": request_id, "now": now},
        )
    ).one_or_none()
    return IssuedToken(**row._mapping) if row is not None else None


async def consume_email_token(
    conn: AsyncConnection, token_hash: str, purpose: str, now: datetime
) -> uuid.UUID | None:
    """Mark an unexpired, unused token used; the user it belongs to, or None."""
    return await conn.scalar(
        text(
            "UPDATE users.email_tokens SET used_at = :now WHERE token_hash = :h"
            " AND purpose = :purpose AND used_at IS NULL AND expires_at > :now RETURNING user_id"
        ),
        {"h": token_hash, "purpose": purpose, "now": now},
    )


async def retire_email_tokens(
    conn: AsyncConnection, user_id: uuid.UUID, purpose: str, now: datetime
) -> None:
    """Mark every unused token of ``purpose`` of a user used (a reset ends the others)."""
    await conn.execute(
        text(
            "UPDATE users.email_tokens SET used_at = :now"
            " WHERE user_id = :uid AND purpose = :purpose AND used_at IS NULL"
        ),
        {"uid": user_id, "purpose": purpose, "now": now},
    )


async def insert_service_client(
    conn: AsyncConnection, *, client_id: str, name: str, secret_hash: str, scopes: list[str],
    created_by: str,
) -> None:  # fmt: skip
    await conn.execute(
        text(
            "INSERT INTO users.service_clients (client_id, name, secret_hash, scopes,"
            " created_by, created_at) VALUES (:cid, :name, :hash, :scopes, :by, :now)"
        ),
        {"cid": client_id, "name": name, "hash": secret_hash, "scopes": scopes,
         "by": created_by, "now": datetime.now(UTC)},
    )  # fmt: skip


async def set_service_client_secret(
    conn: AsyncConnection, *, client_id: str, secret_hash: str, created_by: str
) -> bool:
    """Create the client (named after its id, no scopes) or replace its secret hash, in
    one statement, so instances starting together cannot collide; True if it was new."""
    return bool(
        await conn.scalar(
            text(
                "INSERT INTO users.service_clients (client_id, name, secret_hash, scopes,"
                " created_by, created_at) VALUES (:cid, :cid, :hash, '{}', :by, :now)"
                " ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash"
                " RETURNING xmax = 0"
            ),
            {"cid": client_id, "hash": secret_hash, "by": created_by, "now": datetime.now(UTC)},
        )
    )


async def service_client(conn: AsyncConnection, client_id: str) -> tuple[str, list[str]] | None:
    """(secret hash, allowed scopes) of an enabled client."""
    row = (
        await conn.execute(
            text(
                "SELECT secret_hash, scopes FROM users.service_clients"
                " WHERE client_id = :cid AND disabled_at IS NULL"
            ),
            {"cid": client_id},
        )
    ).one_or_none()
    return (row.secret_hash, list(row.scopes)) if row else None
