"""The route table sends each public path to exactly one upstream."""

from __future__ import annotations

import pytest

from gateway.routes import DEFAULT_TABLE, has_dot_segments


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/auth/login", "user_svc"),
        ("/users/me", "user_svc"),
        ("/service/token", "user_svc"),
        ("/.well-known/jwks.json", "user_svc"),
        ("/admin/users", "user_svc"),
        ("/admin/users/42/role", "user_svc"),
        ("/admin/keys/rotate", "user_svc"),
        ("/wallets", "wallet_svc"),
        ("/wallets/42/entries", "wallet_svc"),
        ("/transfers", "transaction_svc"),
        ("/deposits", "transaction_svc"),
        ("/withdrawals", "transaction_svc"),
        ("/payments/7/refunds", "transaction_svc"),
        ("/transactions/7", "transaction_svc"),
        ("/schedules", "transaction_svc"),
        ("/fx/quote", "transaction_svc"),
        ("/fx/quotes/7", "transaction_svc"),
        ("/currencies", "transaction_svc"),
        ("/admin/fx/rates", "transaction_svc"),
        ("/admin/transactions", "transaction_svc"),
        ("/payment-methods", "pgw_svc"),
        ("/webhooks/3", "transaction_svc"),
        ("/notifications", "notification_worker"),
        ("/audit/logs", "audit_svc"),
        ("/audit/verify", "audit_svc"),
    ],
)
def test_each_path_resolves_to_its_upstream(path: str, upstream: str) -> None:
    assert DEFAULT_TABLE.resolve(path) == upstream


@pytest.mark.parametrize(
    "path", ["/", "/walletsX", "/admin", "/admin/other", "/auth", "/.well-known/other", "/audit"]
)
def test_paths_outside_the_table_resolve_to_nothing(path: str) -> None:
    # "/auth" and "/audit" alone are the prefixes themselves: they do resolve
    expected = {"/auth": "user_svc", "/audit": "audit_svc"}.get(path)
    assert DEFAULT_TABLE.resolve(path) == expected


def test_a_prefix_matches_whole_segments_only() -> None:
    assert DEFAULT_TABLE.resolve("/payments") == "transaction_svc"
    assert DEFAULT_TABLE.resolve("/payment-methods/1") == "pgw_svc"
    assert DEFAULT_TABLE.resolve("/transfersfoo") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/verify-email"),
        ("POST", "/service/token"),
        ("GET", "/.well-known/jwks.json"),
        ("post", "/auth/login/"),
    ],
)
def test_public_routes_need_no_token(method: str, path: str) -> None:
    assert DEFAULT_TABLE.is_public(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/auth/logout"),
        ("GET", "/auth/login"),
        ("GET", "/users/me"),
        ("POST", "/service/verify"),
        ("POST", "/auth/login/../../wallets"),
        ("POST", "/wallets"),
    ],
)
def test_everything_else_needs_a_token(method: str, path: str) -> None:
    assert not DEFAULT_TABLE.is_public(method, path)


def test_dot_segments_are_detected() -> None:
    assert has_dot_segments("/wallets/../admin/users")
    assert has_dot_segments("/wallets/./1")
    assert has_dot_segments("/wallets/..")
    assert not has_dot_segments("/wallets/1..2/entries")
