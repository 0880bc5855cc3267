"""The backing services as local processes bound to loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra.local.config import PG_VERSION, REPO_ROOT, SCALED, LocalConfig, instance_name
from infra.local.procs import log_file, port_open, read_pid, spawn, stop, wait_until

RULE_FILES = ("rules.yml", "alerts.yml")  # in infra/prometheus, for both setups
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
BACKING = (
    "postgres",
    "redis",
    "mongo",
    "kafka",
    "smtp",
    "alertsink",
    "alertmanager",
    "postgres_exporter",
    "redis_exporter",
    "prometheus",
)
# what Prometheus scrapes besides paystream's processes: job name -> LocalConfig port field
EXPORTERS = {
    "postgres": "postgres_exporter_port",
    "redis": "redis_exporter_port",
    "kafka": "kafka_exporter_port",
}


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def start_postgres(cfg: LocalConfig) -> None:
    data = cfg.run_dir / "postgres"
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            cfg.run_dir.chmod(0o755)
        pwfile = cfg.run_dir / "pgpass.tmp"
        pwfile.write_text("paystream\n")
        pwfile.chmod(0o644)
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "paystream",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
    argv = [
        str(PG_BIN / "postgres"),
        "-D",
        str(data),
        "-p",
        str(cfg.postgres_port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={data}",
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=256MB",
        "-c",
        "synchronous_commit=on",
        "-c",  # commit times, for bench.timeline's per-hop latency (a few bytes a commit)
        "track_commit_timestamp=on",
    ]
    spawn("postgres", _as_postgres(argv), cfg.run_dir)
    wait_until(lambda: _pg_ready(cfg), "postgres")


def _pg_ready(cfg: LocalConfig) -> bool:
    ready = subprocess.run(
        [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(cfg.postgres_port)],
        capture_output=True,
        check=False,
    )
    if ready.returncode != 0:
        return False
    # the default database for the paystream role
    r = _psql(cfg, "-tAc", "SELECT 1 FROM pg_database WHERE datname='paystream'", check=False)
    if r.returncode != 0:
        return False
    if r.stdout.strip() != "1":
        _psql(cfg, "-c", "CREATE DATABASE paystream", check=True)
    return True


def _psql(cfg: LocalConfig, *args: str, check: bool) -> subprocess.CompletedProcess[str]:
    """``psql`` as the paystream role against the ``postgres`` database of our cluster."""
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(cfg.postgres_port), "-U", "paystream",
         "-d", "postgres", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PGPASSWORD": "paystream"},
        check=check,
    )  # fmt: skip


def start_redis(cfg: LocalConfig) -> None:
    spawn(
        "redis",
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(cfg.redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        cfg.run_dir,
    )
    wait_until(lambda: port_open(cfg.redis_port), "redis")


def start_mongo(cfg: LocalConfig) -> None:
    data = cfg.run_dir / "ferretdb" / "data"
    state = cfg.run_dir / "ferretdb" / "state"
    data.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    spawn(
        "mongo",
        [
            str(cfg.ferretdb_bin),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{cfg.mongo_port}",
            f"--state-dir={state}",
            "--telemetry=disable",
            "--debug-addr=-",
            "--log-level=warn",
        ],
        cfg.run_dir,
        # Go's collector ran often enough to take about a quarter of FerretDB's CPU while
        # the audit log was written (docs/benchmarks.md); its heap stays small
        env={"GOGC": "400"},
    )
    wait_until(lambda: port_open(cfg.mongo_port), "ferretdb")


KAFKA_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={logs}
num.partitions=8
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=-1
"""

LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
"""


def start_kafka(cfg: LocalConfig) -> None:
    home = cfg.run_dir / "kafka"
    home.mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    props.write_text(
        KAFKA_PROPERTIES.format(
            port=cfg.kafka_port, cport=cfg.kafka_controller_port, logs=home / "data"
        )
    )
    (home / "log4j.properties").write_text(LOG4J)
    classpath = f"{cfg.kafka_libs}/*"
    if not (home / "data" / "meta.properties").exists():
        cluster_id = subprocess.run(
            ["java", "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--ignore-formatted",
            ],
            capture_output=True,
            check=True,
        )
    # the JMX exporter's agent serves the broker's metrics (infra/prometheus/kafka-jmx.yml)
    agent = (
        f"-javaagent:{cfg.jmx_exporter_jar}=127.0.0.1:{cfg.kafka_exporter_port}:"
        f"{REPO_ROOT / 'infra/prometheus/kafka-jmx.yml'}"
    )
    heap = os.environ.get("PAYSTREAM_KAFKA_HEAP", "768m")
    # C1 only by default: quicker starts, and in our runs (docs/benchmarks.md) the C2
    # compiler's warm-up cost more CPU than its code saved within a benchmark's minute.
    jvm_opts = os.environ.get(
        "PAYSTREAM_KAFKA_JVM_OPTS", "-XX:+UseG1GC -XX:TieredStopAtLevel=1"
    ).split()
    spawn(
        "kafka",
        [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            *jvm_opts,
            agent,
            f"-Dlog4j.configuration=file:{home / 'log4j.properties'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(props),
        ],
        cfg.run_dir,
    )
    wait_until(lambda: port_open(cfg.kafka_port), "kafka", timeout=120)


def prometheus_config(cfg: LocalConfig) -> str:
    """A scrape job per paystream process (a target per instance, labelled with the
    instance's process name), per backing service's exporter (and Prometheus itself),
    every 5 seconds, as in the Docker setup: each scrape costs every service a
    /metrics rendering, and on two shared cores a 2-second interval was a visible share of
    the CPU under load. Alerts go to the stack's Alertmanager."""
    lines = [
        "global:",
        "  scrape_interval: 5s",
        "  evaluation_interval: 5s",
        "rule_files:",
        *[f"  - {REPO_ROOT / 'infra/prometheus' / name}" for name in RULE_FILES],
        "alerting:",
        "  alertmanagers:",
        "    - static_configs:",
        f"        - targets: ['127.0.0.1:{cfg.alertmanager_port}']",
        "scrape_configs:",
        "  - job_name: prometheus",
        "    static_configs:",
        f"      - targets: ['127.0.0.1:{cfg.prometheus_port}']",
    ]
    for name in [*cfg.service_ports, *cfg.worker_ports]:  # instance: the process's name
        count = cfg.worker_instances if name in SCALED else 1
        lines += [f"  - job_name: {name}", "    static_configs:"]
        for process in (instance_name(name, i) for i in range(1, count + 1)):
            lines += [
                f"      - targets: ['127.0.0.1:{cfg.port_of(process)}']",
                f"        labels: {{instance: {process}}}",
            ]
    for name, port in EXPORTERS.items():
        lines += [
            f"  - job_name: {name}",
            "    static_configs:",
            f"      - targets: ['127.0.0.1:{getattr(cfg, port)}']",
        ]
    return "\n".join(lines) + "\n"


ALERTMANAGER_CONFIG = """\
# written by infra/local/backing.py: every alert is mailed to the on-call address through
# the stack's SMTP server (infra.mailbox keeps it as a file in the run folder) and posted
# to the stack's webhook receiver (infra.alertsink, likewise)
global:
  smtp_smarthost: 127.0.0.1:{smtp_port}
  smtp_from: alertmanager@paystream.local
  smtp_require_tls: false
route:
  receiver: oncall
  group_by: [alertname, job]
  group_wait: 5s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: oncall
    email_configs:
      - to: {oncall}
        send_resolved: true
    webhook_configs:
      - url: http://127.0.0.1:{alertsink_port}/alerts
        send_resolved: true
"""
ONCALL = "oncall@paystream.local"


def start_alertmanager(cfg: LocalConfig) -> None:
    home = cfg.run_dir / "alertmanager"
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "alertmanager.yml"
    conf.write_text(
        ALERTMANAGER_CONFIG.format(
            smtp_port=cfg.smtp_port, oncall=ONCALL, alertsink_port=cfg.alertsink_port
        )
    )
    spawn(
        "alertmanager",
        [
            "prometheus-alertmanager",
            f"--config.file={conf}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{cfg.alertmanager_port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        cfg.run_dir,
    )
    wait_until(lambda: port_open(cfg.alertmanager_port), "alertmanager")


def start_postgres_exporter(cfg: LocalConfig) -> None:
    dsn = f"postgresql://paystream:paystream@127.0.0.1:{cfg.postgres_port}/paystream"
    spawn(
        "postgres_exporter",
        [
            "prometheus-postgres-exporter",
            f"--web.listen-address=127.0.0.1:{cfg.postgres_exporter_port}",
            "--log.level=warn",
        ],
        cfg.run_dir,
        env={"DATA_SOURCE_NAME": f"{dsn}?sslmode=disable"},
    )
    wait_until(lambda: port_open(cfg.postgres_exporter_port), "postgres_exporter")


def start_redis_exporter(cfg: LocalConfig) -> None:
    spawn(
        "redis_exporter",
        [
            "prometheus-redis-exporter",
            f"-redis.addr=redis://127.0.0.1:{cfg.redis_port}",
            f"-web.listen-address=127.0.0.1:{cfg.redis_exporter_port}",
        ],
        cfg.run_dir,
    )
    wait_until(lambda: port_open(cfg.redis_exporter_port), "redis_exporter")


def write_prometheus_config(cfg: LocalConfig) -> Path:
    path = cfg.run_dir / "prometheus" / "prometheus.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(prometheus_config(cfg))
    return path


def start_prometheus(cfg: LocalConfig) -> None:
    conf = write_prometheus_config(cfg)
    spawn(
        "prometheus",
        [
            "prometheus",
            f"--config.file={conf}",
            f"--storage.tsdb.path={cfg.run_dir / 'prometheus' / 'data'}",
            f"--web.listen-address=127.0.0.1:{cfg.prometheus_port}",
            "--log.level=warn",
        ],
        cfg.run_dir,
    )
    wait_until(lambda: port_open(cfg.prometheus_port), "prometheus")


def _start_keeper(cfg: LocalConfig, name: str, module: str, port: int, folder: Path) -> None:
    """One of the stack's own receivers (``module``), keeping what it gets in ``folder``."""
    spawn(
        name,
        [sys.executable, "-m", module, "--port", str(port), "--folder", str(folder)],
        cfg.run_dir,
        cwd=REPO_ROOT,
    )
    wait_until(lambda: port_open(port), name)


def start_smtp(cfg: LocalConfig) -> None:
    """The local SMTP server: it keeps each message as a file in ``cfg.mail_dir``."""
    _start_keeper(cfg, "smtp", "infra.mailbox", cfg.smtp_port, cfg.mail_dir)


def start_alertsink(cfg: LocalConfig) -> None:
    """The local alert webhook receiver: it keeps each notification as a file in
    ``cfg.alerts_dir``."""
    _start_keeper(cfg, "alertsink", "infra.alertsink", cfg.alertsink_port, cfg.alerts_dir)


STARTERS = {
    "postgres": (start_postgres, "postgres_port"),
    "redis": (start_redis, "redis_port"),
    "mongo": (start_mongo, "mongo_port"),
    "kafka": (start_kafka, "kafka_port"),
    "prometheus": (start_prometheus, "prometheus_port"),
    "smtp": (start_smtp, "smtp_port"),
    "alertsink": (start_alertsink, "alertsink_port"),
    "alertmanager": (start_alertmanager, "alertmanager_port"),
    "postgres_exporter": (start_postgres_exporter, "postgres_exporter_port"),
    "redis_exporter": (start_redis_exporter, "redis_exporter_port"),
}


def start_backing(cfg: LocalConfig, only: tuple[str, ...] = BACKING) -> list[str]:
    """Start every backing service (of ``only``) that is not running; the names started."""
    started = []
    for name in only:
        starter, port_attr = STARTERS[name]
        if read_pid(cfg.run_dir / "pids" / f"{name}.pid") is not None:
            continue
        port = getattr(cfg, port_attr)
        if port_open(port):
            raise RuntimeError(
                f"port {port} for {name} is taken by another process; "
                f"set PAYSTREAM_{port_attr.upper()} to a free port"
            )
        print(f"[up] starting {name}", flush=True)
        try:
            starter(cfg)
        except (TimeoutError, subprocess.CalledProcessError) as exc:
            raise RuntimeError(
                f"{name} did not start ({exc}): see {log_file(cfg.run_dir, name)}"
            ) from exc
        started.append(name)
    return started


def _stop_postgres(cfg: LocalConfig) -> None:
    """A fast shutdown, waited for. The SIGTERM ``stop`` sends would reach runuser too,
    which kills postgres 2 s later: a shutdown cut short, whose leftover lock file keeps
    the next start from starting."""
    if read_pid(cfg.run_dir / "pids" / "postgres.pid") is not None:
        pg_ctl = [str(PG_BIN / "pg_ctl"), "stop", "-D", str(cfg.run_dir / "postgres")]
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "-w", "-t", "60"]),
                       capture_output=True, check=False)  # fmt: skip
    stop("postgres", cfg.run_dir, timeout=30)


def stop_backing_service(cfg: LocalConfig, name: str) -> None:
    """Stop backing service ``name`` (SIGTERM to its process group; Postgres by pg_ctl)."""
    if name == "postgres":
        _stop_postgres(cfg)
    else:
        stop(name, cfg.run_dir, timeout=30)


def restart_backing(cfg: LocalConfig, name: str) -> None:
    """Stop backing service ``name`` as an operator's restart does and start it again on
    the same data and port (the chaos tests restart them under load)."""
    stop_backing_service(cfg, name)
    wait_until(lambda: not port_open(getattr(cfg, STARTERS[name][1])), f"{name} stop")
    STARTERS[name][0](cfg)


def stop_backing(cfg: LocalConfig) -> None:
    for name in reversed(BACKING):
        stop_backing_service(cfg, name)
