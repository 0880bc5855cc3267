"""The MongoDB-compatible server and Redis are real and enforce what we rely on."""

from __future__ import annotations

import uuid

import pytest
from pymongo.errors import DuplicateKeyError

from common.mongo import make_mongo_client
from common.redis import make_redis
from common.settings import Settings

pytestmark = pytest.mark.integration


async def test_unique_index_rejects_a_duplicate(settings: Settings) -> None:
    client = make_mongo_client(settings.mongo_url, "it")
    coll = client[settings.mongo_db][f"it_{uuid.uuid4().hex[:8]}"]
    try:
        # given a unique index on event_id
        await coll.create_index("event_id", unique=True)
        await coll.insert_one({"event_id": "e-1", "n": 1})
        # when the same event_id is inserted again
        with pytest.raises(DuplicateKeyError):
            await coll.insert_one({"event_id": "e-1", "n": 2})
        # then exactly the first document is stored
        docs = await coll.find({"event_id": "e-1"}).to_list()
        assert [d["n"] for d in docs] == [1]
    finally:
        await coll.drop()
        await client.close()


async def test_redis_round_trip(settings: Settings) -> None:
    redis = make_redis(settings.redis_url)
    key = f"it:{uuid.uuid4().hex}"
    try:
        await redis.set(key, "2550", ex=30)
        assert await redis.get(key) == "2550"
        assert await redis.incrby(key, 50) == 2600
        assert 0 < await redis.ttl(key) <= 30
    finally:
        await redis.delete(key)
        await redis.aclose()
