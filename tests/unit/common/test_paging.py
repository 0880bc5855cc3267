"""One way to cut a keyset page and point at the next (common.paging)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from common.cursor import decode_cursor
from common.paging import cut_page, fetch_page

INT = TypeAdapter(int)


def test_a_full_page_with_one_more_row_points_at_its_last_row() -> None:
    # given the store returned limit + 1 rows
    page, cursor = cut_page([10, 20, 30], 2, lambda r: r)
    # then the page holds limit rows and the cursor is the last kept row's key
    assert page == [10, 20]
    assert cursor is not None and decode_cursor(cursor, INT) == 20


def test_the_last_page_has_no_cursor() -> None:
    assert cut_page([10, 20], 2, lambda r: r) == ([10, 20], None)
    assert cut_page([10], 2, lambda r: r) == ([10], None)
    assert cut_page([], 2, lambda r: r) == ([], None)


def test_fetch_page_asks_for_one_row_more_than_the_limit() -> None:
    asked: list[int] = []

    async def fetch(n: int) -> Sequence[int]:
        asked.append(n)
        return list(range(n))

    page, cursor = asyncio.run(fetch_page(fetch, 3, lambda r: r))
    assert asked == [4]
    assert page == [0, 1, 2]
    assert cursor is not None and decode_cursor(cursor, INT) == 2


@given(st.integers(0, 30), st.integers(1, 10))
def test_walking_the_pages_yields_every_row_once_in_order(total: int, limit: int) -> None:
    # given a keyset store of `total` rows, paged by "rows after the cursor's key"
    rows = list(range(total))

    async def walk() -> list[int]:
        seen: list[int] = []
        after: int | None = None
        while True:
            start = after + 1 if after is not None else 0

            async def fetch(n: int, start: int = start) -> Sequence[int]:
                return rows[start : start + n]

            page, cursor = await fetch_page(fetch, limit, lambda r: r)
            seen += page
            if cursor is None:
                return seen
            after = decode_cursor(cursor, INT)

    # then following next cursors visits every row exactly once, in order
    assert asyncio.run(walk()) == rows
