"""HTTP/2: which protocol the client speaks, and faults of HTTP/2 connections.

The client's transports allow HTTP/2 (`httpx[http2]`), which httpx only negotiates over TLS, by
ALPN: an https:// server that offers "h2" (as the real CAVE deployments behind their ingress do) is
spoken to in HTTP/2, several concurrent requests multiplexed on one connection; a plain http://
server, LocalCAVE included, in HTTP/1.1 (no prior-knowledge HTTP/2). The other fault tests cover
HTTP/1.1; here an HTTP/2 server over TLS (`h2_proxy.py`) in front of a LocalCAVE refuses streams,
sends GOAWAY before or after the upstream acted, and resets a stream or the connection half-way
through an answer: every read returns the correct result or raises a CAVEError, and every write is
applied at most once and raises whenever its outcome is unknown; a write the server says it did not
process (a refused stream, a GOAWAY before any stream) is retried and succeeds. Sync and async.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient, _defaults
from caveclient_gen.errors import CAVEError
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from tests.faults.conftest import call_outcome
from tests.faults.h2_proxy import (
    AFTER_UPSTREAM,
    H2_FAULTS,
    NOT_PROCESSED,
    H2FaultProxy,
    self_signed_certificate,
)
from tests.faults.test_faults import same

pytestmark = pytest.mark.filterwarnings("ignore::caveclient_gen.errors.CAVEServerWarning")

RETRIES = 2
NUCLEI = "nucleus_detection_v0"
TABLE = "h2_tags"


@dataclass
class H2World:
    cave: LocalCAVE
    proxy: H2FaultProxy
    certificate: Path
    info_cache: dict[str, Any]
    supervoxels: Any
    past: datetime
    expected: dict[str, Any]


def h2_client(world: H2World, mode: str) -> CAVEclient | AsyncCAVEclient:
    kind = CAVEclient if mode == "sync" else AsyncCAVEclient
    client = kind(
        world.cave.datastack,
        server_address=world.proxy.url,
        auth_token=world.cave.token,
        max_retries=RETRIES,
        timeout=httpx.Timeout(5.0),
        write_server_cache=False,
        info_cache=world.info_cache,
    )
    runtime = client._core.runtime
    runtime.retry = dataclasses.replace(runtime.retry, backoff_initial=0.01, backoff_max=0.02)
    return client


def run(world: H2World, mode: str, call: Any) -> Any:
    """The call's result on a fresh client over HTTP/2; its exception if it raised one."""
    return call_outcome(lambda: h2_client(world, mode), mode, call)


READS: dict[str, tuple[str, Any]] = {
    "info.get_datastacks": ("/datastacks", lambda c, w: c.info.get_datastacks()),
    # Chunks of 12 supervoxels: concurrent requests, multiplexed as streams of one connection.
    "chunkedgraph.get_roots (bulk, binary)": (
        "/roots_binary",
        lambda c, w: c.chunkedgraph.get_roots(w.supervoxels, timestamp=w.past),
    ),
    "materialize.query_table (Arrow)": (
        f"/table/{NUCLEI}/query",
        lambda c, w: c.materialize.query_table(NUCLEI, limit=100),
    ),
}


@pytest.fixture(scope="module")
def h2world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[H2World]:
    certificate, key = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    with LocalCAVE(seed=23) as cave, pytest.MonkeyPatch.context() as patch:
        # The client's own transports (made on first use) trust the test's certificate.
        patch.setenv("SSL_CERT_FILE", str(certificate))
        patch.setattr(_defaults, "CHUNKEDGRAPH_ROOTS_CHUNK_SIZE", 12)
        proxy = H2FaultProxy(certificate=certificate, key=key, upstream=cave.url).start()
        try:
            with CAVEclient(cave.datastack, server_address=cave.url, auth_token=cave.token) as direct:
                record = direct.info.get_datastack_info()
                direct.annotation.create_table(TABLE, "bound_tag", "HTTP/2 faults", [4, 4, 40])
            # The datastack's servers are the HTTP/2 server too.
            info = json.loads(json.dumps(record).replace(cave.url, proxy.url))
            graph = cave.deployment.component(SegmentationGraph)
            _, supervoxels = graph.sample_points(np.random.default_rng(5), 40)
            world = H2World(
                cave, proxy, certificate, {cave.datastack: info}, supervoxels, datetime.now(UTC), {}
            )
            for name, (_, call) in READS.items():
                result = run(world, "sync", lambda c, call=call: call(c, world))
                assert not isinstance(result, BaseException), (name, result)
                world.expected[name] = result
            yield world
        finally:
            proxy.stop()


