"""The alert and recording rules (infra/prometheus) pass ``promtool``'s own checks and
unit tests, every alert has a test case there and a runbook in docs/runbooks/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra/prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool is missing: run `python -m infra.local install` (Debian prometheus)"
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=RULES, check=False)


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_rules_are_valid_promql() -> None:
    checked = promtool("check", "rules", "rules.yml", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    # given the alert rules and their test cases, when promtool runs them
    run = promtool("test", "rules", "tests.yml")
    # then every case saw exactly the alerts it expects
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_is_tested_and_has_a_runbook() -> None:
    tests = yaml.safe_load((RULES / "tests.yml").read_text())["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    for rule in alerts():
        name = rule["alert"]
        assert name in tested, f"{name} has no promtool case that fires it"
        runbook = rule["annotations"]["runbook_url"]  # type: ignore[index]
        assert (ROOT / runbook).is_file(), f"{name}: {runbook} is missing"
