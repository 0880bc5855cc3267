"""Where the local launcher puts things and which ports it uses.

Every port and folder comes from an environment variable so that the launcher never
clashes with a server already running on the machine. Downloads and builds are
cached outside the clone (``PAYSTREAM_CACHE_DIR``) so that a fresh clone on the same
machine does not fetch them again; per-run data lives in ``PAYSTREAM_RUN_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

KAFKA_VERSION = "3.9.1"
FERRETDB_VERSION = "v1.24.2"
PG_VERSION = "15"
JMX_EXPORTER_VERSION = "1.0.1"

# name -> default port; the env var is PAYSTREAM_<NAME>_PORT
SERVICE_PORTS: dict[str, int] = {
    "gateway": 18000,
    "user_svc": 18001,
    "wallet_svc": 18002,
    "transaction_svc": 18003,
    "pgw_svc": 18004,
    "notification_worker": 18005,
    "audit_svc": 18006,
}

# Background workers: name -> (python module, default port). Each serves /health, /ready
# and /metrics on its own port.
WORKER_PORTS: dict[str, tuple[str, int]] = {
    "wallet_decider": ("wallet_svc.decider_worker", 18012),
    "wallet_projector": ("wallet_svc.projector", 18013),
    "transaction_saga": ("transaction_svc.saga_worker", 18014),
    "transaction_provider": ("transaction_svc.provider_worker", 18015),
    "transaction_webhooks": ("transaction_svc.webhooks.worker", 18016),
    "transaction_scheduler": ("transaction_svc.schedules.worker", 18017),
}

# The consumer workers the launcher runs as ``PAYSTREAM_WORKER_INSTANCES`` instances each
# (1 to MAX_INSTANCES; default 1): the instances of a worker join its one consumer group,
# so Kafka splits the partitions between them, and the scheduler's claim rows with SKIP
# LOCKED. audit_svc stays one process: its projector is the one writer of the audit log's
# hash chain (a second writer's batches fail on the chain's head: docs/audit.md).
SCALED: tuple[str, ...] = (*WORKER_PORTS, "notification_worker")
MAX_INSTANCES = 5
INSTANCE_PORT_STEP = 20  # instance i listens on its process's port + 20 * (i - 1)


def instance_name(name: str, instance: int) -> str:
    """The process name of instance ``instance`` (from 1) of ``name``: the first keeps the
    plain name, the others end in ``-<instance>`` (``wallet_decider-2``)."""
    return name if instance == 1 else f"{name}-{instance}"


def parse_instance(process: str) -> tuple[str, int]:
    """(the process's name without its instance, the instance) of a process name."""
    name, _, suffix = process.rpartition("-")
    if name in SCALED and suffix.isdigit() and 2 <= int(suffix) <= MAX_INSTANCES:
        return name, int(suffix)
    return process, 1


# Settings of every process of a local stack: everything runs on loopback, so merchants'
# webhooks may go to plain http on loopback too (never so in docker-compose.yml).
LOCAL_SETTINGS: dict[str, str] = {
    "PAYSTREAM_WEBHOOK_ALLOW_HTTP": "true",
    "PAYSTREAM_WEBHOOK_ALLOW_LOOPBACK": "true",
    "PAYSTREAM_SCHEDULE_MIN_INTERVAL_S": "1",  # schedules every second in the tests
}


def _env_port(name: str, default: int) -> int:
    """``PAYSTREAM_<NAME>_PORT``, else the default shifted by ``PAYSTREAM_PORT_OFFSET``
    (the test command uses an offset so it never meets a stack started by ``make up``)."""
    offset = int(os.environ.get("PAYSTREAM_PORT_OFFSET", "0"))
    return int(os.environ.get(f"PAYSTREAM_{name.upper()}_PORT", default + offset))


def _instances() -> int:
    n = int(os.environ.get("PAYSTREAM_WORKER_INSTANCES", "1"))
    if not 1 <= n <= MAX_INSTANCES:
        raise ValueError(f"PAYSTREAM_WORKER_INSTANCES must be 1 to {MAX_INSTANCES}, not {n}")
    return n


@dataclass(frozen=True)
class LocalConfig:
    """Ports and folders of one local stack."""

    cache_dir: Path
    run_dir: Path
    kafka_port: int
    kafka_controller_port: int
    postgres_port: int
    mongo_port: int
    redis_port: int
    prometheus_port: int
    smtp_port: int
    alertmanager_port: int
    alertsink_port: int
    postgres_exporter_port: int
    redis_exporter_port: int
    kafka_exporter_port: int
    service_ports: dict[str, int] = field(default_factory=dict)
    worker_ports: dict[str, int] = field(default_factory=dict)
    worker_instances: int = 1  # of each process in SCALED

    @classmethod
    def from_env(cls) -> LocalConfig:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache = Path(os.environ.get("PAYSTREAM_CACHE_DIR", str(Path(xdg) / "paystream")))
        run = Path(os.environ.get("PAYSTREAM_RUN_DIR", "/tmp/paystream-run"))  # noqa: S108
        return cls(
            cache_dir=cache,
            run_dir=run,
            kafka_port=_env_port("kafka", 19092),
            kafka_controller_port=_env_port("kafka_controller", 19093),
            postgres_port=_env_port("postgres", 15432),
            mongo_port=_env_port("mongo", 27117),
            redis_port=_env_port("redis", 16379),
            prometheus_port=_env_port("prometheus", 19090),
            smtp_port=_env_port("smtp", 11025),
            alertmanager_port=_env_port("alertmanager", 19095),
            alertsink_port=_env_port("alertsink", 19096),
            postgres_exporter_port=_env_port("postgres_exporter", 19187),
            redis_exporter_port=_env_port("redis_exporter", 19121),
            kafka_exporter_port=_env_port("kafka_exporter", 19404),
            service_ports={n: _env_port(n, p) for n, p in SERVICE_PORTS.items()},
            worker_ports={n: _env_port(n, p) for n, (_, p) in WORKER_PORTS.items()},
            worker_instances=_instances(),
        )

    def port_of(self, process: str) -> int:
        """The port of a paystream process (any instance of a scaled one)."""
        name, instance = parse_instance(process)
        port = self.service_ports.get(name) or self.worker_ports[name]
        return port + INSTANCE_PORT_STEP * (instance - 1)

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def ferretdb_bin(self) -> Path:
        return self.cache_dir / "bin" / f"ferretdb-{FERRETDB_VERSION}"

    @property
    def jmx_exporter_jar(self) -> Path:
        """The Prometheus JMX exporter's java agent, which Kafka runs to serve /metrics."""
        return self.cache_dir / "jmx" / f"jmx_prometheus_javaagent-{JMX_EXPORTER_VERSION}.jar"

    @property
    def mail_dir(self) -> Path:
        """Where the local SMTP server keeps what it receives (``infra.mailbox``)."""
        return self.run_dir / "mail"

    @property
    def alerts_dir(self) -> Path:
        """Where the local alert webhook receiver keeps what it receives (``infra.alertsink``)."""
        return self.run_dir / "alerts"

    def client_env(self) -> dict[str, str]:
        """The ``PAYSTREAM_*`` settings that point clients at this stack."""
        env = {
            "PAYSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.kafka_port}",
            "PAYSTREAM_POSTGRES_DSN": (
                f"postgresql+asyncpg://paystream:paystream@127.0.0.1:{self.postgres_port}/paystream"
            ),
            "PAYSTREAM_MONGO_URL": f"mongodb://127.0.0.1:{self.mongo_port}/",
            "PAYSTREAM_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PAYSTREAM_PROMETHEUS_URL": f"http://127.0.0.1:{self.prometheus_port}",
            "PAYSTREAM_SMTP_HOST": "127.0.0.1",
            "PAYSTREAM_SMTP_PORT": str(self.smtp_port),
        }
        for name, port in self.service_ports.items():
            env[f"PAYSTREAM_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        return env
