"""The gateway's OpenAPI document tells the truth: schemathesis runs every operation in it
with every check, a bounded number of examples each, as a signed-in user, and finds no
server error and no conformance failure (statuses, content types, headers, bodies)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import register

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES_PER_OPERATION = 10
TIMEOUT_S = 600


async def _schemathesis(gateway: str, token: str) -> str:
    """Run schemathesis on the gateway's document with every check; its report, after
    asserting it found nothing (its exit code is non-zero on any failure or error)."""
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{gateway}/openapi.json",
        "--url", gateway, "-H", f"Authorization: Bearer {token}",
        "--checks", "all", "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--workers", "2", "--request-timeout", "40", "--no-color",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-20_000:]
    return report


async def test_schemathesis_finds_no_server_error_and_no_conformance_failure(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a signed-in user and the gateway's aggregated document
    user = await register(api, "fuzzer")
    # when schemathesis runs every operation with all its checks: it finds nothing
    report = await _schemathesis(settings.gateway_url, user.token)
    # and every operation of the document was tested
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected is not None, report[-5_000:]
    assert selected[1] == selected[2] == selected[3] and int(selected[2]) >= 20, selected[0]
