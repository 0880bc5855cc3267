"""``python -m common.bootstrap``: create the Kafka topics and migrate every schema.

Idempotent; the launcher and the Docker stack run it once before the services start.
"""

from __future__ import annotations

import asyncio
import logging

from common.logging import configure_logging
from common.migrate import upgrade_all
from common.settings import Settings
from common.topics import ensure_topics

log = logging.getLogger("paystream.bootstrap")


async def bootstrap(settings: Settings) -> None:
    created = await ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions)
    migrated = await upgrade_all(settings.postgres_dsn)
    log.info("bootstrap done", extra={"topics_created": created, "migrated": migrated})


def main() -> None:
    settings = Settings(service_name="bootstrap")
    configure_logging(settings.service_name, settings.log_level)
    asyncio.run(bootstrap(settings))


if __name__ == "__main__":
    main()
