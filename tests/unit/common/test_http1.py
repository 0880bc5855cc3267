"""common.http1 against a small asyncio HTTP server on 127.0.0.1 (an ephemeral port).

The server answers by path: ``/api/x`` with a Content-Length body echoing the request,
``/api/chunked`` in chunks, ``/api/close`` with ``Connection: close`` and ``/api/http10``
as HTTP/1.0 (both close a little later), ``/api/drop`` and then closes at once,
``/api/noanswer`` by closing without a byte, ``/api/eof`` with a body that runs to the
close, ``/api/continue`` after a 100 Continue, ``/api/slow`` after a pause, ``/api/hang``
after a long one, ``/api/bad`` and ``/api/negative`` with a broken head, ``/api/headers``
with several headers, ``/api/204`` and ``/api/304`` without a body, ``/api/badheader``,
``/api/twolengths`` and ``/api/badchunk`` with broken framing; a HEAD gets the head of
the GET answer only.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest

from common.http1 import ClosedBeforeAnswer, ConnectError, Http1Pool, HttpError
from infra.testing.http_server import read_request


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
                request = await read_request(reader)
                if request is None:
                    return
                method, target, body = request.method, request.target, request.body
                headers = dict(request.headers)
                self.seen.append(Seen(method, target, headers, body, conn))
                if method == "HEAD":
                    writer.write(self.head_of(target))
                elif not await self.answer(target, body, writer):
                    return
        finally:
            writer.close()

    def head_of(self, target: str) -> bytes:
        """The head a GET of ``target`` would get (for ``/api/x``), without its body."""
        length = len(orjson.dumps({"path": target, "echo": ""}))
        return b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n" % length

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
            elif target.startswith("/api/headers"):
                writer.write(
                    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                    b"Set-Cookie: a=1\r\nset-cookie: b=2\r\nX-Odd:  spaced value \r\n"
                    b"Location: /wallets/1?x=a:b\r\nX-Empty:\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                )
                return True
            elif target in ("/api/204", "/api/304"):
                # no body, whatever the head says about one
                length = b"Content-Length: 10\r\n" if target == "/api/304" else b""
                writer.write(
                    b"HTTP/1.1 %s OK\r\nX-Kind: none\r\n%s\r\n" % (target[-3:].encode(), length)
                )
                return True
            elif target == "/api/badheader":
                writer.write(plain + b"No colon here\r\nContent-Length: 0\r\n\r\n")
                return True
            elif target == "/api/twolengths":
                writer.write(plain + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
                return True
            elif target == "/api/badchunk":
                writer.write(plain + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nab\r\n")
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
    # the load generator's settings: its POSTs (with Idempotency-Keys) are retried too
    p = Http1Pool(server.url, max_connections=4, timeout=5, retry_unsafe=True)
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


# request(): what the gateway uses


@pytest.fixture
async def gateway_pool(server: Server) -> AsyncIterator[Http1Pool]:
    """The gateway's settings: only idempotent requests are retried."""
    p = Http1Pool(
        f"http://127.0.0.1:{server.port}",
        max_connections=4,
        timeout=5,
        headers=[(b"Accept-Encoding", b"identity")],
        connect_timeout=1,
    )
    try:
        yield p
    finally:
        await p.close()


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_request_returns_the_status_the_raw_headers_and_the_body(
    server: Server, gateway_pool: Http1Pool
) -> None:
    status, headers, body = await gateway_pool.request(
        "POST", "/api/headers?q=1", b"hi", [(b"authorization", b"Bearer t")]
    )
    assert status == 201
    assert headers == [
        (b"Content-Type", b"application/json"),
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"X-Odd", b"spaced value"),
        (b"Location", b"/wallets/1?x=a:b"),
        (b"X-Empty", b""),
        (b"Content-Length", b"%d" % len(body)),
    ]
    assert echo(body) == "hi"
    seen = server.seen[0]
    assert (seen.method, seen.target) == ("POST", "/api/headers?q=1")
    assert seen.headers == {
        "host": f"127.0.0.1:{server.port}",
        "accept-encoding": "identity",
        "authorization": "Bearer t",
        "content-length": "2",
    }


async def test_content_length_goes_with_a_body_or_a_method_that_expects_one(
    server: Server, gateway_pool: Http1Pool
) -> None:
    for method, body in (("GET", b""), ("GET", b"q"), ("DELETE", b""), ("PATCH", b"{}")):
        status, _, _ = await gateway_pool.request(method, "/api/x", body)
        assert status == 202
    lengths = [(s.method, s.headers.get("content-length")) for s in server.seen]
    assert lengths == [("GET", None), ("GET", "1"), ("DELETE", "0"), ("PATCH", "2")]
    assert server.connections == 1


async def test_request_reassembles_a_chunked_answer(
    server: Server, gateway_pool: Http1Pool
) -> None:
    status, headers, body = await gateway_pool.request("POST", "/api/chunked", b"z" * 100)
    assert status == 202
    assert (b"Transfer-Encoding", b"chunked") in headers
    assert echo(body) == "z" * 100
    assert (await gateway_pool.request("GET", "/api/x"))[0] == 202
    assert server.connections == 1


@pytest.mark.parametrize("path", ["/api/204", "/api/304"])
async def test_204_and_304_have_no_body_and_keep_the_connection(
    server: Server, gateway_pool: Http1Pool, path: str
) -> None:
    status, headers, body = await gateway_pool.request("GET", path)
    assert (status, body) == (int(path[-3:]), b"")
    assert (b"X-Kind", b"none") in headers
    status, _, body = await gateway_pool.request("POST", "/api/x", b"next")
    assert (status, echo(body)) == (202, "next")
    assert server.connections == 1


