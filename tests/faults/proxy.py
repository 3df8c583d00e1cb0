"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, in front of a running LocalCAVE.

Each client connection carries one request: the proxy forwards it upstream with `Connection: close`,
so the answer (status, headers and the body exactly as sent, chunked or not) ends at the upstream's
end of stream, and the client opens a new connection for its next request. A fault armed with `arm`
applies to the next request the proxy reads (or, for `refuse`, to the next connections): it can keep
the request from the server, or let the server act and then spoil the answer (drop it, cut it,
stall it, replace it with another shape, or label garbage as gzip).

The proxy runs its own event loop in a daemon thread, on a free port; `stop` ends it, and it ends by
itself once idle for `idle_limit` seconds, so a failed test cannot leave it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

from tests.faults.proxy_thread import ProxyThread

REQUEST_BEFORE_SERVER = frozenset({"reset_before_answer", "408", "429", "500_html", "502", "503", "504"})
"""Faults that keep the request from the server: it cannot have acted."""

AFTER_SERVER = frozenset(
    {"drop_after_acted", "reset_mid_body", "truncate", "stall", "wrong_shape", "corrupt_gzip"}
)
"""Faults applied once the server has answered: it has acted."""

HARMLESS = frozenset({"trickle", "refuse"})
"""Faults a client must see through: slow delivery, and a refused connection (never sent)."""

FAULTS = tuple(sorted(REQUEST_BEFORE_SERVER | AFTER_SERVER | HARMLESS))

STATUS_ANSWERS: dict[str, tuple[int, str, dict[str, str], bytes]] = {
    "408": (408, "Request Timeout", {"content-type": "application/json"}, b'{"message": "timeout"}'),
    "429": (
        429,
        "Too Many Requests",
        {"content-type": "application/json", "retry-after": "0"},
        b'{"error": "ratelimit exceeded"}',
    ),
    "500_html": (
        500,
        "Internal Server Error",
        {"content-type": "text/html"},
        b"<!doctype html><html><head><title>500 Internal Server Error</title></head>"
        b"<body><h1>Internal Server Error</h1><p>The server broke.</p></body></html>",
    ),
    "502": (
        502,
        "Bad Gateway",
        {"content-type": "text/html"},
        b"<html><title>502 Bad Gateway</title></html>",
    ),
    "503": (503, "Service Unavailable", {"content-type": "text/plain"}, b"upstream unavailable"),
    "504": (
        504,
        "Gateway Timeout",
        {"content-type": "text/html"},
        b"<title>504 Gateway Time-out</title>",
    ),
}

ANOTHER_SHAPE = b'[["another", "shape"], {"unexpected": 1}]'
CORRUPT_GZIP = b"\x1f\x8b\x08\x00 this is not a gzip stream"


@dataclass(kw_only=True)
class FaultProxy(ProxyThread):
    faults: ClassVar[frozenset[str]] = frozenset(FAULTS)

    upstream_port: int = 0
    """Set before the first request (the upstream may be started after the proxy, on its own port)."""
    stall_seconds: float = 0.45
    refuse_seconds: float = 0.15
    idle_limit: float = 120.0
    _server: asyncio.AbstractServer | None = None
    _last_activity: float = field(default_factory=time.monotonic)
    _reopening: asyncio.Future[None] | None = None
    # Strong references: a handler stuck on a future nothing else holds would otherwise be
    # garbage-collected while pending, leaving its socket to a ResourceWarning in a later test.
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    # ------------------------------------------------------------ control (from the test's thread)

    def arm(self, fault: str | None, path_part: str = "") -> None:
        """As `ProxyThread.arm`; "refuse" stops accepting connections for `refuse_seconds` at once,
        whatever they carry."""
        super().arm(fault, path_part)
        if fault == "refuse":
            assert self._loop is not None
            asyncio.run_coroutine_threadsafe(self._refuse(), self._loop).result(5)

    def wait_until_listening(self, timeout: float = 30.0) -> None:
        """Block until a refusal has ended (at once when none is under way)."""
        assert self._loop is not None

        async def reopened() -> None:
            if self._reopening is not None:
                await asyncio.shield(self._reopening)

        asyncio.run_coroutine_threadsafe(reopened(), self._loop).result(timeout)

    # ------------------------------------------------------------ the proxy's own thread

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        await self._listen()
        ready.set()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 1.0)
            if time.monotonic() - self._last_activity > self.idle_limit:
                break
        if self._server is not None:
            self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True, limit=2**20
        )

    async def _refuse(self) -> None:
        """Stop listening for a moment: connection attempts in that window are refused."""
        with self._lock:
            self._armed = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

        async def reopen() -> None:
            await asyncio.sleep(self.refuse_seconds)
            await self._listen()

        self._reopening = asyncio.ensure_future(reopen())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._last_activity = time.monotonic()
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = [line for line in header_lines if line]
        length = 0
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
            if name.strip().lower() == "transfer-encoding":
                raise AssertionError("the client sent a chunked request body")
        body = await reader.readexactly(length) if length else b""
        fault = self._take_fault(method, path, REQUEST_BEFORE_SERVER)
        if fault == "reset_before_answer":
            _reset(writer)
            return
        if fault in STATUS_ANSWERS:
            status, reason, extra, content = STATUS_ANSWERS[fault]
            writer.write(_response_head(status, reason, extra, len(content)) + content)
            await writer.drain()
            return
        kept = [
            h for h in headers if h.split(":", 1)[0].strip().lower() not in {"connection", "keep-alive"}
        ]
        upstream_request = "\r\n".join([request_line, *kept, "Connection: close", "", ""]).encode(
            "latin-1"
        )
        answer = await self._forward(upstream_request + body)
        await self._deliver(answer, fault, writer)

    async def _forward(self, request: bytes) -> bytes:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            upstream_writer.write(request)
            await upstream_writer.drain()
            return await upstream_reader.read(-1)
        finally:
            upstream_writer.close()

    async def _deliver(self, answer: bytes, fault: str | None, writer: asyncio.StreamWriter) -> None:
        head, _, body = answer.partition(b"\r\n\r\n")
        head += b"\r\n\r\n"
        if fault == "drop_after_acted":
            _reset(writer)
        elif fault == "reset_mid_body":
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            _reset(writer)
        elif fault == "truncate":
            writer.write(head + body[: len(body) // 2])  # Content-Length still announces all of it
            await writer.drain()
            writer.close()
        elif fault == "stall":
            await asyncio.sleep(self.stall_seconds)
            _reset(writer)
        elif fault == "trickle":
            whole = head + body
            step = max(1, len(whole) // 8)
            for start in range(0, len(whole), step):
                writer.write(whole[start : start + step])
                await writer.drain()
                await asyncio.sleep(0.002)
        elif fault == "corrupt_gzip":
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            _, status, reason = [*status_line.split(" ", 2), ""][:3]
            labelled = {"content-type": "application/json", "content-encoding": "gzip"}
            writer.write(_response_head(int(status), reason, labelled, len(CORRUPT_GZIP)))
            writer.write(CORRUPT_GZIP)
            await writer.drain()
        elif fault == "wrong_shape" and head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
            writer.write(
                _response_head(200, "OK", {"content-type": "application/json"}, len(ANOTHER_SHAPE))
            )
            writer.write(ANOTHER_SHAPE)
            await writer.drain()
        else:
            writer.write(head + body)
            await writer.drain()


def _response_head(status: int, reason: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"content-length: {length}", "connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (linger 0), as a crashed peer or a middlebox does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
