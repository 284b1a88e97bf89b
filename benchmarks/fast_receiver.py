"""A fast local receiver for generic_http channels, for benchmarks that push to hundreds of
channels: a bare asyncio HTTP/1.1 server (keep-alive, no framework) that answers every
push `{"status": "applied"}` and remembers, per path, when each (SKU, quantity) arrived.

It does not verify signatures or dedupe deliveries (the generic HTTP simulator does, and
the tests use it); here only arrival times matter. `GET /_arrivals` returns
`[[path, sku, quantity, unix time], ...]` in arrival order.

    receiver = start(port)   # a process of its own; receiver.terminate() to stop
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from typing import Any

APPLIED = b'{"status":"applied"}'


def _response(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _serve(port: int, ready: Any) -> None:
    arrivals: list[tuple[str, str, int, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                at = time.time()
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                path = target.split("?", 1)[0]
                if method == "POST":
                    for q in json.loads(body).get("quantities", []):
                        arrivals.append((path, str(q["sku"]), int(q["quantity"]), at))
                    writer.write(_response(APPLIED))
                elif path == "/_arrivals":
                    writer.write(_response(json.dumps(arrivals).encode()))
                else:  # a read-back (GET ?sku=): nothing stored here to report
                    writer.write(_response(b'{"quantities":[]}'))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    ready.set()
    async with server:
        await server.serve_forever()


def _main(port: int, ready: Any) -> None:
    asyncio.run(_serve(port, ready))


def start(port: int) -> multiprocessing.process.BaseProcess:
    mp = multiprocessing.get_context("spawn")
    ready = mp.Event()
    proc = mp.Process(target=_main, args=(port, ready), daemon=True)
    proc.start()
    if not ready.wait(30):
        proc.terminate()
        raise RuntimeError("the receiver did not start")
    return proc
