"""What deployment files (docker-compose.yml, infra/k8s) are checked against: the
processes the local launcher runs and the settings each of them reads."""

from __future__ import annotations

import importlib

from common.settings import Settings
from infra.local.config import SERVICE_PORTS, WORKER_PORTS
from user_svc.seeded_clients import parse_seeds

# Every process the local launcher runs: name -> python module.
PROCESSES: dict[str, str] = {name: name for name in SERVICE_PORTS} | {
    name: module for name, (module, _) in WORKER_PORTS.items()
}


# The processes that hold a service client's credentials (user_svc must seed each).
CLIENT_HOLDERS = frozenset(
    {
        "transaction_svc",
        "transaction_saga",
        "transaction_provider",
        "transaction_scheduler",
        "notification_worker",
    }
)


def unseeded_clients(seed_setting: str, holders: dict[str, dict[str, str]]) -> list[str]:
    """The holders (name -> env) whose client secret is not the one user_svc's
    ``PAYSTREAM_SEED_SERVICE_CLIENTS`` (``seed_setting``) seeds: their tokens are refused."""
    seeds = parse_seeds(seed_setting)
    return sorted(
        name
        for name, env in holders.items()
        if seeds.get(env["PAYSTREAM_SERVICE_CLIENT_ID"]) != env["PAYSTREAM_SERVICE_CLIENT_SECRET"]
    )


def settings_fields(module: str) -> set[str]:
    """Fields of Settings plus those of its subclasses defined in the service's package."""
    module = module.split(".")[0]  # a worker module runs on its package's settings
    try:
        importlib.import_module(f"{module}.settings")
    except ModuleNotFoundError as exc:
        if exc.name != f"{module}.settings":
            raise
    fields = set(Settings.model_fields)
    todo = list(Settings.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__ == module or cls.__module__.startswith(f"{module}."):
            fields |= set(cls.model_fields)
    return fields


def unknown_settings(module: str, env: set[str]) -> set[str]:
    """The ``PAYSTREAM_*`` names of ``env`` that are no setting of ``module``."""
    known = {f"PAYSTREAM_{f.upper()}" for f in settings_fields(module)}
    return {k for k in env if k.startswith("PAYSTREAM_")} - known
