"""A batch of transfers, the pure parts: reading each item on its own, the batch's id,
and how a batch and its items are shown (docs/transfers.md).

A batch's id is derived from its owner and its whole body, so the same batch sent again
is the same batch (its items are claimed again: replays, nothing new), and a batch that
differs in anything is another one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from common.errors import Problem, problem_body, validation_errors
from common.idempotency import request_hash
from contracts.ids import deterministic_id
from transaction_svc.batch_schemas import TransferBatchCreate, TransferBatchItem
from transaction_svc.schemas import TransferCreate
from transaction_svc.status import TERMINAL


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one item: its transfer's id, or the problem it was refused with."""

    index: int
    key: str | None
    transaction_id: str | None = None
    problem: dict[str, Any] | None = None

    def stored(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "idempotency_key": self.key,
            "transaction_id": self.transaction_id,
            "problem": self.problem,
        }


def refused(index: int, key: str | None, problem: Problem) -> ItemOutcome:
    """An item refused with ``problem`` (its document, as a single request's would be)."""
    body = problem_body(problem.status, problem.code, problem.detail, None, **problem.extra)
    return ItemOutcome(index, key, problem=body)


def read_item(index: int, raw: dict[str, Any]) -> tuple[str, TransferCreate] | ItemOutcome:
    """The item's key and transfer, or its 422 ``validation_error`` (``loc`` from the
    batch's body: ``["body", "items", index, field]``)."""
    key = raw.get("idempotency_key")
    try:
        item = TransferBatchItem.model_validate(raw)
    except ValidationError as exc:
        errors = validation_errors(exc.errors(), ("body", "items", str(index)))
        problem = Problem(422, "validation_error", "the item is not valid", errors=errors)
        return refused(index, key if isinstance(key, str) else None, problem)
    return item.idempotency_key, item.transfer()


def batch_id_of(owner_id: str, body: TransferBatchCreate) -> str:
    """The same owner and body always make the same batch."""
    return deterministic_id("transfer-batch", owner_id, request_hash(body))


def link(batch_id: str) -> str:
    return f"/api/v1/transfers/batch/{batch_id}"


def present(
    batch_id: str,
    created_at: datetime,
    items: list[dict[str, Any]],
    statuses: dict[str, tuple[str, str | None]],
) -> dict[str, Any]:
    """A batch as answered: each stored item (``ItemOutcome.stored``) with its transfer's
    current ``statuses`` (transaction id -> status, failure reason), the counts, and
    ``done`` once every accepted transfer is terminal."""
    shown: list[dict[str, Any]] = []
    by_status: Counter[str] = Counter()
    for item in items:
        tx = item["transaction_id"]
        status, reason = statuses.get(tx, ("pending", None)) if tx else (None, None)
        if status is not None:
            by_status[status] += 1
        shown.append(item | {"status": status, "failure_reason": reason})
    accepted = sum(by_status.values())
    done = all(s in TERMINAL for s in by_status.elements())
    return {
        "id": batch_id,
        "status": "done" if done else "processing",
        "created_at": created_at,
        "counts": {
            "accepted": accepted,
            "refused": len(items) - accepted,
            "by_status": dict(by_status),
        },
        "items": shown,
        "links": {"self": link(batch_id)},
    }
