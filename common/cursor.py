"""Opaque page cursors: one encoding and one error for every list endpoint.

A cursor is URL-safe base64 (unpadded) of the JSON of the last row's sort key. Decoding
checks it against the key's declared shape (a pydantic type), so a forged cursor (bad
base64, other JSON, a date out of range, a number beyond int64) is a 400
``invalid_cursor``, never a database error.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError

from common.errors import Problem

T = TypeVar("T")
MAX_CURSOR_LENGTH = 512


def encode_cursor(key: Any) -> str:
    """The cursor for a sort key (anything orjson encodes: str, int, datetime, lists)."""
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str, shape: TypeAdapter[T]) -> T:
    """The sort key a cursor holds, validated as ``shape``; 400 when it is not one."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return shape.validate_python(orjson.loads(raw))
    except (ValueError, binascii.Error, orjson.JSONDecodeError, ValidationError):
        raise invalid_cursor() from None


def invalid_cursor() -> Problem:
    return Problem(400, "invalid_cursor", "the cursor is not one this API gave out")
