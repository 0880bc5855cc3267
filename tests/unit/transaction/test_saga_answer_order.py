"""Answers in any order: after a crash between the saga worker's sends and its commit, the
replayed batch can hold the answer to a command the saga sent before the message that
made it send the command (they come from other topics or partitions), and the decider
does not answer the re-sent duplicate. Whatever order its answers come in, each saga ends
as it does when they come in order, with the same public events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_provider_sagas import Provider, deposit, names, withdrawal
from test_saga import NOW, Bank, bank_with, transfer

from contracts.provider import ProviderCommand
from transaction_svc.domain import SagaState, react, saga_from_dict, saga_to_dict

SCENARIOS: dict[str, tuple[Callable[[], Bank], Any]] = {
    "deposit": (lambda: bank_with(a=0), deposit()),
    "deposit declined": (lambda: bank_with(a=0), deposit("declined")),
    "deposit credit refused": (lambda: bank_with(a=0, freeze_b=True), deposit()),
    "withdrawal": (lambda: bank_with(a=100), withdrawal(amount=60)),
    "withdrawal to a closed account": (lambda: bank_with(a=100), withdrawal("closed", 60)),
    "transfer": (lambda: bank_with(a=100), transfer(30)),
    "transfer reversed": (lambda: bank_with(a=100, freeze_b=True), transfer(30)),
}


def in_order(bank: Bank, request: Any) -> tuple[SagaState | None, list[Any], SagaState, list[Any]]:
    """The saga's first state, the answers it reacts to in an in-order run (what the
    decider and the provider answered), its final state and all its public events."""
    provider = Provider()
    first, commands, events = react(None, request, NOW)
    state, answers = first, []
    while commands:
        command = commands.pop(0)
        if isinstance(command, ProviderCommand):
            answered = provider.handle(command)
        else:
            answered, chained = bank.worker(command, NOW)
            commands += chained
        for answer in answered:
            answers.append(answer)
            state, more, more_events = react(state, answer, NOW)
            commands += more
            events += more_events
    assert state is not None and state.is_terminal()
    return first, answers, state, events


@pytest.mark.parametrize("scenario", SCENARIOS)
@given(data=st.data())
def test_a_saga_ends_the_same_whatever_order_its_answers_come_in(
    scenario: str, data: st.DataObject
) -> None:
    make_bank, request = SCENARIOS[scenario]
    first, answers, expected, expected_events = in_order(make_bank(), request)
    _, _, events = react(None, request, NOW)
    state = first
    # when the answers come in any order, some twice (a replay delivers them again)
    shuffled = data.draw(st.permutations(answers))
    again = data.draw(st.lists(st.sampled_from(answers), max_size=2)) if answers else []
    for answer in [*shuffled, *again]:
        state, _, more_events = react(state, answer, NOW)
        state = saga_from_dict(saga_to_dict(state))  # as stored between batches
        events += more_events
    # then it ends as in order, having told the same
    assert state is not None
    assert (state.status, state.failure_reason) == (expected.status, expected.failure_reason)
    assert names(events) == names(expected_events)
    assert state.early == ()
