"""The corked transport and protocol: one send per turn of the event loop, real sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

from common.corked import CorkedHttpToolsProtocol, CorkedTransport


class Recorder(asyncio.Protocol):
    """The far end of a socket pair: what arrived, in how many reads."""

    def __init__(self) -> None:
        self.reads: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self.reads.append(data)


async def _pair() -> tuple[asyncio.Transport, Recorder, asyncio.AbstractEventLoop]:
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    writer, _ = await loop.create_connection(asyncio.Protocol, sock=a)
    _, recorder = await loop.create_connection(Recorder, sock=b)
    return writer, recorder, loop  # type: ignore[return-value]


async def test_writes_of_one_turn_leave_together_and_in_order() -> None:
    transport, recorder, loop = await _pair()
    corked = CorkedTransport(transport, loop)
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"body")
    assert recorder.reads == []  # nothing sent yet within the turn
    await asyncio.sleep(0.05)
    assert recorder.reads == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    corked.write(b"next")
    await asyncio.sleep(0.05)
    assert recorder.reads[-1] == b"next"
    corked.close()


async def test_close_sends_what_is_kept_first() -> None:
    transport, recorder, loop = await _pair()
    corked = CorkedTransport(transport, loop)
    corked.write(b"last words")
    corked.close()
    await asyncio.sleep(0.05)
    assert b"".join(recorder.reads) == b"last words"
    assert corked.is_closing()  # the rest of the interface is the real transport's
    corked.flush()  # nothing kept, a closed transport: no error


async def test_a_uvicorn_server_on_the_corked_protocol_answers_keep_alive_requests() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = scope["path"].encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})  # fmt: skip

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=CorkedHttpToolsProtocol, log_config=None,
        lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for path in ("/one", "/two"):  # two requests on one connection
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert await reader.readexactly(len(path)) == path.encode()
        writer.close()
    finally:
        server.should_exit = True
        await task
