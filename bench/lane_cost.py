"""CPU per request of what every request gets (ids, trace span, metrics, access line) on
the fast lane, with the access line written and without it, in the same run.

    uv run python -m bench.lane_cost --requests 20000 --repeat 3

Drives a fast route with a trivial handler in-process (no sockets, no server): what is
measured is common.context.ServedRequest, the lane's own work and, with ``INFO``, the
JSON access line through common.logging's formatter (written to /dev/null).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time

from starlette.types import Message, Scope

from common.app import asgi_app, build_app
from common.fastlane import FastRequest, FastResponse, FastRoute, json_response
from common.logging import configure_logging

SCOPE: Scope = {
    "type": "http",
    "method": "POST",
    "path": "/transfers",
    "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer x")],
    "query_string": b"",
}


async def accept(request: FastRequest) -> FastResponse:
    await request.body()
    return json_response(202, {"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"})


async def cost(level: str, requests: int) -> float:
    """µs of CPU per request with the root logger at ``level``."""
    app = build_app("lane_cost")
    app.state.fast_routes.append(FastRoute("POST", "/transfers", "/transfers", accept))
    lane = asgi_app(app)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        return None

    for _ in range(1000):  # warm-up: the label series, the caches
        await lane(dict(SCOPE), receive, send)
    t0 = time.process_time()
    for _ in range(requests):
        await lane(dict(SCOPE), receive, send)
    return (time.process_time() - t0) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"WARNING": [], "INFO": []}
    for _ in range(args.repeat):
        for level, costs in runs.items():
            configure_logging("lane_cost", level)
            (handler,) = logging.getLogger().handlers
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
            costs.append(asyncio.run(cost(level, args.requests)))
    for level, costs in runs.items():
        name = "access line" if level == "INFO" else "no access line"
        shown = " ".join(f"{c:.1f}" for c in costs)
        print(f"{name:15} {statistics.median(costs):5.1f} µs CPU/request  (rounds: {shown})")


if __name__ == "__main__":
    main()
