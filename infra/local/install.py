"""Installs the backing services from the package registries, idempotently.

- PostgreSQL 15, Redis, Prometheus, Alertmanager and the Postgres and Redis exporters
  from Debian's packages (apt-get);
- Apache Kafka 3.9.1's runtime classpath and the Prometheus JMX exporter's java agent
  from Maven Central (mvn);
- FerretDB v1 built from the Go module proxy (go build).

What is already there is left alone, so a second run costs a few stat() calls.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from infra.local.config import (
    FERRETDB_VERSION,
    JMX_EXPORTER_VERSION,
    PG_VERSION,
    REPO_ROOT,
    LocalConfig,
)

APT_PACKAGES = {
    f"/usr/lib/postgresql/{PG_VERSION}/bin/postgres": f"postgresql-{PG_VERSION}",
    "/usr/bin/redis-server": "redis-server",
    "/usr/bin/prometheus": "prometheus",
    "/usr/bin/prometheus-alertmanager": "prometheus-alertmanager",
    "/usr/bin/prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "/usr/bin/prometheus-redis-exporter": "prometheus-redis-exporter",
}
# what Debian's packages would start on a machine with an init system
APT_SERVICES = (
    "redis-server",
    "prometheus",
    "prometheus-alertmanager",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
)


def _log(msg: str) -> None:
    print(f"[install] {msg}", flush=True)


def install_apt() -> None:
    missing = sorted({pkg for path, pkg in APT_PACKAGES.items() if not Path(path).exists()})
    if not missing:
        return
    _log(f"apt-get install {' '.join(missing)}")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
    )
    # Debian starts nothing in a container, but stop any cluster it may have started so
    # that only our own processes own the ports we pick.
    for unit in APT_SERVICES:
        subprocess.run([*sudo, "service", unit, "stop"], capture_output=True, check=False)


def install_kafka(cfg: LocalConfig) -> None:
    if any(cfg.kafka_libs.glob("kafka_2.13-*.jar")):
        return
    _log("resolving Apache Kafka from Maven Central")
    tmp = cfg.kafka_libs.with_name("libs.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(REPO_ROOT / "infra/local/kafka-pom.xml"),
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        check=True,
    )
    tmp.rename(cfg.kafka_libs)


def install_jmx_exporter(cfg: LocalConfig) -> None:
    if cfg.jmx_exporter_jar.exists():
        return
    _log(f"fetching the Prometheus JMX exporter {JMX_EXPORTER_VERSION} from Maven Central")
    tmp = cfg.jmx_exporter_jar.parent.with_name("jmx.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact=io.prometheus.jmx:jmx_prometheus_javaagent:{JMX_EXPORTER_VERSION}",
            f"-DoutputDirectory={tmp}",
        ],
        check=True,
    )
    cfg.jmx_exporter_jar.parent.mkdir(parents=True, exist_ok=True)
    (tmp / cfg.jmx_exporter_jar.name).rename(cfg.jmx_exporter_jar)
    shutil.rmtree(tmp, ignore_errors=True)


def install_ferretdb(cfg: LocalConfig) -> None:
    if cfg.ferretdb_bin.exists():
        return
    _log(f"building FerretDB {FERRETDB_VERSION} from the Go module proxy")
    cfg.ferretdb_bin.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod -buildvcs=false", "CGO_ENABLED": "0"}
    # `go install pkg@version` asks the proxy for the module's version list, which it
    # refuses for FerretDB, and the module ships without build/version/version.txt,
    # which its init() demands. So: download the exact version, copy it, add the file.
    info = subprocess.run(
        ["go", "mod", "download", "-json", f"github.com/FerretDB/FerretDB@{FERRETDB_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    src_dir = Path(json.loads(info.stdout)["Dir"])
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "ferretdb"
        shutil.copytree(src_dir, src)
        for path in src.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        (src / "build/version/version.txt").write_text(f"{FERRETDB_VERSION}\n")
        out = cfg.ferretdb_bin.with_suffix(".tmp")
        subprocess.run(
            ["go", "build", "-o", str(out), "./cmd/ferretdb"], cwd=src, env=env, check=True
        )
        out.rename(cfg.ferretdb_bin)


def install_all(cfg: LocalConfig) -> None:
    """Install everything the local stack needs; a no-op when it is all there."""
    install_apt()
    install_kafka(cfg)
    install_jmx_exporter(cfg)
    install_ferretdb(cfg)
