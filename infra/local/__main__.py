"""``python -m infra.local {install,up,down,status}``: the local stack without Docker.

When a Docker engine answers, ``up``/``down``/``status`` use ``docker compose`` instead.
"""

from __future__ import annotations

import argparse
import sys

from infra.local import stack
from infra.local.config import LocalConfig


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
    if args.command == "install":
        stack.install(cfg)
    elif args.command == "up":
        stack.up(cfg, services=not args.backing_only, docker=use_docker)
    elif args.command == "down":
        stack.down(cfg, docker=use_docker)
    elif args.command == "env":
        for key, value in cfg.client_env().items():
            print(f"export {key}={value}")
    else:
        return stack.status(cfg, docker=use_docker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
