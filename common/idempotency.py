"""The ``Idempotency-Key`` rules and the headers of a write, declared once.

A key is 1 to 255 visible ASCII characters (as most payment APIs take them). A route
declares its headers as one of the models below (``Annotated[MoneyHeaders, Header()]``)
and a fast-lane handler validates a request's headers through the same model
(``MoneyHeaders.model_validate(request.headers)``), so both paths apply one rule.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field

from common.errors import Problem

MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x20-\x7e]+$",
        description="Chosen by the client; a retry with the same key returns the first "
        "answer, the same key with another body is 409.",
        examples=["3f1c2a9e-5b7d-4c1a-9e2f-8a6b4c3d2e1f"],
    ),
]
PreferHeader = Annotated[
    str | None,
    Field(
        description="`wait=N` (N <= 30): wait up to N seconds for the outcome.",
        examples=["wait=2"],
    ),
]


class _Headers(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class MoneyHeaders(_Headers):
    """Headers of a money POST: the key is required, so a retry never moves money twice."""

    idempotency_key: IdempotencyKey = Field(alias="idempotency-key")
    prefer: PreferHeader = None


class WriteHeaders(_Headers):
    """Headers of any other write: the key is optional (a replay then answers the same)."""

    idempotency_key: IdempotencyKey | None = Field(default=None, alias="idempotency-key")
    prefer: PreferHeader = None


def request_hash(body: BaseModel) -> str:
    """What tells a retry (same key, same body) from a reuse of the key with another body."""
    data = body.model_dump(mode="json")
    try:
        raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # free-form JSON orjson does not encode (an integer past 64 bits)
        raw = json.dumps(data, sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()


def key_reused() -> Problem:
    """The one answer to a known Idempotency-Key sent with another request body."""
    return Problem(409, "idempotency_key_reused", "this Idempotency-Key was used with another body")
