"""CPU per notification: notification_worker's notifier, FerretDB and the SMTP mailbox.

Drives ``--transfers`` ``TransferCompleted`` events (each tells the sender and the payee:
two mails and two pushes with the default preferences) through the real ``Notifier`` in
batches of ``--batch`` records, as the tracked consumer hands them over, on a fresh
database whose ``--users`` users and their wallets are projected first (as the registrations
and wallet openings before the transfers are). Mail goes over SMTP to the stack's mailbox,
outcomes to ``notification-events`` on Kafka. The Kafka fetch is left out (the records are
made here), so the figures are what the notifier's own work costs.

Prints one JSON object: notifications (claims made), mails received, wall time, and CPU
ms per 1,000 notifications of this process, of FerretDB (``--mongo-pid``) and of the
mailbox (``--smtp-pid``), read from ``/proc/<pid>/stat``, plus the Mongo commands sent
per notification. On a shared machine the CPU per notification is what to compare.

Run on a stack's backing services (``python -m infra.local up --backing-only``, with the
same ``PAYSTREAM_*`` environment): ``python -m bench.notification_cost --mongo-pid "$(cat
$PAYSTREAM_RUN_DIR/pids/mongo.pid)" --smtp-pid "$(cat $PAYSTREAM_RUN_DIR/pids/smtp.pid)"``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener, CommandStartedEvent

from bench.proc import cpu_of, own_cpu
from common.kafka.producer import make_producer
from common.kafka.tracked import Tracked
from common.service_token import ServiceTokens
from common.topics import TRANSACTION_EVENTS
from contracts.envelope import Envelope
from contracts.transaction import TransferCompleted
from notification_worker import store
from notification_worker.channels import SmtpEmail
from notification_worker.links import UserSvcLinks
from notification_worker.main import channels
from notification_worker.notifier import Notifier
from notification_worker.recipients import Recipients
from notification_worker.settings import NotificationSettings


class Commands(CommandListener):
    """Counts the Mongo commands sent, by name."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        self.names[event.command_name] += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def records(transfers: int, users: int) -> list[ConsumerRecord[bytes, bytes]]:
    """``transfers`` completions between the wallets of ``users`` users, as consumed."""
    out = []
    for i in range(transfers):
        event = TransferCompleted(transaction_id=f"t-{uuid.uuid4()}",
                                  from_wallet_id=f"w-{i % users}",
                                  to_wallet_id=f"w-{(i + 1) % users}",
                                  amount=1250 + i, currency="EUR")  # fmt: skip
        envelope = Envelope.of(event, key=event.transaction_id, producer="transaction_svc")
        record = ConsumerRecord(topic=TRANSACTION_EVENTS, partition=i % 3, offset=i,
                                timestamp=0, timestamp_type=0, key=None,
                                value=envelope.to_bytes(), checksum=None,
                                serialized_key_size=0, serialized_value_size=0,
                                headers=[("type", b"TransferCompleted")])  # fmt: skip
        out.append(record)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    s = NotificationSettings(service_name="bench_notifications")
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        s.mongo_url, tz_aware=True, event_listeners=[commands]
    )
    db = client[f"bench_notify_{uuid.uuid4().hex[:8]}"]
    tokens = ServiceTokens(
        s.user_svc_url, "bench", SecretStr("unused")
    )  # every recipient is projected
    links = UserSvcLinks(s.user_svc_url, tokens, s.web_url)
    recipients = Recipients(s.user_svc_url, s.wallet_svc_url, tokens)
    email = SmtpEmail(s.smtp_host, s.smtp_port, s.mail_from, s.smtp_timeout_s)
    producer = make_producer(s.kafka_bootstrap, "bench-notifications")
    await producer.start()
    run_dir = os.environ.get("PAYSTREAM_RUN_DIR")
    mail = Path(run_dir) / "mail" if run_dir else None  # where the mailbox keeps them
    try:
        await store.ensure_indexes(db)
        for u in range(args.users):
            await store.remember_user(db, f"u-{u}", f"user{u}@example.com", f"User {u}")
            await store.remember_wallet(db, f"w-{u}", f"u-{u}")
        notifier = Notifier(s, channels(s, email), links, recipients, producer)
        consumed = [Tracked(r, notifier.decode(r)) for r in records(args.transfers, args.users)]
        warm_up = [Tracked(r, notifier.decode(r)) for r in records(2, args.users)]
        await notifier.apply(warm_up, db)
        commands.names.clear()
        mailed_before = _mails(mail)
        before = _cpu(args)
        started = time.perf_counter()
        for at in range(0, len(consumed), args.batch):
            await notifier.apply(consumed[at : at + args.batch], db)
        wall = time.perf_counter() - started
        after = _cpu(args)
        made = await db[store.NOTIFICATIONS].count_documents({}) - 4 * len(warm_up)
        per_k = {f"{name}_cpu_ms_per_1k": round((after[name] - before[name]) / made * 1e6)
                 for name in before}  # fmt: skip
        return {
            "transfers": args.transfers,
            "batch": args.batch,
            "notifications": made,
            "mails": _mails(mail) - mailed_before,
            "seconds": round(wall, 2),
            **per_k,
            "total_cpu_ms_per_1k": sum(per_k.values()),
            "mongo_commands_per_notification": {
                name: round(n / made, 3) for name, n in commands.names.most_common()
            },
        }
    finally:
        await client.drop_database(db.name)
        await client.close()
        await producer.stop()
        await email.aclose()
        await links.aclose()
        await recipients.aclose()
        await tokens.aclose()


def _cpu(args: argparse.Namespace) -> dict[str, float]:
    """CPU seconds used so far: this process's, FerretDB's and the mailbox's (when given)."""
    used = {"notifier": own_cpu()}
    if args.mongo_pid:
        used["ferretdb"] = cpu_of(args.mongo_pid)
    if args.smtp_pid:
        used["mailbox"] = cpu_of(args.smtp_pid)
    return used


def _mails(folder: Path | None) -> int:
    return len(list(folder.glob("*.eml"))) if folder and folder.exists() else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50, help="records per notifier batch")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--mongo-pid", type=int, help="FerretDB's pid: its CPU too")
    parser.add_argument("--smtp-pid", type=int, help="the mailbox's pid: its CPU too")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
