"""One Idempotency-Key rule for every write (common.idempotency)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.idempotency import MAX_KEY_LENGTH, MoneyHeaders, WriteHeaders


def test_a_key_of_up_to_255_visible_ascii_characters_is_taken_as_sent() -> None:
    key = "k" * MAX_KEY_LENGTH
    headers = MoneyHeaders.model_validate({"idempotency-key": key, "prefer": "wait=3"})
    assert (headers.idempotency_key, headers.prefer) == (key, "wait=3")
    assert WriteHeaders.model_validate({"idempotency-key": "a b~"}).idempotency_key == "a b~"


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1), "caf\u00e9", "tab\there"])
def test_an_empty_long_or_non_ascii_key_is_refused(key: str) -> None:
    for model in (MoneyHeaders, WriteHeaders):
        with pytest.raises(ValidationError):
            model.model_validate({"idempotency-key": key})


def test_a_money_post_needs_a_key_and_other_writes_do_not() -> None:
    with pytest.raises(ValidationError) as missing:
        MoneyHeaders.model_validate({"authorization": "Bearer x"})
    assert missing.value.errors()[0]["loc"] == ("idempotency-key",)
    assert WriteHeaders.model_validate({}).idempotency_key is None
