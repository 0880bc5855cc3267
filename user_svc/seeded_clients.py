"""Service clients from configuration (``PAYSTREAM_SEED_SERVICE_CLIENTS``), so that a
service can hold its own credentials without an admin creating a client by hand.

At startup each configured client is created if absent and its secret hash replaced when
the secret changed (argon2id like every other secret; the stored hash is checked, so a
restart with the same secret writes nothing). Seeded clients have no scopes.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from user_svc import store
from user_svc.passwords import Argon2Passwords

log = logging.getLogger("user_svc.seeded_clients")

MIN_SECRET_LENGTH = 16


def parse_seeds(value: str) -> dict[str, str]:
    """``client_id=secret[,client_id=secret...]`` as ``{client_id: secret}``.

    A secret may hold ``=`` but not ``,``. Errors name the entry's position or client id,
    never a secret.
    """
    seeds: dict[str, str] = {}
    for position, entry in enumerate((e.strip() for e in value.split(",")), start=1):
        if not entry:
            continue
        client_id, sep, secret = entry.partition("=")
        client_id = client_id.strip()
        if not sep or not client_id or not secret:
            raise ValueError(f"seed_service_clients entry {position} is not client_id=secret")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"the seeded secret of {client_id} is shorter than {MIN_SECRET_LENGTH}"
            )
        if client_id in seeds:
            raise ValueError(f"service client {client_id} is seeded twice")
        seeds[client_id] = secret
    return seeds


async def ensure_seeded_clients(
    engine: AsyncEngine, passwords: Argon2Passwords, seeds: dict[str, str]
) -> None:
    """Every client of ``seeds`` exists and accepts its secret. Two instances starting at
    once both upsert a hash of the same secret, and either hash is right."""
    for client_id, secret in seeds.items():
        async with engine.connect() as conn:
            found = await store.service_client(conn, client_id)
        stored = found[0] if found else None
        if (
            stored is not None
            and await passwords.verify(stored, secret)
            and not passwords.needs_rehash(stored)
        ):
            continue
        secret_hash = await passwords.hash(secret)
        async with engine.begin() as conn:
            created = await store.set_service_client_secret(
                conn, client_id=client_id, secret_hash=secret_hash, created_by="seed"
            )
        log.info(
            "seeded service client " + ("created" if created else "secret replaced"),
            extra={"client_id": client_id},
        )
