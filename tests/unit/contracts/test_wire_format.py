"""The contracts keep the wire format: payloads written before msgspec still decode, and
what is written now is what consumers have been reading."""

from __future__ import annotations

import orjson
import pytest

from contracts.envelope import Envelope
from contracts.message import to_payload
from contracts.transaction import TransferCompleted, decode_transaction_event
from contracts.user import UserRegistered, decode_user_event
from contracts.wallet import (
    CreditWallet,
    DebitWallet,
    Posting,
    WalletDebited,
    command_envelope,
    decode_command,
    decode_event,
)
from transaction_svc.domain import SagaState, SagaStatus, Step, saga_from_dict, saga_to_dict

CREDIT = CreditWallet(
    command_id="t1:credit",
    wallet_id="w2",
    transaction_id="t1",
    amount=500,
    currency="USD",
    counter_account="system:in_transit",
)


def test_a_debit_with_its_continuation_written_by_the_old_codec_decodes() -> None:
    # given a payload as the hand-written codec wrote it (no "type" inside "then")
    old = {
        "type": "DebitWallet",
        "command_id": "t1:debit",
        "wallet_id": "w1",
        "transaction_id": "t1",
        "amount": 500,
        "currency": "USD",
        "counter_account": "system:in_transit",
        "expires_at": 1_700_000_030_000,
        "then": {k: v for k, v in to_payload(CREDIT).items() if k != "type"},
    }
    # when it is decoded, then it is the debit with its credit
    command = decode_command(old)
    assert isinstance(command, DebitWallet) and command.then == CREDIT
    assert command.amount == 500 and command.expires_at == 1_700_000_030_000


def test_payloads_carry_their_type_first_and_every_field() -> None:
    event = WalletDebited(
        command_id="c",
        wallet_id="w1",
        transaction_id="t1",
        amount=500,
        currency="USD",
        counter_account="system:in_transit",
        postings=(
            Posting(account="wallet:w1", amount=-500, currency="USD"),
            Posting(account="system:in_transit", amount=500, currency="USD"),
        ),
        ledger=0,
        available=0,
    )
    payload = to_payload(event)
    assert next(iter(payload)) == "type" and payload["type"] == "WalletDebited"
    assert payload["postings"][0] == {"account": "wallet:w1", "amount": -500, "currency": "USD"}
    assert decode_event(orjson.loads(orjson.dumps(payload))) == event


def test_readers_are_tolerant_of_added_fields_and_strict_on_types() -> None:
    done = {
        "type": "TransferCompleted",
        "transaction_id": "t1",
        "from_wallet_id": "w1",
        "to_wallet_id": "w2",
        "amount": 5,
        "currency": "USD",
        "added_later": {"any": "thing"},
    }
    assert decode_transaction_event(done) == TransferCompleted(
        transaction_id="t1", from_wallet_id="w1", to_wallet_id="w2", amount=5, currency="USD"
    )
    with pytest.raises(ValueError):
        decode_transaction_event({**done, "amount": "5"})  # money is an int, never a string
    with pytest.raises(ValueError):
        decode_user_event({**done, "type": "Nope"})


def test_a_stored_saga_state_decodes_and_is_stored_the_same_way() -> None:
    stored = {
        "transaction_id": "t1",
        "kind": "transfer",
        "status": "CREDITING",
        "from_wallet_id": "w1",
        "to_wallet_id": "w2",
        "amount": 500,
        "currency": "USD",
        "fee": 0,
        "deadline": 1_700_000_030_000,
        "provider": "",
        "steps": [["requested", "done", 1], ["debit", "done", 2]],
        "failure_reason": None,
    }
    state = saga_from_dict(stored)
    assert state.status is SagaStatus.CREDITING
    assert state.steps == (Step("requested", "done", 1), Step("debit", "done", 2))
    # a state stored before deposits went through the provider, before payments to
    # merchants, before transfers that convert and before early answers were kept, gets
    # the new fields' defaults
    new_fields = {"owner_id": "", "method_id": "", "charge_id": ""}
    new_fields |= {"merchant_id": "", "order_id": "", "payment_id": ""}
    new_fields |= {"quote_id": "", "to_currency": "", "to_amount": 0, "early": []}
    assert orjson.loads(orjson.dumps(saga_to_dict(state))) == stored | new_fields
    assert isinstance(state, SagaState)


def test_an_envelope_of_a_message_names_its_type_and_version() -> None:
    registered = UserRegistered(user_id="u1", email="a@example.com", full_name="A", role="user")
    env = Envelope.of(registered, key="u1", producer="user_svc", correlation_id="r1")
    assert (env.type, env.schema_version, env.key) == ("UserRegistered", 1, "u1")
    back = Envelope.from_bytes(env.to_bytes())
    assert back == env and decode_user_event(back.payload) == registered


def test_a_command_envelope_id_is_derived_from_the_command_id() -> None:
    first, again = command_envelope(CREDIT, "tx"), command_envelope(CREDIT, "tx")
    assert first.event_id == again.event_id and first.key == "w2"
    assert first.payload == to_payload(CREDIT)
