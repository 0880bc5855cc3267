"""notification_worker as a real process on Kafka, FerretDB, the local SMTP server and
user_svc: mails with their links, exactly one notification per event on redelivery,
preferences, failing providers ending in the DLQ, and each person's own history."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from common.kafka.producer import make_producer, send_envelopes
from common.settings import Settings
from common.topics import (
    NOTIFICATION_EVENTS,
    PAYMENT_EVENTS,
    TRANSACTION_EVENTS,
    WALLET_EVENTS,
    dlq,
)
from contracts.envelope import Envelope
from contracts.payment import PaymentCompleted, PaymentFailed, RefundCompleted
from contracts.transaction import (
    TransferCompleted,
    TransferFailed,
    TransferReversalFailed,
    TransferReversed,
    WithdrawalDebitFailed,
)
from contracts.wallet.events import WalletOpened
from infra.local.backing import start_smtp
from infra.local.procs import stop
from infra.testing.api import User, register
from infra.testing.kafka import read_records, read_topic, wait_for
from infra.testing.mailbox import Mail, read_mail, wait_for_mail
from infra.testing.stack import StackUnderTest
from notification_worker import store
from notification_worker.main import GROUP

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    # given user_svc and notification_worker as the local stack launches them
    stack.start_apps(["user_svc", "notification_worker"])
    return stack


@pytest.fixture
async def notifications(started: StackUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    url = Settings().notification_worker_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
async def mongo(started: StackUnderTest) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(Settings().mongo_url)
    yield client[Settings().mongo_db]
    await client.close()


async def _person(users: httpx.AsyncClient, name: str) -> tuple[User, str]:
    person = await register(users, name)
    return person, person.id


async def _publish(messages: list[tuple[str, Envelope]]) -> None:
    producer = make_producer(Settings().kafka_bootstrap, "notification-tests")
    await producer.start()
    try:
        await send_envelopes(producer, messages)
    finally:
        await producer.stop()


def _wallet_opened(wallet_id: str, owner_id: str) -> tuple[str, Envelope]:
    opened = WalletOpened(
        command_id=str(uuid.uuid4()), wallet_id=wallet_id, owner_id=owner_id, currency="EUR"
    )
    return WALLET_EVENTS, Envelope.of(opened, key=wallet_id, producer="tests")


def _transfer(source: str, target: str, amount: int) -> Envelope:
    done = TransferCompleted(
        transaction_id=str(uuid.uuid4()),
        from_wallet_id=source,
        to_wallet_id=target,
        amount=amount,
        currency="EUR",
    )
    return Envelope.of(done, key=done.transaction_id, producer="tests")


def _to(address: str) -> Callable[[Mail], bool]:
    return lambda m: address in m.to


async def test_verification_mail_carries_a_working_link(
    started: StackUnderTest, users: httpx.AsyncClient
) -> None:
    # given a new account
    person, _ = await _person(users, "verity")
    # when the worker mails its verification request
    [mail] = await wait_for_mail(started.cfg.mail_dir, _to(person.email))
    # then the mail has both bodies with the same link, whose token verifies the email
    assert mail.subject == "Confirm your email address"
    token = re.search(r"token=([\w-]+)", mail.body("plain"))
    assert token and token.group(0) in mail.body("html")
    verified = await users.post("/auth/verify-email", json={"token": token.group(1)})
    assert verified.status_code == 200 and verified.json()["email_verified"] is True


async def test_a_transfer_mails_both_sides_once_even_when_redelivered(
    started: StackUnderTest,
    users: httpx.AsyncClient,
    mongo: Any,
) -> None:
    # given two people with a wallet each
    (payer, payer_id), (payee, payee_id) = [await _person(users, n) for n in ("payer", "payee")]
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(source, payer_id), _wallet_opened(target, payee_id)])
    # when a transfer completes, and its event is delivered three times
    transfer = _transfer(source, target, 1250)
    await _publish([(TRANSACTION_EVENTS, transfer)] * 3)

    # then each side gets one mail saying what happened
    [sent] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: payer.email in m.to and "sent" in m.subject
    )
    [got] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: payee.email in m.to and "received" in m.subject
    )
    assert sent.subject == "You sent 12.50 EUR" and got.subject == "You received 12.50 EUR"
    assert "12.50 EUR" in sent.body("plain") and "12.50 EUR" in got.body("html")

    # and one notification per (event, kind, channel, person): email and push by default
    async def stored() -> Any:
        return await _notifications(mongo, {"event_id": transfer.event_id})

    await wait_for(lambda: _count(stored, 4), timeout=30)
    docs = await stored()
    assert sorted((d["kind"], d["channel"], d["status"]) for d in docs) == [
        ("transfer_received", "email", "sent"),
        ("transfer_received", "push", "sent"),
        ("transfer_sent", "email", "sent"),
        ("transfer_sent", "push", "sent"),
    ]
    # and each outcome is published once on notification-events
    outcomes = await read_topic(
        Settings().kafka_bootstrap,
        NOTIFICATION_EVENTS,
        lambda e: e.payload["cause_event_id"] == transfer.event_id,
    )
    assert sorted(e.type for e in outcomes) == ["NotificationSent"] * 4
    assert {e.key for e in outcomes} == {payer_id, payee_id}
    # and no mail was sent twice
    mails = [m for m in read_mail(started.cfg.mail_dir) if set(m.to) & {payer.email, payee.email}]
    assert sorted(m.subject for m in mails if "12.50" in m.subject) == [
        "You received 12.50 EUR",
        "You sent 12.50 EUR",
    ]


def _transfer_ended(
    ended: type[TransferFailed | TransferReversed | TransferReversalFailed], reason: str
) -> Callable[[str, str], Envelope]:
    """A maker of a transfer of 42.00 EUR between two wallets that ended ``ended``."""

    def make(source: str, target: str) -> Envelope:
        event = ended(transaction_id=str(uuid.uuid4()), from_wallet_id=source,
                      to_wallet_id=target, amount=4200, currency="EUR",
                      reason=reason)  # fmt: skip
        return Envelope.of(event, key=event.transaction_id, producer="tests")

    return make


def _failed_payment(source: str, target: str) -> Envelope:
    failed = PaymentFailed(payment_id=str(uuid.uuid4()), wallet_id=source, amount=4200,
                           currency="EUR", merchant_id=str(uuid.uuid4()),
                           merchant_wallet_id=target, order_id="order-42",
                           failure_reason="insufficient_funds")  # fmt: skip
    return Envelope.of(failed, key=failed.payment_id, producer="tests")


@pytest.mark.parametrize(
    ("topic", "make", "kind", "subject", "says"),
    [
        (TRANSACTION_EVENTS, _transfer_ended(TransferFailed, "insufficient_funds"),
         "transfer_failed",
         "Your transfer of 42.00 EUR failed", "(insufficient_funds); no money moved"),
        (TRANSACTION_EVENTS, _transfer_ended(TransferReversed, "wallet_frozen"),
         "transfer_reversed",
         "Your transfer of 42.00 EUR was reversed", "the money is back in your wallet"),
        (PAYMENT_EVENTS, _failed_payment, "payment_failed",
         "Your payment of 42.00 EUR failed", "for order order-42 failed (insufficient_funds)"),
    ],
)  # fmt: skip
async def test_a_failed_or_reversed_transfer_or_payment_tells_the_sender(
    started: StackUnderTest,
    users: httpx.AsyncClient,
    mongo: Any,
    topic: str,
    make: Callable[[str, str], Envelope],
    kind: str,
    subject: str,
    says: str,
) -> None:
    # given a sender and a receiver with a wallet each
    (sender, sender_id), (_, receiver_id) = [await _person(users, n) for n in ("from", "to")]
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(source, sender_id), _wallet_opened(target, receiver_id)])
    # when their transfer or payment fails, or is reversed
    event = make(source, target)
    await _publish([(topic, event)])
    # then the sender is mailed what happened, in both bodies
    [mail] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: sender.email in m.to and m.subject == subject
    )
    assert says in mail.body("plain") and says in mail.body("html")

    # and only the sender is told (email and push by default), the receiver not at all
    async def stored() -> Any:
        return await _notifications(mongo, {"event_id": event.event_id})

    await wait_for(lambda: _count(stored, 2), timeout=30)
    docs = await stored()
    assert sorted((d["user_id"], d["kind"], d["channel"]) for d in docs) == [
        (sender_id, kind, "email"),
        (sender_id, kind, "push"),
    ]


def _debit_failed_withdrawal(wallet: str, _: str) -> Envelope:
    owed = WithdrawalDebitFailed(transaction_id=str(uuid.uuid4()), wallet_id=wallet,
                                 amount=4200, currency="EUR", provider="bank", fee=50,
                                 reason="paid out, rehold insufficient_funds")  # fmt: skip
    return Envelope.of(owed, key=owed.transaction_id, producer="tests")


@pytest.mark.parametrize(
    ("make", "kind", "subject", "says"),
    [
        (_debit_failed_withdrawal, "withdrawal_debit_failed",
         "Your withdrawal of 42.00 EUR could not be taken from your wallet",
         "Your wallet still owes 42.50 EUR, fee included"),
        (_transfer_ended(TransferReversalFailed, "wallet_closed"), "transfer_reversal_failed",
         "Your transfer of 42.00 EUR could not be returned to your wallet",
         "returning it to your wallet failed as well (wallet_closed)"),
    ],
)  # fmt: skip
async def test_money_left_for_an_operator_is_mailed_once_even_with_everything_off(
    started: StackUnderTest,
    users: httpx.AsyncClient,
    notifications: httpx.AsyncClient,
    mongo: Any,
    make: Callable[[str, str], Envelope],
    kind: str,
    subject: str,
    says: str,
) -> None:
    # given a person with a wallet who turned off every switch they may, and a receiver
    (person, person_id), (_, receiver_id) = [await _person(users, n) for n in ("owed", "to")]
    off = {c: {"email": False, "sms": False, "push": False}
           for c in ("transfers", "deposits", "withdrawals", "merchant")}  # fmt: skip
    put = await notifications.put("/notifications/preferences", headers=person.auth, json=off)
    assert put.status_code == 200, put.text
    assert put.json()["alerts"] == {"email": True}
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(source, person_id), _wallet_opened(target, receiver_id)])
    # when the withdrawal or transfer ends with money to settle, delivered three times
    event = make(source, target)
    await _publish([(TRANSACTION_EVENTS, event)] * 3)
    # then the person is mailed what happened, in both bodies
    [mail] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: person.email in m.to and m.subject == subject
    )
    assert says in mail.body("plain") and says in mail.body("html")
    assert "alerts about money that needs settling are always sent" in mail.body("html")

    # and once the worker has read past all three deliveries, there is one notification:
    # the person's, by email, sent; and one mail
    deliveries = [
        r
        for r in await read_records(Settings().kafka_bootstrap, TRANSACTION_EVENTS)
        if Envelope.from_bytes(r.value).event_id == event.event_id
    ]
    assert len(deliveries) == 3
    await wait_for(lambda: _read_past(mongo, deliveries), timeout=30)
    docs = await _notifications(mongo, {"event_id": event.event_id})
    assert [(d["user_id"], d["kind"], d["category"], d["channel"], d["status"]) for d in docs] == [
        (person_id, kind, "alerts", "email", "sent")
    ]
    mails = [m for m in read_mail(started.cfg.mail_dir) if person.email in m.to]
    assert [m.subject for m in mails].count(subject) == 1
    # and the person's history shows it once
    history = await notifications.get("/notifications", headers=person.auth)
    assert [(i["kind"], i["title"]) for i in history.json()["items"] if i["kind"] == kind] == [
        (kind, subject)
    ]


async def _read_past(mongo: Any, records: list[Any]) -> bool:
    """Whether the worker's stored offsets are past every one of ``records``."""
    doc = await mongo[store.OFFSETS].find_one({"_id": GROUP})
    done: dict[str, int] = (doc or {}).get("next", {})
    return all(done.get(f"{r.topic}|{r.partition}", 0) > r.offset for r in records)


