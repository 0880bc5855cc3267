"""Reading what the local SMTP server (``infra.mailbox.server``) kept, for tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Mail:
    """One received message: its SMTP recipients, headers and both bodies."""

    path: Path
    to: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: str = "plain") -> str:
        """The ``text/<subtype>`` part (plain or html)."""
        part = self.message.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part"
        return str(part.get_content())


def read_mail(folder: Path) -> list[Mail]:
    """Every message in ``folder``, oldest first."""
    if not folder.exists():
        return []
    mails = []
    for path in sorted(folder.glob("[!.]*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        to = tuple(a.strip() for a in str(message["X-Envelope-To"]).split(",") if a.strip())
        mails.append(Mail(path, to, message))
    return mails


async def wait_for_mail(
    folder: Path, match: Callable[[Mail], bool], count: int = 1, timeout: float = 60
) -> list[Mail]:
    """The messages matching ``match`` once there are ``count`` of them (AssertionError
    after ``timeout`` seconds, naming what did arrive)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in read_mail(folder) if match(m)]
        if len(found) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert len(found) >= count, f"{len(found)} of {count} messages; all: " + repr(
        [(m.to, m.subject) for m in read_mail(folder)]
    )
    return found
