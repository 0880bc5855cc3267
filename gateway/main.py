"""Composition root of the gateway: the single public entry for ``/api/v1/*``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from common.app import build_app
from common.fastlane import FastRequest, FastResponse, FastRoute
from common.resources import Resources
from common.responses import OrjsonResponse
from common.state import install, installed
from gateway.deps import App, GatewayApp
from gateway.openapi import OpenApiAggregator
from gateway.proxy import Proxy
from gateway.ratelimit import RedisRateLimiter
from gateway.routes import API_PREFIX, DEFAULT_TABLE
from gateway.settings import GatewaySettings
from gateway.upstreams import make_upstreams

FORWARD_ROUTE = API_PREFIX + "/{path:path}"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
JWKS_PATH = "/.well-known/jwks.json"
DOCS_ASSETS = "/docs/assets"
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Prefer",
    "X-Request-ID",
    "X-Correlation-ID",
    "traceparent",
    "tracestate",
]
CORS_EXPOSED_HEADERS = [
    "X-Request-ID",
    "X-Correlation-ID",
    "traceparent",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
]


def create_app(s: GatewaySettings) -> FastAPI:
    """The gateway app."""
    # httpx (the JWKS fetch) logs every request at INFO
    logging.getLogger("httpx").setLevel(logging.WARNING)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(s)
        upstreams = make_upstreams(s)
        try:
            await resources.open(redis=True)
            assert resources.redis is not None
            timeout = httpx.Timeout(s.upstream_timeout_s, connect=s.upstream_connect_timeout_s)
            verifier = await resources.token_verifier(httpx.AsyncClient(timeout=timeout))
            app.state.ready_checks.update(resources.checks)
            for up in upstreams.values():
                app.state.ready_checks[f"upstream:{up.name}"] = up.check_health
            limiter = RedisRateLimiter(
                resources.redis,
                s.rate_limit_ip_per_minute,
                s.rate_limit_user_per_minute,
                s.rate_limit_window_s,
            )
            proxy = Proxy(s, DEFAULT_TABLE, upstreams, verifier, limiter)
            openapi = OpenApiAggregator(upstreams, DEFAULT_TABLE, s.openapi_cache_ttl_s)
            install(app, GatewayApp(verifier=verifier, proxy=proxy, openapi=openapi))
            yield
        finally:
            for up in upstreams.values():
                await up.close()  # its connection pool
            await resources.close()

    # The gateway forwards bodies as bytes; each service reads them (common.body.BodyGuard).
    cors = Middleware(
        CORSMiddleware,
        allow_origins=s.cors_origins,
        allow_methods=METHODS,
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=600,
    )
    # CORS inside the request observer (common.context): a preflight it answers gets ids,
    # metrics and an access line like any request.
    app = build_app(
        s.service_name, lifespan, None, check_bodies=False, middleware=[cors],
        openapi_url=None, docs_url=None, redoc_url=None,
    )  # fmt: skip

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(app: App) -> OrjsonResponse:
        return OrjsonResponse(await app.openapi.document())

    # Swagger UI's files from the swagger-ui-bundle package, not a CDN: /docs works offline
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="paystream API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )

    @app.api_route(JWKS_PATH, methods=["GET", "HEAD"], include_in_schema=False)
    async def jwks(app: App, request: Request) -> Response:
        fast = FastRequest.of(request, s.max_body_bytes)
        return (await app.proxy.handle(fast, JWKS_PATH, "")).to_starlette()

    async def forward_fast(request: FastRequest) -> FastResponse:
        proxy = installed(request.state, GatewayApp).proxy
        return await proxy.handle(request, request.path[len(API_PREFIX) :], API_PREFIX)

    @app.api_route(FORWARD_ROUTE, methods=METHODS, include_in_schema=False)
    async def forward(request: Request) -> Response:
        return (await forward_fast(FastRequest.of(request, s.max_body_bytes))).to_starlette()

    # Forwarding is the gateway's hot path: the fast lane serves it (a request with an
    # Origin header goes the full way, through the CORS middleware).
    app.state.fast_routes.append(
        FastRoute(None, API_PREFIX + "/", FORWARD_ROUTE, forward_fast, True, s.max_body_bytes)
    )
    app.state.fast_lane_bypass = ("origin",)
    return app
