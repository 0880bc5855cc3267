"""The identity use cases: accounts, sessions (token pairs), email verification and
passwords (forgot, reset, change).

HTTP routes are thin wrappers around these methods; every change and the events it causes
are committed together (outbox), and the relay publishes them afterwards.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.errors import Problem
from common.topics import USER_EVENTS
from contracts.envelope import Envelope
from contracts.ids import uuid7
from contracts.user import (
    EmailVerificationRequested,
    EmailVerified,
    PasswordChanged,
    PasswordResetRequested,
    UserEvent,
    UserRegistered,
)
from user_svc import outbox, store
from user_svc.keystore import PgKeyStore
from user_svc.passwords import Argon2Passwords, password_problems
from user_svc.refresh import Outcome, RedisRefreshTokens
from user_svc.settings import UserSettings
from user_svc.throttle import RedisAccountCounter, RedisLoginThrottle
from user_svc.tokens import TokenMinter, opaque_token, token_hash

log = logging.getLogger("user_svc.identity")
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"


def normalize_email(raw: str) -> str:
    """The canonical, lower-cased form; 422 ``invalid_email`` when it is not an address."""
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Problem(422, "invalid_email", str(exc)) from None


def _invalid_credentials() -> Problem:
    return Problem(401, "invalid_credentials", "email or password is wrong",
                   headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Trace:
    """Request ids carried into the events a request causes."""

    correlation_id: str | None = None
    traceparent: str | None = None


class Identity:
    """Accounts and sessions on Postgres (users), Redis (refresh tokens) and Kafka (events)."""

    def __init__(
        self, settings: UserSettings, engine: AsyncEngine, keys: PgKeyStore,
        refresh_tokens: RedisRefreshTokens, passwords: Argon2Passwords,
        relay: outbox.PgOutboxRelay, throttle: RedisLoginThrottle,
        reset_requests: RedisAccountCounter,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.engine = engine
        self.keys = keys
        self.refresh_tokens = refresh_tokens
        self.passwords = passwords
        self.relay = relay
        self.throttle = throttle
        self.reset_requests = reset_requests
        self.minter = TokenMinter(settings.jwt_issuer, settings.jwt_audience)

    def _event(self, event: UserEvent, trace: Trace) -> Envelope:
        return Envelope.of(event, key=event.user_id, producer=self.settings.service_name,
                           correlation_id=trace.correlation_id)  # fmt: skip

    def check_password(self, password: str, email: str) -> None:
        problems = password_problems(password, email, self.settings.password_min_length)
        if problems:
            raise Problem(422, "weak_password", "the password is too weak: " + "; ".join(problems),
                          reasons=problems)  # fmt: skip

    async def register(
        self, email: str, password: str, full_name: str, role: str, trace: Trace,
        email_verified: bool = False,
    ) -> store.User:  # fmt: skip
        email = normalize_email(email)
        self.check_password(password, email)
        password_hash = await self.passwords.hash(password)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            try:
                user = await store.insert_user(
                    conn, user_id=uuid7(), email=email, full_name=full_name, role=role,
                    password_hash=password_hash, email_verified=email_verified, now=now,
                )  # fmt: skip
            except store.EmailTaken:
                raise Problem(409, "email_taken", "an account with this email exists") from None
            registered = UserRegistered(user_id=str(user.id), email=email, full_name=full_name,
                                        role=role)  # fmt: skip
            await outbox.add(conn, USER_EVENTS, self._event(registered, trace), trace.traceparent)
            if not email_verified:
                ttl, request_id = self.settings.email_token_ttl_s, uuid7()
                await store.add_email_token(conn, request_id, user.id, VERIFY_EMAIL, now, ttl)
                requested = EmailVerificationRequested(
                    user_id=str(user.id), email=email, full_name=full_name,
                    request_id=str(request_id), expires_in=ttl,
                )  # fmt: skip
                await outbox.add(
                    conn, USER_EVENTS, self._event(requested, trace), trace.traceparent
                )
        self.relay.wake()
        log.info("user registered", extra={"user_id": str(user.id), "role": role})
        return user

    async def verify_email(self, token: str, trace: Trace) -> store.User:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            user_id = await store.consume_email_token(conn, token_hash(token), VERIFY_EMAIL, now)
            if user_id is None:
                raise Problem(400, "invalid_token", "the token is unknown, used or expired")
            user = await store.update_user(conn, user_id, now, email_verified=True)
            assert user is not None
            await outbox.add(
                conn,
                USER_EVENTS,
                self._event(EmailVerified(user_id=str(user.id), email=user.email), trace),
                trace.traceparent,
            )
        self.relay.wake()
        return user

    async def issue_link_token(self, request_id: str) -> tuple[str, store.IssuedToken]:
        """The one-time token of an email request (for the mailer, at delivery); 404
        ``email_request_not_found`` when the request is unknown, used or expired."""
        gone = Problem(404, "email_request_not_found", "the request is unknown, used or expired")
        try:
            rid = uuid.UUID(request_id)
        except ValueError:
            raise gone from None
        token = opaque_token()
        async with self.engine.begin() as conn:
            issued = await store.issue_email_token(conn, rid, token_hash(token), datetime.now(UTC))
        if issued is None:
            raise gone
        return token, issued

    async def forgot_password(self, email: str, trace: Trace) -> None:
        """Request a reset link for ``email`` if an account has it (else nothing), at most
        ``password_reset_max_requests`` per window (counted for unknown emails too). Run
        after the 202 is sent, so the answer takes the same time either way."""
        try:
            email = normalize_email(email)
        except Problem:
            return
        try:
            if (await self.reset_requests.count(email)).exceeded:
                log.info("password reset request over the account's limit: nothing mailed")
                return
            now, ttl, request_id = datetime.now(UTC), self.settings.password_reset_ttl_s, uuid7()
            async with self.engine.begin() as conn:
                user = await store.user_by_email(conn, email)
                if user is None:
                    return
                await store.add_email_token(conn, request_id, user.id, RESET_PASSWORD, now, ttl)
                requested = PasswordResetRequested(
                    user_id=str(user.id), email=email, full_name=user.full_name,
                    request_id=str(request_id), expires_in=ttl,
                )  # fmt: skip
                await outbox.add(
                    conn, USER_EVENTS, self._event(requested, trace), trace.traceparent
                )
        except Exception:  # nobody waits for the answer: say so in the log
            log.exception("password reset request failed")
            return
        self.relay.wake()
        log.info("password reset requested", extra={"user_id": str(user.id)})

    async def reset_password(self, token: str, new_password: str, trace: Trace) -> None:
        """Set a new password with a reset token (once, unexpired) and end every session;
        400 ``invalid_token`` or 422 ``weak_password`` change nothing."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            user_id = await store.consume_email_token(conn, token_hash(token), RESET_PASSWORD, now)
            if user_id is None:
                raise Problem(400, "invalid_token", "the token is unknown, used or expired")
            user = await store.user_by_id(conn, user_id)
            assert user is not None
            await store.retire_email_tokens(conn, user_id, RESET_PASSWORD, now)
            await self._set_password(conn, user, new_password, "reset", now, trace)
        self.relay.wake()

    async def change_password(
        self, user_id: str, current: str, new_password: str, trace: Trace
    ) -> None:
        """Replace the password after checking the current one (counted like a login
        attempt) and end every session, this one too; 403 ``wrong_password``."""
        async with self.engine.connect() as conn:
            user = await store.user_by_id(conn, uuid.UUID(user_id))
        if user is None:
            raise Problem(404, "user_not_found", "no such user")
        await self.throttle.attempt(user.email)
        if not await self.passwords.verify(user.password_hash, current):
            raise Problem(403, "wrong_password", "the current password is wrong")
        await self.throttle.succeeded(user.email)
        async with self.engine.begin() as conn:
            await self._set_password(conn, user, new_password, "change", datetime.now(UTC), trace)
        self.relay.wake()

    async def _set_password(
        self, conn: AsyncConnection, user: store.User, password: str, how: str,
        now: datetime, trace: Trace,
    ) -> None:  # fmt: skip
        """Store the new hash, record PasswordChanged, then end every session (last: if
        Redis fails the transaction rolls back and the old password stays)."""
        self.check_password(password, user.email)
        await store.update_user(
            conn, user.id, now, password_hash=await self.passwords.hash(password)
        )
        changed = PasswordChanged(user_id=str(user.id), email=user.email,
                                  full_name=user.full_name, how=how)  # fmt: skip
        await outbox.add(conn, USER_EVENTS, self._event(changed, trace), trace.traceparent)
        ended = await self.refresh_tokens.revoke_user(str(user.id))
        log.info("password changed", extra={"user_id": str(user.id), "how": how,
                                            "sessions_ended": ended})  # fmt: skip

    async def _token_pair(self, user: store.User, refresh_token: str, session: str
                          ) -> dict[str, Any]:  # fmt: skip
        ttl = self.settings.access_token_ttl_s
        access, _ = self.minter.access_token(
            await self.keys.current(), subject=str(user.id), role=user.role,
            now=int(time.time()), ttl_s=ttl, session=session, email_verified=user.email_verified,
        )  # fmt: skip
        return {"access_token": access, "refresh_token": refresh_token,
                "token_type": "bearer", "expires_in": ttl}  # fmt: skip

    async def login(self, email: str, password: str) -> dict[str, Any]:
        try:
            email = normalize_email(email)
        except Problem:
            raise _invalid_credentials() from None
        await self.throttle.attempt(email)
        async with self.engine.connect() as conn:
            user = await store.user_by_email(conn, email)
        if not await self.passwords.verify(user.password_hash if user else None, password):
            raise _invalid_credentials()
        assert user is not None
        await self.throttle.succeeded(email)
        if self.passwords.needs_rehash(user.password_hash):
            new_hash = await self.passwords.hash(password)
            async with self.engine.begin() as conn:
                await store.update_user(conn, user.id, datetime.now(UTC), password_hash=new_hash)
        log.info("login", extra={"user_id": str(user.id)})
        refresh_token, session = await self.refresh_tokens.issue(str(user.id))
        return await self._token_pair(user, refresh_token, session)

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        rotation = await self.refresh_tokens.rotate(refresh_token)
        if rotation.outcome is Outcome.REUSED:
            await self.refresh_tokens.revoke_family(rotation.family)  # its access tokens too
            log.warning(
                "refresh token reused; family revoked",
                extra={"user_id": rotation.user_id, "family": rotation.family},
            )
            raise Problem(
                401,
                "refresh_token_reused",
                "this refresh token was already used; the session is revoked",
            )
        if rotation.outcome is not Outcome.OK or rotation.new_token is None:
            raise Problem(401, "invalid_refresh_token", "the refresh token is not valid")
        async with self.engine.connect() as conn:
            user = await store.user_by_id(conn, uuid.UUID(rotation.user_id))
        if user is None:
            await self.refresh_tokens.revoke_family(rotation.family)
            raise Problem(401, "invalid_refresh_token", "the account no longer exists")
        return await self._token_pair(user, rotation.new_token, rotation.family)

    async def logout(self, user_id: str, refresh_token: str) -> None:
        owner = await self.refresh_tokens.owner(refresh_token)
        if owner is None:
            return  # unknown or expired: nothing left to revoke
        family, owner_id = owner
        if owner_id != user_id:
            raise Problem(403, "forbidden", "the refresh token belongs to another account")
        await self.refresh_tokens.revoke_family(family)

    async def ensure_first_admin(self) -> None:
        """Create the configured admin once (no-op when unset or the email exists)."""
        s = self.settings
        if not s.admin_email or s.admin_password is None:
            return
        try:
            email = normalize_email(s.admin_email)
            async with self.engine.connect() as conn:
                if await store.user_by_email(conn, email) is not None:
                    return
            password = s.admin_password.get_secret_value()
            await self.register(email, password, "Administrator", "admin", Trace(), True)
        except Problem as exc:
            if exc.code != "email_taken":  # email_taken: another instance won the race
                raise RuntimeError(f"cannot create the configured admin: {exc.detail}") from None
