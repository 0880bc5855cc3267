"""A lean HTTP/1.1 keep-alive client: the gateway's upstream calls and the load generator.

    pool = Http1Pool("http://wallet_svc:8000", 200, timeout=10, connect_timeout=2)
    auth = [(b"Authorization", b"Bearer ...")]
    status, headers, body = await pool.request("GET", "/wallets/1", b"", auth, timeout=35)
    status, body = await pool.post("/transfers", b'{"amount": 1}', auth)
    await pool.close()

Why not a library: forwarding is the gateway's hot path, and aiohttp's client cost about
155-185 µs of CPU a request on our hosts, httpx's (the library paystream uses elsewhere)
over a millisecond, against about 35 µs for this pool (keep-alive POSTs,
bench/client_cost.py; same-run figures in docs/benchmarks.md). The pool does only what the
gateway and the load generator need: no TLS, no proxies, no redirects, no cookies, no
compression, no streaming (bodies are read whole, sent in one write).

At most ``max_connections`` persistent plain-TCP connections to one host:port, each an
``asyncio.Protocol`` with one request in flight (no pipelining). A request is one write:
the request line, Host and the pool's fixed headers (built once per method and target,
for a bounded number of them), the caller's headers, Content-Length (for a body, or for
a method other than GET, HEAD, OPTIONS or TRACE) and the body. A response is read by its
Content-Length, as chunks (``Transfer-Encoding: chunked``) or, lacking both, up to the
server's close; the answer to HEAD and a 204 or 304 have no body. Interim 1xx answers
are skipped. Callers wait for a free connection in FIFO order (a deque of futures, O(1)
a request).

A connection the server closed (EOF, ``Connection: close``, HTTP/1.0) is dropped and
reopened by its next user; with ``idle_timeout`` the pool itself closes connections
idle that long, so that it, not the server, ends an idle connection. A request on a
reused connection that the server closed before a byte of answer arrived (the server
timed the idle connection out as the request went out) is sent once more on a new
connection if its method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE; RFC 9110
9.2.2, as aiohttp does), or for any method with ``retry_unsafe=True`` (the load
generator's POSTs carry an Idempotency-Key). A fresh connection is never retried.

Errors are all ``OSError``s, and tell apart the three things a caller acts on:
``ConnectError`` when no connection could be made (refused, unreachable, unknown host),
``TimeoutError`` when a deadline passed, ``HttpError`` (with ``ClosedBeforeAnswer`` a
subclass) for a broken or malformed exchange. Invalid input (a CR or LF in a header, a
target with spaces) raises ``ValueError`` before anything is sent.

Deadlines: ``timeout`` (or a request's own ``timeout``) bounds the whole request,
queueing, connecting and the exchange together; ``connect_timeout`` bounds getting a
connection (waiting for a free one and opening it, as aiohttp's ``connect``). They are
enforced by one watchdog a pool every min(1 s, shortest timeout seen / 4, at least
10 ms), not by a timer a request: a timeout fires up to a tick late.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import cast
from urllib.parse import urlsplit

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]  # status, the response's headers as sent, body

_MAX_HEAD = 64 * 1024
_MAX_CHUNK_LINE = 1024
_MAX_HEADS_CACHED = 256
_MIN_TICK = 0.01
_HEX = b"0123456789abcdefABCDEF"
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
# methods whose request, sent twice, has the effect of sending it once (RFC 9110 9.2.2)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# methods that send Content-Length only with a body (as aiohttp)
_NO_BODY_EXPECTED = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class HttpError(OSError):
    """A broken or malformed HTTP exchange (neither a timeout nor a failed connect)."""


class ClosedBeforeAnswer(HttpError):
    """The server closed the connection before sending a byte of answer."""


class ConnectError(OSError):
    """No connection could be made: refused, unreachable, unknown host (not a timeout)."""


class _Conn(asyncio.Protocol):
    """One connection: one request at a time, the response parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Conn], None]) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._fut: asyncio.Future[Answer] | None = None
        self._deadline = 0.0
        self._buf = bytearray()
        self._no_body = False  # the request was HEAD: the answer has no body
        self.closed = False
        self.used = False  # has answered a request: a close before an answer may be stale
        self.idle_since = loop.time()
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: Headers = []
        self._length = -1  # Content-Length; -1 unknown
        self._chunked = False
        self._until_eof = False
        self._keep_alive = True
        self._in_body = False
        self._got_bytes = False
        self._pos = 0  # chunked: parse position in _buf
        self._chunks: list[bytes] = []

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self._fut is None or self._fut.done():
            self.abort()  # bytes nobody asked for: the connection is out of step
            return
        self._got_bytes = True
        self._buf += data
        try:
            self._parse()
        except HttpError as e:
            self._fail(e)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost finishes the story

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        fut = self._fut
        body, self._buf = bytes(self._buf), bytearray()
        if fut is None or fut.done():
            return
        if self._until_eof and self._in_body:
            self._finish(body)
        elif not self._got_bytes:
            self._fail(ClosedBeforeAnswer("connection closed before any answer"))
        else:
            self._fail(HttpError(f"connection closed mid-response: {exc or 'EOF'}"))

    # requests

    def request(self, data: bytes, deadline: float, no_body: bool) -> asyncio.Future[Answer]:
        if self._transport is None or self.closed:
            raise ClosedBeforeAnswer("connection closed before the request")
        fut: asyncio.Future[Answer] = self._loop.create_future()
        self._fut = fut
        self._deadline = deadline
        self._no_body = no_body
        self._transport.write(data)
        return fut

    def expire(self, now: float) -> None:
        """Fail the request in flight if its deadline has passed."""
        if self._fut is not None and now >= self._deadline:
            self._fail(TimeoutError("no complete answer within the timeout"))

    def close_if_idle(self, since: float) -> None:
        """Close the connection if no request has used it since ``since``."""
        if self._fut is None and self.idle_since <= since and not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, exc: BaseException) -> None:
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        self.abort()

    def _finish(self, body: bytes) -> None:
        fut, self._fut = self._fut, None
        status, headers, keep = self._status, self._headers, self._keep_alive and not self._buf
        self._reset()
        self.used = True
        self.idle_since = self._loop.time()
        if not keep and not self.closed:
            self.closed = True
            assert self._transport is not None
            self._transport.close()
        if fut is not None and not fut.done():
            fut.set_result((status, headers, body))

    # parsing

    def _parse(self) -> None:
        buf = self._buf
        while not self._in_body:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise HttpError("response head too large")
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            self._head(head)
        if self._chunked:
            self._parse_chunks()
        elif 0 <= self._length <= len(buf):
            body = bytes(buf[: self._length])
            del buf[: self._length]
            self._finish(body)
        # else: more to come, or (no length) the body runs to the server's close

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        line = lines[0]
        if (
            not line.startswith(b"HTTP/1.")
            or line[8:9] != b" "
            or line[12:13] not in (b" ", b"")
            or not line[9:12].isdigit()
        ):
            raise _bad_status(line)
        status = int(line[9:12])
        if status < 100:
            raise _bad_status(line)
        if status < 200:
            return  # an interim answer (100 Continue ...): the real head follows
        http10 = line[7:8] == b"0"
        headers: Headers = []
        length: bytes | None = None
        coding: bytes | None = None
        connection = b""
        for field in lines[1:]:
            name, colon, value = field.partition(b":")
            if not colon or not name or b" " in name or b"\t" in name:
                raise HttpError(f"bad header line: {field[:80]!r}")
            value = value.strip(b" \t")
            headers.append((name, value))
            lower = name.lower()
            if lower == b"content-length":
                if length is not None and value != length:
                    raise HttpError("conflicting Content-Length headers")
                length = value
            elif lower == b"transfer-encoding":
                coding = value.lower() if coding is None else coding + b"," + value.lower()
            elif lower == b"connection":
                connection += b"," + value.lower()
        self._status = status
        self._headers = headers
        self._keep_alive = b"close" not in connection and (
            not http10 or b"keep-alive" in connection
        )
        self._in_body = True
        if self._no_body or status == 204 or status == 304:
            self._length = 0
        elif coding is not None and coding != b"identity":
            if not coding.endswith(b"chunked"):
                raise HttpError(f"unsupported Transfer-Encoding: {coding[:40]!r}")
            self._chunked = True
            if length is not None or http10:
                self._keep_alive = False  # framing a server should not send: do not reuse
        elif length is not None:
            if not length.isdigit():
                raise HttpError(f"bad Content-Length: {length[:40]!r}")
            self._length = int(length)
        else:
            self._until_eof = True
            self._keep_alive = False

    def _parse_chunks(self) -> None:
        buf = self._buf
        pos = self._pos
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                if len(buf) - pos > _MAX_CHUNK_LINE:
                    raise HttpError("chunk size line too long")
                self._pos = pos
                return
            size_text = bytes(buf[pos:eol]).partition(b";")[0].strip(b" \t")
            if not size_text or size_text.translate(None, _HEX) or len(size_text) > 16:
                raise HttpError(f"bad chunk size: {size_text[:40]!r}")
            size = int(size_text, 16)
            if size == 0:  # last chunk, then trailers up to an empty line
                start = eol + 2
                if buf[start : start + 2] == b"\r\n":
                    end = start + 2
                else:
                    end = buf.find(b"\r\n\r\n", start)
                    if end < 0:
                        if len(buf) - start > _MAX_HEAD:
                            raise HttpError("response trailers too large")
                        self._pos = pos
                        return
                    end += 4
                del buf[:end]
                body = b"".join(self._chunks)
                self._finish(body)
                return
            data_end = eol + 2 + size
            if len(buf) < data_end + 2:
                self._pos = pos
                return
            if buf[data_end : data_end + 2] != b"\r\n":
                raise HttpError("chunk not followed by CRLF")
            self._chunks.append(bytes(buf[eol + 2 : data_end]))
            pos = data_end + 2
            if pos > 65536:  # drop what is parsed now and then, not on every chunk
                del buf[:pos]
                pos = 0


