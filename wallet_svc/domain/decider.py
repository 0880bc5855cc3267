"""The wallet decider: `decide(state, command, now) -> events` (pure, no I/O, no clock).

Rules: a duplicate `command_id` yields `[]`; rejections are events; holds whose
`expires_at` <= now are expired (`HoldExpired`) before the command itself is decided, so
`available` never counts a dead hold. Debits and holds need
`available + overdraft_limit >= amount`. No balance leaves ``-MAX_BALANCE..MAX_BALANCE``
(the int64 the read model stores it in): amounts and overdraft limits are at most
``MAX_BALANCE``, and a credit that would take the ledger balance past it is rejected
(``balance_limit_exceeded``).
"""

from __future__ import annotations

from datetime import datetime

from contracts import wallet as msg
from contracts.time import epoch_ms
from contracts.wallet import Posting, Reason
from wallet_svc.domain.state import WalletState, WalletStatus, evolve

MAX_BALANCE = 2**63 - 1


def decide(
    state: WalletState | None, command: msg.WalletCommand, now: int | datetime
) -> list[msg.WalletEvent]:
    """Decide one command against the wallet's state; return the events to append."""
    s = state if state is not None else WalletState()
    if command.command_id in s.processed:
        return []
    at = epoch_ms(now)
    horizon = max(at, command.now) if isinstance(command, msg.ExpireHolds) else at
    events: list[msg.WalletEvent] = []
    for hold in s.holds:
        if hold.expires_at <= horizon:
            expired = msg.HoldExpired(
                command_id=command.command_id,
                wallet_id=s.wallet_id,
                transaction_id=hold.transaction_id,
                hold_id=hold.hold_id,
                amount=hold.amount,
                currency=s.currency,
                ledger=s.ledger,
                available=s.available + hold.amount,
            )
            s = evolve(s, expired)
            events.append(expired)
    expired_ids = {e.hold_id for e in events if isinstance(e, msg.HoldExpired)}
    return events + _decide(s, command, at, expired_ids)


def _decide(
    s: WalletState, c: msg.WalletCommand, at: int, expired_ids: set[str]
) -> list[msg.WalletEvent]:
    exists = s.status != WalletStatus.ABSENT and s.wallet_id == c.wallet_id
    match c:
        case msg.OpenWallet():
            return _open(s, c)
        case msg.FreezeWallet() | msg.UnfreezeWallet() | msg.CloseWallet():
            return _admin(s, c, exists)
        case msg.DebitWallet():
            return _debit(s, c, at, exists)
        case msg.CreditWallet():
            return _credit(s, c, at, exists)
        case msg.PlaceHold():
            return _place_hold(s, c, at, exists)
        case msg.CaptureHold() | msg.ReleaseHold():
            return _settle_hold(s, c, exists, expired_ids)
        case _:  # ExpireHolds: the expiry above is its whole effect
            return []


def continuation(c: msg.WalletCommand, events: list[msg.WalletEvent]) -> msg.CreditWallet | None:
    """The command to append with a decision: an accepted debit's ``then``, if any."""
    if isinstance(c, msg.DebitWallet) and events and isinstance(events[-1], msg.WalletDebited):
        return c.then
    return None


def _rejected(c: msg.WalletCommand, reason: str) -> list[msg.WalletEvent]:
    return [
        msg.CommandRejected(
            command_id=c.command_id,
            wallet_id=c.wallet_id,
            command_type=type(c).__name__,
            reason=reason,
        )
    ]


def _open(s: WalletState, c: msg.OpenWallet) -> list[msg.WalletEvent]:
    if s.status != WalletStatus.ABSENT:
        return _rejected(c, Reason.ALREADY_EXISTS)
    if not _is_amount(c.overdraft_limit, allow_zero=True):
        return _rejected(c, Reason.INVALID_AMOUNT)
    return [
        msg.WalletOpened(
            command_id=c.command_id,
            wallet_id=c.wallet_id,
            owner_id=c.owner_id,
            currency=c.currency,
            overdraft_limit=c.overdraft_limit,
        )
    ]


