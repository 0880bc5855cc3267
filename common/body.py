"""The one reading of a request body and URL, for FastAPI routes and the fast lane alike.

A body is JSON (``application/json`` or ``+json``; another media type is a 415) parsed
strictly: a key given twice is a 400 (no "last one wins"), and so are ``NaN`` and
``Infinity``. No text a client sends may hold U+0000 (Postgres cannot store it): a NUL
in the path, the query or any JSON string is a 422. :class:`BodyGuard` applies this in
front of a FastAPI app, :meth:`common.fastlane.FastRequest.json` on the fast lane.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import PROBLEM, Problem, problem_body
from common.responses import OrjsonResponse

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_BODY_LIMIT = 64 * 1024


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise Problem(400, "duplicate_key", f"the JSON body names {key!r} more than once")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise Problem(400, "invalid_json", f"{name} is not a JSON number")


def _nul_error(loc: list[str]) -> Problem:
    errors = [{"loc": loc, "msg": "must not contain the NUL character (U+0000)"}]
    return Problem(422, "validation_error", "the request is not valid", errors=errors)


def _check_text(value: Any, loc: list[str]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise _nul_error(loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, loc)
            _check_text(item, [*loc, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, [*loc, str(i)])


def read_json(content_type: str | None, raw: bytes) -> Any:
    """The body's JSON value: 415 for another media type, 400 when it is not strict JSON
    (or names a key twice), 422 when a string holds U+0000."""
    if not is_json(content_type):
        raise Problem(415, "unsupported_media_type", "the body must be application/json")
    try:
        value = json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Problem(400, "invalid_json", "the body is not valid JSON") from None
    _check_text(value, ["body"])
    return value


def check_url(scope: Scope) -> None:
    """422 when the path or the query holds U+0000 (raw or percent-encoded)."""
    if "\x00" in scope["path"]:
        raise _nul_error(["path"])
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                raise _nul_error(["query", name.replace("\x00", "")])


def check_form(raw: bytes) -> None:
    """422 when a form field holds U+0000."""
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            raise _nul_error(["body", name.replace("\x00", "")])


def too_large(limit: int) -> Problem:
    return Problem(413, "body_too_large", f"the request body is larger than {limit} bytes")


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body of an ASGI request; a 413 problem as soon as it grows past ``limit``
    bytes, a 400 when the client goes away first."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise Problem(400, "client_disconnected", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


class BodyGuard:
    """ASGI middleware: :func:`check_url` for every request, and :func:`read_json` for
    every body (a form body only on ``form_paths``), before the app sees it. The body
    read here is handed on unchanged; past ``body_limit`` bytes (``path_limits``: another
    limit for some paths) it is a 413."""

    def __init__(
        self,
        app: ASGIApp,
        form_paths: frozenset[str] = frozenset(),
        body_limit: int = DEFAULT_BODY_LIMIT,
        path_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.form_paths = form_paths
        self.body_limit = body_limit
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_url(scope)
            if scope["method"] in WITH_BODY:
                receive = await self._checked_body(scope, receive)
        except Problem as exc:
            body = problem_body(exc.status, exc.code, exc.detail, scope["path"], **exc.extra)
            await OrjsonResponse(body, exc.status, exc.headers, PROBLEM)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive) -> Receive:
        raw = await read_body(receive, self.path_limits.get(scope["path"], self.body_limit))
        if raw:
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if media_type(content_type) == FORM and scope["path"] in self.form_paths:
                check_form(raw)
            else:
                read_json(content_type, raw)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        return replay
