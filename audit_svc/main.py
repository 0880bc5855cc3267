"""Composition root of audit_svc: the audit API and, in the same process, the audit
projector that appends every recorded event to the log (its one writer)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from audit_svc import api
from audit_svc.deps import AuditApp
from audit_svc.projector import audit_consumer
from audit_svc.store import MongoAuditLog
from common.app import build_app
from common.auth import JwksVerifier
from common.resources import Resources
from common.revocation import RevokedSessions
from common.settings import Settings
from common.state import install

log = logging.getLogger("paystream.audit_svc")


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings)
        revoked = RevokedSessions()
        verifier = JwksVerifier(
            settings.jwks_url, settings.jwt_issuer, settings.jwt_audience, revoked=revoked
        )
        projecting: asyncio.Task[None] | None = None
        try:
            await resources.open(kafka=True, mongo=True, redis=True)
            producer, mongo, redis = resources.producer, resources.mongo, resources.redis
            assert producer is not None and mongo is not None and redis is not None
            await revoked.start(redis)
            app.state.ready_checks.update(resources.checks)
            db = mongo[settings.mongo_db]
            audit_log = MongoAuditLog(db)
            await audit_log.ensure_indexes()
            tracked = audit_consumer(settings, db, producer)
            await tracked.start()
            projecting = asyncio.create_task(tracked.run(), name="audit-projector")
            projecting.add_done_callback(_exit_if_crashed)
            install(app, AuditApp(verifier=verifier, log=audit_log, producer=producer))
            yield
        finally:
            if projecting is not None:
                projecting.cancel()
                await asyncio.gather(projecting, return_exceptions=True)
                await tracked.stop()
            await revoked.stop()
            await verifier.aclose()
            await resources.close()

    app = build_app(settings.service_name, lifespan)
    app.include_router(api.router)
    return app


def _exit_if_crashed(task: asyncio.Task[None]) -> None:
    """A projector that died stops the process (as common.worker does): a supervisor
    restarts it and it resumes from its stored offsets."""
    if not task.cancelled() and task.exception() is not None:
        log.error("audit projector crashed", exc_info=task.exception())
        os._exit(70)
