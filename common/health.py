"""``/health`` (the process is alive) and ``/ready`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from common.errors import problem_response
from common.responses import OrjsonResponse

ReadyCheck = Callable[[], Awaitable[object]]


async def _run(check: ReadyCheck, timeout: float) -> str | None:
    """None when the check passes, else a short reason."""
    try:
        await asyncio.wait_for(check(), timeout)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


async def run_checks(checks: dict[str, ReadyCheck], timeout: float = 2.0) -> dict[str, str]:
    """Run every check concurrently; name -> "ok" or the reason it failed."""
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[n], timeout) for n in names))
    return {n: r or "ok" for n, r in zip(names, results, strict=True)}


def install_health(app: FastAPI, checks: dict[str, ReadyCheck]) -> None:
    """Add the two probes; ``checks`` may be filled in later (e.g. by the lifespan)."""

    @app.get("/health", include_in_schema=False)
    async def health() -> OrjsonResponse:
        return OrjsonResponse({"status": "ok"})

    @app.get("/ready", include_in_schema=False)
    async def ready() -> OrjsonResponse:
        results = await run_checks(checks)
        if all(v == "ok" for v in results.values()):
            return OrjsonResponse({"status": "ready", "checks": results})
        return problem_response(503, "not_ready", "a dependency is not answering", checks=results)
