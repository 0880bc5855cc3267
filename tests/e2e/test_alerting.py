"""An alert reaches someone: with a worker stopped, Prometheus fires ServiceDown and the
stack's Alertmanager mails it to the on-call address through the stack's SMTP server."""

from __future__ import annotations

import pytest

from infra.local.backing import ONCALL
from infra.testing.mailbox import Mail, read_mail, wait_for_mail
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e
WORKER = "transaction_provider"


async def test_a_stopped_worker_is_mailed_to_the_on_call_address(apps: StackUnderTest) -> None:
    # given the stack running (the test stack's Prometheus started before the services,
    # so their start may have been mailed already: only mails from now on count)
    before = {m.path for m in read_mail(apps.cfg.mail_dir)}

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
    finally:
        apps.start_apps([WORKER])
    # then the mail names the alert, the process and the runbook
    body = mail.body("html") if mail.message.get_body(("html",)) else mail.body()
    assert "docs/runbooks/ServiceDown.md" in body
    assert f"{WORKER} is not answering its /metrics scrape" in body
