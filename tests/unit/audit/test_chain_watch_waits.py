"""A round of the chain watch that falls due while the projector is behind waits for it
(audit_svc/chain_watch.py): the round's scan would take the store from the appends."""

from __future__ import annotations

from typing import cast

import pytest

from audit_svc import chain_watch
from audit_svc.chain_watch import BEHIND_MAX, ChainWatch
from audit_svc.store import MongoAuditLog

NO_STORE = cast(MongoAuditLog, None)  # waiting reads no record


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain_watch, "BEHIND_POLL_S", 0.01)


async def test_a_round_waits_until_the_projector_is_within_a_batch() -> None:
    # given a projector that is behind by three batches, then one, then by one record less
    lags = iter([3 * BEHIND_MAX, BEHIND_MAX + 1, BEHIND_MAX])
    asked: list[int] = []

    def behind() -> int:
        asked.append(lag := next(lags))
        return lag

    watch = ChainWatch(NO_STORE, interval_s=60, behind=behind)
    # when a round falls due, then it waits until the lag is within a batch, and no longer
    assert await watch.projector_caught_up(at_most_s=60) is True
    assert asked == [3 * BEHIND_MAX, BEHIND_MAX + 1, BEHIND_MAX]


async def test_a_round_waits_at_most_the_given_time_for_a_projector_that_stays_behind() -> None:
    # given a projector that never catches up
    watch = ChainWatch(NO_STORE, interval_s=60, behind=lambda: 10 * BEHIND_MAX)
    # when a round falls due, then it runs anyway after the wait (the chain is checked)
    assert await watch.projector_caught_up(at_most_s=0.05) is False


async def test_a_watch_without_a_projector_never_waits() -> None:
    assert await ChainWatch(NO_STORE, interval_s=60).projector_caught_up(at_most_s=0) is True
