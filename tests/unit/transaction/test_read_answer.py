"""What the saga worker takes from a wallet-events record (answers, opened wallets) or a
user-events record (roles, for the merchants): that, nothing, or an error that makes the
tracked consumer dead-letter the record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from common.kafka.headers import message_headers
from contracts.envelope import Envelope
from contracts.user import EmailVerified, UserRegistered, UserRoleChanged
from contracts.wallet import CreditWallet, OpenWallet, WalletCommand, command_envelope
from transaction_svc.directory_store import Role
from transaction_svc.saga_worker import read_answer
from wallet_svc.domain import WalletState, decide, evolve
from wallet_svc.wire import event_envelopes

WALLET = "0190a5c8-7d2e-7000-8000-000000000001"


def _envelopes(commands: list[WalletCommand]) -> list[Envelope]:
    state: WalletState | None = None
    out: list[Envelope] = []
    for command in commands:
        events = decide(state, command, datetime.now(UTC))
        for e in events:
            state = evolve(state or WalletState(), e)
        out += event_envelopes(events, command_envelope(command, "test"), datetime.now(UTC))
    return out


def _record(value: bytes, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("wallet-events", 0, 7, 0, 0, b"k", value, None, 1, len(value), headers)


OPENED, CREDITED = _envelopes(
    [
        OpenWallet(command_id="o", wallet_id=WALLET, owner_id="u1", currency="USD"),
        CreditWallet(command_id="c", wallet_id=WALLET, transaction_id="t1", amount=500,
                     currency="USD", counter_account="system:settlement:sim"),
    ]
)  # fmt: skip


def test_an_answer_carries_its_envelope_and_event() -> None:
    answer = read_answer(_record(CREDITED.to_bytes(), message_headers(CREDITED)))
    assert isinstance(answer, tuple)
    envelope, event, _trace = answer
    assert envelope.event_id == CREDITED.event_id
    assert (event.transaction_id, event.amount) == ("t1", 500)


def test_an_opened_wallet_is_a_directory_row() -> None:
    row = read_answer(_record(OPENED.to_bytes(), message_headers(OPENED)))
    assert row == {"w": WALLET, "o": "u1", "c": "USD"}


def test_a_chained_debit_and_other_events_are_skipped_unread() -> None:
    chained = message_headers(CREDITED, chained=True)
    assert read_answer(_record(CREDITED.to_bytes(), chained)) is None
    assert read_answer(_record(b"not read", [("type", b"WalletFrozen")])) is None


def test_an_unreadable_answer_raises_so_it_is_dead_lettered() -> None:
    with pytest.raises(ValueError):
        read_answer(_record(b"not an envelope", [("type", b"WalletDebited")]))
    # and so does an envelope whose payload is not the event its type names
    wrong = CREDITED.to_bytes().replace(b'"amount":500', b'"amount":"500"')
    assert wrong != CREDITED.to_bytes()
    with pytest.raises(ValueError):
        read_answer(_record(wrong, message_headers(CREDITED)))


def _user_record(envelope: Envelope) -> ConsumerRecord[bytes, bytes]:
    value, headers = envelope.to_bytes(), message_headers(envelope)
    return ConsumerRecord("user-events", 0, 3, 0, 0, b"k", value, None, 1, len(value), headers)


def test_a_registration_and_a_role_change_are_roles_and_other_user_events_nothing() -> None:
    registered = UserRegistered(user_id="u1", email="a@example.com", full_name="A", role="merchant")
    changed = UserRoleChanged(user_id="u1", old_role="merchant", new_role="user", changed_by="a")
    verified = EmailVerified(user_id="u1", email="a@example.com")
    read = [
        read_answer(_user_record(Envelope.of(m, key="u1", producer="user_svc")))
        for m in (registered, changed, verified)
    ]
    assert read == [Role("u1", "merchant"), Role("u1", "user"), None]
