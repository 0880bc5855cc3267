"""The mail as ``SmtpEmail`` writes it for the wire: what a receiving client parses back."""

from __future__ import annotations

from email import message_from_bytes, policy

from notification_worker.channels import Recipient, SmtpEmail
from notification_worker.render import Rendered

SENDER = "paystream <no-reply@paystream.example.com>"
TO = Recipient(user_id="u-1", email="zoe@example.com", full_name="Zoë Example")


def wire(rendered: Rendered) -> bytes:
    return SmtpEmail("127.0.0.1", 25, SENDER, 1.0).message("n-42", TO, rendered)


def test_both_bodies_a_non_ascii_subject_and_the_notification_in_the_message_id() -> None:
    raw = wire(Rendered(subject="You sent €12.00 to Zoë", text="Hi Zoë,\nsent.", html="<p>Zoë</p>"))
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"] == "You sent €12.00 to Zoë"
    assert mail["From"] == SENDER
    assert mail["To"] == "zoe@example.com"
    assert mail["Message-ID"].endswith(".n-42@paystream.local>")
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and plain.get_content() == "Hi Zoë,\nsent."
    assert html is not None and html.get_content() == "<p>Zoë</p>"


def test_lines_end_in_crlf_and_a_text_only_mail_is_one_part() -> None:
    raw = wire(Rendered(subject="Password reset", text="line one\nline two"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail.get_content_type() == "text/plain"
    assert mail["Subject"] == "Password reset"
    assert mail.get_content() == "line one\nline two"


def test_the_envelope_sender_is_the_bare_address() -> None:
    assert SmtpEmail("127.0.0.1", 25, SENDER, 1.0).envelope_from == "no-reply@paystream.example.com"
