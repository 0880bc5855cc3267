"""The local launcher gives transaction_svc's processes the credentials user_svc seeds, the
same ones after a restart, and a new secret for a new run folder."""

from __future__ import annotations

import stat
from pathlib import Path

from infra.local.config import SERVICE_PORTS, WORKER_PORTS
from infra.local.credentials import credentials_env
from user_svc.seeded_clients import parse_seeds
from user_svc.settings import UserSettings

MODULES = [*SERVICE_PORTS, *(module for module, _ in WORKER_PORTS.values())]


def test_user_svc_seeds_the_client_whose_secret_transaction_processes_hold(
    tmp_path: Path,
) -> None:
    # given the env of every process of one run
    envs = {module: credentials_env(tmp_path, module) for module in MODULES}
    # then user_svc seeds transaction_svc, and its API and its workers hold that secret
    seeds = parse_seeds(envs["user_svc"]["PAYSTREAM_SEED_SERVICE_CLIENTS"])
    transaction = {
        "transaction_svc",
        "transaction_svc.saga_worker",
        "transaction_svc.provider_worker",
        "transaction_svc.webhooks.worker",
        "transaction_svc.schedules.worker",
    }
    for module in transaction:
        assert envs[module]["PAYSTREAM_SERVICE_CLIENT_ID"] == "transaction_svc"
        assert envs[module]["PAYSTREAM_SERVICE_CLIENT_SECRET"] == seeds["transaction_svc"]
    # and notification_worker holds its own seeded client; no other process holds one
    mailer = envs["notification_worker"]
    assert mailer["PAYSTREAM_SERVICE_CLIENT_ID"] == "notification_worker"
    assert mailer["PAYSTREAM_SERVICE_CLIENT_SECRET"] == seeds["notification_worker"]
    holders = {m for m, env in envs.items() if "PAYSTREAM_SERVICE_CLIENT_SECRET" in env}
    assert holders == transaction | {"notification_worker"}
    # and every variable is a setting of user_svc (a subclass of the common Settings)
    names = {f"PAYSTREAM_{f.upper()}" for f in UserSettings.model_fields}
    assert {k for env in envs.values() for k in env} <= names


def test_a_restart_gets_the_same_secret_and_a_new_run_a_new_one(tmp_path: Path) -> None:
    first = credentials_env(tmp_path / "run", "transaction_svc")
    again = credentials_env(tmp_path / "run", "transaction_svc")
    other = credentials_env(tmp_path / "other-run", "transaction_svc")
    secret = first["PAYSTREAM_SERVICE_CLIENT_SECRET"]
    assert again["PAYSTREAM_SERVICE_CLIENT_SECRET"] == secret
    assert other["PAYSTREAM_SERVICE_CLIENT_SECRET"] != secret
    assert len(secret) >= 32
    # kept readable by its owner only, with no draft left beside it
    files = list((tmp_path / "run" / "secrets").iterdir())
    assert [f.name for f in files] == ["transaction_svc.secret"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
