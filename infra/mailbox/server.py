"""An SMTP server that accepts every message and keeps it as one ``.eml`` file.

The local stack and the test stacks run it in place of a mail relay, so notifications go
through real SMTP and a test reads what arrived (``infra.mailbox.reader``). Each file is
the message as received, after two headers naming the SMTP envelope (``X-Envelope-From``,
``X-Envelope-To``); it is written under a dot name and renamed, so a reader never sees
half a message. Nothing is ever relayed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
import uuid
from pathlib import Path

import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("paystream.mailbox")


class SaveToFolder:
    """The aiosmtpd handler: every accepted message becomes a file in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        draft = self.folder / f".{name}"
        draft.write_bytes(head + content)
        os.replace(draft, self.folder / name)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, folder: Path) -> None:
    handler = SaveToFolder(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="mailbox.local"), host, port)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    log.info("mailbox listening on %s:%d, keeping mail in %s", host, port, folder)
    async with server:
        await stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11025)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    # aiosmtpd logs every SMTP command at INFO: a tenth of the server's CPU and a log
    # line per command; its warnings and errors still show
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    uvloop.run(serve(args.host, args.port, args.folder))


if __name__ == "__main__":
    main()
