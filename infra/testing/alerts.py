"""What Alertmanager sent to the stack's webhook receiver (``infra.alertsink``): one
notification per file, each with its ``alerts`` (labels, annotations, status)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from infra.testing.kafka import wait_for

Alert = dict[str, Any]


def read_alerts(folder: Path) -> list[Alert]:
    """Every alert of every notification received so far, oldest first, each with the
    notification's ``status`` and ``receiver`` beside its own fields."""
    alerts: list[Alert] = []
    for path in sorted(folder.glob("[!.]*.json")) if folder.exists() else []:
        notification = orjson.loads(path.read_bytes())
        for alert in notification.get("alerts", []):
            alerts.append({**alert, "receiver": notification.get("receiver"), "file": path.name})
    return alerts


async def wait_for_alert(
    folder: Path, match: Callable[[Alert], bool], timeout: float = 150
) -> Alert:
    """The first alert received that ``match`` accepts (AssertionError after ``timeout``)."""
    found: list[Alert] = []

    def seen() -> bool:
        found[:] = [a for a in read_alerts(folder) if match(a)]
        return bool(found)

    await wait_for(seen, timeout=timeout, interval=1.0)
    return found[0]