async def _count(fetch: Any, n: int) -> bool:
    return len(await fetch()) >= n


async def _notifications(mongo: Any, query: dict[str, str]) -> list[dict[str, Any]]:
    """The stored notifications that match ``query``, with their outcomes."""
    return await store.with_outcomes(mongo, await mongo[store.NOTIFICATIONS].find(query).to_list())


async def test_preferences_failing_sms_and_the_dlq(
    started: StackUnderTest,
    users: httpx.AsyncClient,
    notifications: httpx.AsyncClient,
    mongo: Any,
) -> None:
    # given an SMS provider that refuses everything, and a person who wants SMS, no push
    started.restart_app(
        "notification_worker",
        env={
            "PAYSTREAM_SMS_FAILURE_SHARE": "1",
            "PAYSTREAM_DELIVERY_ATTEMPTS": "3",
            "PAYSTREAM_DELIVERY_BACKOFF_S": "0.01",
        },
    )
    (payee, payee_id), (_, payer_id) = [await _person(users, n) for n in ("sms", "other")]
    put = await notifications.put(
        "/notifications/preferences",
        headers=payee.auth,
        json={"transfers": {"sms": True, "push": False}},
    )
    assert put.status_code == 200, put.text
    assert put.json()["transfers"] == {"email": True, "sms": True, "push": False}
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(source, payer_id), _wallet_opened(target, payee_id)])

    # when a transfer reaches them
    transfer = _transfer(source, target, 99)
    await _publish([(TRANSACTION_EVENTS, transfer)])

    # then the mail goes out, the SMS fails after 3 tries, and the event is dead-lettered
    await wait_for_mail(started.cfg.mail_dir, lambda m: payee.email in m.to)

    async def sms() -> Any:
        found = await _notifications(mongo, {"event_id": transfer.event_id, "channel": "sms"})
        return [d for d in found if d["status"] == "failed"]

    await wait_for(sms, timeout=30)
    [failed] = await sms()
    assert failed["attempts"] == 3 and "simulated" in failed["error"]
    assert not await mongo["notifications"].find_one(
        {"event_id": transfer.event_id, "user_id": payee_id, "channel": "push"}
    )

    async def dead() -> bool:
        records = await read_records(Settings().kafka_bootstrap, dlq(TRANSACTION_EVENTS))
        return any(Envelope.from_bytes(r.value).event_id == transfer.event_id for r in records)

    await wait_for(dead, timeout=30)
    outcomes = await read_topic(
        Settings().kafka_bootstrap,
        NOTIFICATION_EVENTS,
        lambda e: e.payload["cause_event_id"] == transfer.event_id,
    )
    assert sorted(e.type for e in outcomes).count("NotificationFailed") == 1
    started.restart_app("notification_worker")


