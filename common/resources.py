"""The clients one process holds, opened in its lifespan and closed after it.

A service says which backing services it needs; each one opened also gets a readiness
check, so ``/ready`` reports exactly the dependencies the service has. The token verifier
of a service that reads access tokens is opened here too, following the ended sessions
on the process's Redis, and closed with the rest.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from common.auth import JwksVerifier
from common.db import answers, make_engine
from common.health import ReadyCheck
from common.kafka.producer import make_producer
from common.mongo import make_mongo_client
from common.redis import make_redis
from common.revocation import RevokedSessions
from common.settings import Settings


@dataclass
class Resources:
    """Open clients; attributes are None for what the service did not ask for."""

    settings: Settings
    engine: AsyncEngine | None = None
    producer: AIOKafkaProducer | None = None
    mongo: AsyncMongoClient[dict[str, Any]] | None = None
    redis: Redis | None = None
    checks: dict[str, ReadyCheck] = field(default_factory=dict)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def open(
        self,
        *,
        postgres: bool = False,
        kafka: bool = False,
        mongo: bool = False,
        redis: bool = False,
    ) -> Resources:
        s = self.settings
        if postgres:
            self.engine = make_engine(s.postgres_dsn)
            self._stack.push_async_callback(self.engine.dispose)
            self.checks["postgres"] = self._check_postgres
        if kafka:
            self.producer = make_producer(
                s.kafka_bootstrap, client_id=s.service_name, linger_ms=s.kafka_linger_ms
            )
            await self.producer.start()
            self._stack.push_async_callback(self.producer.stop)
            self.checks["kafka"] = self._check_kafka
        if mongo:
            self.mongo = make_mongo_client(s.mongo_url, s.service_name)
            self._stack.push_async_callback(self.mongo.close)
            self.checks["mongo"] = self._check_mongo
        if redis:
            self.redis = make_redis(s.redis_url)
            self._stack.push_async_callback(self.redis.aclose)
            self.checks["redis"] = self._check_redis
        return self

    async def revoked_sessions(self) -> RevokedSessions:
        """The sessions ended before their tokens expire, followed on the opened Redis
        until the resources close."""
        assert self.redis is not None, "open(redis=True) first"
        revoked = RevokedSessions()
        self._stack.push_async_callback(revoked.stop)
        await revoked.start(self.redis)
        return revoked

    async def token_verifier(self, client: httpx.AsyncClient | None = None) -> JwksVerifier:
        """The verifier of the access tokens the service is sent (the settings' JWKS,
        issuer and audience), refusing the ended sessions; ``client`` fetches the JWKS."""
        s = self.settings
        revoked = await self.revoked_sessions()
        verifier = JwksVerifier(
            s.jwks_url, s.jwt_issuer, s.jwt_audience, client=client, revoked=revoked
        )
        self._stack.push_async_callback(verifier.aclose)
        return verifier

    async def close(self) -> None:
        await self._stack.aclose()

    async def _check_postgres(self) -> None:
        assert self.engine is not None
        await answers(self.engine)

    async def _check_kafka(self) -> None:
        assert self.producer is not None
        await self.producer.client.fetch_all_metadata()

    async def _check_mongo(self) -> None:
        assert self.mongo is not None
        await self.mongo.admin.command("ping")

    async def _check_redis(self) -> None:
        assert self.redis is not None
        await self.redis.ping()
