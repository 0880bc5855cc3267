"""The wallet decider on real Kafka: single writer, overdraft rule, duplicates, crashes."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.settings import Settings
from common.topics import WALLET_EVENTS
from contracts.wallet import (
    CreditWallet,
    DebitWallet,
    OpenWallet,
    WalletCommand,
)
from infra.local.procs import kill9
from infra.local.stack import start_app
from infra.testing.kafka import read_topic, send_commands, wait_for
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
    metrics = f"http://127.0.0.1:{stack.cfg.worker_ports['wallet_decider']}/metrics"

    def samples(name: str) -> list[tuple[dict[str, str], float]]:
        text = httpx.get(metrics).text
        return [
            (s.labels, s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name
        ]

    refused = [
        v
        for labels, v in samples("paystream_decider_commands_total")
        if labels == {"outcome": "DebitRejected", "reason": "insufficient_funds"}
    ]
    assert refused and refused[0] >= 400

    def drained() -> bool:
        lags = [
            v
            for labels, v in samples("paystream_consumer_lag")
            if labels["group"] == "wallet-decider" and labels["topic"] == "wallet-commands"
        ]
        return bool(lags) and all(v == 0 for v in lags)

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
