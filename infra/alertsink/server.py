"""An Alertmanager webhook receiver that keeps each notification as one JSON file.

Alertmanager routes every alert both to the on-call mail and to this webhook (the
``webhook_configs`` receiver a pager or chat bridge would take in production), so the
local stack shows what fired and a test reads what Alertmanager sent
(``infra.testing.alerts``). A file is written under a dot name and renamed, so a reader
never sees half of one. A body that is not a JSON object is refused (400) and not kept.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response


def create_app(folder: Path) -> FastAPI:
    folder.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="alert sink", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/alerts")
    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            notification = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Response(status_code=400)
        if not isinstance(notification, dict):
            return Response(status_code=400)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
        (folder / f".{name}").write_bytes(body)
        (folder / f".{name}").rename(folder / name)
        return Response(status_code=204)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9096)
    args = parser.parse_args()
    uvicorn.run(create_app(args.folder), host=args.host, port=args.port, log_level="warning")
