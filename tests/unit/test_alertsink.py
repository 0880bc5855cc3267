"""The alert webhook receiver keeps each notification whole as one file and refuses what
is not a JSON object; the reader flattens notifications into alerts."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from infra.alertsink.server import create_app
from infra.testing.alerts import read_alerts


def test_a_notification_is_kept_and_read_back_as_its_alerts(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path))
    notification = {
        "receiver": "oncall",
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "ServiceDown", "job": "gateway"}},
            {"status": "resolved", "labels": {"alertname": "ServiceDown", "job": "pgw_svc"}},
        ],
    }
    assert client.post("/alerts", content=orjson.dumps(notification)).status_code == 204
    [kept] = list(tmp_path.glob("*.json"))
    assert orjson.loads(kept.read_bytes()) == notification
    alerts = read_alerts(tmp_path)
    assert [(a["labels"]["job"], a["status"], a["receiver"]) for a in alerts] == [
        ("gateway", "firing", "oncall"),
        ("pgw_svc", "resolved", "oncall"),
    ]


def test_what_is_not_a_json_object_is_refused_and_not_kept(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path))
    for body in (b"not json", b"[1, 2]", b""):
        assert client.post("/alerts", content=body).status_code == 400
    assert list(tmp_path.iterdir()) == []
