"""FX on transaction_svc with real Postgres, Kafka and Redis: the currencies and their
minor units; rates as decimal strings, set by admins only (each change kept, published
and cached), drifting within bounds when the feed moves them; quotes that lock a rate,
round down and belong to their caller; every refusal a 4xx problem with a stable code."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from common.db import make_engine
from common.redis import make_redis
from common.settings import Settings
from infra.testing.api import ADMIN_EMAIL, ADMIN_PASSWORD, User, login, register
from infra.testing.kafka import read_topic
from infra.testing.stack import StackUnderTest
from transaction_svc.fx.cache import KEY, RedisRateCache
from transaction_svc.fx.conversion import convert
from transaction_svc.fx.feed import bounds
from transaction_svc.fx.rates import cross, wire
from transaction_svc.fx.source import Feed, Rates
from transaction_svc.fx.table import FEED_RATES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def started(stack: StackUnderTest) -> StackUnderTest:
    # given the configured table recorded once and never moved by the services' feed
    os.environ.update(
        PAYSTREAM_ADMIN_EMAIL=ADMIN_EMAIL,
        PAYSTREAM_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PAYSTREAM_FX_FEED_INTERVAL_S="0",
        PAYSTREAM_FX_QUOTE_TTL_S="30",
    )
    stack.start_apps(["user_svc", "transaction_svc"])
    return stack


@pytest.fixture
async def admin(users: httpx.AsyncClient) -> User:
    return await login(users, ADMIN_EMAIL, ADMIN_PASSWORD)


def problem(r: httpx.Response) -> tuple[int, str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.status_code, r.json()["code"]


async def test_currencies_carry_their_iso_4217_minor_units(
    users: httpx.AsyncClient, transactions: httpx.AsyncClient
) -> None:
    person = await register(users, "reader")
    r = await transactions.get("/currencies", headers=person.auth)
    assert r.status_code == 200, r.text
    units = {c["code"]: c["minor_units"] for c in r.json()["items"]}
    assert len(units) == 34
    assert (units["JPY"], units["USD"], units["KWD"], units["EUR"]) == (0, 2, 3, 2)
    assert (await transactions.get("/currencies")).status_code == 401


async def test_rates_are_decimal_strings_against_any_base(
    users: httpx.AsyncClient, transactions: httpx.AsyncClient
) -> None:
    person = await register(users, "reader")
    # when the rates against USD are read: the configured table, as strings
    r = await transactions.get("/fx/rates", headers=person.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["base"] == "USD" and body["as_of"]
    assert set(body["rates"]) == set(FEED_RATES)
    assert all(isinstance(v, str) for v in body["rates"].values())
    usd_jpy = Decimal(body["rates"]["JPY"])
    # and against JPY: the cross rates, USD's the inverse of JPY's
    r = await transactions.get("/fx/rates", params={"base": "JPY"}, headers=person.auth)
    against_jpy = r.json()["rates"]
    assert "JPY" not in against_jpy and isinstance(against_jpy["USD"], str)
    assert abs(Decimal(against_jpy["USD"]) * usd_jpy - 1) < Decimal("1e-11")
    # an unknown base is a validation problem naming the parameter
    r = await transactions.get("/fx/rates", params={"base": "XXX"}, headers=person.auth)
    assert problem(r) == (422, "validation_error")
    assert r.json()["errors"][0]["loc"] == ["query", "base"]


async def test_only_an_admin_sets_rates_and_every_change_is_kept_published_and_cached(
    started: StackUnderTest, users: httpx.AsyncClient, transactions: httpx.AsyncClient, admin: User
) -> None:
    person = await register(users, "not-an-admin")
    before = datetime.now(UTC) - timedelta(seconds=1)
    unchanged = (await transactions.get("/fx/rates", headers=person.auth)).json()["rates"]
    # when someone who is not an admin sets a rate: refused, nothing changes
    r = await transactions.put("/admin/fx/rates", json={"rates": {"CHF": "2"}}, headers=person.auth)
    assert problem(r) == (403, "forbidden")
    # when rates come as numbers, for the pivot, or for an unknown currency: refused
    for bad, code in [
        ({"rates": {"CHF": 0.95}}, "validation_error"),
        ({"rates": {"CHF": "-1"}}, "validation_error"),
        ({"rates": {"XXX": "1.5"}}, "validation_error"),
        ({"rates": {}}, "validation_error"),
        ({"rates": {"USD": "1.1"}}, "pivot_rate_fixed"),
    ]:
        r = await transactions.put("/admin/fx/rates", json=bad, headers=admin.auth)
        assert problem(r) == (422, code), bad
    assert (await transactions.get("/fx/rates", headers=person.auth)).json()["rates"] == unchanged
    # when the admin sets CHF and HUF
    r = await transactions.put(
        "/admin/fx/rates", json={"rates": {"CHF": "0.9012", "HUF": "355.5"}}, headers=admin.auth
    )
    assert r.status_code == 200, r.text
    assert (r.json()["rates"]["CHF"], r.json()["rates"]["HUF"]) == ("0.9012", "355.5")
    # then every reader sees them (from the refreshed cache), the others unchanged
    rates = (await transactions.get("/fx/rates", headers=person.auth)).json()["rates"]
    assert (rates["CHF"], rates["HUF"], rates["JPY"]) == ("0.9012", "355.5", unchanged["JPY"])
    redis = make_redis(Settings().redis_url)
    try:
        cached = orjson.loads(await redis.hget(KEY, "table"))
    finally:
        await redis.aclose()
    assert cached["rates"]["CHF"] == "0.9012"
    # and the change is on transaction-events, with its admin and decimal strings
    events = await read_topic(
        Settings().kafka_bootstrap, "transaction-events", lambda e: e.type == "FxRatesChanged"
    )
    payload = events[-1].payload
    assert payload["rates"] == {"CHF": "0.9012", "HUF": "355.5"} and payload["base"] == "USD"
    assert payload["changed_by"] == admin.id and events[-1].key == "fx:rates"
    # and the pair's history holds the rate in force before and the admin's change
    r = await transactions.get(
        "/fx/rates/history",
        params={"base": "USD", "quote": "CHF", "since": before.isoformat()},
        headers=person.auth,
    )
    assert r.status_code == 200, r.text
    points = r.json()["items"]
    assert [(p["rate"], p["source"]) for p in points] == [
        (unchanged["CHF"], "in_force"),
        ("0.9012", "admin"),
    ]
    # and a cross pair changes when either of its currencies does
    r = await transactions.get(
        "/fx/rates/history",
        params={"base": "CHF", "quote": "HUF", "since": before.isoformat(), "limit": 1},
        headers=person.auth,
    )
    first = r.json()
    in_force = cross(Decimal(unchanged["CHF"]), Decimal(unchanged["HUF"]))
    assert in_force is not None
    assert [p["rate"] for p in first["items"]] == [wire(in_force)] and first["next_cursor"]
    r = await transactions.get(
        "/fx/rates/history",
        params={"base": "CHF", "quote": "HUF", "since": before.isoformat(),
                "cursor": first["next_cursor"]},
        headers=person.auth,
    )  # fmt: skip
    assert [p["rate"] for p in r.json()["items"]] == ["394.474034621"]
    r = await transactions.get(
        "/fx/rates/history", params={"base": "EUR", "quote": "EUR"}, headers=person.auth
    )
    assert problem(r) == (422, "same_currency")


async def test_a_quote_locks_a_rate_rounds_down_and_belongs_to_its_caller(
    users: httpx.AsyncClient, transactions: httpx.AsyncClient
) -> None:
    person, other = await register(users, "quoter"), await register(users, "other")
    rates = (await transactions.get("/fx/rates", headers=person.auth)).json()["rates"]
    # when 123.45 USD is quoted in KWD (3 minor units)
    body = {"from_currency": "USD", "to_currency": "KWD", "amount": 12_345}
    r = await transactions.post("/fx/quotes", json=body, headers=person.auth)
    assert r.status_code == 201, r.text
    quote = r.json()
    # then the rate is the current one, as a string, and to_amount is rounded down
    rate = Decimal(quote["rate"])
    assert quote["rate"] == rates["KWD"] and isinstance(quote["rate"], str)
    assert quote["to_amount"] == convert(12_345, rate, 2, 3)
    assert Decimal(quote["to_amount"]) <= Decimal(12_345) * rate * 10 < quote["to_amount"] + 1
    assert (quote["from_amount"], quote["fee"]) == (12_345, 0)
    locked = datetime.fromisoformat(quote["expires_at"]) - datetime.fromisoformat(
        quote["created_at"]
    )
    assert locked == timedelta(seconds=30)
    # and from JPY (0 minor units) to KWD
    r = await transactions.post(
        "/fx/quotes",
        json={"from_currency": "JPY", "to_currency": "KWD", "amount": 10_000},
        headers=person.auth,
    )
    jpy = r.json()
    assert jpy["to_amount"] == convert(10_000, Decimal(jpy["rate"]), 0, 3) > 0
    # and the quote is its caller's: someone else cannot see it
    assert (
        await transactions.get(f"/fx/quotes/{quote['id']}", headers=person.auth)
    ).json() == quote
    assert problem(await transactions.get(f"/fx/quotes/{quote['id']}", headers=other.auth)) == (
        404,
        "quote_not_found",
    )


async def test_a_quote_shows_the_transfer_fee_of_its_source_currency(
    users: httpx.AsyncClient, transactions: httpx.AsyncClient, admin: User
) -> None:
    # given a transfer fee in ISK (0 minor units) of 1 % + 5
    rule = {"transaction_type": "transfer", "currency": "ISK", "basis_points": 100, "fixed": 5}
    assert (await transactions.put("/admin/fees", json=rule, headers=admin.auth)).status_code == 200
    person = await register(users, "quoter")
    # when 10_001 ISK is quoted in EUR
    body = {"from_currency": "ISK", "to_currency": "EUR", "amount": 10_001}
    quote = (await transactions.post("/fx/quotes", json=body, headers=person.auth)).json()
    # then the fee is 5 + ceil(100.01) = 106 ISK, on top of the amount converted
    assert (quote["from_amount"], quote["fee"]) == (10_001, 106)
    assert quote["to_amount"] == convert(10_001, Decimal(quote["rate"]), 0, 2)


@pytest.mark.parametrize(
    ("body", "expected", "field"),
    [
        ({"from_currency": "EUR", "to_currency": "EUR", "amount": 100}, "same_currency", None),
        ({"from_currency": "KRW", "to_currency": "USD", "amount": 1}, "amount_too_small", None),
        ({"from_currency": "XXX", "to_currency": "USD", "amount": 100}, "validation_error",
         "from_currency"),
        ({"from_currency": "USD", "to_currency": "EUR", "amount": 0}, "validation_error",
         "amount"),
        ({"from_currency": "USD", "to_currency": "EUR", "amount": -5}, "validation_error",
         "amount"),
        ({"from_currency": "USD", "to_currency": "EUR", "amount": 1.5}, "validation_error",
         "amount"),
        ({"from_currency": "USD", "to_currency": "EUR", "amount": "100"}, "validation_error",
         "amount"),
    ],
)  # fmt: skip
async def test_a_bad_quote_is_a_problem_and_records_nothing(
    started: StackUnderTest,
    users: httpx.AsyncClient,
    transactions: httpx.AsyncClient,
    body: dict[str, Any],
    expected: str,
    field: str | None,
) -> None:
    person = await register(users, "bad-quoter")
    r = await transactions.post("/fx/quotes", json=body, headers=person.auth)
    assert problem(r) == (422, expected)
    if field:
        assert r.json()["errors"][0]["loc"] == ["body", field]
    engine = make_engine(Settings().postgres_dsn, pool_size=1)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM transactions.fx_quotes WHERE owner_id = :o"),
                {"o": person.id},
            )
    finally:
        await engine.dispose()
    assert count == 0


async def test_the_feed_moves_every_rate_within_its_bounds_once_per_interval(
    started: StackUnderTest, users: httpx.AsyncClient, transactions: httpx.AsyncClient
) -> None:
    settings = Settings()
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    redis = make_redis(settings.redis_url)
    rates = Rates(engine, RedisRateCache(redis, 300))
    feed = Feed(FEED_RATES, 1.0, Decimal("0.05"), Decimal("0.01"))
    try:
        before = await rates.current()
        # when the feed (moving once a second) ticks, and at once again
        assert await rates.tick(feed, random.Random(3))
        assert not await rates.tick(feed, random.Random(4))
        after = await rates.current()
    finally:
        await redis.aclose()
        await engine.dispose()
    # then one move was recorded: every rate within 5 % of its anchor (the configured
    # rate, or the last an admin set), none further than a step from where it was
    assert after.version > before.version and set(after.pivot_rates) == set(before.pivot_rates)
    for currency, rate in after.pivot_rates.items():
        low, high = bounds(FEED_RATES[currency], Decimal("0.05"))
        if currency not in ("CHF", "HUF"):  # set by an admin in another test
            assert low <= rate <= high, currency
        assert abs(rate - before.pivot_rates[currency]) <= before.pivot_rates[currency] / 99
    # and readers see the moved rates
    person = await register(users, "reader")
    shown = (await transactions.get("/fx/rates", headers=person.auth)).json()["rates"]
    assert Decimal(shown["JPY"]) == after.pivot_rates["JPY"]
