"""One send per HTTP response: uvicorn's httptools protocol over a corked transport.

uvicorn writes a response's head and its body with two ``transport.write`` calls, and
uvloop sends each at once: two system calls, and two trips through the loopback TCP
stack, per response. System calls are dear on our hosts (py-spy put the two writes at
~15 % of the gateway's CPU), so the protocol here hands uvicorn a transport that keeps
what is written during one turn of the event loop and sends it together at the end of
that turn (``loop.call_soon``): a response written in one go (head, then body, as the
fast lane and Starlette do) leaves in one send, with no timer and no added wait.
Closing sends what is kept first. Everything else goes to the real transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    """Writes made in one turn of the event loop leave in one ``write``."""

    __slots__ = ("_kept", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._kept:
            self._loop.call_soon(self.flush)
        self._kept.append(data)

    def flush(self) -> None:
        if not self._kept:
            return
        data = self._kept[0] if len(self._kept) == 1 else b"".join(self._kept)
        self._kept.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # the rest of the transport's interface
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a :class:`CorkedTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
