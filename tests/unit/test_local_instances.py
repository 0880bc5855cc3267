"""The launcher runs each consumer worker as PAYSTREAM_WORKER_INSTANCES instances: named,
ported and scraped one by one, audit_svc (the audit chain's one writer) always once."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from infra.local.backing import prometheus_config
from infra.local.config import SCALED, LocalConfig, instance_name, parse_instance
from infra.local.stack import app_process, app_processes


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> LocalConfig:
    monkeypatch.delenv("PAYSTREAM_PORT_OFFSET", raising=False)
    monkeypatch.delenv("PAYSTREAM_WORKER_INSTANCES", raising=False)
    return LocalConfig.from_env()


def test_one_instance_by_default_keeps_the_plain_names(cfg: LocalConfig) -> None:
    procs = app_processes(cfg)
    assert cfg.worker_instances == 1
    assert set(procs) == {*cfg.service_ports, *cfg.worker_ports}
    assert procs["wallet_decider"][1] == cfg.worker_ports["wallet_decider"]


def test_two_instances_of_each_scaled_process_on_ports_of_their_own(cfg: LocalConfig) -> None:
    procs = app_processes(replace(cfg, worker_instances=2))
    assert set(procs) == {*cfg.service_ports, *cfg.worker_ports} | {f"{n}-2" for n in SCALED}
    assert "audit_svc-2" not in procs and "wallet_projector-2" in procs
    assert procs["wallet_decider-2"][0] == procs["wallet_decider"][0]  # the same module
    ports = [port for _, port in procs.values()]
    assert len(set(ports)) == len(ports)


def test_any_instance_can_be_started_by_name(cfg: LocalConfig) -> None:
    argv, port = app_process(cfg, "transaction_saga-5")
    assert argv[-1] == "transaction_svc.saga_worker" and port == cfg.port_of("transaction_saga-5")
    every = app_processes(cfg, instances=5)
    ports = [port for _, port in every.values()]
    assert len(set(ports)) == len(ports)
    assert max(ports) - min(ports) < 100  # inside the stack's block: offsets never meet


@pytest.mark.parametrize(
    ("process", "parsed"),
    [
        ("wallet_decider", ("wallet_decider", 1)),
        ("wallet_decider-3", ("wallet_decider", 3)),
        ("audit_svc-2", ("audit_svc-2", 1)),  # not scaled: not an instance
        ("wallet_decider-9", ("wallet_decider-9", 1)),  # past the most instances
    ],
)
def test_instance_names_parse_back(process: str, parsed: tuple[str, int]) -> None:
    assert parse_instance(process) == parsed
    if parsed[0] in SCALED:
        assert instance_name(*parsed) == process


def test_prometheus_scrapes_every_instance_labelled_by_its_name(cfg: LocalConfig) -> None:
    doc = yaml.safe_load(prometheus_config(replace(cfg, worker_instances=2)))
    jobs = {job["job_name"]: job["static_configs"] for job in doc["scrape_configs"]}
    decider = jobs["wallet_decider"]
    assert [c["labels"]["instance"] for c in decider] == ["wallet_decider", "wallet_decider-2"]
    assert [c["targets"] for c in decider] == [
        [f"127.0.0.1:{cfg.port_of('wallet_decider')}"],
        [f"127.0.0.1:{cfg.port_of('wallet_decider-2')}"],
    ]
    assert len(jobs["audit_svc"]) == 1


def test_instances_past_the_most_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTREAM_WORKER_INSTANCES", "6")
    with pytest.raises(ValueError, match="PAYSTREAM_WORKER_INSTANCES"):
        LocalConfig.from_env()
