"""A batch of transfers, the pure parts (transaction_svc.batch): each item read on its
own, the batch's id, and how a batch is shown."""

from __future__ import annotations

from datetime import UTC, datetime

from common.idempotency import request_hash
from transaction_svc.batch import ItemOutcome, batch_id_of, present, read_item
from transaction_svc.batch_schemas import TransferBatchCreate
from transaction_svc.schemas import TransferCreate

A, B = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6e"
GOOD = {"idempotency_key": "k-1", "from_wallet_id": A, "to_wallet_id": B, "amount": 250,
        "currency": "USD", "description": "rent"}  # fmt: skip
AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_an_item_is_the_single_request_it_stands_for() -> None:
    # given an item of a batch
    # when it is read
    read = read_item(0, GOOD)
    # then it is its key and the very body a POST /transfers would have had (same hash:
    # a key used by one is a replay, not a conflict, in the other)
    assert not isinstance(read, ItemOutcome)
    key, transfer = read
    single = TransferCreate.model_validate(
        {k: v for k, v in GOOD.items() if k != "idempotency_key"}
    )
    assert key == "k-1" and type(transfer) is TransferCreate
    assert request_hash(transfer) == request_hash(single)


def test_a_bad_item_is_its_own_422_naming_where_in_the_batch() -> None:
    # given an item with a float amount and one with no key
    floats = GOOD | {"amount": 2.5}
    keyless = {k: v for k, v in GOOD.items() if k != "idempotency_key"}
    # when they are read
    bad, no_key = read_item(3, floats), read_item(4, keyless)
    # then each is refused alone with a validation problem that points into the batch
    assert isinstance(bad, ItemOutcome) and isinstance(no_key, ItemOutcome)
    assert bad.problem is not None and bad.problem["status"] == 422
    assert bad.problem["code"] == "validation_error" and bad.key == "k-1"
    assert bad.problem["errors"][0]["loc"] == ["body", "items", "3", "amount"]
    assert no_key.key is None and no_key.problem is not None
    assert no_key.problem["errors"][0]["loc"] == ["body", "items", "4", "idempotency_key"]


def test_the_same_batch_has_the_same_id_and_any_difference_makes_another() -> None:
    one = TransferBatchCreate(items=[GOOD])
    assert batch_id_of("u1", one) == batch_id_of("u1", TransferBatchCreate(items=[dict(GOOD)]))
    assert batch_id_of("u1", one) != batch_id_of("u2", one)
    other = TransferBatchCreate(items=[GOOD | {"amount": 251}])
    assert batch_id_of("u1", one) != batch_id_of("u1", other)


def test_a_batch_is_done_once_every_accepted_transfer_is_terminal() -> None:
    # given a batch with two transfers and a refused item
    problem = {"status": 404, "code": "wallet_not_found"}
    items = [
        ItemOutcome(0, "a", "tx-a").stored(),
        ItemOutcome(1, "b", problem=problem).stored(),
        ItemOutcome(2, "c", "tx-c").stored(),
    ]
    # when one transfer is still pending, then when both have ended
    running = present("b1", AT, items, {"tx-a": ("completed", None), "tx-c": ("pending", None)})
    ends = {"tx-a": ("completed", None), "tx-c": ("failed", "insufficient_funds")}
    ended = present("b1", AT, items, ends)
    # then it is processing, then done, with each item's own outcome and the counts
    assert running["status"] == "processing" and ended["status"] == "done"
    assert ended["counts"] == {"accepted": 2, "refused": 1,
                               "by_status": {"completed": 1, "failed": 1}}  # fmt: skip
    assert [i["status"] for i in ended["items"]] == ["completed", None, "failed"]
    assert ended["items"][2]["failure_reason"] == "insufficient_funds"
    assert ended["items"][1]["problem"] == problem and ended["items"][1]["transaction_id"] is None
    assert ended["links"]["self"] == "/api/v1/transfers/batch/b1"


def test_a_batch_with_an_integer_past_64_bits_in_an_item_still_has_an_id() -> None:
    # given a batch whose item holds an integer orjson cannot encode (refused per item
    # later, but the batch itself must get its id, not a 500)
    body = TransferBatchCreate(items=[GOOD | {"amount": 2**70}])
    # then its id is stable and differs from the well-formed batch's
    assert batch_id_of("u1", body) == batch_id_of(
        "u1", TransferBatchCreate(items=[GOOD | {"amount": 2**70}])
    )
    assert batch_id_of("u1", body) != batch_id_of("u1", TransferBatchCreate(items=[GOOD]))
    read = read_item(0, body.items[0])
    assert isinstance(read, ItemOutcome) and read.problem is not None
    assert read.problem["code"] == "validation_error"