async def test_the_answer_to_head_has_no_body_whatever_its_content_length(
    server: Server, gateway_pool: Http1Pool
) -> None:
    status, headers, body = await asyncio.wait_for(gateway_pool.request("HEAD", "/api/x"), 2)
    assert status == 202 and body == b""
    assert int(dict(headers)[b"Content-Length"]) > 0
    status, _, body = await gateway_pool.request("POST", "/api/x", b"after")
    assert (status, echo(body)) == (202, "after")
    assert server.connections == 1


async def test_a_request_timeout_overrides_the_pools(
    server: Server, gateway_pool: Http1Pool
) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(TimeoutError):
        await gateway_pool.request("GET", "/api/hang", timeout=0.2)
    assert 0.2 <= loop.time() - t0 < 1  # the pool's own timeout is 5 s
    status, _, _ = await gateway_pool.request("GET", "/api/slow", timeout=2)
    assert status == 202


async def test_a_refused_connection_is_a_connect_error() -> None:
    pool = Http1Pool(f"http://127.0.0.1:{free_port()}", 1, timeout=5, connect_timeout=1)
    try:
        with pytest.raises(ConnectError) as caught:
            await pool.request("GET", "/health")
        assert not isinstance(caught.value, (TimeoutError, HttpError))
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    finally:
        await pool.close()


async def test_waiting_for_a_free_connection_counts_against_the_connect_timeout(
    server: Server,
) -> None:
    pool = Http1Pool(server.url, max_connections=1, timeout=5, connect_timeout=0.2)
    try:
        loop = asyncio.get_running_loop()
        hung = asyncio.ensure_future(pool.request("GET", "hang"))
        await asyncio.sleep(0.05)
        t0 = loop.time()
        with pytest.raises(TimeoutError, match="no free connection"):
            await pool.request("GET", "x")
        assert loop.time() - t0 < 1
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung
        assert (await pool.request("GET", "x"))[0] == 202
    finally:
        await pool.close()


async def test_an_idempotent_request_on_a_connection_closed_while_idle_is_retried(
    server: Server, gateway_pool: Http1Pool
) -> None:
    """The server closes the kept-alive connection as the request arrives, without a
    byte of answer: the request goes again, on a new connection, unnoticed."""
    assert (await gateway_pool.request("GET", "/api/x"))[0] == 202
    server.no_answer = 1
    status, _, body = await gateway_pool.request("PUT", "/api/noanswer", b"again")
    assert (status, echo(body)) == (202, "again")
    assert [(s.method, s.conn) for s in server.seen[1:]] == [("PUT", 1), ("PUT", 2)]
    assert gateway_pool.retries == 1


async def test_a_post_on_a_connection_closed_while_idle_is_not_retried(
    server: Server, gateway_pool: Http1Pool
) -> None:
    """The server may have acted on it: the caller decides (aiohttp does the same)."""
    assert (await gateway_pool.request("GET", "/api/x"))[0] == 202
    server.no_answer = 1
    with pytest.raises(ClosedBeforeAnswer):
        await gateway_pool.request("POST", "/api/noanswer", b"once")
    assert [s.target for s in server.seen[1:]] == ["/api/noanswer"]
    assert gateway_pool.retries == 0
    assert (await gateway_pool.request("POST", "/api/noanswer", b"ok"))[0] == 202


async def test_a_close_right_after_an_answer_is_retried_for_a_get(
    server: Server, gateway_pool: Http1Pool
) -> None:
    for i in range(3):
        status, _, body = await gateway_pool.request("GET", "/api/drop", b"%d" % i)
        assert (status, echo(body)) == (202, str(i))
    assert server.connections == 3
    assert gateway_pool.retries == 2


async def test_idle_connections_are_closed_by_the_pool(server: Server) -> None:
    pool = Http1Pool(server.url, max_connections=2, timeout=5, idle_timeout=0.1)
    try:
        assert (await pool.request("GET", "x"))[0] == 202
        assert pool.connections == 1
        await asyncio.sleep(0.3)
        assert pool.connections == 0
        assert (await pool.request("POST", "x", b"new"))[0] == 202
        assert server.connections == 2
        assert pool.retries == 0
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/bad", "bad status line"),
        ("/api/badheader", "bad header line"),
        ("/api/twolengths", "conflicting Content-Length"),
        ("/api/badchunk", "bad chunk size"),
        ("/api/negative", "bad Content-Length"),
    ],
)
async def test_a_malformed_answer_is_an_http_error(
    server: Server, gateway_pool: Http1Pool, path: str, error: str
) -> None:
    with pytest.raises(HttpError, match=error) as caught:
        await gateway_pool.request("GET", path)
    assert not isinstance(caught.value, (ConnectError, TimeoutError, ClosedBeforeAnswer))
    assert (await gateway_pool.request("GET", "/api/x"))[0] == 202
    assert server.connections == 2  # the broken connection was not used again


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/api/x", [(b"X-Evil", b"a\r\nInjected: yes")]),
        ("/api/x", [(b"X-Evil", b"a\nb")]),
        ("/api/x", [(b"X-Evil\r\nInjected", b"yes")]),
        ("/api/x HTTP/1.1\r\nInjected: yes", []),
        ("/api/x y", []),
    ],
)
async def test_a_header_or_target_that_would_break_the_framing_is_refused(
    server: Server, gateway_pool: Http1Pool, target: str, headers: list[tuple[bytes, bytes]]
) -> None:
    with pytest.raises(ValueError):
        await gateway_pool.request("GET", target, b"", headers)
    assert server.seen == []
