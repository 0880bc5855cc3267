"""The Kubernetes manifests (infra/k8s) agree with the launcher and the settings.

Both kustomizations are rendered by ``kubectl kustomize`` (kustomize built into kubectl;
no cluster is needed) and checked object by object: a Deployment for every process the
launcher runs, with its module, its settings, probes, resources and a grace period that
covers the services' drain; a KEDA ScaledObject on its consumer group's lag for every
Kafka worker that may run twice, at most one instance per partition.
"""

from __future__ import annotations

import base64
import importlib
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.k8s import generate
from infra.k8s.generate import LIFESPAN_STOP_S, k8s_name
from infra.local.config import SCALED, SERVICE_PORTS
from infra.testing.processes import (
    CLIENT_HOLDERS,
    PROCESSES,
    unknown_settings,
    unseeded_clients,
)

K8S = Path(generate.__file__).parent
KUSTOMIZATIONS = ("base", "overlays/local")
# Kafka workers and the module that names their consumer group (GROUP)
GROUPS = {
    "wallet_decider": "wallet_svc.decider_worker",
    "wallet_projector": "wallet_svc.projector",
    "transaction_saga": "transaction_svc.saga_worker",
    "transaction_provider": "transaction_svc.provider_worker",
    "transaction_webhooks": "transaction_svc.webhooks.worker",
    "notification_worker": "notification_worker.main",
}
ONE_INSTANCE = {"audit_svc"}  # the one writer of the audit log's hash chain


