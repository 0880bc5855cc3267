"""The service clients of a local stack: one random secret per run folder, so that a
restarted process gets the same one.

user_svc seeds every client of :data:`SERVICE_CLIENTS` (``PAYSTREAM_SEED_SERVICE_CLIENTS``)
and every process of the package named like the client, its API and its workers alike,
holds that client's id and secret (``PAYSTREAM_SERVICE_CLIENT_ID``/``_SECRET``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

# client id = the package whose processes call other services as themselves
SERVICE_CLIENTS = ("transaction_svc", "notification_worker")


def client_secret(run_dir: Path, client_id: str) -> str:
    """The run's secret of ``client_id``, made on first use (readable by the owner only;
    two launchers racing both end up with the first one written)."""
    folder = run_dir / "secrets"
    path = folder / f"{client_id}.secret"
    if not path.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = folder / f".{client_id}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)  # atomic: only the first draft becomes the secret
        draft.unlink()
    return path.read_text()


def credentials_env(run_dir: Path, module: str) -> dict[str, str]:
    """The credential settings of the process that runs ``module``."""
    package = module.split(".")[0]
    if package == "user_svc":
        seeds = ",".join(f"{c}={client_secret(run_dir, c)}" for c in SERVICE_CLIENTS)
        return {"PAYSTREAM_SEED_SERVICE_CLIENTS": seeds}
    if package in SERVICE_CLIENTS:
        return {
            "PAYSTREAM_SERVICE_CLIENT_ID": package,
            "PAYSTREAM_SERVICE_CLIENT_SECRET": client_secret(run_dir, package),
        }
    return {}
