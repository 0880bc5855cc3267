"""The whole local stack: backing services, topics, and the paystream services."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

from infra.local.backing import BACKING, STARTERS, start_backing, stop_backing
from infra.local.config import LOCAL_SETTINGS, REPO_ROOT, WORKER_PORTS, LocalConfig
from infra.local.credentials import credentials_env
from infra.local.install import install_all
from infra.local.procs import port_open, read_pid, spawn, stop, wait_until

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


def app_processes(cfg: LocalConfig) -> dict[str, tuple[list[str], int]]:
    """name -> (argv, port) of every paystream process the stack runs."""
    procs = {name: ([sys.executable, "-m", name], port) for name, port in cfg.service_ports.items()}
    for name, (module, _) in WORKER_PORTS.items():
        procs[name] = ([sys.executable, "-m", module], cfg.worker_ports[name])
    return procs


def start_app(cfg: LocalConfig, name: str, env: dict[str, str] | None = None) -> None:
    """Start one paystream process (an API or a worker) and wait for its /health.
    ``env`` overrides its settings last (a test points a worker at a stand-in)."""
    argv, port = app_processes(cfg)[name]
    env = {
        **cfg.client_env(),
        **LOCAL_SETTINGS,
        **credentials_env(cfg.run_dir, argv[-1]),
        "PAYSTREAM_SERVICE_NAME": name,
        "PAYSTREAM_HTTP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    spawn(name, argv, cfg.run_dir, env=env, cwd=REPO_ROOT)
    wait_until(lambda: _http_ok(f"http://127.0.0.1:{port}/health"), f"{name} /health", 60)


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
    for name in reversed(list(app_processes(cfg))):
        stop(name, cfg.run_dir)
    stop_backing(cfg)
    print("[down] stopped")


def status(cfg: LocalConfig, docker: bool = False) -> int:
    """Print one line per process; exit code 0 only when all of them run."""
    if docker:
        return subprocess.run([*COMPOSE, "ps"], check=False).returncode
    ports = {name: getattr(cfg, attr) for name, (_, attr) in STARTERS.items()}
    ports.update({name: port for name, (_, port) in app_processes(cfg).items()})
    ok = True
    for name in (*BACKING, *app_processes(cfg)):
        pid = read_pid(cfg.run_dir / "pids" / f"{name}.pid")
        answering = port_open(ports[name])
        ok = ok and pid is not None and answering
        state = "up" if pid and answering else ("starting" if pid else "down")
        print(f"{name:22} {state:9} pid={pid or '-':<8} port={ports[name]}")
    return 0 if ok else 1
