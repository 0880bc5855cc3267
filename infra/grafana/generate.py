"""``python -m infra.grafana.generate``: write the Grafana dashboards of ``panels.py``
as JSON into infra/grafana/dashboards/ (provisioned into the Docker setup's Grafana).

The JSON files are committed; tests/unit/test_dashboards.py checks they equal what this
writes, so edit ``panels.py`` and run this, never the JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.grafana.panels import DASHBOARDS, Dashboard, Panel

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources
WIDTH, HEIGHT = 12, 8


def panel_json(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": HEIGHT, "w": WIDTH, "x": (index % 2) * WIDTH, "y": (index // 2) * HEIGHT},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": t.expr,
                "legendFormat": t.legend,
            }
            for i, t in enumerate(panel.queries)
        ],
    }


def dashboard_json(board: Dashboard) -> dict[str, Any]:
    return {
        "uid": board.uid,
        "title": board.title,
        "description": board.description,
        "tags": ["paystream"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": [panel_json(p, i) for i, p in enumerate(board.panels)],
    }


def file_name(board: Dashboard) -> str:
    return f"{board.uid}.json"


def rendered() -> dict[str, str]:
    """file name -> the JSON text of each dashboard."""
    return {
        file_name(b): json.dumps(dashboard_json(b), indent=2, ensure_ascii=False) + "\n"
        for b in DASHBOARDS
    }


def main() -> None:
    OUT.mkdir(exist_ok=True)
    wanted = rendered()
    for stale in OUT.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
