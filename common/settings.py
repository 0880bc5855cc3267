"""Settings shared by every service, read from the environment (prefix ``PAYSTREAM_``).

Each service subclasses :class:`ServiceSettings` only when it needs more; the addresses
of the backing services are the same for all of them.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Addresses and knobs common to all paystream processes."""

    model_config = SettingsConfigDict(env_prefix="PAYSTREAM_", extra="ignore")

    env: str = "dev"
    service_name: str = "paystream"
    # Which of the service's instances this process is, in every log line (the launcher's
    # process name, e.g. wallet_decider-2, when it runs several); empty when not told.
    instance: str = ""
    log_level: str = "INFO"

    kafka_bootstrap: str = "127.0.0.1:19092"
    # Partitions of each topic (created by common.bootstrap): at most that many instances of
    # a worker share a topic. 2 on one machine: at the same load, 8 doubled the transfers'
    # latency (each decider poll waits for its slowest partition's transaction;
    # docs/benchmarks.md, "Partitions"); a cluster sets more (infra/k8s: 8).
    kafka_partitions: int = Field(default=2, ge=1)
    # How long a fetch waits for at least kafka_fetch_min_bytes: under load, consumers
    # take fewer, bigger batches (less CPU for the broker and for them, more per batch
    # amortised); an idle topic answers after at most the wait. Each fetch costs the
    # broker and the consumer about half a millisecond of CPU on our 2-core hosts
    # whatever it carries, so 100 ms (10 fetches a second per idle consumer, batches of
    # up to 100 ms under load) bought more throughput than 20 ms did, for at most 100 ms
    # more latency per consumer hop (docs/benchmarks.md).
    kafka_fetch_max_wait_ms: int = Field(default=100, ge=0)
    kafka_fetch_min_bytes: int = Field(default=65536, ge=1)
    # The consumers a request waits on (the decider, the saga and provider workers) fetch
    # with these instead (docs/architecture.md, "Prompt fetches").
    kafka_prompt_fetch_max_wait_ms: int = Field(default=20, ge=0)
    kafka_prompt_fetch_min_bytes: int = Field(default=65536, ge=1)
    # How long the services' producer (common.resources: the command APIs' appends) waits
    # to fill a batch before sending it. 0: a request's appends go at once; under load they
    # still share produce requests, as aiokafka sends one request at a time per broker and
    # the next batch fills meanwhile. A transfer's two appends (request event, then debit)
    # waited 5 ms each (docs/benchmarks.md, "Linger").
    kafka_linger_ms: int = Field(default=0, ge=0)
    postgres_dsn: str = "postgresql+asyncpg://paystream:paystream@127.0.0.1:15432/paystream"
    mongo_url: str = "mongodb://127.0.0.1:27117/"
    mongo_db: str = "paystream"
    redis_url: str = "redis://127.0.0.1:16379/0"
    prometheus_url: str = "http://127.0.0.1:19090"
    # The mail relay notification_worker sends through (locally infra.mailbox).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=11025, ge=1, le=65535)

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # CPU-heavy work (password hashing, common.cpu): at most this many calls at once (0:
    # one per core the process may use); a call that cannot start within the wait is
    # answered 503 with Retry-After, well inside the gateway's upstream_timeout_s.
    cpu_work_slots: int = Field(default=0, ge=0)
    cpu_work_max_wait_s: float = Field(default=2.0, ge=0)
    # On SIGTERM, how long open requests may still finish before the server closes them;
    # then the lifespan stops the process's clients and loops (infra/k8s sizes the pods'
    # terminationGracePeriodSeconds on it).
    shutdown_drain_s: int = Field(default=10, ge=1)

    gateway_url: str = "http://127.0.0.1:18000"
    user_svc_url: str = "http://127.0.0.1:18001"
    wallet_svc_url: str = "http://127.0.0.1:18002"
    transaction_svc_url: str = "http://127.0.0.1:18003"
    pgw_svc_url: str = "http://127.0.0.1:18004"
    notification_worker_url: str = "http://127.0.0.1:18005"
    audit_svc_url: str = "http://127.0.0.1:18006"

    jwt_issuer: str = "paystream"
    jwt_audience: str = "paystream-api"

    # HMAC key of pgw_svc's signed callbacks (common.signatures): pgw_svc signs them,
    # transaction_svc verifies them.
    provider_callback_secret: SecretStr = SecretStr("dev-provider-callback-secret")

    # This process's own service client at user_svc (common.service_token): the
    # client-credentials grant gives it tokens with role ``service``. Empty: it has none.
    service_client_id: str = ""
    service_client_secret: SecretStr = SecretStr("")

    @property
    def jwks_url(self) -> str:
        return f"{self.user_svc_url}/.well-known/jwks.json"

    def fetch_tuning(self, prompt: bool = False) -> dict[str, int]:
        """Keyword arguments for an ``AIOKafkaConsumer``; ``prompt``: one a request's
        answer waits on, else one that batches."""
        if prompt:
            return {
                "fetch_max_wait_ms": self.kafka_prompt_fetch_max_wait_ms,
                "fetch_min_bytes": self.kafka_prompt_fetch_min_bytes,
            }
        return {
            "fetch_max_wait_ms": self.kafka_fetch_max_wait_ms,
            "fetch_min_bytes": self.kafka_fetch_min_bytes,
        }
