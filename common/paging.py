"""Keyset pages: one way for every list endpoint to cut a page and say where the next starts.

The store is asked for one row more than the page holds; that extra row only tells
whether a next page exists, and the next cursor is the sort key of the page's last row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from common.cursor import encode_cursor

Row = TypeVar("Row")


def cut_page(
    rows: Sequence[Row], limit: int, key: Callable[[Row], Any]
) -> tuple[list[Row], str | None]:
    """The first ``limit`` rows and the cursor after the last of them (None on the last page).

    ``rows`` is what the store returned for ``limit + 1``; ``key`` gives a row's sort key.
    """
    page = list(rows[:limit])
    return page, encode_cursor(key(page[-1])) if len(rows) > limit else None


async def fetch_page(
    fetch: Callable[[int], Awaitable[Sequence[Row]]], limit: int, key: Callable[[Row], Any]
) -> tuple[list[Row], str | None]:
    """Ask ``fetch`` for ``limit + 1`` rows and cut them with `cut_page`."""
    return cut_page(await fetch(limit + 1), limit, key)
