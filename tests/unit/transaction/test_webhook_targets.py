"""Which webhook URLs are accepted: https to public addresses, unless the deployment
allows plain http and loopback (the local stack)."""

from __future__ import annotations

import ipaddress

import pytest

from common.errors import Problem
from transaction_svc.webhooks.catalog import DELIVERABLE, unknown, wants
from transaction_svc.webhooks.targets import (
    Target,
    TargetPolicy,
    address_allowed,
    check_target,
    parse_target,
)

STRICT = TargetPolicy()
LOCAL = TargetPolicy(allow_http=True, allow_loopback=True)


def code_of(url: str, policy: TargetPolicy = STRICT) -> str:
    with pytest.raises(Problem) as caught:
        parse_target(url, policy)
    assert caught.value.status == 422
    return caught.value.code


def test_an_https_url_gives_its_host_and_port() -> None:
    assert parse_target("https://shop.example.com/hooks", STRICT) == Target("shop.example.com", 443)
    assert parse_target("https://shop.example.com:8443/h?x=1", STRICT) == Target(
        "shop.example.com", 8443
    )


@pytest.mark.parametrize(
    "url",
    ["not a url", "shop.example.com/hooks", "/hooks", "ftp://shop.example.com/", "https://",
     "https://user:pw@shop.example.com/", "javascript:alert(1)"],
)  # fmt: skip
def test_what_is_not_an_http_url_with_a_host_is_invalid(url: str) -> None:
    assert code_of(url) == "webhook_url_invalid"
    assert code_of(url, LOCAL) == "webhook_url_invalid"


def test_plain_http_is_refused_unless_allowed() -> None:
    assert code_of("http://shop.example.com/hooks") == "webhook_url_not_https"
    assert parse_target("http://shop.example.com/hooks", LOCAL) == Target("shop.example.com", 80)


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "fc00::1", "fe80::1", "::", "::ffff:10.0.0.1", "::ffff:169.254.169.254"],
)  # fmt: skip
def test_private_link_local_and_reserved_addresses_are_refused_everywhere(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not address_allowed(ip, STRICT)
    assert not address_allowed(ip, LOCAL)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_refused_unless_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not address_allowed(ip, STRICT)
    assert address_allowed(ip, LOCAL)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address), STRICT)


async def test_a_host_is_judged_by_what_it_resolves_to() -> None:
    # given names and literals that resolve without a DNS server (the hosts file, literals)
    with pytest.raises(Problem) as caught:
        await check_target("https://localhost/hooks", STRICT)
    assert caught.value.code == "webhook_target_refused"
    with pytest.raises(Problem) as caught:
        await check_target("https://169.254.169.254/latest/meta-data", LOCAL)
    assert caught.value.code == "webhook_target_refused"
    with pytest.raises(Problem) as caught:
        await check_target("https://no-such-host.invalid/hooks", STRICT)
    assert caught.value.code == "webhook_host_unresolvable"
    # and loopback passes where the policy allows it
    assert await check_target("http://127.0.0.1:9/hooks", LOCAL) == Target("127.0.0.1", 9)


def test_subscriptions_name_merchant_events_or_all() -> None:
    assert {"PaymentCompleted", "RefundFailed", "ChargeSucceeded"} <= DELIVERABLE
    assert "DepositCompleted" not in DELIVERABLE  # a deposit is no merchant's
    assert unknown(["*", "PaymentCompleted", "WalletCredited"]) == ["WalletCredited"]
    assert wants(["*"], "RefundCompleted")
    assert wants(["PaymentCompleted"], "PaymentCompleted")
    assert not wants(["PaymentCompleted"], "PaymentFailed")
