"""CPU per request of an HTTP client: httpx (the library) vs common.http1 (our own pool,
which forwards in the gateway and drives the load generator), in the same run.

    uv run python -m bench.client_cost --requests 5000 --concurrency 50 --repeat 3

Starts a tiny HTTP/1.1 server in a subprocess (keep-alive, a fixed 202 JSON answer) so
that its CPU is not counted, then, for each client in turn, sends ``--requests`` POSTs
from ``--concurrency`` workers the way ``bench.loadgen.drive`` builds them (an orjson
body, Authorization and Idempotency-Key headers, the answer's JSON parsed) and prints
``time.process_time()`` of this process per request, in µs: the median of ``--repeat``
rounds, each after a warm-up that opens the connections. CPU time, not wall time, yet
a busy machine still disturbs it (caches, clock speed): compare runs on the same box.

``--drive-rate R`` also times ``bench.loadgen.drive`` itself on common.http1, offering
``--requests`` at R a second: the whole open loop (a timer wake-up and a task a
request, the progress bar) on top of the client, ``--concurrency`` connections.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import httpx
import orjson

from common.http1 import Http1Pool

ANSWER = orjson.dumps({"id": str(uuid.uuid4()), "status": "pending"})
RESPONSE = (
    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
)
WALLETS = [(f"token-{i:04d}-" + "x" * 150, str(uuid.uuid4())) for i in range(100)]

Send = Callable[[int], Awaitable[None]]


class _Server(asyncio.Protocol):
    """Answers every request (head + Content-Length body) with RESPONSE."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            i = head.find(b"content-length:")
            length = int(head[i + 15 : head.find(b"\r\n", i) % (len(head) + 1)]) if i >= 0 else 0
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            self.transport.write(RESPONSE)


async def serve() -> None:
    server = await asyncio.get_running_loop().create_server(_Server, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


async def measure(send: Send, requests: int, concurrency: int) -> float:
    """µs of this process's CPU per request."""

    async def worker(n: int) -> None:
        for i in range(n):
            await send(i)

    await asyncio.gather(*(worker(20) for _ in range(concurrency)))  # warm: open connections
    t0 = time.process_time()
    share, extra = divmod(requests, concurrency)
    await asyncio.gather(*(worker(share + (w < extra)) for w in range(concurrency)))
    return (time.process_time() - t0) / requests * 1e6


async def library_client(base: str, requests: int, concurrency: int) -> float:
    """The same request on httpx, the HTTP client library paystream uses elsewhere
    (JWKS, tests), pooled as well as it allows: one client, ``concurrency`` connections
    kept alive, orjson for the body."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def send(i: int) -> None:
            (token, src), (_, dst) = WALLETS[i % 100], WALLETS[(i + 1) % 100]
            body = orjson.dumps(
                {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1, "currency": "USD"}
            )
            headers = {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": str(uuid.uuid4()),
                "Content-Type": "application/json",
            }
            r = await client.post("/transfers", content=body, headers=headers)
            assert r.status_code == 202 and orjson.loads(r.content)["id"]

        return await measure(send, requests, concurrency)


async def new_client(base: str, requests: int, concurrency: int) -> float:
    """bench.loadgen's request on common.http1."""
    pool = Http1Pool(base, max_connections=concurrency, timeout=60, retry_unsafe=True)
    authed = [(b"Bearer " + t.encode(), w) for t, w in WALLETS]
    try:

        async def send(i: int) -> None:
            (auth, src), (_, dst) = authed[i % 100], authed[(i + 1) % 100]
            body = orjson.dumps(
                {"from_wallet_id": src, "to_wallet_id": dst, "amount": 1, "currency": "USD"}
            )
            headers = [(b"Authorization", auth), (b"Idempotency-Key", str(uuid.uuid4()).encode())]
            status, answer = await pool.post("transfers", body, headers)
            assert status == 202 and orjson.loads(answer)["id"]

        return await measure(send, requests, concurrency)
    finally:
        await pool.close()


async def drive_cost(base: str, requests: int, concurrency: int, rate: float) -> float:
    """µs of this process's CPU per request of bench.loadgen.drive on common.http1."""
    from bench.loadgen import Account, drive, requests_of

    pool = Http1Pool(base, max_connections=concurrency, timeout=60, retry_unsafe=True)
    transfer = requests_of("transfer", [Account(t, w) for t, w in WALLETS], amount=1)
    try:
        t0 = time.process_time()
        _, accepted, _ = await drive(pool, transfer, rate, requests / rate)
        assert accepted == int(rate * (requests / rate))
        return (time.process_time() - t0) / requests * 1e6
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drive-rate", type=float, default=0, help="also time loadgen.drive")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        await serve()
        return
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.client_cost", "--serve", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{int(await server.stdout.readline())}/api/v1"
        library: list[float] = []
        new: list[float] = []
        for _ in range(args.repeat):
            library.append(await library_client(base, args.requests, args.concurrency))
            new.append(await new_client(base, args.requests, args.concurrency))
        for name, runs in (("httpx", library), ("http1", new)):
            shown = " ".join(f"{r:.0f}" for r in runs)
            print(f"{name:8} {statistics.median(runs):6.1f} µs CPU/request  (rounds: {shown})")
        if args.drive_rate > 0:
            cost = await drive_cost(base, args.requests, args.concurrency, args.drive_rate)
            print(f"drive    {cost:6.1f} µs CPU/request  (open loop at {args.drive_rate:g}/s)")
    finally:
        server.terminate()
        await server.wait()


if __name__ == "__main__":
    asyncio.run(main())