def test_tls_servers_are_spoken_to_in_http2_and_plain_ones_in_http1(
    h2world: H2World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    connections = h2world.proxy.connections
    mark = h2world.proxy.mark()
    for mode in ("sync", "async"):
        result = run(h2world, mode, lambda c: c.chunkedgraph.get_roots(h2world.supervoxels))
        assert not isinstance(result, BaseException), result
    with CAVEclient(
        h2world.cave.datastack, server_address=h2world.cave.url, auth_token=h2world.cave.token
    ) as plain:
        plain.info.get_datastacks()
    # httpx logs each exchange: 'HTTP Request: GET <url> "HTTP/2 200 OK"'.
    exchanges = [
        tuple(found.groups())
        for record in caplog.records
        if record.name == "httpx"
        and (found := re.search(r'HTTP Request: \w+ (\S+) "(HTTP/[\d.]+) ', record.getMessage()))
    ]
    over_tls = {version for url, version in exchanges if url.startswith(h2world.proxy.url)}
    plain_http = {version for url, version in exchanges if url.endswith("/info/api/v2/datastacks")}
    assert over_tls == {"HTTP/2"}
    assert plain_http == {"HTTP/1.1"}
    # Four concurrent chunk requests per call, on one connection per call (the server saw h2 only).
    assert h2world.proxy.alpn[connections:] == ["h2", "h2"]
    assert len(on_route(h2world.proxy.since(mark), "/roots_binary")) == 2 * 4


def on_route(streams: list[Any], route: str) -> list[Any]:
    return [stream for stream in streams if route in stream.path]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", H2_FAULTS)
def test_http2_reads_are_correct_or_raise(h2world: H2World, fault: str, mode: str) -> None:
    proxy = h2world.proxy
    failures = []
    for name, (route, call) in READS.items():
        mark = proxy.mark()
        proxy.arm(fault, route)
        result = run(h2world, mode, lambda c, call=call: call(c, h2world))
        proxy.arm(None)
        sent = proxy.since(mark)
        if not [stream for stream in sent if stream.fault is not None]:
            failures.append(f"{name}: the fault was never applied")
        if isinstance(result, BaseException):
            # Every HTTP/2 fault here is one a read is retried through.
            failures.append(f"{name}: raised {type(result).__name__}: {result}")
        elif not same(h2world.expected[name], result):
            failures.append(f"{name}: a WRONG RESULT under {fault}: {result!r:.200}")
    assert not failures, "\n".join(failures)


def staged_upload(client: Any) -> Any:
    def upload(stage: Any) -> Any:
        stage.add(pt_position=[1, 2, 3], tag="h2 staged")
        return client.annotation.upload_staged_annotations(stage)

    stage = client.annotation.stage_annotations(TABLE)
    if inspect.isawaitable(stage):

        async def then() -> Any:
            return await upload(await stage)

        return then()
    return upload(stage)


WRITES: dict[str, tuple[str, Any]] = {
    "annotation.post_annotation": (
        f"/table/{TABLE}/annotations",
        lambda c: c.annotation.post_annotation(TABLE, [{"pt": {"position": [10, 20, 30]}, "tag": "h2"}]),
    ),
    # Its upload follows the schema's lookup on the same connection: the POST is not the first stream,
    # so a GOAWAY may name an earlier stream processed and ours not (httpcore resends it itself).
    "annotation.upload_staged_annotations": (
        f"/table/{TABLE}/annotations",
        staged_upload,
    ),
    "state.upload_state_json": (
        "/nglstate/api/v1/post",
        lambda c: c.state.upload_state_json({"layers": [], "h2": True}),
    ),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", H2_FAULTS)
def test_http2_writes_apply_once_and_raise_when_unknown(h2world: H2World, fault: str, mode: str) -> None:
    proxy, cave = h2world.proxy, h2world.cave
    failures = []
    with CAVEclient(cave.datastack, server_address=cave.url, auth_token=cave.token) as direct:
        for name, (route, call) in WRITES.items():
            rows_before = int(direct.annotation.get_annotation_count(TABLE))
            received_before = proxy.seen("POST", route)
            proxy.arm(fault, route)
            result = run(h2world, mode, call)
            proxy.arm(None)
            received = proxy.seen("POST", route) - received_before
            if received > 1:
                failures.append(f"{name}: APPLIED {received} TIMES under {fault}")
            if name.startswith("annotation."):
                added = int(direct.annotation.get_annotation_count(TABLE)) - rows_before
                if added != received:
                    failures.append(f"{name}: {added} rows added for {received} requests")
            if isinstance(result, BaseException):
                if not isinstance(result, CAVEError):
                    failures.append(f"{name}: raised {type(result).__name__}: {result}")
                elif fault in NOT_PROCESSED:
                    # The server said it did not act: the write is retried, like a refused connection.
                    failures.append(f"{name}: raised {type(result).__name__} ({result}) under {fault}")
            elif received != 1:
                failures.append(f"{name}: returned although the server saw {received} requests")
            elif fault in AFTER_UPSTREAM:
                failures.append(f"{name}: returned {result!r:.100} although its answer was spoilt")
    assert not failures, "\n".join(failures)
