"""``paystream``: the operator command (a console script of pyproject.toml).

- ``paystream status``: each process's readiness, consumer lag, sagas in flight and
  dead-letter topics' depth (exit 1 if a process is not ready or a DLQ holds records);
- ``paystream dlq show TOPIC``: the dead letters of TOPIC, with their origin and error;
- ``paystream dlq replay TOPIC``: a topic's dead letters appended again (a command to
  its topic, an event to the replay topic of the group it failed in), then deleted from
  its dead-letter topic;
- ``paystream verify``: the ledger verifier (``wallet_svc.verify``);
- ``paystream tail TOPIC``: TOPIC's records as they arrive, decoded, with their headers;
- ``paystream rebuild [wallets|directory] [--swap [--force]]``: a read model replayed
  from offset 0 into a fresh schema, its checksums compared with the live one's, swapped
  in if asked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console

from infra.ops.dlq import dlq_replay, dlq_show
from infra.ops.read_models import READ_MODELS
from infra.ops.rebuild import rebuild
from infra.ops.records import tail
from infra.ops.status import status
from infra.ops.target import Target
from wallet_svc.verify import verify as replay


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paystream", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="processes, lag, sagas in flight, dead letters")
    dlq_p = sub.add_parser("dlq", help="dead-letter topics")
    dlq_sub = dlq_p.add_subparsers(dest="dlq_command", required=True)
    show = dlq_sub.add_parser("show", help="the dead letters of a topic")
    show.add_argument("topic")
    show.add_argument("--limit", type=int, default=100)
    replay = dlq_sub.add_parser("replay", help="replay a topic's dead letters")
    replay.add_argument("topic")
    verify = sub.add_parser("verify", help="replay the log and check the ledger")
    verify.add_argument("--wait", type=float, default=30.0, help="seconds to await the projector")
    tail_p = sub.add_parser("tail", help="follow a topic, decoded")
    tail_p.add_argument("topic")
    tail_p.add_argument("--from-beginning", action="store_true")
    tail_p.add_argument("-n", "--count", type=int, default=None, help="stop after N records")
    tail_p.add_argument("--until-end", action="store_true", help="stop at the topic's end")
    rebuild_p = sub.add_parser("rebuild", help="replay a read model and compare")
    rebuild_p.add_argument("model", nargs="?", choices=sorted(READ_MODELS), default="wallets")
    rebuild_p.add_argument("--swap", action="store_true", help="make the rebuilt model live")
    rebuild_p.add_argument("--force", action="store_true", help="swap even when they differ")
    return p


def run(argv: list[str] | None = None, console: Console | None = None) -> int:
    args = parser().parse_args(argv)
    console = console or Console()
    target = Target.from_env()
    if args.command == "status":
        return asyncio.run(status(target, console))
    if args.command == "dlq" and args.dlq_command == "replay":
        return asyncio.run(dlq_replay(target.kafka_bootstrap, args.topic, console))
    if args.command == "dlq":
        return asyncio.run(dlq_show(target.kafka_bootstrap, args.topic, args.limit, console))
    if args.command == "tail":
        return asyncio.run(
            tail(
                target.kafka_bootstrap,
                args.topic,
                args.from_beginning,
                args.count,
                console,
                args.until_end,
            )
        )
    if args.command == "rebuild":
        model = READ_MODELS[args.model]
        return asyncio.run(rebuild(target.settings(), args.swap, args.force, console, model))
    return verify(target, args.wait, console)


def verify(target: Target, wait: float, console: Console) -> int:
    """Run the verifier against the target stack (its settings come from the environment)."""
    settings = target.settings()
    with console.status("replaying the log"):
        report = asyncio.run(replay(settings, wait=wait))
    console.print(report.format())
    return 0 if report.ok else 1


def main() -> None:
    try:
        sys.exit(run())
    except KeyboardInterrupt:
        sys.exit(130)
