"""Delivery channels behind one interface: email over SMTP, SMS and push through
provider adapters (a simulated provider for both until real ones are contracted).

A channel raises ``ProviderRefused`` when the provider said no (worth retrying, then a
failure) and lets connection errors (``OSError``) through: those are outages, which the
consumer runtime waits out without failing anything.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import make_msgid, parseaddr
from io import BytesIO
from typing import Protocol

import aiosmtplib

from notification_worker.render import Rendered

# how a mail is written for the wire: the ``compat32`` policy with CRLF line ends
WIRE = compat32.clone(linesep="\r\n")


class ProviderRefused(Exception):
    """The provider refused the message (a simulated failure, an SMTP error answer)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    email: str
    full_name: str


class Channel(Protocol):
    """Sends one rendered notification to one recipient."""

    name: str

    async def send(self, notification_id: str, to: Recipient, message: Rendered) -> None: ...


class SmtpEmail:
    """Email through an SMTP relay (aiosmtplib): a multipart/alternative message with the
    plain text and the HTML body; its Message-ID is made from the notification id, so a
    mail sent twice after a crash can be recognised by the receiver. One connection is
    kept open and reused (mails go out one at a time); a dropped one is opened again."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout_s: float) -> None:
        self.sender = sender
        self.envelope_from = parseaddr(sender)[1]
        self._smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=timeout_s)
        self._lock = asyncio.Lock()

    def message(self, notification_id: str, to: Recipient, rendered: Rendered) -> bytes:
        """The mail as sent: the plain text (and the HTML, if any) as ``email.mime`` parts,
        UTF-8 (base64), a non-ASCII subject RFC 2047 encoded. Built on the ``compat32``
        message, which keeps each header as given: the default policy parsed every header
        again when it was set, and with ``send_message`` reading the addresses back out of
        the headers that was half of the worker's CPU per mail (bench/notification_cost.py
        and docs/benchmarks.md)."""
        parts = [MIMEText(rendered.text, "plain", "utf-8")]
        if rendered.html is not None:
            parts.append(MIMEText(rendered.html, "html", "utf-8"))
        mail: Message = (
            MIMEMultipart("alternative", _subparts=parts) if len(parts) > 1 else parts[0]
        )
        subject = rendered.subject
        mail["From"] = self.sender
        mail["To"] = to.email
        mail["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
        mail["Message-ID"] = make_msgid(idstring=notification_id, domain="paystream.local")
        wire = BytesIO()
        BytesGenerator(wire, policy=WIRE).flatten(mail)
        return wire.getvalue()

    async def send(self, notification_id: str, to: Recipient, message: Rendered) -> None:
        mail = self.message(notification_id, to, message)
        async with self._lock:
            try:
                if not self._smtp.is_connected:
                    await self._smtp.connect()
                await self._smtp.sendmail(self.envelope_from, [to.email], mail)
            except (
                aiosmtplib.SMTPConnectError,
                aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPServerDisconnected,
            ) as exc:
                self._smtp.close()
                raise ConnectionError(f"smtp: {exc}") from exc  # an outage, not a refusal
            except aiosmtplib.SMTPException as exc:
                raise ProviderRefused(f"smtp: {exc}") from exc

    async def aclose(self) -> None:
        async with self._lock:
            if self._smtp.is_connected:
                self._smtp.close()


class SimulatedProvider:
    """An SMS or push provider stand-in that refuses ``failure_share`` of messages at
    random and otherwise accepts them (addressed by user id: no phone numbers or device
    tokens are collected yet)."""

    def __init__(self, name: str, failure_share: float, rng: random.Random | None = None) -> None:
        self.name = name
        self.failure_share = failure_share
        self.rng = rng or random.Random()
        self.accepted = 0

    async def send(self, notification_id: str, to: Recipient, message: Rendered) -> None:
        if self.rng.random() < self.failure_share:
            raise ProviderRefused(f"{self.name}: simulated provider failure")
        self.accepted += 1
