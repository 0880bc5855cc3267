"""A batch of wallet commands decided in memory (``wallet_svc.batch``): a transfer's
credit whose wallet is decided on the same partition is decided with its debit, in the
same transaction; one for another partition is appended to ``wallet-commands``."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from common.kafka.headers import is_chained, message_headers, message_type
from common.topics import WALLET_COMMANDS, WALLET_EVENTS, dlq
from contracts.envelope import Envelope
from contracts.wallet import (
    CreditRejected,
    CreditWallet,
    DebitWallet,
    FreezeWallet,
    OpenWallet,
    WalletCommand,
    command_envelope,
    decode_command,
    decode_event,
)
from wallet_svc.batch import DecidedBatch, States, decide_records
from wallet_svc.domain import WalletState, decide, evolve

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
GROUP = "wallet-decider"
A, B = "wallet-a", "wallet-b"


def _record(command: WalletCommand, offset: int) -> ConsumerRecord[bytes, bytes]:
    env = command_envelope(command, "transaction_svc", "corr-1")
    value = env.to_bytes()
    return ConsumerRecord(
        topic=WALLET_COMMANDS, partition=0, offset=offset, timestamp=0, timestamp_type=0,
        key=command.wallet_id.encode(), value=value, checksum=None, serialized_key_size=0,
        serialized_value_size=len(value), headers=message_headers(env),
    )  # fmt: skip


def _states(*commands: WalletCommand) -> States:
    states: States = {}
    for command in commands:
        state = states.get(command.wallet_id) or WalletState()
        for event in decide(state, command, NOW):
            state = evolve(state, event)
        states[command.wallet_id] = state
    return states


def _opened(*frozen: str) -> States:
    opens = [
        OpenWallet(command_id=f"open-{w}", wallet_id=w, owner_id="u", currency="USD")
        for w in (A, B)
    ]
    credit = CreditWallet(command_id="fund", wallet_id=A, transaction_id="t0", amount=1_000,
                          currency="USD", counter_account="system:in_transit")  # fmt: skip
    freezes = [FreezeWallet(command_id=f"freeze-{w}", wallet_id=w) for w in frozen]
    return _states(*opens, credit, *freezes)


def _transfer(tx: str, amount: int) -> DebitWallet:
    then = CreditWallet(command_id=f"{tx}:credit", wallet_id=B, transaction_id=tx,
                        amount=amount, currency="USD",
                        counter_account="system:in_transit")  # fmt: skip
    return DebitWallet(command_id=f"{tx}:debit", wallet_id=A, transaction_id=tx, amount=amount,
                       currency="USD", counter_account="system:in_transit", then=then)  # fmt: skip


def _sent(batch: DecidedBatch, topic: str) -> list[tuple[str, bytes]]:
    """(type header, value) of what the batch sends to ``topic``, in order."""
    return [(message_type(h), v) for t, v, _, h in batch.outgoing if t == topic]


def test_a_credit_decided_on_the_same_partition_is_decided_with_its_debit() -> None:
    known = _opened()
    batch = decide_records([_record(_transfer("t1", 300), 5)], known, NOW, lambda w: True, GROUP)
    assert [t for t, _ in _sent(batch, WALLET_EVENTS)] == ["WalletDebited", "WalletCredited"]
    assert _sent(batch, WALLET_COMMANDS) == []  # no hop back through wallet-commands
    assert batch.working[A].ledger == 700 and batch.working[B].ledger == 300
    assert known[A].ledger == 1_000 and known[B].ledger == 0  # committed states untouched
    debited = next(h for t, _, _, h in batch.outgoing if message_type(h) == "WalletDebited")
    assert is_chained(debited)  # the saga waits for the credit's answer, as before
    credited = Envelope.from_bytes(_sent(batch, WALLET_EVENTS)[1][1])
    assert credited.correlation_id == "corr-1"
    assert decode_event(credited.payload).command_id == "t1:credit"


def test_a_credit_for_another_partition_is_appended_for_its_decider() -> None:
    batch = decide_records([_record(_transfer("t1", 300), 5)], _opened(), NOW,
                           lambda w: w == A, GROUP)  # fmt: skip
    assert [t for t, _ in _sent(batch, WALLET_EVENTS)] == ["WalletDebited"]
    [(kind, value)] = _sent(batch, WALLET_COMMANDS)
    credit = decode_command(Envelope.from_bytes(value).payload)
    assert kind == "CreditWallet" and credit.command_id == "t1:credit" and credit.wallet_id == B
    assert B not in batch.working


def test_a_refused_credit_decided_here_is_an_event_the_saga_compensates() -> None:
    batch = decide_records([_record(_transfer("t1", 300), 0)], _opened(B), NOW,
                           lambda w: True, GROUP)  # fmt: skip
    events = [decode_event(Envelope.from_bytes(v).payload) for _, v in _sent(batch, WALLET_EVENTS)]
    assert isinstance(events[-1], CreditRejected)
    assert batch.working[A].ledger == 700  # debited; the saga's reversal credits it back


def test_commands_after_the_transfer_see_the_credit_decided_with_it() -> None:
    spend = DebitWallet(command_id="spend", wallet_id=B, transaction_id="t2", amount=250,
                        currency="USD", counter_account="system:in_transit")  # fmt: skip
    records = [_record(_transfer("t1", 300), 0), _record(spend, 1)]
    batch = decide_records(records, _opened(), NOW, lambda w: True, GROUP)
    assert [t for t, _ in _sent(batch, WALLET_EVENTS)] == [
        "WalletDebited", "WalletCredited", "WalletDebited"
    ]  # fmt: skip
    assert batch.working[B].ledger == 50


def test_a_repeated_debit_decides_neither_leg_again() -> None:
    known = _opened()
    first = decide_records([_record(_transfer("t1", 300), 0)], known, NOW, lambda w: True, GROUP)
    known.update(first.working)
    again = decide_records([_record(_transfer("t1", 300), 1)], known, NOW, lambda w: True, GROUP)
    assert again.outgoing == [] and again.working == {}


def test_an_unreadable_command_is_dead_lettered_and_the_rest_decided() -> None:
    bad = _record(_transfer("t1", 1), 0)
    bad = ConsumerRecord(**{**bad.__dict__, "value": b"not an envelope"})
    batch = decide_records([bad, _record(_transfer("t2", 10), 1)], _opened(), NOW,
                           lambda w: True, GROUP)  # fmt: skip
    assert batch.outgoing[0][0] == dlq(WALLET_COMMANDS)
    assert batch.working[B].ledger == 10
