"""bench.http1 against a small asyncio HTTP server on 127.0.0.1 (an ephemeral port).

The server answers by path: ``/api/x`` with a Content-Length body echoing the request,
``/api/chunked`` in chunks, ``/api/close`` with ``Connection: close`` and ``/api/http10``
as HTTP/1.0 (both close a little later), ``/api/drop`` and then closes at once,
``/api/noanswer`` by closing without a byte, ``/api/eof`` with a body that runs to the
close, ``/api/continue`` after a 100 Continue, ``/api/slow`` after a pause, ``/api/hang``
after a long one, ``/api/bad`` and ``/api/negative`` with a broken head.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest

from bench.http1 import Http1Pool, HttpError


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    conn: int


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    no_answer: int = 0  # requests still to be dropped without an answer
    seen: list[Seen] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        conn = self.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *lines = head[:-4].decode().split("\r\n")
                method, target, _ = line.split(" ")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append(Seen(method, target, headers, body, conn))
                if not await self.answer(target, body, writer):
                    return
        finally:
            writer.close()

    async def answer(self, target: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Write the answer; False: close the connection."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            payload = orjson.dumps({"path": target, "echo": body.decode()})
            plain = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
            sized = plain + b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
            if target == "/api/slow":
                await asyncio.sleep(0.05)
            elif target == "/api/hang":
                await asyncio.sleep(5)
            elif target == "/api/noanswer" and self.no_answer:
                self.no_answer -= 1
                return False
            elif target == "/api/chunked":
                # pieces split across writes, a chunk extension and a trailer
                writer.write(plain + b"Transfer-Encoding: chunked\r\n\r\n")
                for i in range(0, len(payload), 7):
                    piece = payload[i : i + 7]
                    writer.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                    await asyncio.sleep(0)
                writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")
                return True
            elif target == "/api/close":
                # announced, but the socket lingers: the client must go by the header
                close = b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(payload)
                writer.write(plain + close + payload)
                await writer.drain()
                await asyncio.sleep(0.1)
                return False
            elif target == "/api/http10":  # HTTP/1.0 without keep-alive: closes, later
                writer.write(b"HTTP/1.0" + sized[8:])
                await writer.drain()
                await asyncio.sleep(0.1)
                return False
            elif target == "/api/drop":
                writer.write(sized)
                await writer.drain()
                return False
            elif target == "/api/eof":
                writer.write(plain + b"\r\n" + payload)
                await writer.drain()
                return False
            elif target == "/api/continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
            elif target == "/api/bad":
                writer.write(b"SPDY/9 what\r\n\r\n")
                return True
            elif target == "/api/negative":
                writer.write(plain + b"Content-Length: -1\r\n\r\n")
                return True
            writer.write(sized)
            return True
        finally:
            self.in_flight -= 1


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    srv = await asyncio.start_server(s.handle, "127.0.0.1", 0)
    s.port = srv.sockets[0].getsockname()[1]
    try:
        yield s
    finally:
        srv.close()
        for w in s.writers:
            w.close()
        await srv.wait_closed()


@pytest.fixture
async def pool(server: Server) -> AsyncIterator[Http1Pool]:
    p = Http1Pool(server.url, max_connections=4, timeout=5)
    try:
        yield p
    finally:
        await p.close()


def echo(answer: bytes) -> object:
    return orjson.loads(answer)["echo"]


async def test_keep_alive_reuses_one_connection_and_sends_the_headers(
    server: Server, pool: Http1Pool
) -> None:
    for i in range(5):
        status, answer = await pool.post(
            "x",
            b'{"n": %d}' % i,
            [(b"Authorization", b"Bearer t"), (b"Idempotency-Key", b"k%d" % i)],
        )
        assert status == 202
        assert orjson.loads(answer) == {"path": "/api/x", "echo": f'{{"n": {i}}}'}
    assert server.connections == 1
    assert pool.connections == 1
    assert [s.conn for s in server.seen] == [1] * 5
    last = server.seen[-1]
    assert (last.method, last.target, last.body) == ("POST", "/api/x", b'{"n": 4}')
    assert last.headers["host"] == f"127.0.0.1:{server.port}"
    assert last.headers["authorization"] == "Bearer t"
    assert last.headers["idempotency-key"] == "k4"
    assert last.headers["content-type"] == "application/json"
    assert last.headers["content-length"] == "8"


async def test_an_absolute_path_ignores_the_base_path(server: Server, pool: Http1Pool) -> None:
    status, _ = await pool.post("/other", b"")
    assert status == 202
    assert server.seen[0].target == "/other"
    assert server.seen[0].headers["content-length"] == "0"


async def test_a_chunked_body_is_reassembled_and_the_connection_kept(
    server: Server, pool: Http1Pool
) -> None:
    big = b"y" * 300
    status, answer = await pool.post("chunked", big)
    assert status == 202
    assert echo(answer) == big.decode()
    status, answer = await pool.post("x", b"after")
    assert (status, echo(answer)) == (202, "after")
    assert server.connections == 1


async def test_an_interim_answer_is_skipped(server: Server, pool: Http1Pool) -> None:
    status, answer = await pool.post("continue", b"c")
    assert (status, echo(answer)) == (202, "c")
    assert (await pool.post("x", b""))[0] == 202
    assert server.connections == 1


async def test_a_body_without_length_runs_to_the_close(server: Server, pool: Http1Pool) -> None:
    status, answer = await pool.post("eof", b"abc")
    assert (status, echo(answer)) == (202, "abc")
    status, answer = await pool.post("x", b"next")
    assert (status, echo(answer)) == (202, "next")
    assert server.connections == 2


@pytest.mark.parametrize("path", ["close", "http10", "drop"])
async def test_a_connection_the_server_closed_is_replaced(
    server: Server, pool: Http1Pool, path: str
) -> None:
    for i in range(3):
        status, answer = await pool.post(path, b"%d" % i)
        assert (status, echo(answer)) == (202, str(i))
        if path == "drop":
            await asyncio.sleep(0.01)  # the close reaches the client while idle
    status, answer = await pool.post("x", b"last")
    assert (status, echo(answer)) == (202, "last")
    assert server.connections == 4
    assert [s.conn for s in server.seen] == [1, 2, 3, 4]
    assert pool.retries == 0  # each close was seen before the next request


async def test_a_silent_close_seen_only_after_sending_is_retried(
    server: Server, pool: Http1Pool
) -> None:
    """The server closes right after answering; the next request goes out at once, on
    the connection whose close has not been read yet, and is retried on a new one."""
    for i in range(3):
        status, answer = await pool.post("drop", b"%d" % i)
        assert (status, echo(answer)) == (202, str(i))
    assert server.connections == 3
    assert pool.retries == 2


async def test_a_reused_connection_closed_before_an_answer_is_retried_once(
    server: Server, pool: Http1Pool
) -> None:
    assert (await pool.post("x", b"warm"))[0] == 202
    server.no_answer = 1
    status, answer = await pool.post("noanswer", b"again")
    assert (status, echo(answer)) == (202, "again")
    assert [(s.target, s.conn) for s in server.seen[1:]] == [
        ("/api/noanswer", 1),
        ("/api/noanswer", 2),
    ]
    assert pool.retries == 1

    server.no_answer = 2  # fails on the kept-alive connection and on its replacement
    with pytest.raises(HttpError, match="closed before any answer"):
        await pool.post("noanswer", b"lost")
    assert server.connections == 3
    assert pool.retries == 2


async def test_a_fresh_connection_closed_before_an_answer_is_not_retried(
    server: Server, pool: Http1Pool
) -> None:
    server.no_answer = 1
    with pytest.raises(HttpError):
        await pool.post("noanswer", b"once")
    assert len(server.seen) == 1
    assert pool.retries == 0
    assert (await pool.post("noanswer", b"twice"))[0] == 202


async def test_concurrency_is_bounded_and_waiters_are_served_in_order(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=3, timeout=5)
    try:
        answers = await asyncio.gather(*(pool.post("slow", b"%d" % i) for i in range(12)))
        assert [(s, echo(a)) for s, a in answers] == [(202, str(i)) for i in range(12)]
        assert server.max_in_flight == 3
        assert server.connections == 3
        assert [s.body for s in server.seen] == [b"%d" % i for i in range(12)]
    finally:
        await pool.close()


async def test_a_timeout_raises_and_the_pool_recovers(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout=0.2)
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        hung = asyncio.ensure_future(pool.post("hang", b""))
        queued = asyncio.ensure_future(pool.post("x", b"queued"))  # waits for the one slot
        with pytest.raises(TimeoutError):
            await hung
        with pytest.raises(TimeoutError):
            await queued
        assert loop.time() - t0 < 1
        status, answer = await pool.post("x", b"after")
        assert (status, echo(answer)) == (202, "after")
        assert server.connections == 2  # the timed-out connection was dropped
    finally:
        await pool.close()


async def test_a_caller_queued_past_the_timeout_gets_a_timeout(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout=0.2)
    try:
        loop = asyncio.get_running_loop()
        held = await pool._acquire(loop, loop.time() + 60)  # the one slot, held by hand
        t0 = loop.time()
        with pytest.raises(TimeoutError, match="no free connection"):
            await pool.post("x", b"")
        assert 0.2 <= loop.time() - t0 < 1
        assert server.seen == []
        pool._release(held)
        assert (await pool.post("x", b""))[0] == 202
    finally:
        await pool.close()


async def test_a_cancelled_request_frees_its_connection(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout=5)
    try:
        hung = asyncio.ensure_future(pool.post("hang", b""))
        await asyncio.sleep(0.05)
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung
        status, _ = await asyncio.wait_for(pool.post("x", b""), 1)
        assert status == 202
    finally:
        await pool.close()


async def test_errors_are_oserrors(server: Server, pool: Http1Pool) -> None:
    with pytest.raises(HttpError, match="bad status line"):
        await pool.post("bad", b"")
    with pytest.raises(HttpError, match="bad Content-Length"):
        await pool.post("negative", b"")
    refused = Http1Pool("http://127.0.0.1:1/", max_connections=1, timeout=1)
    with pytest.raises(OSError):
        await refused.post("x", b"")
    await refused.close()
    with pytest.raises(ValueError):
        Http1Pool("https://example.com/", max_connections=1, timeout=1)
