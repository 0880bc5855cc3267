"""A lean HTTP/1.1 keep-alive client for the load generator's hot loop.

    pool = Http1Pool("http://127.0.0.1:8000/api/v1", max_connections=200, timeout=60)
    status, body = await pool.post("transfers", b'{"amount": 1}', [(b"Authorization", b"...")])
    await pool.close()

At most ``max_connections`` persistent plain-TCP connections to one host:port, each an
``asyncio.Protocol`` with one request in flight (no pipelining). A request is one write
of pre-encoded bytes: the request line and the fixed headers are built once per path;
only the caller's headers, Content-Length and the body vary. A response is read by its
Content-Length, as chunks (``Transfer-Encoding: chunked``) or, lacking both, up to the
server's close. Callers wait for a free connection in FIFO order (a deque of futures,
O(1) a request). A connection the server closed (EOF, ``Connection: close``, HTTP/1.0)
is dropped and reopened by its next user; a request on a reused connection that the
server closed before any byte of answer is retried once on a new one. Anything else
that goes wrong raises an ``OSError``: ``HttpError`` for a broken or malformed exchange,
``TimeoutError`` when ``timeout`` (queueing, connecting and the exchange together)
runs out, or the socket's own error. Deadlines are enforced by one watchdog every
min(1 s, timeout / 4), not by a timer a request: a timeout fires up to a tick late.

Only what the load generator needs: no TLS, no redirects, no cookies, no compression.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import cast
from urllib.parse import urlsplit

Response = tuple[int, bytes]

_MAX_HEAD = 64 * 1024


class HttpError(OSError):
    """A broken or malformed HTTP exchange (not a timeout)."""


class _ClosedBeforeAnswer(HttpError):
    """The server closed the connection before sending a byte of answer."""


class _Conn(asyncio.Protocol):
    """One connection: one request at a time, the response parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Conn], None]) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._fut: asyncio.Future[Response] | None = None
        self._deadline = 0.0
        self._buf = bytearray()
        self.closed = False
        self.used = False  # has answered a request: a close before an answer may be stale
        self._reset()

    def _reset(self) -> None:
        self._status = 0
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
            self._fail(_ClosedBeforeAnswer("connection closed before any answer"))
        else:
            self._fail(HttpError(f"connection closed mid-response: {exc or 'EOF'}"))

    # requests

    def request(self, data: bytes, deadline: float) -> asyncio.Future[Response]:
        if self._transport is None or self.closed:
            raise _ClosedBeforeAnswer("connection closed before the request")
        fut: asyncio.Future[Response] = self._loop.create_future()
        self._fut = fut
        self._deadline = deadline
        self._transport.write(data)
        return fut

    def expire(self, now: float) -> None:
        """Fail the request in flight if its deadline has passed."""
        if self._fut is not None and now >= self._deadline:
            self._fail(TimeoutError("no complete answer within the timeout"))

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
        status, keep = self._status, self._keep_alive and not self._buf
        self._reset()
        self.used = True
        if not keep and not self.closed:
            self.closed = True
            assert self._transport is not None
            self._transport.close()
        if fut is not None and not fut.done():
            fut.set_result((status, body))

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
        if not head.startswith(b"HTTP/1.") or head[12:13] not in (b" ", b"\r", b""):
            raise _bad_status(head)
        try:
            status = int(head[9:12])
        except ValueError:
            raise _bad_status(head) from None
        if 100 <= status < 200:
            return  # an interim answer (100 Continue ...): the real head follows
        self._status = status
        fields = head.lower() + b"\r\n"  # a few finds, not a loop over every header
        connection = _field(fields, b"\r\nconnection:")
        if connection is None:
            self._keep_alive = head[7:8] != b"0"  # HTTP/1.0 closes by default
        else:
            self._keep_alive = b"close" not in connection and (
                head[7:8] != b"0" or b"keep-alive" in connection
            )
        self._in_body = True
        coding = _field(fields, b"\r\ntransfer-encoding:")
        if coding is not None and coding != b"identity":
            if not coding.endswith(b"chunked"):
                raise HttpError(f"unsupported Transfer-Encoding: {coding[:40]!r}")
            self._chunked = True
            return
        length = _field(fields, b"\r\ncontent-length:")
        if status == 204 or status == 304:
            self._length = 0
        elif length is not None:
            try:
                self._length = int(length)
            except ValueError:
                raise HttpError(f"bad Content-Length: {length[:40]!r}") from None
            if self._length < 0:
                raise HttpError(f"bad Content-Length: {length[:40]!r}")
        else:
            self._until_eof = True
            self._keep_alive = False

    def _parse_chunks(self) -> None:
        buf = self._buf
        pos = self._pos
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                self._pos = pos
                return
            size_text = bytes(buf[pos:eol]).partition(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(f"bad chunk size: {size_text[:40]!r}") from None
            if size == 0:  # last chunk, then trailers up to an empty line
                start = eol + 2
                if buf[start : start + 2] == b"\r\n":
                    end = start + 2
                else:
                    end = buf.find(b"\r\n\r\n", start)
                    if end < 0:
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


def _field(fields: bytes, name: bytes) -> bytes | None:
    """In ``fields``, a lowercased response head ending with CRLF, the stripped value
    after ``name`` (CRLF, a lowercase header name, a colon), or None."""
    i = fields.find(name)
    if i < 0:
        return None
    start = i + len(name)
    return fields[start : fields.index(b"\r\n", start)].strip()


def _bad_status(head: bytes) -> HttpError:
    line = head.split(b"\r\n", 1)[0]
    return HttpError(f"bad status line: {line[:80]!r}")


class Http1Pool:
    """At most ``max_connections`` keep-alive connections to the host of ``base_url``."""

    def __init__(
        self,
        base_url: str,
        max_connections: int,
        timeout: float,
        headers: Sequence[tuple[bytes, bytes]] = ((b"Content-Type", b"application/json"),),
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"only http://host[:port] URLs: {base_url!r}")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._host = url.hostname
        self._port = url.port or 80
        self._base_path = url.path if url.path.endswith("/") else url.path + "/"
        self._max = max_connections
        self._timeout = timeout
        host = url.netloc.rpartition("@")[2].encode("ascii")
        self._fixed = b"".join(
            [b"Host: " + host + b"\r\n"]
            + [n + b": " + v + b"\r\n" for n, v in headers]
            + [b"Accept: */*\r\nUser-Agent: paystream-bench\r\n"]
        )
        self._heads: dict[tuple[bytes, str], bytes] = {}
        self._free: list[_Conn | None] = []  # slots not in use; None: not connected yet
        self._slots = 0  # slots handed out so far (<= max)
        # callers waiting for a slot, oldest first; deadlines grow along the queue
        self._waiters: deque[tuple[float, asyncio.Future[_Conn | None]]] = deque()
        self._conns: set[_Conn] = set()
        self._closed = False
        # one watchdog enforces every deadline, in place of a timer a request
        self._tick = min(1.0, timeout / 4)
        self._watchdog: asyncio.TimerHandle | None = None
        self.retries = 0  # requests sent again after a kept-alive connection's close

    async def post(
        self, path: str, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> Response:
        """POST ``body`` to ``path`` (relative to the base URL's path unless it starts
        with ``/``); return (status, body)."""
        return await self.request(b"POST", path, body, headers)

    async def request(
        self, method: bytes, path: str, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> Response:
        if self._closed:
            raise HttpError("pool closed")
        head = self._heads.get((method, path))
        if head is None:
            head = self._head(method, path)
        parts = [head]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"Content-Length: ", str(len(body)).encode(), b"\r\n\r\n", body)
        data = b"".join(parts)
        loop = asyncio.get_running_loop()
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._tick, self._sweep, loop)
        deadline = loop.time() + self._timeout
        conn = await self._acquire(loop, deadline)
        try:
            if conn is None or conn.closed:
                conn = await self._connect(loop, deadline)
            reused = conn.used
            try:
                return await conn.request(data, deadline)
            except _ClosedBeforeAnswer:
                if not reused:
                    raise
            # a kept-alive connection the server had closed: once more on a new one
            self.retries += 1
            conn = await self._connect(loop, deadline)
            return await conn.request(data, deadline)
        except BaseException:
            if conn is not None:
                conn.abort()  # cancelled or failed mid-exchange: state unknown
            raise
        finally:
            self._release(conn)

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

    def _head(self, method: bytes, path: str) -> bytes:
        target = path if path.startswith("/") else self._base_path + path
        head = method + b" " + target.encode("ascii") + b" HTTP/1.1\r\n" + self._fixed
        self._heads[(method, path)] = head
        return head

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Conn:
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

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Time out what has passed its deadline: O(connections + expired waiters)."""
        now = loop.time()
        for conn in list(self._conns):
            conn.expire(now)
        waiters = self._waiters
        while waiters and waiters[0][0] <= now:
            _, w = waiters.popleft()
            if not w.done():
                w.set_exception(TimeoutError("no free connection within the timeout"))
        self._watchdog = loop.call_later(self._tick, self._sweep, loop)
