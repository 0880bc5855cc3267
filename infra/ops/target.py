"""Which stack the operator command talks to: the local stack of ``infra.local``'s
configuration (``PAYSTREAM_PORT_OFFSET``, ``PAYSTREAM_*_PORT``), unless
``PAYSTREAM_KAFKA_BOOTSTRAP`` and friends name other servers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from common.settings import Settings
from infra.local.config import LocalConfig


@dataclass(frozen=True, slots=True)
class Target:
    cfg: LocalConfig
    kafka_bootstrap: str
    prometheus_url: str

    @classmethod
    def from_env(cls) -> Target:
        cfg = LocalConfig.from_env()
        env = {**cfg.client_env(), **os.environ}
        return cls(cfg, env["PAYSTREAM_KAFKA_BOOTSTRAP"], env["PAYSTREAM_PROMETHEUS_URL"])

    def settings(self) -> Settings:
        """The settings of a client of this stack (the verifier, the rebuild): its
        ``PAYSTREAM_*`` values put in the environment, where ``Settings`` reads them."""
        os.environ.update(
            {k: v for k, v in self.settings_env().items() if k.startswith("PAYSTREAM_")}
        )
        return Settings(service_name="paystream_cli")

    def settings_env(self) -> dict[str, str]:
        """The ``PAYSTREAM_*`` settings of a client of this stack (the verifier)."""
        return {**self.cfg.client_env(), **os.environ}
