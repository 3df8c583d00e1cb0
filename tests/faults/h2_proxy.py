"""A fault-injecting HTTP/2 server over TLS on 127.0.0.1, forwarding each stream to a LocalCAVE.

The client negotiates HTTP/2 only over TLS (ALPN "h2"): this server offers nothing else, with a
certificate made for 127.0.0.1 (`self_signed_certificate`) that the client is told to trust. Streams
of one connection are multiplexed; each is forwarded on its own over HTTP/1.1 to the upstream, and
the answer (body still encoded as the upstream sent it) goes back on the stream.

A fault armed with `arm` applies to the next stream whose path holds the given part. Two keep the
request from the upstream: the stream is refused (RST_STREAM REFUSED_STREAM), or the connection is
closed with a GOAWAY whose last stream id is below it (both mean "not processed", RFC 9113 8.7).
Three let the upstream act, then spoil the answer: the stream is reset half-way through its body,
the connection is closed with a GOAWAY that counts the stream as processed but without its answer,
or the TCP connection is reset half-way through the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import httpx

from tests.faults.proxy_thread import ProxyThread

NOT_PROCESSED = frozenset({"h2_refused_stream", "h2_goaway_unprocessed"})
"""Faults that keep the request from the upstream: it cannot have acted."""
AFTER_UPSTREAM = frozenset(
    {"h2_reset_stream_mid_body", "h2_goaway_after_acted", "h2_tcp_reset_mid_body"}
)
"""Faults applied once the upstream has answered: it has acted."""
H2_FAULTS = tuple(sorted(NOT_PROCESSED | AFTER_UPSTREAM))

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "host"})


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own authority) and its key, written to `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = folder / "localhost.pem", folder / "localhost.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


@dataclass(kw_only=True)
class H2FaultProxy(ProxyThread):
    scheme: ClassVar[str] = "https"
    faults: ClassVar[frozenset[str]] = frozenset(H2_FAULTS)

    certificate: Path
    key: Path
    upstream: str
    """The upstream's base URL, http://127.0.0.1:<port>."""
    connections: int = 0
    alpn: list[str | None] = field(default_factory=list)
    """The protocol each connection negotiated."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # ------------------------------------------------------------ the server's own thread

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        context.set_alpn_protocols(["h2"])
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as upstream:
            server = await asyncio.start_server(
                lambda r, w: self._track(self._connection(r, w, upstream)),
                "127.0.0.1",
                self.port,
                ssl=context,
            )
            ready.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 600)
            server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)

    def _track(self, coroutine: object) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: httpx.AsyncClient
    ) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        with self._lock:
            self.connections += 1
            self.alpn.append(ssl_object.selected_alpn_protocol() if ssl_object else None)
        connection = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        connection.initiate_connection()
        writer.write(connection.data_to_send())
        heads: dict[int, list[tuple[str, str]]] = {}
        bodies: dict[int, bytearray] = {}
        closed = asyncio.Event()
        try:
            while not closed.is_set():
                data = await reader.read(65536)
                if not data:
                    break
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        heads[event.stream_id] = [(str(k), str(v)) for k, v in event.headers]
                        bodies[event.stream_id] = bytearray()
                    elif isinstance(event, h2.events.DataReceived):
                        bodies[event.stream_id] += event.data
                        connection.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    elif isinstance(event, h2.events.StreamEnded):
                        stream_id = event.stream_id
                        self._track(
                            self._answer(
                                connection,
                                writer,
                                closed,
                                upstream,
                                stream_id,
                                heads.pop(stream_id),
                                bytes(bodies.pop(stream_id)),
                            )
                        )
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        closed.set()
                writer.write(connection.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            closed.set()
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(
        self,
        connection: h2.connection.H2Connection,
        writer: asyncio.StreamWriter,
        closed: asyncio.Event,
        upstream: httpx.AsyncClient,
        stream_id: int,
        head: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        pseudo = {k: v for k, v in head if k.startswith(":")}
        method, path = pseudo[":method"], pseudo[":path"]
        fault = self._take_fault(method, path, NOT_PROCESSED)
        try:
            if fault == "h2_refused_stream":
                connection.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                await _flush(connection, writer)
                return
            if fault == "h2_goaway_unprocessed":
                connection.close_connection(
                    h2.errors.ErrorCodes.NO_ERROR, last_stream_id=max(0, stream_id - 2)
                )
                await _flush(connection, writer)
                closed.set()
                writer.close()
                return
            headers = [(k, v) for k, v in head if not k.startswith(":") and k not in HOP_BY_HOP]
            request = upstream.build_request(method, path, headers=headers, content=body)
            response = await upstream.send(request, stream=True)
            try:
                content = b"".join([part async for part in response.aiter_raw()])  # as sent
            finally:
                await response.aclose()
            if closed.is_set():
                return
            if fault == "h2_goaway_after_acted":
                connection.close_connection(
                    h2.errors.ErrorCodes.INTERNAL_ERROR, last_stream_id=stream_id
                )
                await _flush(connection, writer)
                closed.set()
                writer.close()
                return
            answer_head = [(":status", str(response.status_code))] + [
                (k, v) for k, v in response.headers.multi_items() if k not in HOP_BY_HOP
            ]
            connection.send_headers(stream_id, answer_head)
            if fault in {"h2_reset_stream_mid_body", "h2_tcp_reset_mid_body"}:
                await _send_body(connection, writer, stream_id, content[: len(content) // 2], end=False)
                if fault == "h2_reset_stream_mid_body":
                    connection.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                    await _flush(connection, writer)
                else:
                    closed.set()
                    _reset(writer)
                return
            await _send_body(connection, writer, stream_id, content, end=True)
        except (ConnectionError, h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            pass


async def _send_body(
    connection: h2.connection.H2Connection,
    writer: asyncio.StreamWriter,
    stream_id: int,
    content: bytes,
    *,
    end: bool,
) -> None:
    """The body in frames the peer's windows allow (bounded: a stalled window ends the stream)."""
    offset = 0
    for _ in range(10_000):
        if offset >= len(content):
            break
        window = min(connection.local_flow_control_window(stream_id), connection.max_outbound_frame_size)
        if window <= 0:
            await _flush(connection, writer)
            await asyncio.sleep(0.001)
            continue
        connection.send_data(stream_id, content[offset : offset + window])
        offset += window
        await _flush(connection, writer)
    if end:
        connection.end_stream(stream_id)
        await _flush(connection, writer)


async def _flush(connection: h2.connection.H2Connection, writer: asyncio.StreamWriter) -> None:
    writer.write(connection.data_to_send())
    await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
