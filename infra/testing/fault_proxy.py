"""A fault-injecting HTTP/1.1 proxy between a client and a real service, for tests that a
client survives a remote service's faults: a request is forwarded and its answer held past
the client's timeout (``DELAY``), forwarded and its connection dropped before the answer
(``DROP``: the effect happened, the client never hears of it), or answered 503 without
being forwarded (``UNAVAILABLE``: nothing happened). Faults are armed per method and path
and used up one request at a time; every request is kept (``seen``) with the fault it met
and the status it was answered with.

It runs in the test's event loop; a client (an in-process one, or a worker process
started with the proxy's ``url`` as its service address) talks to it as to the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType

import httpx

from infra.testing.http_server import RawRequest, read_request

HOP_BY_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding"}
DECODED = HOP_BY_HOP | {"content-encoding"}  # httpx hands the proxy the decoded body


class Fault(enum.Enum):
    DELAY = "delay"  # forward; answer only after ``delay_s``
    DROP = "drop"  # forward; close the connection without an answer
    UNAVAILABLE = "unavailable"  # answer 503 at once; forward nothing


@dataclass(frozen=True, slots=True)
class Seen:
    """One request that reached the proxy: its fault (None: passed through) and the status
    it was answered with upstream or by the proxy (None: the service gave no answer)."""

    method: str
    path: str
    query: str
    fault: Fault | None
    status: int | None


@dataclass
class _Armed:
    fault: Fault
    method: str
    path: str
    times: int


@dataclass
class FaultProxy:
    """``async with FaultProxy(upstream) as proxy``: listens on a free loopback port
    (``proxy.url``) and forwards to ``upstream``."""

    upstream: str
    delay_s: float = 1.0
    seen: list[Seen] = field(default_factory=list)
    _armed: list[_Armed] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the proxy is not listening"
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> FaultProxy:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=60)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None and self._client is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        await self._client.aclose()

    def arm(self, fault: Fault, method: str, path: str, times: int = 1) -> None:
        """The next ``times`` requests ``method path`` (query aside) meet ``fault``."""
        self._armed.append(_Armed(fault, method, path, times))

    def count(self, method: str, path: str, fault: Fault | None = None) -> int:
        """How many ``method path`` requests met ``fault`` (any fault or none when None)."""
        return sum(
            1 for s in self.seen
            if (s.method, s.path) == (method, path) and (fault is None or s.fault is fault)
        )  # fmt: skip

    def _take(self, request: RawRequest) -> Fault | None:
        path = request.target.partition("?")[0]
        for armed in self._armed:
            if armed.times > 0 and (armed.method, armed.path) == (request.method, path):
                armed.times -= 1
                return armed.fault
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while (request := await read_request(reader)) is not None:
                if not await self._answer(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # the proxy closes (a delayed answer's wait ends with it)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer one request as its fault says; False when the connection is to close."""
        assert self._client is not None
        fault = self._take(request)
        path, _, query = request.target.partition("?")
        if fault is Fault.UNAVAILABLE:
            self.seen.append(Seen(request.method, path, query, fault, 503))
            body = b'{"title": "unavailable (fault proxy)", "status": 503}'
            writer.write(_response(503, [("content-type", "application/problem+json")], body))
            await writer.drain()
            return True
        headers = [(k, v) for k, v in request.headers if k not in HOP_BY_HOP]
        try:
            r = await self._client.request(
                request.method, request.target, headers=headers, content=request.body
            )
        except httpx.TransportError:  # the service is down: the client sees a lost connection
            self.seen.append(Seen(request.method, path, query, fault, None))
            return False
        self.seen.append(Seen(request.method, path, query, fault, r.status_code))
        if fault is Fault.DROP:
            return False
        if fault is Fault.DELAY:
            await asyncio.sleep(self.delay_s)
        answer = [(k, v) for k, v in r.headers.items() if k not in DECODED]
        with contextlib.suppress(ConnectionError):  # a delayed client may have left
            writer.write(_response(r.status_code, answer, r.content))
            await writer.drain()
        return fault is None


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
