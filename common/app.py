"""The one way a paystream FastAPI app is assembled and served."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from common.body import BodyGuard
from common.context import RequestContextMiddleware
from common.corked import CorkedHttpToolsProtocol
from common.errors import install_problem_handlers
from common.fastlane import FastLane, FastRoute
from common.health import ReadyCheck, install_health
from common.logging import configure_logging
from common.metrics import install_metrics
from common.openapi import install_openapi
from common.responses import OrjsonResponse
from common.settings import Settings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
S = TypeVar("S", bound=Settings)  # a service's own settings class


def build_app(
    service: str,
    lifespan: Lifespan | None = None,
    ready_checks: dict[str, ReadyCheck] | None = None,
    *,
    check_bodies: bool = True,
    form_paths: frozenset[str] = frozenset(),
    body_limits: dict[str, int] | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A FastAPI app with problem+json errors, request context, metrics and probes.

    ``ready_checks`` is kept on ``app.state.ready_checks`` so a lifespan can add to it
    once its clients exist. Bodies and URLs are read by :class:`common.body.BodyGuard`
    (JSON only, but a form body on ``form_paths``; at most 64 KiB, but ``body_limits``
    for the paths it names) unless ``check_bodies`` is False.
    """
    app = FastAPI(
        title=service,
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
        **fastapi_kwargs,
    )
    checks: dict[str, ReadyCheck] = dict(ready_checks or {})
    app.state.ready_checks = checks
    app.state.service = service
    app.state.fast_routes = []  # FastRoute: hot endpoints served by the fast lane
    app.state.fast_lane_bypass = ()  # request headers that send a request the full way
    install_problem_handlers(app)
    install_openapi(app)
    install_health(app, checks)
    if check_bodies:
        app.add_middleware(BodyGuard, form_paths=form_paths, path_limits=body_limits)
    install_metrics(app)
    app.add_middleware(RequestContextMiddleware, service=service)
    return app


def asgi_app(app: FastAPI) -> ASGIApp:
    """What the server runs: the app, behind the fast lane when it registered routes."""
    routes: list[FastRoute] = app.state.fast_routes
    if not routes:
        return app
    return FastLane(app, app.state.service, routes, app.state, app.state.fast_lane_bypass)


def serve(app_factory: Callable[[S], FastAPI], settings: S) -> None:
    """Run one service: one event loop, uvloop and httptools (each response in one send),
    JSON logs. ``settings`` are of the service's own class, the one its factory takes."""
    configure_logging(settings.service_name, settings.log_level, settings.instance)
    app = app_factory(settings)
    # What exists at start (modules, the app) is never garbage: keep it out of every
    # collection, and collect the young generation less often. A request or a batch
    # allocates thousands of short-lived objects; with the default threshold (700) the
    # collector runs several times per request (measured: docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(
        asgi_app(app),
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http=CorkedHttpToolsProtocol,  # httptools, one send per response (common/corked.py)
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_drain_s,
        # Longer than any client pool's idle expiry (httpx: 5 s), so a client never sends
        # a request on a connection the server is closing at that instant.
        timeout_keep_alive=75,
    )
