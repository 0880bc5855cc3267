"""``python -m infra.k8s.generate``: write the Kubernetes base (infra/k8s/base/) for every
process the local launcher runs (``infra.local.config``), so the two never differ.

Each process is a Deployment of the one image, told apart by its command as in
docker-compose.yml: probes on ``/health`` (liveness, startup) and ``/ready`` (readiness),
resources, and a shutdown that lets the service drain (a preStop pause while the pod
leaves the Service's endpoints, then ``shutdown_drain_s`` for open requests and the
lifespan's stop). The APIs get a Service each. The consumer workers are scaled by their
consumer group's lag (KEDA ScaledObject, Kafka trigger), at most one instance per
partition. The files are committed; tests/unit/test_k8s.py checks they equal what this
writes and that they agree with the launcher and the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from common.settings import Settings
from infra.local.config import SERVICE_PORTS, WORKER_PORTS

OUT = Path(__file__).resolve().parent / "base"
PORT = 8000
IMAGE = "paystream"  # the root Dockerfile's image; an overlay sets its registry and tag
CONFIG = "paystream-config"  # ConfigMap: addresses and knobs every process shares
SECRETS = "paystream-secrets"  # Secret: made by an overlay (overlays/local: dev values)
PRE_STOP_S = 5  # the pod leaves the Service's endpoints before the server stops accepting
LIFESPAN_STOP_S = 15  # after the drain: consumers leave their group, producers flush
# a cluster's topics: room for 8 instances of each worker (the settings' default, 2, is
# for one machine: docs/scaling.md)
PARTITIONS = 8
# the settings' defaults, never this shell's environment: the files are the same for all
DRAIN_S: int = Settings.model_fields["shutdown_drain_s"].default

# Every process: the addresses of the backing services and of the APIs (in-cluster names).
SHARED_ENV: dict[str, str] = {
    "PAYSTREAM_LOG_LEVEL": "INFO",
    "PAYSTREAM_HTTP_HOST": "0.0.0.0",  # inside the pod
    "PAYSTREAM_HTTP_PORT": str(PORT),
    "PAYSTREAM_KAFKA_BOOTSTRAP": "kafka:9092",
    "PAYSTREAM_KAFKA_PARTITIONS": str(PARTITIONS),
    "PAYSTREAM_MONGO_URL": "mongodb://mongo:27017/",
    "PAYSTREAM_MONGO_DB": "paystream",
    "PAYSTREAM_REDIS_URL": "redis://redis:6379/0",
    "PAYSTREAM_SMTP_HOST": "mailbox",
    "PAYSTREAM_SMTP_PORT": "1025",
    "PAYSTREAM_SHUTDOWN_DRAIN_S": str(DRAIN_S),
    **{f"PAYSTREAM_{name.upper()}_URL": f"http://{name.replace('_', '-')}:{PORT}"
       for name in SERVICE_PORTS},
}  # fmt: skip


Pairs = tuple[tuple[str, str], ...]  # (name, value) in order


@dataclass(frozen=True, slots=True)
class Process:
    """What one process needs besides what every process gets."""

    module: str
    cpu: str = "100m"  # request
    memory: str = "256Mi"  # request
    memory_limit: str = "512Mi"
    cpu_limit: str = "1"
    env: Pairs = ()  # plain values
    secrets: Pairs = ()  # env var -> key of SECRETS
    consumer_group: str = ""  # a Kafka consumer scaled by its lag (KEDA)
    max_replicas: int = PARTITIONS  # more consumers than partitions would idle


def _client(name: str) -> tuple[Pairs, Pairs]:
    """The env and secret of a process's own service client at user_svc."""
    return (("PAYSTREAM_SERVICE_CLIENT_ID", name),), (
        ("PAYSTREAM_SERVICE_CLIENT_SECRET", f"{name.replace('_', '-')}-client-secret"),
    )


_TX_ENV, _TX_SECRET = _client("transaction_svc")
_NOTIFY_ENV, _NOTIFY_SECRET = _client("notification_worker")
_CALLBACKS = (("PAYSTREAM_PROVIDER_CALLBACK_SECRET", "provider-callback-secret"),)

PROCESSES: dict[str, Process] = {
    "gateway": Process("gateway", cpu="250m"),
    # argon2id: each hash takes 64 MiB; cpu_work_slots at the CPU limit (the pod's
    # affinity shows every core of the node, not its quota)
    "user_svc": Process(
        "user_svc",
        cpu="500m",
        memory="512Mi",
        memory_limit="768Mi",
        cpu_limit="2",
        env=(("PAYSTREAM_CPU_WORK_SLOTS", "2"),),
        secrets=(("PAYSTREAM_SEED_SERVICE_CLIENTS", "seed-service-clients"),),
    ),
    "wallet_svc": Process("wallet_svc", cpu="250m"),
    "transaction_svc": Process(
        "transaction_svc", cpu="250m", env=_TX_ENV, secrets=_TX_SECRET + _CALLBACKS
    ),
    "pgw_svc": Process("pgw_svc", secrets=_CALLBACKS),
    "notification_worker": Process(
        "notification_worker",
        env=_NOTIFY_ENV,
        secrets=_NOTIFY_SECRET,
        consumer_group="notification-worker",
    ),
    # one writer of the audit log's hash chain: never more than one (docs/audit.md)
    "audit_svc": Process(
        "audit_svc", env=(("PAYSTREAM_AUDIT_MONGO_DB", "paystream_audit"),)
    ),  # the log's own database (docs/audit.md)
    "wallet_decider": Process(
        WORKER_PORTS["wallet_decider"][0], cpu="250m", consumer_group="wallet-decider"
    ),
    "wallet_projector": Process(
        WORKER_PORTS["wallet_projector"][0], consumer_group="wallet-projector"
    ),
    "transaction_saga": Process(
        WORKER_PORTS["transaction_saga"][0],
        cpu="250m",
        env=_TX_ENV,
        secrets=_TX_SECRET,
        consumer_group="transaction-saga",
    ),
    "transaction_provider": Process(
        WORKER_PORTS["transaction_provider"][0],
        env=_TX_ENV,
        secrets=_TX_SECRET,
        consumer_group="transaction-provider",
    ),
    "transaction_webhooks": Process(
        WORKER_PORTS["transaction_webhooks"][0], consumer_group="transaction-webhooks"
    ),
    # claims due runs with SKIP LOCKED: more instances are safe, none is needed
    "transaction_scheduler": Process(
        WORKER_PORTS["transaction_scheduler"][0], env=_TX_ENV, secrets=_TX_SECRET
    ),
}

