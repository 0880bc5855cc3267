"""Composition root of audit_svc: the audit API and, in the same process, the audit
projector that appends every recorded event to the log (its one writer) and the watch
that verifies the chain every ``audit_verify_interval_s`` (what was appended since, and
a slice of older records in turn). The log has a database of its own
(``audit_mongo_db``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from audit_svc import api
from audit_svc.backfill import backfill_keys
from audit_svc.chain_watch import ChainWatch
from audit_svc.deps import AuditApp
from audit_svc.own_database import move_log
from audit_svc.projector import audit_consumer
from audit_svc.settings import AuditSettings
from audit_svc.store import MongoAuditLog
from common.app import build_app
from common.resources import Resources
from common.state import install
from common.worker import running


def create_app(settings: AuditSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings)
        try:
            await resources.open(kafka=True, mongo=True, redis=True)
            producer, mongo = resources.producer, resources.mongo
            assert producer is not None and mongo is not None
            verifier = await resources.token_verifier()
            app.state.ready_checks.update(resources.checks)
            db = mongo[settings.audit_mongo_db]
            audit_log = MongoAuditLog(db)  # the API's reader; the projector has its own
            await audit_log.ensure_indexes()
            await move_log(mongo[settings.mongo_db], db)  # a log an earlier version kept there
            await backfill_keys(db)  # records of an earlier version, before anyone reads
            install(app, AuditApp(verifier=verifier, log=audit_log, producer=producer))
            projector = audit_consumer(settings, db, producer)
            watch = ChainWatch(
                audit_log,
                settings.audit_verify_interval_s,
                settings.audit_verify_sweep,
                behind=projector.behind,  # a round waits while the projector catches up
            )
            async with (
                running(projector, "audit-projector"),
                running(watch, "audit-chain-watch"),
            ):
                yield
        finally:
            await resources.close()

    app = build_app(settings.service_name, lifespan)
    app.include_router(api.router)
    return app
