"""The Docker path (docker-compose.yml, Prometheus and Grafana files) is consistent with the code.

No Docker engine is needed: the files are parsed and checked against the Python packages.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from infra.grafana.generate import OUT as DASHBOARDS
from infra.local.backing import ALERTMANAGER_CONFIG, EXPORTERS, ONCALL, prometheus_config
from infra.local.config import LocalConfig
from infra.testing.processes import (
    CLIENT_HOLDERS,
    PROCESSES,
    unknown_settings,
    unseeded_clients,
)

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("apache/kafka:3.9.1", "postgres:15", "mongo:7", "redis:7")
UNPINNED_IMAGES = ("prom/prometheus", "grafana/grafana")


@cache
def load(rel: str) -> Any:
    """Parse a YAML (or JSON) file of the repository, relative to its root."""
    text = (ROOT / rel).read_text()
    return json.loads(text) if rel.endswith(".json") else yaml.safe_load(text)


def compose() -> dict[str, Any]:
    return load("docker-compose.yml")["services"]


def built_services() -> list[str]:
    """Services built from the repository that are paystream processes (not the infra
    tools the image also carries, such as the alert webhook receiver ``infra.alertsink``)."""
    return [
        name
        for name, svc in compose().items()
        if "build" in svc and not str((svc.get("command") or ["", "", ""])[2]).startswith("infra.")
    ]


def one_shots() -> set[str]:
    """Built services others wait on to *finish* (topic creation and migrations)."""
    return {
        dep
        for svc in compose().values()
        for dep, cond in (svc.get("depends_on") or {}).items()
        if cond["condition"] == "service_completed_successfully" and "build" in compose()[dep]
    }


def long_running() -> list[str]:
    return [name for name in built_services() if name not in one_shots()]


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_backing_images_are_present() -> None:
    images = {svc.get("image", "") for svc in compose().values()}
    assert set(IMAGES) <= images
    assert set(UNPINNED_IMAGES) <= {image.split(":")[0] for image in images}


def scrape_jobs(config: dict[str, Any]) -> set[str]:
    """The paystream processes a Prometheus config scrapes (not itself nor the exporters)."""
    return {job["job_name"] for job in config["scrape_configs"]} - {"prometheus", *EXPORTERS}


def test_both_prometheus_configs_scrape_the_exporters_and_alert() -> None:
    local = yaml.safe_load(prometheus_config(LocalConfig.from_env()))
    docker = load("infra/prometheus/prometheus.docker.yml")
    for config in (local, docker):
        assert set(EXPORTERS) <= {job["job_name"] for job in config["scrape_configs"]}
        assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
        assert [Path(f).name for f in config["rule_files"]] == ["rules.yml", "alerts.yml"]


def test_both_alertmanager_configs_mail_and_post_every_alert() -> None:
    """Given both setups' Alertmanager configs, the one route's receiver both mails the
    on-call address and posts to a webhook receiver, resolved alerts included."""
    cfg = LocalConfig.from_env()
    local = yaml.safe_load(
        ALERTMANAGER_CONFIG.format(
            smtp_port=cfg.smtp_port, oncall=ONCALL, alertsink_port=cfg.alertsink_port
        )
    )
    docker = load("infra/prometheus/alertmanager.docker.yml")
    for config in (local, docker):
        [receiver] = [r for r in config["receivers"] if r["name"] == config["route"]["receiver"]]
        assert receiver["email_configs"][0]["to"] == ONCALL
        [hook] = receiver["webhook_configs"]
        assert hook["url"].endswith("/alerts") and hook["send_resolved"] is True
    assert str(cfg.alertsink_port) in local["receivers"][0]["webhook_configs"][0]["url"]


def test_compose_launcher_and_both_prometheus_configs_name_the_same_processes() -> None:
    """Given the launcher's processes, compose runs each (same module) and both
    Prometheus configs scrape each: a worker missing from one is a system where transfers
    never complete, or where no one sees it stop."""
    local = yaml.safe_load(prometheus_config(LocalConfig.from_env()))
    docker = load("infra/prometheus/prometheus.docker.yml")

    assert set(long_running()) == set(PROCESSES)
    assert scrape_jobs(docker) == set(PROCESSES)
    assert scrape_jobs(local) == set(PROCESSES)
    for name, module in PROCESSES.items():
        assert compose()[name]["command"] == ["python", "-m", module], name


@pytest.mark.parametrize("name", built_services())
def test_service_builds_root_dockerfile_and_runs_its_module(name: str) -> None:
    svc = compose()[name]
    build = svc["build"] if isinstance(svc["build"], dict) else {"context": svc["build"]}
    context = (ROOT / build["context"]).resolve()
    assert context == ROOT
    assert (context / build.get("dockerfile", "Dockerfile")).resolve() == ROOT / "Dockerfile"

    command = svc["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    assert argv[:2] == ["python", "-m"] and len(argv) == 3, argv
    module = argv[2]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"no module {module}"
    if spec.submodule_search_locations:  # a package runs through its __main__.py
        main = importlib.util.find_spec(f"{module}.__main__")
        assert main is not None and main.origin and Path(main.origin).is_file(), (
            f"{module}/__main__.py is missing"
        )
    else:
        assert 'if __name__ == "__main__":' in Path(spec.origin).read_text(), module

    env = env_of(svc)
    if name not in one_shots():
        assert env["PAYSTREAM_HTTP_HOST"] == "0.0.0.0" and env["PAYSTREAM_HTTP_PORT"] == "8000"
    assert env["PAYSTREAM_SERVICE_NAME"] == name
    unknown = unknown_settings(module, set(env))
    assert not unknown, f"not settings of {module}: {sorted(unknown)}"
    for dep, cond in (svc.get("depends_on") or {}).items():
        wanted = "service_completed_successfully" if dep in one_shots() else "service_healthy"
        assert dep in compose() and cond["condition"] == wanted, dep


def test_user_svc_seeds_the_service_client_each_holder_uses() -> None:
    """Given the processes that hold a service client's credentials, user_svc seeds that
    client with the same secret (else their tokens are refused)."""
    seeds = env_of(compose()["user_svc"])["PAYSTREAM_SEED_SERVICE_CLIENTS"]
    holders = {
        name: env_of(svc)
        for name, svc in compose().items()
        if "PAYSTREAM_SERVICE_CLIENT_ID" in env_of(svc)
    }
    assert set(holders) == CLIENT_HOLDERS
    assert not unseeded_clients(seeds, holders)


def test_bootstrap_runs_before_every_service() -> None:
    assert one_shots() == {"bootstrap"}
    assert compose()["bootstrap"]["command"] == ["python", "-m", "common.bootstrap"]
    for name in long_running():
        assert "bootstrap" in compose()[name]["depends_on"], name


def test_prometheus_scrapes_every_service() -> None:
    config = load("infra/prometheus/prometheus.docker.yml")
    assert config["global"]["scrape_interval"] == "5s"
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    missing = {f"{name}:8000" for name in long_running()} - targets
    assert not missing, missing
    volumes = compose()["prometheus"]["volumes"]
    assert any(v.startswith("./infra/prometheus/prometheus.docker.yml:") for v in volumes)


def test_grafana_datasource_points_at_prometheus() -> None:
    sources = load("infra/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    (source,) = [s for s in sources if s["type"] == "prometheus"]
    url = urlparse(source["url"])
    assert url.hostname in compose()
    assert compose()[url.hostname]["image"].startswith("prom/prometheus")
    assert url.port == 9090


def test_grafana_dashboards_are_provisioned_with_queries() -> None:
    volumes = compose()["grafana"]["volumes"]
    (provider,) = load("infra/grafana/provisioning/dashboards/dashboards.yml")["providers"]
    for mount in (
        "./infra/grafana/provisioning:/etc/grafana/provisioning",
        f"./infra/grafana/dashboards:{provider['options']['path']}",
    ):
        assert any(v.startswith(mount) for v in volumes), mount

    home = env_of(compose()["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (DASHBOARDS / Path(home).name).is_file()
    for path in DASHBOARDS.glob("*.json"):
        panels = load(f"infra/grafana/dashboards/{path.name}")["panels"]
        assert panels
        for panel in panels:
            assert any(t.get("expr", "").strip() for t in panel["targets"]), panel["title"]
