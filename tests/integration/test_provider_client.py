"""transaction_svc's provider client against the real pgw_svc over HTTP, through a proxy
that injects the provider's faults: an answer that comes after the client's timeout, a
connection lost after the request was forwarded, a 503 for a request never forwarded.
Whatever the fault, the client asks the provider what it made under the idempotency key
before it sends the create again, and exactly one charge or payout exists. A create with
a deadline waits out a stopped provider past it, and the provider's answer ends it: what
it made in time, or a failure (``deadline_passed``) for what it would have made late."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from msgspec.structs import replace
from prometheus_client import REGISTRY
from pydantic import SecretStr

from common.service_token import ServiceTokens
from common.settings import Settings
from contracts import payment as pay
from contracts.provider import ChargeCard, ProviderCommand, RefundCharge, SendPayout
from infra.testing.api import GOOD_CARD, GOOD_IBAN, login, service_client
from infra.testing.fault_proxy import Fault, FaultProxy
from infra.testing.pgw import Payer, payer, pgw_rows, provider_callers, start_provider
from infra.testing.stack import StackUnderTest
from transaction_svc.provider import ProviderClient

pytestmark = pytest.mark.integration

ADMIN_EMAIL = "first.admin@provider-client.example.com"
ADMIN_PASSWORD = "Adm1n-Provider-Client-Passphrase-7"  # fixed: the database outlives a session
TIMEOUT_S = 0.5  # the client's; the proxy holds a delayed answer three times as long


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    start_provider(stack, ADMIN_EMAIL, ADMIN_PASSWORD)
    return stack


@dataclass
class Rig:
    proxy: FaultProxy
    client: ProviderClient
    payer: Payer


@pytest.fixture(scope="module")
async def world(
    started: StackUnderTest, settings: Settings
) -> AsyncIterator[tuple[Payer, ServiceTokens]]:
    """A payer with the always-paying test card and bank account, and a service client's
    tokens (made once for the module: argon2 makes each login slow)."""
    async with provider_callers(ADMIN_EMAIL, ADMIN_PASSWORD) as callers:
        world = await payer(callers, {"ok": GOOD_CARD}, {"ok": GOOD_IBAN})
        admin = await login(callers.users, ADMIN_EMAIL, ADMIN_PASSWORD)
        creds = await service_client(callers.users, admin, ["payments"])
    tokens = ServiceTokens(
        settings.user_svc_url, creds["client_id"], SecretStr(creds["client_secret"])
    )
    try:
        yield world, tokens
    finally:
        await tokens.aclose()


@pytest.fixture
async def rig(world: tuple[Payer, ServiceTokens], settings: Settings) -> AsyncIterator[Rig]:
    """A provider client of the service client whose calls go through a new fault proxy
    to pgw_svc."""
    payer_, tokens = world
    async with FaultProxy(settings.pgw_svc_url, delay_s=3 * TIMEOUT_S) as proxy:
        client = ProviderClient(proxy.url, tokens, timeout_s=TIMEOUT_S, max_backoff_s=0.2)
        try:
            yield Rig(proxy, client, payer_)
        finally:
            await client.aclose()


def _charge(world: Payer) -> ChargeCard:
    tx = str(uuid.uuid4())
    return ChargeCard(command_id=f"{tx}:charge", transaction_id=tx, wallet_id=str(uuid.uuid4()),
                      owner_id=world.owner_id, payment_method_id=world.methods["ok"],
                      amount=1234, currency="USD", idempotency_key=f"{tx}:charge")  # fmt: skip


def _payout(world: Payer) -> SendPayout:
    """A payout to the test bank account (British: it pays out in GBP)."""
    tx = str(uuid.uuid4())
    return SendPayout(command_id=f"{tx}:payout", transaction_id=tx, wallet_id=str(uuid.uuid4()),
                      owner_id=world.owner_id, payment_method_id=world.methods["payout_ok"],
                      amount=4321, currency="GBP", idempotency_key=f"{tx}:payout")  # fmt: skip


def _retried(kind: str) -> float:
    return REGISTRY.get_sample_value("paystream_provider_calls_retried_total", {"kind": kind}) or 0


async def _made(settings: Settings, table: str, key: str) -> list[str]:
    """The ids of the rows of ``pgw.<table>`` made under ``key``."""
    rows = await pgw_rows(settings.postgres_dsn)
    return [str(r["id"]) for r in rows[table] if r["idempotency_key"] == key]


# What the proxy saw, (method, fault, status), when the first create met the fault: the
# answer was lost after the provider made it (asked about: found, not sent again), or the
# create never reached the provider (asked about: not found, sent again).
SEQUENCES = {
    Fault.DELAY: [("POST", Fault.DELAY, 201), ("GET", None, 200)],
    Fault.DROP: [("POST", Fault.DROP, 201), ("GET", None, 200)],
    Fault.UNAVAILABLE: [("POST", Fault.UNAVAILABLE, 503), ("GET", None, 404), ("POST", None, 201)],
}


def _made_id(outcome: pay.ProviderOutcome) -> str | None:
    """The id of the charge or payout a successful outcome names; None for any other."""
    match outcome:
        case pay.ChargeSucceeded():
            return outcome.charge_id
        case pay.PayoutSucceeded():
            return outcome.payout_id
    return None


# a charge of the card and a payout to the account: (command, its pgw table, its path)
KINDS: dict[str, tuple[Callable[[Payer], ProviderCommand], str, str]] = {
    "charge": (_charge, "charges", "/internal/charges"),
    "payout": (_payout, "payouts", "/internal/payouts"),
}


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_create_that_met_a_fault_is_asked_about_and_made_once(
    rig: Rig, settings: Settings, kind: str, fault: Fault
) -> None:
    # given the provider's fault on the first create
    make, table, path = KINDS[kind]
    rig.proxy.arm(fault, "POST", path)
    command = make(rig.payer)
    retried = _retried(type(command).__name__)
    # when the client carries the command
    outcome = await rig.client.carry(command)
    # then it asked for the outcome before anything was sent again, and the one row the
    # provider holds under the key is the one it reports
    assert [(s.method, s.fault, s.status) for s in rig.proxy.seen] == SEQUENCES[fault]
    assert _retried(type(command).__name__) == retried + 1
    made = await _made(settings, table, command.idempotency_key)
    assert made == [_made_id(outcome)]
    assert (outcome.amount, outcome.payment_id) == (command.amount, command.transaction_id)


async def test_when_the_question_fails_too_the_create_sent_again_gets_the_first_charge(
    rig: Rig, settings: Settings
) -> None:
    # given a charge whose answer comes too late, and a provider that then cannot say
    # what it made (503 to the question)
    rig.proxy.arm(Fault.DELAY, "POST", "/internal/charges")
    rig.proxy.arm(Fault.UNAVAILABLE, "GET", "/internal/charges")
    command = _charge(rig.payer)
    # when the client charges the card
    outcome = await rig.client.carry(command)
    # then it sent the create again with the same key after the unanswered question, and
    # the provider answered it with the charge it made first: one charge
    seen = [(s.method, s.fault, s.status) for s in rig.proxy.seen]
    assert seen == [
        ("POST", Fault.DELAY, 201), ("GET", Fault.UNAVAILABLE, 503), ("POST", None, 201),
    ]  # fmt: skip
    made = await _made(settings, "charges", command.idempotency_key)
    assert isinstance(outcome, pay.ChargeSucceeded) and made == [outcome.charge_id]


async def test_many_charges_under_mixed_faults_make_one_charge_each(
    rig: Rig, settings: Settings
) -> None:
    # given every kind of fault for a third of twelve concurrent charges
    for fault in Fault:
        rig.proxy.arm(fault, "POST", "/internal/charges", times=4)
    commands = [_charge(rig.payer) for _ in range(12)]
    # when they are all carried at once
    outcomes = await asyncio.gather(*(rig.client.carry(c) for c in commands))
    # then each has exactly one charge, the one its outcome names
    assert rig.proxy.count("POST", "/internal/charges", Fault.UNAVAILABLE) == 4
    rows = (await pgw_rows(settings.postgres_dsn))["charges"]
    keys = {c.idempotency_key for c in commands}
    made = Counter(r["idempotency_key"] for r in rows if r["idempotency_key"] in keys)
    assert made == dict.fromkeys(keys, 1)
    charge_of = {r["idempotency_key"]: str(r["id"]) for r in rows if r["idempotency_key"] in keys}
    assert [(type(o), getattr(o, "charge_id", None)) for o in outcomes] == [
        (pay.ChargeSucceeded, charge_of[c.idempotency_key]) for c in commands
    ]


async def test_a_fee_is_charged_on_top_and_a_full_refund_gives_it_back(
    rig: Rig, settings: Settings
) -> None:
    # given a charge of 1_234 with a fee of 66 (a deposit's or card payment's)
    command = replace(_charge(rig.payer), fee=66)
    # when the client charges the card, then refunds the whole charge
    charged = await rig.client.carry(command)
    assert isinstance(charged, pay.ChargeSucceeded)
    tx = command.transaction_id
    refund = RefundCharge(command_id=f"{tx}:refund", transaction_id=tx, wallet_id=command.wallet_id,
                          charge_id=charged.charge_id, amount=1_234, currency="USD",
                          idempotency_key=f"{tx}:refund", fee=66)  # fmt: skip
    refunded = await rig.client.carry(refund)
    # then pgw charged and refunded 1_300, and both answers name the amount and the fee
    assert isinstance(refunded, pay.ChargeRefunded)
    assert [(o.amount, o.fee) for o in (charged, refunded)] == [(1_234, 66), (1_234, 66)]
    rows = await pgw_rows(settings.postgres_dsn)
    (charge,) = [r for r in rows["charges"] if r["idempotency_key"] == command.idempotency_key]
    (back,) = [r for r in rows["refunds"] if r["idempotency_key"] == refund.idempotency_key]
    assert (charge["amount"], back["amount"], charge["refunded_amount"]) == (1_300, 1_300, 1_300)


@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_create_first_seen_past_its_deadline_fails_and_moves_no_money(
    world: tuple[Payer, ServiceTokens], started: StackUnderTest, settings: Settings, kind: str
) -> None:
    payer_, tokens = world
    make, table, _ = KINDS[kind]
    command = make(payer_)
    client = ProviderClient(settings.pgw_svc_url, tokens, timeout_s=2, max_backoff_s=0.2)
    # given the provider stopped
    await asyncio.to_thread(started.stop_apps, ["pgw_svc"])
    try:
        # when the client carries a charge or payout due within a second
        deadline = datetime.now(UTC) + timedelta(seconds=1)
        carried = asyncio.create_task(client.carry(command, deadline))
        # then past the deadline, the provider still unreachable, it has not guessed
        await asyncio.sleep(2.5)
        assert not carried.done()
    finally:
        await asyncio.to_thread(started.start_apps, ["pgw_svc"])
    # and once the provider answers, the answer is a failure: deadline_passed
    try:
        outcome = await asyncio.wait_for(carried, 30)
    finally:
        await client.aclose()
    assert isinstance(outcome, (pay.ChargeFailed, pay.PayoutFailed)), outcome
    assert outcome.failure_reason == "deadline_passed"
    # and the provider keeps it so, having moved nothing
    rows = [r for r in (await pgw_rows(settings.postgres_dsn))[table]
            if r["idempotency_key"] == command.idempotency_key]  # fmt: skip
    assert [(r["status"], r["failure_reason"]) for r in rows] == [("failed", "deadline_passed")]
    assert rows[0].get("captured_amount", 0) == 0


@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_create_made_in_time_is_answered_the_same_past_its_deadline(
    rig: Rig, settings: Settings, kind: str
) -> None:
    make, table, _ = KINDS[kind]
    command = make(rig.payer)
    # given a charge or payout the provider made before its deadline
    first = await rig.client.carry(command, datetime.now(UTC) + timedelta(minutes=1))
    assert isinstance(first, (pay.ChargeSucceeded, pay.PayoutSucceeded)), first
    # when the same create is sent again after the deadline
    again = await rig.client.carry(command, datetime.now(UTC) - timedelta(seconds=1))
    # then the provider answers with what it made: the one succeeded charge or payout
    assert again == first
    assert await _made(settings, table, command.idempotency_key) == [_made_id(first)]
