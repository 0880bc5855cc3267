"""``python -m infra.local {install,up,down,status}``: the local stack without Docker.

When a Docker engine answers, ``up``/``down``/``status`` use ``docker compose`` instead.
Without it, ``up`` and ``down`` are refused while another stack (a test session) owns the
run folder (``infra.local.lock``).
"""

from __future__ import annotations

import argparse
import sys

from infra.local import lock, stack
from infra.local.config import LocalConfig

LAUNCHER = "launcher"  # the lock's kind for a stack of ``python -m infra.local up``


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local")
    parser.add_argument("command", choices=["install", "up", "down", "status", "env"])
    parser.add_argument(
        "--backing-only",
        action="store_true",
        help="only the backing services (no paystream process)",
    )
    parser.add_argument("--local", action="store_true", help="never use docker compose")
    args = parser.parse_args(argv)
    cfg = LocalConfig.from_env()
    use_docker = not args.local and stack.docker_engine_answers()
    try:
        if args.command == "install":
            stack.install(cfg)
        elif args.command == "up":
            up(cfg, services=not args.backing_only, docker=use_docker)
        elif args.command == "down":
            down(cfg, docker=use_docker)
        elif args.command == "env":
            for key, value in cfg.client_env().items():
                print(f"export {key}={value}")
        else:
            return stack.status(cfg, docker=use_docker)
    except lock.StackBusy as exc:
        print(f"[{args.command}] refused: {exc}", file=sys.stderr)
        return 1
    return 0


def up(cfg: LocalConfig, services: bool, docker: bool) -> None:
    """Start the stack of ``cfg.run_dir`` unless another stack owns that folder; the lock
    then goes to the stack's Postgres, which runs until ``down``."""
    if docker:
        stack.up(cfg, services, docker=True)
        return
    lock.acquire(cfg.run_dir, LAUNCHER, resume=True)
    try:
        stack.up(cfg, services)
    finally:
        lock.hand_over(cfg.run_dir, LAUNCHER, cfg.run_dir / "pids" / "postgres.pid")


def down(cfg: LocalConfig, docker: bool) -> None:
    """Stop the stack of ``cfg.run_dir`` unless another kind of stack (a test session)
    owns that folder."""
    if docker:
        stack.down(cfg, docker=True)
        return
    lock.acquire(cfg.run_dir, LAUNCHER, resume=True)
    stack.down(cfg)
    lock.release(cfg.run_dir)


if __name__ == "__main__":
    sys.exit(main())