def _bad_status(line: bytes) -> HttpError:
    return HttpError(f"bad status line: {line[:80]!r}")


class Http1Pool:
    """At most ``max_connections`` keep-alive connections to the host of ``base_url``.

    ``timeout``: the default deadline of a request, from its call to the last byte of the
    answer. ``connect_timeout``: the deadline for getting a connection (queueing for a
    free one included); None: only ``timeout``. ``idle_timeout``: close connections idle
    that long; None: keep them until the server closes them. ``headers``: sent with every
    request, after Host. ``retry_unsafe``: also retry non-idempotent requests on a new
    connection when a reused one was closed before any answer.
    """

    def __init__(
        self,
        base_url: str,
        max_connections: int,
        timeout: float,
        headers: Sequence[tuple[bytes, bytes]] = (
            (b"Content-Type", b"application/json"),
            (b"Accept", b"*/*"),
            (b"User-Agent", b"paystream-bench"),
        ),
        *,
        connect_timeout: float | None = None,
        idle_timeout: float | None = None,
        retry_unsafe: bool = False,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"only http://host[:port] URLs: {base_url!r}")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        for t in (timeout, connect_timeout, idle_timeout):
            if t is not None and t <= 0:
                raise ValueError("timeouts must be positive")
        self._host = url.hostname
        self._port = url.port or 80
        self._base_path = url.path if url.path.endswith("/") else url.path + "/"
        self._max = max_connections
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._retry_unsafe = retry_unsafe
        host = url.netloc.rpartition("@")[2].encode("ascii")
        fixed = [(b"Host", host), *headers]
        _check_headers(fixed)
        self._fixed = b"".join(n + b": " + v + b"\r\n" for n, v in fixed)
        self._heads: dict[tuple[str, str], bytes] = {}
        self._free: list[_Conn | None] = []  # slots not in use; None: not connected yet
        self._slots = 0  # slots handed out so far (<= max)
        # callers waiting for a slot, oldest first, with the deadline of their wait
        self._waiters: deque[tuple[float, asyncio.Future[_Conn | None]]] = deque()
        self._conns: set[_Conn] = set()
        self._closed = False
        # one watchdog enforces every deadline, in place of a timer a request
        self._tick = _tick_for(min(t for t in (timeout, connect_timeout, idle_timeout) if t))
        self._watchdog: asyncio.TimerHandle | None = None
        self._next_sweep = 0.0  # loop time the watchdog is due
        self.retries = 0  # requests sent again after a kept-alive connection's close

    async def post(
        self, path: str, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``path`` (relative to the base URL's path unless it starts
        with ``/``); return (status, body)."""
        status, _, answer = await self.request("POST", path, body, headers)
        return status, answer

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Sequence[tuple[bytes, bytes]] = (),
        timeout: float | None = None,
    ) -> Answer:
        """Send one request; return (status, the response's headers, body).

        ``target``: path and query, already percent-encoded, relative to the base URL's
        path unless it starts with ``/``. ``headers``: sent besides Host, the pool's
        fixed ones and Content-Length (so none of those, nor Transfer-Encoding: the body
        is sent whole). ``timeout``: this request's deadline, in place of the pool's.
        Raises ConnectError, TimeoutError or HttpError (see the module)."""
        if self._closed:
            raise HttpError("pool closed")
        head = self._heads.get((method, target))
        if head is None:
            head = self._head(method, target)
        parts = [head]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        lines = len(headers)
        if body or method not in _NO_BODY_EXPECTED:
            parts += (b"Content-Length: ", str(len(body)).encode(), b"\r\n")
            lines += 1
        parts += (b"\r\n", body)
        data = b"".join(parts)
        if lines:  # one CR and one LF a header line, or a header would break the framing
            start, end = len(head), len(data) - len(body) - 2
            if data.count(b"\r", start, end) != lines or data.count(b"\n", start, end) != lines:
                _check_headers(headers)
        loop = asyncio.get_running_loop()
        if timeout is None:
            timeout = self._timeout
        elif timeout < self._tick * 4:
            if timeout <= 0:
                raise ValueError("timeouts must be positive")
            self._shorten_tick(loop, timeout)
        if self._watchdog is None:
            self._schedule(loop)
        deadline = loop.time() + timeout
        connect_by = self._connect_by(loop, deadline)  # waiting for a free one included
        conn = await self._acquire(loop, connect_by)
        no_body = method == "HEAD"
        try:
            if conn is None or conn.closed:
                conn = await self._connect(loop, connect_by)
            reused = conn.used
            try:
                return await conn.request(data, deadline, no_body)
            except ClosedBeforeAnswer:
                if not reused or not (self._retry_unsafe or method in IDEMPOTENT_METHODS):
                    raise
            # a kept-alive connection the server had closed: once more on a new one
            self.retries += 1
            conn = await self._connect(loop, self._connect_by(loop, deadline))
            return await conn.request(data, deadline, no_body)
        except BaseException:
            if conn is not None:
                conn.abort()  # cancelled or failed mid-exchange: state unknown
            raise
        finally:
            self._release(conn)

    def _connect_by(self, loop: asyncio.AbstractEventLoop, deadline: float) -> float:
        """When waiting for and opening a connection must be done, from now."""
        if self._connect_timeout is None:
            return deadline
        return min(deadline, loop.time() + self._connect_timeout)

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        while self._waiters:
            _, w = self._waiters.popleft()
            if not w.done():
                w.set_exception(HttpError("pool closed"))
        for conn in list(self._conns):
            conn.abort()
        self._conns.clear()
        self._free.clear()
        await asyncio.sleep(0)  # let the transports run connection_lost

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._conns)

    def _head(self, method: str, target: str) -> bytes:
        """The request line and the fixed headers, kept for the first few (method, target)."""
        path = target if target.startswith("/") else self._base_path + target
        if not method or _BAD_TARGET.search(method) or _BAD_TARGET.search(path):
            raise ValueError(f"bad method or target: {method[:20]!r} {path[:80]!r}")
        line = method.encode("ascii") + b" " + path.encode("latin-1") + b" HTTP/1.1\r\n"
        head = line + self._fixed
        if len(self._heads) < _MAX_HEADS_CACHED:
            self._heads[(method, target)] = head
        return head

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Conn:
        if self._closed:
            raise HttpError("pool closed")
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError("no connection within the timeout")
        try:
            async with asyncio.timeout(remaining):
                _, conn = await loop.create_connection(
                    lambda: _Conn(loop, self._conns.discard), self._host, self._port
                )
        except TimeoutError:
            raise TimeoutError("no connection within the timeout") from None
        except OSError as e:  # refused, unreachable, unknown host ...
            raise ConnectError(f"cannot connect to {self._host}:{self._port}: {e}") from e
        if self._closed:
            conn.abort()
            raise HttpError("pool closed")
        self._conns.add(conn)
        return conn

    async def _acquire(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Conn | None:
        if self._free:
            return self._free.pop()  # the last released: a warm connection
        if self._slots < self._max:
            self._slots += 1
            return None
        waiter: asyncio.Future[_Conn | None] = loop.create_future()
        self._waiters.append((deadline, waiter))
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())  # granted, then cancelled: pass it on
            raise

    def _release(self, conn: _Conn | None) -> None:
        if self._closed:
            return
        waiters = self._waiters
        while waiters:
            _, w = waiters.popleft()
            if not w.done():
                w.set_result(conn)
                return
        self._free.append(conn)

    def _shorten_tick(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        """A request with a shorter timeout than any before: sweep more often."""
        self._tick = _tick_for(timeout)
        if self._watchdog is not None and self._next_sweep > loop.time() + self._tick:
            self._watchdog.cancel()
            self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._next_sweep = loop.time() + self._tick
        self._watchdog = loop.call_at(self._next_sweep, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Time out what has passed its deadline, close what idled too long:
        O(connections + waiters)."""
        now = loop.time()
        idle_since = None if self._idle_timeout is None else now - self._idle_timeout
        for conn in list(self._conns):
            conn.expire(now)
            if idle_since is not None:
                conn.close_if_idle(idle_since)
        waiters = self._waiters
        if any(deadline <= now for deadline, _ in waiters):  # anywhere: deadlines differ
            kept: deque[tuple[float, asyncio.Future[_Conn | None]]] = deque()
            for deadline, w in waiters:
                if w.done():
                    continue
                if deadline <= now:
                    w.set_exception(TimeoutError("no free connection within the timeout"))
                else:
                    kept.append((deadline, w))
            self._waiters = kept
        self._schedule(loop)


def _tick_for(timeout: float) -> float:
    return max(_MIN_TICK, min(1.0, timeout / 4))


def _check_headers(headers: Sequence[tuple[bytes, bytes]]) -> None:
    """ValueError for a header that would break the request's framing."""
    for name, value in headers:
        if not name or any(c in name for c in (b":", b" ", b"\t", b"\r", b"\n")):
            raise ValueError(f"bad header name: {name[:40]!r}")
        if b"\r" in value or b"\n" in value:
            raise ValueError(f"CR or LF in the value of header {name[:40]!r}")