LABEL = "app.kubernetes.io/name"


def k8s_name(process: str) -> str:
    """A DNS-1123 name for a process name (``user_svc`` -> ``user-svc``)."""
    return process.replace("_", "-")


def _http(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def deployment(name: str, p: Process) -> dict[str, Any]:
    labels = {LABEL: k8s_name(name), "app.kubernetes.io/part-of": "paystream"}
    env = [{"name": "PAYSTREAM_SERVICE_NAME", "value": name}]
    env += [{"name": k, "value": v} for k, v in p.env]
    env.append(_secret_env("PAYSTREAM_POSTGRES_DSN", "postgres-dsn"))
    env += [_secret_env(k, key) for k, key in p.secrets]
    container = {
        "name": k8s_name(name),
        "image": IMAGE,
        "command": ["python", "-m", p.module],
        "ports": [{"name": "http", "containerPort": PORT}],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env,
        "startupProbe": _http("/health", 2, 60),
        "livenessProbe": _http("/health", 10, 6),
        "readinessProbe": _http("/ready", 5, 3),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_S)]}}},
        "resources": {
            "requests": {"cpu": p.cpu, "memory": p.memory},
            "limits": {"cpu": p.cpu_limit, "memory": p.memory_limit},
        },
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own
    }
    grace = PRE_STOP_S + DRAIN_S + LIFESPAN_STOP_S
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": k8s_name(name), "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {LABEL: k8s_name(name)}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _secret_env(var: str, key: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": SECRETS, "key": key}}}


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": k8s_name(name)},
        "spec": {
            "selector": {LABEL: k8s_name(name)},
            "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
        },
    }


def scaled_object(name: str, p: Process) -> dict[str, Any]:
    """KEDA: one instance per ``lagThreshold`` records of lag, at most one a partition."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": k8s_name(name)},
        "spec": {
            "scaleTargetRef": {"name": k8s_name(name)},
            "minReplicaCount": 1,
            "maxReplicaCount": p.max_replicas,
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {
                        "bootstrapServers": SHARED_ENV["PAYSTREAM_KAFKA_BOOTSTRAP"],
                        "consumerGroup": p.consumer_group,
                        "lagThreshold": "1000",
                        "offsetResetPolicy": "earliest",
                        "allowIdleConsumers": "false",
                    },
                }
            ],
        },
    }


def bootstrap_job() -> dict[str, Any]:
    """Topics and schemas, as compose's one-shot ``bootstrap``: the processes' readiness
    waits for what it creates."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "bootstrap"},
        "spec": {
            "backoffLimit": 10,
            "template": {
                "spec": {
                    "restartPolicy": "OnFailure",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [
                        {
                            "name": "bootstrap",
                            "image": IMAGE,
                            "command": ["python", "-m", "common.bootstrap"],
                            "envFrom": [{"configMapRef": {"name": CONFIG}}],
                            "env": [
                                {"name": "PAYSTREAM_SERVICE_NAME", "value": "bootstrap"},
                                _secret_env("PAYSTREAM_POSTGRES_DSN", "postgres-dsn"),
                            ],
                        }
                    ],
                }
            },
        },
    }


def files() -> dict[str, list[dict[str, Any]]]:
    """File name -> the objects it holds."""
    out: dict[str, list[dict[str, Any]]] = {
        "config.yaml": [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIG},
                "data": SHARED_ENV,
            }
        ],
        "bootstrap.yaml": [bootstrap_job()],
    }
    for name, p in PROCESSES.items():
        objects = [deployment(name, p)]
        if name in SERVICE_PORTS:
            objects.append(service(name))
        if p.consumer_group:
            objects.append(scaled_object(name, p))
        out[f"{k8s_name(name)}.yaml"] = objects
    out["kustomization.yaml"] = [
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "labels": [{"pairs": {"app.kubernetes.io/part-of": "paystream"}}],
            "resources": sorted(f for f in out if f != "kustomization.yaml"),
        }
    ]
    return out


HEADER = (
    "# Written by `python -m infra.k8s.generate` (infra/k8s/generate.py): edit that, not this.\n"
)


class _Dumper(yaml.SafeDumper):
    """Writes a dict used twice (the labels) out twice, not as a YAML alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(objects: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(yaml.dump(o, Dumper=_Dumper, sort_keys=False) for o in objects)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, objects in files().items():
        (OUT / name).write_text(render(objects))


if __name__ == "__main__":
    main()
