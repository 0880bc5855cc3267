"""Preferences: defaults, partial changes, security always on, and the API model refusing
unknown channels and categories and turning security off."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notification_worker.preferences import channels_for, effective, merged
from notification_worker.schemas import PreferencesIn


def test_defaults_are_email_and_push() -> None:
    prefs = effective(None)
    assert prefs["transfers"] == {"email": True, "sms": False, "push": True}
    assert prefs["security"] == {"email": True}
    assert channels_for("deposits", None) == ("email", "push")


def test_a_change_keeps_what_it_does_not_name() -> None:
    stored = merged(None, {"transfers": {"sms": True}})
    stored = merged(stored, {"transfers": {"email": False}, "deposits": {"push": False}})
    assert channels_for("transfers", stored) == ("sms", "push")
    assert channels_for("deposits", stored) == ("email",)
    assert channels_for("withdrawals", stored) == ("email", "push")


def test_security_cannot_be_turned_off() -> None:
    # even a stored switch (written by hand) does not stop a security mail
    assert channels_for("security", {"security": {"email": False}}) == ("email",)
    assert merged(None, {"security": {"email": False}}) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"transfers": {"fax": True}},  # unknown channel
        {"loyalty": {"email": True}},  # unknown category
        {"security": {"email": False}},  # security off
        {"security": {"sms": True}},  # security has no sms
        {"transfers": {"email": "yes please"}},
    ],
)
def test_the_model_refuses_what_cannot_be_set(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PreferencesIn.model_validate(body)


def test_the_model_accepts_a_partial_change() -> None:
    body = PreferencesIn.model_validate({"transfers": {"sms": True}, "security": {"email": True}})
    assert body.model_dump(exclude_none=True) == {
        "transfers": {"sms": True},
        "security": {"email": True},
    }
