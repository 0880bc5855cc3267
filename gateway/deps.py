"""The gateway's typed application state and the dependency that hands it to handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from common.state import ServiceState, state_dependency
from gateway.openapi import OpenApiAggregator
from gateway.proxy import Proxy


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayApp(ServiceState):
    """What the gateway's handlers use, made by ``main.create_app``'s lifespan."""

    proxy: Proxy  # forwarding, with authentication and rate limits
    openapi: OpenApiAggregator  # the public API's document, merged from the services'


App = Annotated[GatewayApp, Depends(state_dependency(GatewayApp))]
