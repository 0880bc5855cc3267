"""The ``paystream`` operator command against the running e2e stack, as an operator
runs it (the console script in a subprocess)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from common.kafka.producer import make_producer
from common.settings import Settings
from common.topics import WALLET_COMMANDS, dlq
from infra.local.stack import app_processes
from infra.testing.api import open_wallet, register
from infra.testing.kafka import read_records, wait_for
from infra.testing.operator import paystream
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e


def test_status_names_every_process_ready_and_every_dead_letter_topic(
    apps: StackUnderTest,
) -> None:
    # given the whole stack running; when the operator asks for its status
    run = paystream("status")
    # then every paystream process is ready, and each dead-letter topic has a row
    assert run.returncode in (0, 1), run.stderr
    lines = run.stdout.splitlines()
    for name in app_processes(apps.cfg):
        (row,) = [line for line in lines if f" {name} " in line]
        assert " ready " in row, row
    assert any("wallet-events.dlq" in line for line in lines)
    assert "Consumer lag" in run.stdout and "Sagas in flight" in run.stdout


async def test_tail_prints_a_topic_decoded_with_its_headers(api: httpx.AsyncClient) -> None:
    # given a wallet opened
    user = await register(api, "tailed")
    wallet = await open_wallet(api, user)
    # when the operator tails wallet-events from its beginning
    run = paystream("tail", "wallet-events", "--from-beginning", "--until-end")
    # then the wallet's WalletOpened is shown with its type header and decoded payload
    assert run.returncode == 0, run.stderr
    assert wallet in run.stdout and '"type": "WalletOpened"' in run.stdout


async def dead_letter(settings: Settings) -> tuple[bytes, str]:
    """Append a record the wallet decider cannot read and wait until it dead-lettered
    it; its key and origin (topic:partition:offset)."""
    producer = make_producer(settings.kafka_bootstrap, "operator-cli-test")
    await producer.start()
    try:
        key = f"not-a-wallet-{uuid.uuid4().hex}".encode()
        meta = await producer.send_and_wait(WALLET_COMMANDS, b"not an envelope", key=key)
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        records = await read_records(settings.kafka_bootstrap, dlq(WALLET_COMMANDS))
        return any(r.key == key for r in records)

    await wait_for(dead_lettered, timeout=60)
    return key, f"{WALLET_COMMANDS}:{meta.partition}:{meta.offset}"


async def test_dlq_show_names_a_dead_letter_with_its_origin_and_error(
    apps: StackUnderTest, settings: Settings
) -> None:
    # given a record the wallet decider dead-lettered
    key, origin = await dead_letter(settings)
    # when the operator shows that topic's dead letters
    run = paystream("dlq", "show", WALLET_COMMANDS, "--limit", "100000")
    # then the record is there with its origin and the decoder's error
    assert run.returncode == 0, run.stderr
    (row,) = [line for line in run.stdout.splitlines() if origin in line]
    assert key.decode() in row and "Error" in row


async def test_dlq_replay_appends_commands_again_and_empties_the_dead_letter_topic(
    apps: StackUnderTest, settings: Settings
) -> None:
    # given a command dead-lettered by the decider
    key, origin = await dead_letter(settings)
    _, partition, offset = origin.split(":")
    dead = [
        r
        for r in await read_records(settings.kafka_bootstrap, dlq(WALLET_COMMANDS))
        if r.key == key
    ]
    # when the operator replays wallet-commands' dead letters
    run = paystream("dlq", "replay", WALLET_COMMANDS)
    assert run.returncode == 0, run.stderr
    # then the command is on its partition of wallet-commands again, after its first copy
    again = [
        r
        for r in await read_records(settings.kafka_bootstrap, WALLET_COMMANDS)
        if r.key == key and r.offset > int(offset)
    ]
    assert again and again[0].partition == int(partition) and again[0].value == b"not an envelope"
    assert not [k for k, _ in again[0].headers if k.startswith("dlq_")]
    # and the dead-letter topic no longer holds it (its start offset moved past it)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(dead[0].topic, dead[0].partition)
        assert (await consumer.beginning_offsets([tp]))[tp] > dead[0].offset
    finally:
        await consumer.stop()
