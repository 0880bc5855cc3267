"""Backing services for a test session, from wherever they can be had.

1. ``PAYSTREAM_KAFKA_BOOTSTRAP`` (and friends) set in the environment: use them as given.
2. A Docker engine answers a ping: testcontainers (Kafka, Postgres, Mongo, Redis).
3. Otherwise: the local launcher starts real processes on loopback.

Whatever the session started, it stops; nothing is left behind. The session owns its run
folder meanwhile: a second stack on the same folder is refused (``infra.local.lock``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack

from infra.local.backing import start_backing, stop_backing
from infra.local.config import LocalConfig
from infra.local.lock import acquire, release
from infra.local.procs import stop
from infra.local.stack import app_processes, docker_engine_answers, start_app

TEST_SESSION = "test session"  # the lock's kind for a stack this class starts


def _bootstrap() -> None:
    subprocess.run([sys.executable, "-m", "common.bootstrap"], check=True)


def _from_testcontainers(stack: ExitStack) -> dict[str, str]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    kafka = stack.enter_context(KafkaContainer("apache/kafka:3.9.1").with_kraft())
    pg = stack.enter_context(PostgresContainer("postgres:15", driver="asyncpg"))
    mongo = stack.enter_context(MongoDbContainer("mongo:7"))
    redis = stack.enter_context(RedisContainer("redis:7"))
    host = redis.get_container_host_ip()
    return {
        "PAYSTREAM_KAFKA_BOOTSTRAP": kafka.get_bootstrap_server(),
        "PAYSTREAM_POSTGRES_DSN": pg.get_connection_url(),
        "PAYSTREAM_MONGO_URL": mongo.get_connection_url(),
        "PAYSTREAM_REDIS_URL": f"redis://{host}:{redis.get_exposed_port(6379)}/0",
    }


class StackUnderTest:
    """The stack of one test session; ``close()`` stops what it started."""

    def __init__(self) -> None:
        self.cfg = LocalConfig.from_env()
        self._exit = ExitStack()
        self._started_apps: list[str] = []

    def open(self) -> StackUnderTest:
        """Start (or find) the backing services; refused with :class:`StackBusy` while
        another stack owns the run folder (``infra.local.lock``)."""
        acquire(self.cfg.run_dir, TEST_SESSION)
        self._exit.callback(release, self.cfg.run_dir)
        if os.environ.get("PAYSTREAM_KAFKA_BOOTSTRAP"):
            self.mode = "environment"
        elif docker_engine_answers():
            self.mode = "testcontainers"
            os.environ.update(_from_testcontainers(self._exit))
            if start_backing(self.cfg, only=("smtp",)):  # the mail relay is always local
                self._exit.callback(stop, "smtp", self.cfg.run_dir)
            os.environ.update(
                {k: v for k, v in self.cfg.client_env().items() if k.startswith("PAYSTREAM_SMTP")}
            )
        else:
            self.mode = "local"
            started = start_backing(self.cfg)
            if started:
                self._exit.callback(stop_backing, self.cfg)
            os.environ.update(self.cfg.client_env())
        # prometheus lives with the local launcher in every mode but "environment"
        os.environ.setdefault(
            "PAYSTREAM_PROMETHEUS_URL", self.cfg.client_env()["PAYSTREAM_PROMETHEUS_URL"]
        )
        _bootstrap()
        return self

    def start_apps(self, names: list[str] | None = None) -> None:
        """Start paystream processes (all by default) against this stack."""
        for name in names or list(app_processes(self.cfg)):
            if name in self._started_apps:
                continue
            stop(name, self.cfg.run_dir)  # a leftover from an earlier run, if any
            start_app(self.cfg, name)
            self._started_apps.append(name)
            self._exit.callback(stop, name, self.cfg.run_dir)

    def started_apps(self) -> list[str]:
        return list(self._started_apps)

    def stop_apps(self, names: list[str]) -> None:
        """Stop processes this session started (e.g. at the end of a test module)."""
        for name in names:
            stop(name, self.cfg.run_dir)
            if name in self._started_apps:
                self._started_apps.remove(name)

    def restart_app(
        self,
        name: str,
        before_start: Callable[[], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Stop ``name`` and start it again; ``env`` overrides its settings, this time
        only (a later restart without it starts it as before)."""
        stop(name, self.cfg.run_dir)
        if before_start:
            before_start()
        start_app(self.cfg, name, env)

    def close(self) -> None:
        self._exit.close()
