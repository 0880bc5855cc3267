"""Structured JSON logs with the request they belong to; secrets never reach a log line."""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson


@dataclass(slots=True)
class RequestInfo:
    """The HTTP request being served: every log line written while serving it carries
    these fields, and its access line reports them. ``user_id`` is filled in once the
    caller's token is verified (:func:`note_user`)."""

    request_id: str
    correlation_id: str
    method: str
    path: str
    user_id: str | None = None


current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)
access_log = logging.getLogger("paystream.access")


def current_correlation_id() -> str | None:
    info = current_request.get()
    return info.correlation_id if info else None


def note_user(user_id: str) -> None:
    """Record who the current request's caller is (a no-op outside a request)."""
    info = current_request.get()
    if info is not None:
        info.user_id = user_id


def log_access(route: str, status: int, seconds: float) -> None:
    """The one access line of the current request: its route template, status and
    duration (method, path, ids and user come from :data:`current_request`)."""
    if access_log.isEnabledFor(logging.INFO):  # the record made directly: no caller lookup
        extra = {"route": route, "status": status, "duration_ms": round(seconds * 1e3, 3)}
        record = access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "request", (), None, extra=extra
        )
        access_log.handle(record)


SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|card[_-]?number|pan|cvv|cvc",
    re.IGNORECASE,
)
# Bearer tokens, JWTs, and 13-19 digit card numbers inside free text: one pattern, so a
# string is scanned once (every log line's strings are; an access line is written for
# every request).
SECRET_TEXT = re.compile(
    r"(?P<bearer>(?i:bearer)\s+[A-Za-z0-9._~+/=-]+)"
    r"|(?P<jwt>eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"
    r"|(?P<pan>\b(?:\d[ -]?){12,18}\d\b)"
)
_MASKS = {"bearer": "Bearer [REDACTED]", "jwt": "[REDACTED_JWT]", "pan": "[REDACTED_PAN]"}
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CACHED_CHARS = 256


def _mask(match: re.Match[str]) -> str:
    return _MASKS[str(match.lastgroup)]


@lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return SECRET_KEYS.search(key) is not None


@lru_cache(maxsize=4096)
def _masked(text: str) -> str:
    """Most short strings a process logs recur (routes, methods, messages, callers): each
    is scanned once while it stays in the cache (long ones are never kept)."""
    return SECRET_TEXT.sub(_mask, text)


def redact(value: Any) -> Any:
    """Mask secret-looking keys and secret-looking text, recursively."""
    if isinstance(value, str):
        return _masked(value) if len(value) <= _CACHED_CHARS else SECRET_TEXT.sub(_mask, value)
    if isinstance(value, dict):
        return {k: "[REDACTED]" if _secret_key(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, ids, and extra fields."""

    def __init__(self, service: str, instance: str = "") -> None:
        super().__init__()
        self.service = service
        self.identity = {"service": service} | ({"instance": instance} if instance else {})

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"msg": record.getMessage()}
        if info := current_request.get():
            doc["request_id"] = info.request_id
            doc["correlation_id"] = info.correlation_id
            doc["method"] = info.method
            doc["path"] = info.path
            if info.user_id is not None:
                doc["user_id"] = info.user_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        # What the formatter writes itself holds no secret: only the rest is scanned.
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            **self.identity,
            "logger": record.name,
            **redact(doc),
        }
        return orjson.dumps(line, default=str).decode()


def configure_logging(service: str, level: str = "INFO", instance: str = "") -> None:
    """Route every logger (uvicorn's included) through the JSON formatter on stderr;
    ``instance`` (when the service runs several) is in every line beside ``service``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The formatter writes no thread or process fields: do not look them up for each record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "aiokafka"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
