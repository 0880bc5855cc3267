"""The wallet decider on real Kafka: single writer, overdraft rule, duplicates, crashes."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from common.settings import Settings
from common.topics import WALLET_COMMANDS, WALLET_EVENTS
from contracts.wallet import (
    CreditWallet,
    DebitWallet,
    OpenWallet,
    WalletCommand,
)
from infra.local.procs import kill9
from infra.local.stack import start_app
from infra.testing.kafka import read_topic, send_commands, wait_for, wallet_in
from infra.testing.prometheus import scrape
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration
SETTLEMENT = "system:settlement:test"


async def _events_of(settings: Settings, wallet_id: str) -> list:  # type: ignore[type-arg]
    return await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key == wallet_id)


async def _send(settings: Settings, commands: list[WalletCommand]) -> None:
    await send_commands(settings.kafka_bootstrap, commands, "it")


def _funded(wallet_id: str, amount: int) -> list[WalletCommand]:
    return [
        OpenWallet(command_id=f"open:{wallet_id}", wallet_id=wallet_id, owner_id="u-1",
                   currency="USD"),
        CreditWallet(command_id=f"fund:{wallet_id}", wallet_id=wallet_id, transaction_id="fund",
                     amount=amount, currency="USD", counter_account=SETTLEMENT),
    ]  # fmt: skip


def _debits(wallet_id: str, n: int, prefix: str = "d") -> list[WalletCommand]:
    return [
        DebitWallet(command_id=f"{prefix}{i}:{wallet_id}", wallet_id=wallet_id,
                    transaction_id=f"t{i}", amount=1, currency="USD",
                    counter_account="system:in_transit")
        for i in range(n)
    ]  # fmt: skip


async def test_500_debits_of_1_from_100_make_exactly_100_effects(
    stack: StackUnderTest, settings: Settings
) -> None:
    stack.start_apps(["wallet_decider"])
    wallet = str(uuid.uuid4())
    # given a wallet holding 100, and 500 debits of 1 sent at once (some twice)
    debits = _debits(wallet, 500)
    await _send(settings, [*_funded(wallet, 100), *debits, *debits[:50]])

    # when the decider has answered every one
    async def answered() -> bool:
        types = Counter(e.type for e in await _events_of(settings, wallet))
        return types["WalletDebited"] + types["DebitRejected"] == 500

    await wait_for(answered, timeout=90)
    events = await _events_of(settings, wallet)
    types = Counter(e.type for e in events)
    # then exactly 100 debits went through, 400 were refused, duplicates did nothing
    assert types["WalletDebited"] == 100 and types["DebitRejected"] == 400
    assert {e.payload["reason"] for e in events if e.type == "DebitRejected"} == {
        "insufficient_funds"
    }
    last = [e for e in events if e.type == "WalletDebited"][-1]
    assert last.payload["ledger"] == 0 and last.payload["available"] == 0
    assert len({e.event_id for e in events}) == len(events)
    # and every posting set balances
    for e in events:
        assert sum(p["amount"] for p in e.payload.get("postings", [])) == 0
    # and its metrics count the refusals by reason, and its lag drains to 0
    decider = f"http://127.0.0.1:{stack.cfg.worker_ports['wallet_decider']}"
    refused = await scrape(decider, "paystream_decider_commands_total",
                           outcome="DebitRejected", reason="insufficient_funds")  # fmt: skip
    assert refused and refused[0].value >= 400

    async def drained() -> bool:
        lags = await scrape(decider, "paystream_consumer_lag",
                            group="wallet-decider", topic="wallet-commands")  # fmt: skip
        return bool(lags) and all(s.value == 0 for s in lags)

    await wait_for(drained, timeout=30)


async def test_kill_9_mid_stream_loses_and_duplicates_nothing(
    stack: StackUnderTest, settings: Settings
) -> None:
    stack.start_apps(["wallet_decider"])
    wallets = [str(uuid.uuid4()) for _ in range(8)]
    # given 8 funded wallets and 300 debits each in flight
    await _send(settings, [c for w in wallets for c in _funded(w, 200)])
    await _send(settings, [c for w in wallets for c in _debits(w, 300, "k")])
    # when the decider is killed -9 while deciding, and started again
    kill9("wallet_decider", stack.cfg.run_dir)
    start_app(stack.cfg, "wallet_decider")
    await _send(settings, [c for w in wallets for c in _debits(w, 300, "k")[:20]])  # resent

    async def all_answered() -> bool:
        evs = await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key in wallets)
        return sum(e.type in ("WalletDebited", "DebitRejected") for e in evs) == 8 * 300

    await wait_for(all_answered, timeout=120)
    events = await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key in wallets)
    # then each command had exactly one effect, and each wallet ended at exactly zero
    per_command = Counter(e.payload["command_id"] for e in events)
    assert max(per_command.values()) == 1
    for w in wallets:
        debited = [e for e in events if e.key == w and e.type == "WalletDebited"]
        assert len(debited) == 200 and debited[-1].payload["ledger"] == 0


async def _partitions_of(settings: Settings, topic: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        return len(await producer.partitions_for(topic))
    finally:
        await producer.stop()


async def test_a_credit_on_the_debit_s_partition_is_decided_with_it_and_others_are_appended(
    stack: StackUnderTest, settings: Settings
) -> None:
    stack.start_apps(["wallet_decider"])
    await _send(settings, _funded(str(uuid.uuid4()), 0))  # the topic exists
    partitions = await _partitions_of(settings, WALLET_COMMANDS)
    assert partitions >= 2  # so there are both kinds of transfer
    payer, near = wallet_in(0, partitions), wallet_in(0, partitions)
    far = wallet_in(1, partitions)
    await _send(settings, [*_funded(payer, 100), *_funded(near, 0), *_funded(far, 0)])
    # given two transfers from the same payer: to a wallet of its partition, and of another
    transfers = {
        dst: DebitWallet(command_id=f"{tx}:debit", wallet_id=payer, transaction_id=tx, amount=30,
                         currency="USD", counter_account="system:in_transit",
                         then=CreditWallet(command_id=f"{tx}:credit", wallet_id=dst,
                                           transaction_id=tx, amount=30, currency="USD",
                                           counter_account="system:in_transit"))
        for tx, dst in ((f"near-{uuid.uuid4()}", near), (f"far-{uuid.uuid4()}", far))
    }  # fmt: skip
    await _send(settings, list(transfers.values()))

    async def credited() -> bool:
        events = await read_topic(
            settings.kafka_bootstrap, WALLET_EVENTS,
            lambda e: e.type == "WalletCredited" and e.key in (near, far),
        )  # fmt: skip
        return {e.key for e in events if e.payload["transaction_id"] != "fund"} == {near, far}

    await wait_for(credited, timeout=60)
    # then both payees were credited once, each on its own wallet's partition...
    events = await read_topic(settings.kafka_bootstrap, WALLET_EVENTS,
                              lambda e: e.key in (payer, near, far))  # fmt: skip
    per_command = Counter(e.payload["command_id"] for e in events)
    assert max(per_command.values()) == 1
    debited = [e.payload["ledger"] for e in events if e.key == payer and e.type == "WalletDebited"]
    assert debited == [70, 40], [(e.type, e.payload) for e in events if e.key == payer]
    # ...and only the credit for the other partition went through wallet-commands
    appended = await read_topic(
        settings.kafka_bootstrap, WALLET_COMMANDS,
        lambda e: e.type == "CreditWallet" and e.payload["transaction_id"] != "fund",
    )  # fmt: skip
    assert [e.key for e in appended if e.key in (near, far)] == [far]