@cache
def rendered(kustomization: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    # kubectl comes with the machine image (the google-cloud-sdk kubectl package)
    assert kubectl, "kubectl is missing: it renders the kustomizations"
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return tuple(o for o in yaml.safe_load_all(out) if o)


def objects(kustomization: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(kustomization) if o["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [c] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(c)


def env_of(kustomization: str, deployment: dict[str, Any]) -> dict[str, str]:
    """Every env var of the container: its ConfigMaps' and the Secrets' values resolved."""
    maps = objects(kustomization, "ConfigMap")
    secrets = objects(kustomization, "Secret")
    c = container(deployment)
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env |= maps[source["configMapRef"]["name"]]["data"]
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            secret = secrets.get(ref["name"])
            env[var["name"]] = (
                base64.b64decode(secret["data"][ref["key"]]).decode() if secret else "<unset>"
            )
    return env


def test_the_committed_base_is_what_the_generator_writes() -> None:
    for name, objs in generate.files().items():
        assert (generate.OUT / name).read_text() == generate.render(objs), name
    assert {p.name for p in generate.OUT.glob("*.yaml")} == set(generate.files())


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_a_deployment_runs_each_launcher_process_with_its_module_and_settings(
    kustomization: str,
) -> None:
    deployments = objects(kustomization, "Deployment")
    ours = {n: d for n, d in deployments.items() if d["spec"]["template"]["spec"]
            ["containers"][0]["image"].startswith("paystream")}  # fmt: skip
    assert set(ours) == {k8s_name(p) for p in PROCESSES}
    for process, module in PROCESSES.items():
        d = ours[k8s_name(process)]
        c = container(d)
        assert c["command"] == ["python", "-m", module], process
        env = env_of(kustomization, d)
        assert env["PAYSTREAM_SERVICE_NAME"] == process
        assert (env["PAYSTREAM_HTTP_HOST"], env["PAYSTREAM_HTTP_PORT"]) == ("0.0.0.0", "8000")
        assert not unknown_settings(module, set(env)), process
        assert [p["containerPort"] for p in c["ports"]] == [8000]
        # every API's address points at its Service
        for api in SERVICE_PORTS:
            assert env[f"PAYSTREAM_{api.upper()}_URL"] == f"http://{k8s_name(api)}:8000"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_process_has_probes_resources_and_a_grace_period_over_its_drain(
    kustomization: str,
) -> None:
    for process in PROCESSES:
        d = objects(kustomization, "Deployment")[k8s_name(process)]
        c = container(d)
        assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert c["startupProbe"]["httpGet"]["path"] == "/health"
        resources = c["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), process
        assert "memory" in resources["limits"], process
        # SIGTERM comes after preStop; then the server drains open requests for
        # shutdown_drain_s and the lifespan stops consumers and producers
        pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        drain = int(env_of(kustomization, d)["PAYSTREAM_SHUTDOWN_DRAIN_S"])
        grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= pre_stop + drain + LIFESPAN_STOP_S, process


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_each_api_has_a_service_on_its_pods(kustomization: str) -> None:
    services = objects(kustomization, "Service")
    for api in SERVICE_PORTS:
        svc = services[k8s_name(api)]
        assert svc["spec"]["selector"] == {"app.kubernetes.io/name": k8s_name(api)}
        assert svc["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_kafka_workers_scale_on_their_groups_lag_up_to_one_per_partition(
    kustomization: str,
) -> None:
    scaled = objects(kustomization, "ScaledObject")
    assert set(scaled) == {k8s_name(p) for p in GROUPS}
    for process, module in GROUPS.items():
        spec = scaled[k8s_name(process)]["spec"]
        d = objects(kustomization, "Deployment")[spec["scaleTargetRef"]["name"]]
        env = env_of(kustomization, d)
        assert d["metadata"]["name"] == k8s_name(process)
        [trigger] = spec["triggers"]
        assert trigger["type"] == "kafka"
        group = importlib.import_module(module).GROUP
        assert trigger["metadata"]["consumerGroup"] == group, process
        broker = trigger["metadata"]["bootstrapServers"].split(".")[0].split(":")[0]
        assert broker == env["PAYSTREAM_KAFKA_BOOTSTRAP"].split(":")[0]
        # an instance past the partition count would get no partition
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["maxReplicaCount"] <= int(env["PAYSTREAM_KAFKA_PARTITIONS"])
    for process in ONE_INSTANCE:
        assert objects(kustomization, "Deployment")[k8s_name(process)]["spec"]["replicas"] == 1
    # what may run twice here is what the launcher runs twice (PAYSTREAM_WORKER_INSTANCES)
    assert set(GROUPS) <= set(SCALED) and not ONE_INSTANCE & set(SCALED)


def test_user_svc_hashes_no_more_passwords_at_once_than_it_has_cores() -> None:
    """The pod's affinity shows every core of its node, not its CPU limit: the slots are
    set to the limit, so a burst is refused 503 instead of queueing on too few cores."""
    d = objects("base", "Deployment")["user-svc"]
    slots = int(env_of("base", d)["PAYSTREAM_CPU_WORK_SLOTS"])
    assert 1 <= slots <= int(container(d)["resources"]["limits"]["cpu"])


def test_the_local_overlay_seeds_the_service_client_each_holder_uses() -> None:
    deployments = objects("overlays/local", "Deployment")
    envs = {process: env_of("overlays/local", deployments[k8s_name(process)])
            for process in PROCESSES}  # fmt: skip
    holders = {name: env for name, env in envs.items() if "PAYSTREAM_SERVICE_CLIENT_ID" in env}
    assert set(holders) == CLIENT_HOLDERS
    assert not unseeded_clients(envs["user_svc"]["PAYSTREAM_SEED_SERVICE_CLIENTS"], holders)
    dsn = env_of("overlays/local", deployments["wallet-svc"])["PAYSTREAM_POSTGRES_DSN"]
    assert dsn.startswith("postgresql+asyncpg://") and "@postgres:5432/" in dsn


def test_the_bootstrap_job_creates_topics_and_schemas_before_the_processes_are_ready() -> None:
    [job] = objects("overlays/local", "Job").values()
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["python", "-m", "common.bootstrap"]
    # the local overlay's backing services are the addresses every process is given
    services = objects("overlays/local", "Service")
    env = env_of("overlays/local", objects("overlays/local", "Deployment")["gateway"])
    for var in ("PAYSTREAM_KAFKA_BOOTSTRAP", "PAYSTREAM_MONGO_URL", "PAYSTREAM_REDIS_URL"):
        host = env[var].split("//")[-1].split(":")[0]
        assert host in services, var
