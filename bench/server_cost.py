"""CPU per response of the HTTP server: uvicorn's httptools protocol as it is vs
common.corked (one send per response), in the same run.

    uv run python -m bench.server_cost --requests 20000 --concurrency 20 --repeat 5

Starts two uvicorn servers in subprocesses, as :func:`common.app.serve` runs a service
(uvloop, httptools, no access log), one with ``http="httptools"`` and one with
:class:`common.corked.CorkedHttpToolsProtocol`, both serving the same tiny ASGI app that
answers like the fast lane (a head, then a small JSON body: two writes). Then, in
alternating rounds, sends ``--requests`` keep-alive POSTs to each from ``--concurrency``
connections (common.http1) and prints the server process's CPU (user + system, from
/proc) per request in µs: the median of ``--repeat`` rounds. Compare on the same box.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys

import orjson
from starlette.types import Receive, Scope, Send

from common.http1 import Http1Pool

BODY = orjson.dumps({"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "status": "pending"})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the body, answers 202 with a head and a body, as the fast lane does."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 202, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def serve(kind: str, port: int) -> None:
    import uvicorn

    from common.corked import CorkedHttpToolsProtocol

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=CorkedHttpToolsProtocol if kind == "corked" else "httptools",
        lifespan="off",
        log_config=None,
        access_log=False,
    )


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def round_cost(port: int, pid: int, requests: int, concurrency: int) -> float:
    """µs of the server's CPU per request over one round."""
    pool = Http1Pool(f"http://127.0.0.1:{port}", max_connections=concurrency, timeout=30)
    headers = [(b"content-type", b"application/json")]
    body = orjson.dumps({"from_wallet_id": "a", "to_wallet_id": "b", "amount": 1})

    async def worker(n: int) -> None:
        for _ in range(n):
            status, _ = await pool.post("/transfers", body, headers)
            assert status == 202

    try:
        await asyncio.gather(*(worker(20) for _ in range(concurrency)))  # warm-up
        before = cpu_s(pid)
        share, extra = divmod(requests, concurrency)
        await asyncio.gather(*(worker(share + (w < extra)) for w in range(concurrency)))
        return (cpu_s(pid) - before) / requests * 1e6
    finally:
        await pool.close()


async def wait_open(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"no server on {port}")


async def main(requests: int, concurrency: int, repeat: int) -> None:
    servers = {}
    try:
        for kind in ("plain", "corked"):
            port = free_port()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.server_cost", "--serve", kind, str(port)
            )
            servers[kind] = (port, proc)
            await wait_open(port)
        runs: dict[str, list[float]] = {kind: [] for kind in servers}
        for _ in range(repeat):
            for kind, (port, proc) in servers.items():
                runs[kind].append(await round_cost(port, proc.pid, requests, concurrency))
        for kind, costs in runs.items():
            shown = " ".join(f"{c:.0f}" for c in costs)
            median = statistics.median(costs)
            print(f"{kind:7} {median:6.1f} µs server CPU/request  (rounds: {shown})")
    finally:
        for _, proc in servers.values():
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--serve", nargs=2, metavar=("KIND", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
    else:
        asyncio.run(main(args.requests, args.concurrency, args.repeat))
