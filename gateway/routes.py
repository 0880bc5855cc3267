"""The route table: which upstream serves a public path, and which paths need no token.

Paths here are the public path with ``/api/v1`` already removed (``/wallets/42``); that
is also the path the upstream receives. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

API_PREFIX = "/api/v1"

USER_SVC = "user_svc"
WALLET_SVC = "wallet_svc"
TRANSACTION_SVC = "transaction_svc"
PGW_SVC = "pgw_svc"
NOTIFICATION_WORKER = "notification_worker"
AUDIT_SVC = "audit_svc"
UPSTREAMS = (USER_SVC, WALLET_SVC, TRANSACTION_SVC, PGW_SVC, NOTIFICATION_WORKER, AUDIT_SVC)

# prefix -> upstream. A prefix matches the path itself and everything below it
# ("/wallets" matches "/wallets" and "/wallets/1/entries", never "/walletsX").
ROUTES: dict[str, str] = {
    "/auth": USER_SVC,
    "/users": USER_SVC,
    "/service": USER_SVC,
    "/.well-known/jwks.json": USER_SVC,
    "/admin/users": USER_SVC,
    "/admin/keys": USER_SVC,
    "/admin/service-clients": USER_SVC,
    "/wallets": WALLET_SVC,
    "/transfers": TRANSACTION_SVC,
    "/deposits": TRANSACTION_SVC,
    "/withdrawals": TRANSACTION_SVC,
    "/payments": TRANSACTION_SVC,
    "/transactions": TRANSACTION_SVC,
    "/schedules": TRANSACTION_SVC,
    "/fx": TRANSACTION_SVC,
    "/currencies": TRANSACTION_SVC,
    "/admin/fx": TRANSACTION_SVC,
    "/admin/transactions": TRANSACTION_SVC,
    "/fees": TRANSACTION_SVC,
    "/limits": TRANSACTION_SVC,
    "/admin/fees": TRANSACTION_SVC,
    "/admin/limits": TRANSACTION_SVC,
    "/payment-methods": PGW_SVC,
    "/webhooks": TRANSACTION_SVC,
    "/notifications": NOTIFICATION_WORKER,
    "/audit": AUDIT_SVC,
}

# (method, path) that are answered without an access token.
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/auth/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/verify-email"),
        ("POST", "/auth/password/forgot"),
        ("POST", "/auth/password/reset"),
        ("POST", "/service/token"),
        ("GET", "/.well-known/jwks.json"),
        ("HEAD", "/.well-known/jwks.json"),
    }
)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Longest-prefix resolution of a path to an upstream name."""

    routes: dict[str, str]
    public: frozenset[tuple[str, str]] = PUBLIC

    def resolve(self, path: str) -> str | None:
        """The upstream serving ``path``, or None when no route matches."""
        best: str | None = None
        for prefix in self.routes:
            if (path == prefix or path.startswith(prefix + "/")) and (
                best is None or len(prefix) > len(best)
            ):
                best = prefix
        return None if best is None else self.routes[best]

    def is_public(self, method: str, path: str) -> bool:
        """True when ``method path`` needs no token (exact match, trailing slash ignored)."""
        return (method.upper(), path.rstrip("/") or "/") in self.public


def has_dot_segments(path: str) -> bool:
    """``.`` or ``..`` segments would let a path escape the prefix it was routed by."""
    return any(seg in (".", "..") for seg in path.split("/"))


DEFAULT_TABLE = RouteTable(ROUTES)