def _admin(
    s: WalletState, c: msg.FreezeWallet | msg.UnfreezeWallet | msg.CloseWallet, exists: bool
) -> list[msg.WalletEvent]:
    if not exists:
        return _rejected(c, Reason.WALLET_NOT_FOUND)
    if s.status == WalletStatus.CLOSED:
        return _rejected(c, Reason.WALLET_CLOSED)
    ids = {"command_id": c.command_id, "wallet_id": c.wallet_id}
    match c:
        case msg.FreezeWallet():
            if s.status == WalletStatus.FROZEN:
                return _rejected(c, Reason.WALLET_FROZEN)
            return [msg.WalletFrozen(**ids, reason=c.reason)]
        case msg.UnfreezeWallet():
            if s.status != WalletStatus.FROZEN:
                return _rejected(c, Reason.NOT_FROZEN)
            return [msg.WalletUnfrozen(**ids)]
        case _:
            if s.ledger != 0 or s.holds:
                return _rejected(c, Reason.NOT_ZERO_BALANCE)
            return [msg.WalletClosed(**ids)]


def _is_amount(value: object, *, allow_zero: bool = False) -> bool:
    return type(value) is int and (value >= 0 if allow_zero else value > 0) and value <= MAX_BALANCE


def _money_guard(s: WalletState, amount: int, currency: str, exists: bool) -> str | None:
    if not exists:
        return Reason.WALLET_NOT_FOUND
    if not _is_amount(amount):
        return Reason.INVALID_AMOUNT
    if currency != s.currency:
        return Reason.CURRENCY_MISMATCH
    return None


def _status_guard(s: WalletState) -> str | None:
    if s.status == WalletStatus.CLOSED:
        return Reason.WALLET_CLOSED
    if s.status == WalletStatus.FROZEN:
        return Reason.WALLET_FROZEN
    return None


def _expiry_guard(expires_at: int | None, at: int) -> str | None:
    return Reason.EXPIRED if expires_at is not None and at >= expires_at else None


def _funds_guard(s: WalletState, amount: int) -> str | None:
    return Reason.INSUFFICIENT_FUNDS if s.available + s.overdraft_limit < amount else None


def _debit(s: WalletState, c: msg.DebitWallet, at: int, exists: bool) -> list[msg.WalletEvent]:
    reason = (
        _money_guard(s, c.amount, c.currency, exists)
        or _expiry_guard(c.expires_at, at)
        or _status_guard(s)
        or _funds_guard(s, c.amount)
    )
    ids = {"command_id": c.command_id, "wallet_id": c.wallet_id}
    ids |= {"transaction_id": c.transaction_id, "currency": c.currency}
    if reason:
        return [msg.DebitRejected(**ids, amount=c.amount, reason=reason)]
    postings = (
        Posting(account=s.account, amount=-c.amount, currency=c.currency),
        Posting(account=c.counter_account, amount=c.amount, currency=c.currency),
    )
    return [
        msg.WalletDebited(
            **ids,
            amount=c.amount,
            counter_account=c.counter_account,
            postings=postings,
            ledger=s.ledger - c.amount,
            available=s.available - c.amount,
        )
    ]


def _credit(s: WalletState, c: msg.CreditWallet, at: int, exists: bool) -> list[msg.WalletEvent]:
    reason = _money_guard(s, c.amount, c.currency, exists)
    if reason is None and not (
        _is_amount(c.fee, allow_zero=True) and c.amount + c.fee <= MAX_BALANCE
    ):
        reason = Reason.INVALID_AMOUNT  # the fee, and the counter account's leg
    if reason is None and s.ledger + c.amount > MAX_BALANCE:
        reason = Reason.BALANCE_LIMIT_EXCEEDED  # compensations too: nothing may overflow
    if reason is None and not c.compensation:
        reason = _expiry_guard(c.expires_at, at) or _status_guard(s)
    ids = {"command_id": c.command_id, "wallet_id": c.wallet_id}
    ids |= {"transaction_id": c.transaction_id, "currency": c.currency}
    if reason:
        return [
            msg.CreditRejected(**ids, amount=c.amount, reason=reason, compensation=c.compensation)
        ]
    postings = _credit_postings(s, c)
    return [
        msg.WalletCredited(
            **ids,
            amount=c.amount,
            compensation=c.compensation,
            counter_account=c.counter_account,
            postings=tuple(postings),
            ledger=s.ledger + c.amount,
            available=s.available + c.amount,
            fee=c.fee,
            fee_account=c.fee_account,
            fee_currency=c.fee_currency,
        )
    ]


