"""Reading one HTTP/1.1 request on an asyncio stream: for the tiny servers that tests of
HTTP clients (common/http1.py, the gateway's forwarding) talk to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RawRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]  # names lower-cased, in the order sent
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return dict(self.headers).get(name, default)


async def read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    """The next request on the connection (its body read by Content-Length), or None
    once the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = line.split(" ")
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (x.partition(":") for x in lines)]
    body = await reader.readexactly(int(dict(headers).get("content-length", "0")))
    return RawRequest(method, target, headers, body)
