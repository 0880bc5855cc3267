"""A paystream service skeleton: the app, its clients, and how it is run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from common.app import build_app
from common.resources import Resources
from common.settings import Settings


def skeleton_app(
    settings: Settings,
    *,
    postgres: bool = False,
    kafka: bool = False,
    mongo: bool = False,
    redis: bool = False,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """An app that opens the clients it needs (for ``/ready``; it has no handlers yet)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings)
        try:
            await resources.open(postgres=postgres, kafka=kafka, mongo=mongo, redis=redis)
            app.state.ready_checks.update(resources.checks)
            yield
        finally:
            await resources.close()

    return build_app(settings.service_name, lifespan, None, **fastapi_kwargs)