def _credit_postings(s: WalletState, c: msg.CreditWallet) -> list[Posting]:
    """The counter account pays the wallet ``amount`` and the fee account ``fee``; a fee in
    another currency (a conversion's, in the payer's) is its own balanced pair."""
    fee_currency = c.fee_currency or c.currency
    same = fee_currency == c.currency
    paid = c.amount + c.fee if same else c.amount
    postings = [
        Posting(account=c.counter_account, amount=-paid, currency=c.currency),
        Posting(account=s.account, amount=c.amount, currency=c.currency),
    ]
    if c.fee and not same:
        postings.append(Posting(account=c.counter_account, amount=-c.fee, currency=fee_currency))
    if c.fee:
        postings.append(Posting(account=c.fee_account, amount=c.fee, currency=fee_currency))
    return postings


def _place_hold(s: WalletState, c: msg.PlaceHold, at: int, exists: bool) -> list[msg.WalletEvent]:
    reason = (
        _money_guard(s, c.amount, c.currency, exists)
        or _status_guard(s)
        or (Reason.ALREADY_EXISTS if s.hold(c.hold_id) else None)
        or _expiry_guard(c.expires_at, at)
        or _funds_guard(s, c.amount)
    )
    ids = {"command_id": c.command_id, "wallet_id": c.wallet_id}
    ids |= {"transaction_id": c.transaction_id, "hold_id": c.hold_id}
    if reason:
        return [msg.HoldRejected(**ids, reason=reason)]
    return [
        msg.HoldPlaced(
            **ids,
            amount=c.amount,
            currency=c.currency,
            expires_at=c.expires_at,
            ledger=s.ledger,
            available=s.available - c.amount,
        )
    ]


def _settle_hold(
    s: WalletState, c: msg.CaptureHold | msg.ReleaseHold, exists: bool, expired_ids: set[str]
) -> list[msg.WalletEvent]:
    ids = {"command_id": c.command_id, "wallet_id": c.wallet_id}
    ids |= {"transaction_id": c.transaction_id, "hold_id": c.hold_id}
    hold = s.hold(c.hold_id)
    reason: str | None = None
    if not exists:
        reason = Reason.WALLET_NOT_FOUND
    elif c.hold_id in expired_ids:
        reason = Reason.EXPIRED
    elif hold is None:
        reason = Reason.HOLD_NOT_FOUND
    elif isinstance(c, msg.CaptureHold) and not (
        _is_amount(c.amount) and c.amount <= hold.amount and 0 <= c.fee < c.amount
    ):
        reason = Reason.INVALID_AMOUNT
    if reason or hold is None:
        return [msg.HoldRejected(**ids, reason=reason or Reason.HOLD_NOT_FOUND)]
    released = s.available + hold.amount
    if isinstance(c, msg.ReleaseHold):
        return [
            msg.HoldReleased(
                **ids, amount=hold.amount, currency=s.currency, ledger=s.ledger, available=released
            )
        ]
    postings = [
        Posting(account=s.account, amount=-c.amount, currency=s.currency),
        Posting(account=c.counter_account, amount=c.amount - c.fee, currency=s.currency),
    ]
    if c.fee:
        postings.append(Posting(account=c.fee_account, amount=c.fee, currency=s.currency))
    return [
        msg.HoldCaptured(
            **ids,
            amount=c.amount,
            released_amount=hold.amount - c.amount,
            currency=s.currency,
            counter_account=c.counter_account,
            postings=tuple(postings),
            ledger=s.ledger - c.amount,
            available=released - c.amount,
            fee=c.fee,
            fee_account=c.fee_account,
        )
    ]
