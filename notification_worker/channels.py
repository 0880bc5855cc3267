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
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib

from notification_worker.render import Rendered


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
        self._smtp = aiosmtplib.SMTP(hostname=host, port=port, timeout=timeout_s)
        self._lock = asyncio.Lock()

    def message(self, notification_id: str, to: Recipient, rendered: Rendered) -> Message:
        """The mail: with the plain text (and the HTML, if any) as ``email.mime`` parts,
        UTF-8 (base64); building it with ``EmailMessage.set_content`` parsed every
        header it set again and cost half as much again as sending it."""
        parts = [MIMEText(rendered.text, "plain", "utf-8")]
        if rendered.html is not None:
            parts.append(MIMEText(rendered.html, "html", "utf-8"))
        mail: Message = (
            MIMEMultipart("alternative", _subparts=parts, policy=SMTP_POLICY)
            if len(parts) > 1
            else parts[0]
        )
        mail["From"] = self.sender
        mail["To"] = to.email
        mail["Subject"] = rendered.subject
        mail["Message-ID"] = make_msgid(idstring=notification_id, domain="paystream.local")
        return mail

    async def send(self, notification_id: str, to: Recipient, message: Rendered) -> None:
        mail = self.message(notification_id, to, message)
        async with self._lock:
            try:
                if not self._smtp.is_connected:
                    await self._smtp.connect()
                await self._smtp.send_message(mail)
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
