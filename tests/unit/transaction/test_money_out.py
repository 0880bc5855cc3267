"""Unverified accounts and money leaving a wallet: allowed by default, refused (403
``email_not_verified``) when the setting is off, and verified accounts always pass."""

from __future__ import annotations

import pytest

from common.auth import Principal
from common.errors import Problem
from transaction_svc.api import DEPOSITS, TRANSFERS, WITHDRAWALS, may_move_money_out
from transaction_svc.payments_api import PAYMENTS, REFUNDS
from transaction_svc.settings import TransactionSettings

UNVERIFIED = Principal(subject="u", role="user")
VERIFIED = Principal(subject="v", role="user", email_verified=True)


def test_by_default_an_unverified_account_may_move_money_out() -> None:
    may_move_money_out(TransactionSettings(), UNVERIFIED)


def test_with_the_setting_off_only_verified_accounts_may() -> None:
    strict = TransactionSettings(unverified_may_move_money=False)
    may_move_money_out(strict, VERIFIED)
    with pytest.raises(Problem) as refused:
        may_move_money_out(strict, UNVERIFIED)
    assert (refused.value.status, refused.value.code) == (403, "email_not_verified")


def test_the_posts_that_move_money_out_are_marked() -> None:
    assert all(post.out for post in (TRANSFERS, WITHDRAWALS, PAYMENTS, REFUNDS))
    assert not DEPOSITS.out
