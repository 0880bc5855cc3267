"""Composition root of notification_worker: the notifications API and, in the same
process, the notifier that consumes user, wallet, transaction and payment events and
delivers notifications (``notification_worker.notifier``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.app import build_app
from common.kafka.mongo_offsets import MongoOffsets
from common.kafka.tracked import TrackedConsumer
from common.resources import Resources
from common.service_token import ServiceTokens
from common.state import install
from common.topics import PAYMENT_EVENTS, TRANSACTION_EVENTS, USER_EVENTS, WALLET_EVENTS
from common.worker import running
from notification_worker import api, store
from notification_worker.channels import Channel, SimulatedProvider, SmtpEmail
from notification_worker.deps import NotificationApp
from notification_worker.links import UserSvcLinks
from notification_worker.notifier import Notifier
from notification_worker.recipients import Recipients
from notification_worker.settings import NotificationSettings

GROUP = "notification-worker"
TOPICS = (USER_EVENTS, WALLET_EVENTS, TRANSACTION_EVENTS, PAYMENT_EVENTS)
BATCH_MAX = 500


def channels(s: NotificationSettings, email: SmtpEmail) -> dict[str, Channel]:
    return {
        "email": email,
        "sms": SimulatedProvider("sms", s.sms_failure_share),
        "push": SimulatedProvider("push", s.push_failure_share),
    }


def create_app(s: NotificationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(s)
        tokens = ServiceTokens.from_settings(s)
        links = UserSvcLinks(s.user_svc_url, tokens, s.web_url)
        recipients = Recipients(s.user_svc_url, s.wallet_svc_url, tokens)
        email = SmtpEmail(s.smtp_host, s.smtp_port, s.mail_from, s.smtp_timeout_s)
        try:
            await resources.open(kafka=True, mongo=True, redis=True)
            producer, mongo = resources.producer, resources.mongo
            assert producer is not None and mongo is not None
            verifier = await resources.token_verifier()
            app.state.ready_checks.update(resources.checks)
            db = mongo[s.mongo_db]
            await store.ensure_indexes(db)
            tracked = TrackedConsumer.of_group(
                s, GROUP, TOPICS, Notifier(s, channels(s, email), links, recipients, producer),
                MongoOffsets(db[store.OFFSETS], GROUP), producer, batch_max=BATCH_MAX,
            )  # fmt: skip
            install(app, NotificationApp(verifier=verifier, settings=s, db=db))
            async with running(tracked, "notifier"):
                yield
        finally:
            await links.aclose()
            await recipients.aclose()
            await email.aclose()
            await tokens.aclose()
            await resources.close()

    app = build_app(s.service_name, lifespan)
    app.include_router(api.router)
    return app
