"""The whole local stack: backing services, topics, and the paystream services."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

from infra.local.backing import BACKING, STARTERS, start_backing, stop_backing
from infra.local.config import (
    LOCAL_SETTINGS,
    MAX_INSTANCES,
    REPO_ROOT,
    SCALED,
    WORKER_PORTS,
    LocalConfig,
    instance_name,
    parse_instance,
)
from infra.local.credentials import credentials_env
from infra.local.install import install_all
from infra.local.procs import log_file, port_open, read_pid, spawn, stop, wait_until

COMPOSE = ["docker", "compose", "-f", str(REPO_ROOT / "docker-compose.yml")]


def docker_engine_answers() -> bool:
    """True only when a Docker engine answers a ping (the client alone is not enough)."""
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:
        return False


def install(cfg: LocalConfig) -> None:
    install_all(cfg)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return bool(resp.status == 200)
    except OSError:
        return False


def app_process(cfg: LocalConfig, process: str) -> tuple[list[str], int]:
    """(argv, port) of a paystream process: a service, a worker, or an instance of a
    scaled one (``wallet_decider-2``, whether the stack runs it or not)."""
    name, _ = parse_instance(process)
    module = WORKER_PORTS[name][0] if name in WORKER_PORTS else name
    return [sys.executable, "-m", module], cfg.port_of(process)


def app_processes(
    cfg: LocalConfig, instances: int | None = None
) -> dict[str, tuple[list[str], int]]:
    """name -> (argv, port) of every paystream process the stack runs: each process of
    ``SCALED`` ``instances`` times (by default ``cfg.worker_instances``)."""
    names = []
    for name in [*cfg.service_ports, *WORKER_PORTS]:
        count = (instances or cfg.worker_instances) if name in SCALED else 1
        names += [instance_name(name, i) for i in range(1, count + 1)]
    return {name: app_process(cfg, name) for name in names}


def start_app(cfg: LocalConfig, name: str, env: dict[str, str] | None = None) -> None:
    """Start one paystream process (an API, a worker, or an instance of one: ``name``
    as ``app_process`` takes it) and wait for its /health. ``env`` overrides its
    settings last (a test points a worker at a stand-in)."""
    argv, port = app_process(cfg, name)
    env = {
        **cfg.client_env(),
        **LOCAL_SETTINGS,
        **credentials_env(cfg.run_dir, argv[-1]),
        "PAYSTREAM_SERVICE_NAME": parse_instance(name)[0],
        "PAYSTREAM_INSTANCE": name,
        "PAYSTREAM_HTTP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    print(f"[up] starting {name}", flush=True)
    spawn(name, argv, cfg.run_dir, env=env, cwd=REPO_ROOT)
    pidfile = cfg.run_dir / "pids" / f"{name}.pid"

    def healthy() -> bool:
        if read_pid(pidfile) is None:
            raise RuntimeError(f"{name} exited while starting: see {log_file(cfg.run_dir, name)}")
        return _http_ok(f"http://127.0.0.1:{port}/health")

    try:
        wait_until(healthy, f"{name} /health", 60)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: see {log_file(cfg.run_dir, name)}") from None


def start_apps(cfg: LocalConfig) -> list[str]:
    started = []
    for name in app_processes(cfg):
        if read_pid(cfg.run_dir / "pids" / f"{name}.pid") is None:
            start_app(cfg, name)
            started.append(name)
    return started


def prepare(cfg: LocalConfig) -> None:
    """Topics and database schemas, idempotently."""
    env = {**os.environ, **cfg.client_env()}
    subprocess.run([sys.executable, "-m", "common.bootstrap"], env=env, check=True, cwd=REPO_ROOT)


def up(cfg: LocalConfig, services: bool = True, docker: bool = False) -> None:
    if docker:
        subprocess.run([*COMPOSE, "up", "-d", "--build", "--wait"], check=True)
        return
    install(cfg)
    # Prometheus last: started before the services, it would see them down while they
    # start and mail a ServiceDown for each
    started = start_backing(cfg, only=tuple(b for b in BACKING if b != "prometheus"))
    print(f"[up] backing services running ({', '.join(started) or 'already up'})", flush=True)
    print("[up] creating topics and migrating schemas", flush=True)
    prepare(cfg)
    if services:
        names = start_apps(cfg)
        print(f"[up] paystream services running ({', '.join(names) or 'already up'})")
        print(f"[up] gateway: http://127.0.0.1:{cfg.service_ports['gateway']}/api/v1")
    start_backing(cfg, only=("prometheus",))
    print(f"[up] Prometheus: http://127.0.0.1:{cfg.prometheus_port}/graph")


def down(cfg: LocalConfig, docker: bool = False) -> None:
    if docker:
        subprocess.run([*COMPOSE, "down", "-v"], check=True)
        return
    for name in reversed(list(app_processes(cfg, MAX_INSTANCES))):  # whatever was started
        stop(name, cfg.run_dir)
    stop_backing(cfg)
    print("[down] stopped")


@dataclass(frozen=True, slots=True)
class ProcessState:
    """One process of the local stack: ``state`` is ready (a paystream process answers
    200 on /ready), up (a backing service answers on its port), not-ready (running, not
    answering yet or a dependency down) or down (not running)."""

    name: str
    state: str
    pid: int | None
    port: int


def process_states(cfg: LocalConfig) -> list[ProcessState]:
    """The state of every process of the local stack, backing services first."""
    states = []
    for name, (_, attr) in STARTERS.items():
        port = getattr(cfg, attr)
        pid = read_pid(cfg.run_dir / "pids" / f"{name}.pid")
        state = "up" if pid and port_open(port) else ("not-ready" if pid else "down")
        states.append(ProcessState(name, state, pid, port))
    for name, (_, port) in app_processes(cfg).items():
        pid = read_pid(cfg.run_dir / "pids" / f"{name}.pid")
        ready = pid is not None and _http_ok(f"http://127.0.0.1:{port}/ready")
        state = "ready" if ready else ("not-ready" if pid else "down")
        states.append(ProcessState(name, state, pid, port))
    return states


def status(cfg: LocalConfig, docker: bool = False) -> int:
    """Print one line per process; exit code 0 only when every one is up or ready."""
    if docker:
        return subprocess.run([*COMPOSE, "ps"], check=False).returncode
    states = process_states(cfg)
    for s in states:
        print(f"{s.name:22} {s.state:10} pid={s.pid or '-':<8} port={s.port}")
    return 0 if all(s.state in ("up", "ready") for s in states) else 1