async def test_bad_preferences_change_nothing(
    users: httpx.AsyncClient, notifications: httpx.AsyncClient
) -> None:
    person, _ = await _person(users, "picky")
    before = (await notifications.get("/notifications/preferences", headers=person.auth)).json()
    for body in (
        {"transfers": {"fax": True}},
        {"security": {"email": False}},
        {"loyalty": {"email": True}},
        {"transfers": {"sms": True}, "x": 1},
    ):
        r = await notifications.put("/notifications/preferences", json=body, headers=person.auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    after = (await notifications.get("/notifications/preferences", headers=person.auth)).json()
    assert after == before and after["security"] == {"email": True}


async def test_concurrent_changes_of_different_switches_all_stick(
    users: httpx.AsyncClient, notifications: httpx.AsyncClient
) -> None:
    # given a person with the default preferences
    person, _ = await _person(users, "busy")
    changes = [
        {"transfers": {"sms": True}},
        {"deposits": {"push": False}},
        {"withdrawals": {"sms": True}},
        {"merchant": {"email": False}},
        {"transfers": {"push": False}},
    ]
    for _ in range(3):
        # when five requests change five different switches at once (one of them twice
        # in the same category)
        answers = await asyncio.gather(
            *(
                notifications.put("/notifications/preferences", json=c, headers=person.auth)
                for c in changes
            )
        )
        assert [a.status_code for a in answers] == [200] * len(changes)
        # then every change is stored, none overwritten by another
        got = (await notifications.get("/notifications/preferences", headers=person.auth)).json()
        assert got["transfers"] == {"email": True, "sms": True, "push": False}
        assert got["deposits"] == {"email": True, "sms": False, "push": False}
        assert got["withdrawals"] == {"email": True, "sms": True, "push": True}
        assert got["merchant"] == {"email": False, "sms": False, "push": True}
        # and the next round starts from the defaults again
        back = {"transfers": {"sms": False, "push": True}, "deposits": {"push": True},
                "withdrawals": {"sms": False}, "merchant": {"email": True}}  # fmt: skip
        r = await notifications.put("/notifications/preferences", json=back, headers=person.auth)
        assert r.json() == {**got, **{k: DEFAULTS for k in back}}


DEFAULTS = {"email": True, "sms": False, "push": True}


async def test_history_is_each_persons_own_newest_first(
    started: StackUnderTest,
    users: httpx.AsyncClient,
    notifications: httpx.AsyncClient,
) -> None:
    # given two people, one of whom received three transfers
    (payee, payee_id), (other, other_id) = [await _person(users, n) for n in ("reader", "nosy")]
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(source, other_id), _wallet_opened(target, payee_id)])

    async def mine(who: User, **params: Any) -> dict[str, Any]:
        r = await notifications.get("/notifications", headers=who.auth, params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def received(n: int) -> bool:
        items = (await mine(payee, limit=50))["items"]
        return sum(i["kind"] == "transfer_received" for i in items) == 2 * n  # email + push

    # (one at a time: transfers on different partitions are not told in any order)
    for n, amount in enumerate((101, 102, 103), start=1):
        await _publish([(TRANSACTION_EVENTS, _transfer(source, target, amount))])
        await wait_for(lambda n=n: received(n), timeout=30)
    # when the payee pages through their history, two at a time
    seen, cursor = [], None
    while True:
        page = await mine(payee, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # then newest first, every item theirs, none twice
    ids = [i["id"] for i in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    titles = [
        i["title"] for i in seen if i["kind"] == "transfer_received" and i["channel"] == "email"
    ]
    assert titles == ["You received 1.03 EUR", "You received 1.02 EUR", "You received 1.01 EUR"]
    # and the other person cannot read or mark the payee's
    theirs = (await mine(other, limit=50))["items"]
    assert not set(ids) & {i["id"] for i in theirs}
    r = await notifications.post(f"/notifications/{ids[0]}/read", headers=other.auth)
    assert (r.status_code, r.json()["code"]) == (404, "notification_not_found")
    # when the payee marks one read, then it shows read; a tampered cursor is a 400
    r = await notifications.post(f"/notifications/{ids[0]}/read", headers=payee.auth)
    assert r.status_code == 200 and r.json()["read_at"] is not None
    r = await notifications.get("/notifications", headers=payee.auth, params={"cursor": "!!"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")
    assert (await notifications.get("/notifications")).status_code == 401


async def test_a_merchant_hears_of_a_payment_and_the_payer_of_its_refund(
    started: StackUnderTest, users: httpx.AsyncClient
) -> None:
    # given a merchant and a payer with a wallet
    (shop, shop_id), (payer, payer_id) = [await _person(users, n) for n in ("shop", "buyer")]
    wallet, payment_id = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(wallet, payer_id)])
    fields = {"payment_id": payment_id, "wallet_id": wallet, "amount": 4999,
              "currency": "EUR", "merchant_id": shop_id, "merchant_wallet_id": "mw",
              "order_id": "order-42"}  # fmt: skip
    # when the payment completes and then a refund of it
    paid = Envelope.of(PaymentCompleted(**fields), key=payment_id, producer="tests")
    refund = RefundCompleted(refund_id=str(uuid.uuid4()), **{**fields, "amount": 1000})
    refunded = Envelope.of(refund, key=payment_id, producer="tests")
    await _publish([(PAYMENT_EVENTS, paid), (PAYMENT_EVENTS, refunded)])
    # then the merchant is mailed the payment, the payer the refund
    [mail] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: shop.email in m.to and "payment" in m.subject
    )
    assert mail.subject == "You received a payment of 49.99 EUR"
    assert "order-42" in mail.body("plain")
    [back] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: payer.email in m.to and "refunded" in m.subject
    )
    assert back.subject == "You were refunded 10.00 EUR"


async def test_mail_waits_out_an_smtp_outage(
    started: StackUnderTest, users: httpx.AsyncClient, mongo: Any
) -> None:
    # given a payee, and the SMTP server down
    (payee, payee_id), (payer, payer_id) = [await _person(users, n) for n in ("patient", "sender")]
    for person in (payee, payer):  # (their verification mails sent before the outage)
        await wait_for_mail(started.cfg.mail_dir, _to(person.email))
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await _publish([_wallet_opened(source, payer_id), _wallet_opened(target, payee_id)])
    stop("smtp", started.cfg.run_dir)
    try:
        # when a transfer reaches them
        transfer = _transfer(source, target, 777)
        await _publish([(TRANSACTION_EVENTS, transfer)])

        # then the mail stays pending: an outage fails nothing (the worker waits it out)
        async def claimed() -> Any:
            mail = {"event_id": transfer.event_id, "channel": "email", "user_id": payee_id}
            return await _notifications(mongo, mail)

        await wait_for(claimed, timeout=30)
        await asyncio.sleep(2)  # retried meanwhile
        [pending] = await claimed()
        assert pending["status"] == "pending"
    finally:
        start_smtp(started.cfg)
    # and once the server is back, the mail arrives, once
    [mail] = await wait_for_mail(
        started.cfg.mail_dir, lambda m: payee.email in m.to and "7.77" in m.subject
    )
    assert mail.subject == "You received 7.77 EUR"
