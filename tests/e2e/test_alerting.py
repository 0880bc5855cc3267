"""An alert reaches someone: with a worker stopped, Prometheus fires ServiceDown and the
stack's Alertmanager mails it to the on-call address through the stack's SMTP server and
posts it to the stack's webhook receiver (``infra.alertsink``)."""

from __future__ import annotations

import httpx
import pytest

from infra.local.backing import ONCALL
from infra.testing.alerts import Alert, read_alerts, wait_for_alert
from infra.testing.kafka import wait_for
from infra.testing.mailbox import Mail, read_mail, wait_for_mail
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e
WORKER = "transaction_provider"


def _service_down(a: Alert) -> bool:
    return a["labels"].get("alertname") == "ServiceDown" and a["labels"].get("job") == WORKER


async def _told_resolved(apps: StackUnderTest) -> bool:
    """No ServiceDown of the worker is active in Alertmanager, and the last one posted,
    if any, was posted resolved."""
    url = f"http://127.0.0.1:{apps.cfg.alertmanager_port}/api/v2/alerts"
    async with httpx.AsyncClient(timeout=5) as client:
        active = (await client.get(url, params={"active": "true"})).json()
    told = [a for a in read_alerts(apps.cfg.alerts_dir) if _service_down(a)]
    return not any(_service_down(a) for a in active) and (
        not told or told[-1]["status"] == "resolved"
    )


async def test_a_stopped_worker_is_mailed_to_the_on_call_address(apps: StackUnderTest) -> None:
    # given the stack running, and any ServiceDown of the worker from the stack's start
    # (Prometheus starts before the services) resolved and told: Alertmanager would not
    # tell again of an alert it last told as firing. Only what arrives from now on counts.
    await wait_for(lambda: _told_resolved(apps), timeout=240, interval=2.0)
    before = {m.path for m in read_mail(apps.cfg.mail_dir)}
    posted_before = {a["file"] for a in read_alerts(apps.cfg.alerts_dir)}

    def posted(a: Alert) -> bool:
        return a["file"] not in posted_before and a["status"] == "firing" and _service_down(a)

    def alert(mail: Mail) -> bool:
        return (
            mail.path not in before
            and ONCALL in mail.to
            and mail.subject.startswith("[FIRING")
            and "ServiceDown" in mail.subject
            and WORKER in mail.subject
        )

    # when a worker stops (30 s down before the alert fires; Alertmanager mails a new
    # alert of a group within its group interval, 1 min)
    apps.stop_apps([WORKER])
    try:
        (mail, *_) = await wait_for_mail(apps.cfg.mail_dir, alert, timeout=150)
        hook = await wait_for_alert(apps.cfg.alerts_dir, posted, timeout=60)
    finally:
        apps.start_apps([WORKER])
    # then the mail names the alert, the process and the runbook
    body = mail.body("html") if mail.message.get_body(("html",)) else mail.body()
    assert "docs/runbooks/ServiceDown.md" in body
    assert f"{WORKER} is not answering its /metrics scrape" in body
    # and the webhook receiver got the same alert, with its runbook
    assert hook["annotations"]["runbook_url"] == "docs/runbooks/ServiceDown.md"
    assert hook["receiver"] == "oncall"
