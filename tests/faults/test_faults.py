"""Every sub-client under injected network faults: a correct result or a CAVEError, never a wrong answer;
writes never applied twice, and an error whenever their outcome is unknown. Sync and async.

Each scenario arms one fault on the route of the call under test (the proxy in `proxy.py` applies it to
the first request on that route); every call runs on a fresh client, so the requests it makes are the
same with and without the fault, and the proxy's count of them proves that no request was attempted
more often than `max_retries` allows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient, _defaults
from caveclient_gen._http.runtime import AsyncRuntime, SyncRuntime
from caveclient_gen.errors import CAVEError
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.materialize.versions import (
    LATEST_VERSION,
    OLDER_VERSION,
    MaterializationTimeline,
)
from caveclient_gen.testing.skeleton.store import SkeletonStore
from tests.faults.conftest import FaultyCAVE, call_outcome
from tests.faults.proxy import AFTER_SERVER, FAULTS, FaultProxy

pytestmark = pytest.mark.filterwarnings("ignore::caveclient_gen.errors.CAVEServerWarning")

RETRIES = 2
TIMEOUT = 3.0
STALL_TIMEOUT = 0.25
"""Read timeout of clients in the stall scenario (the proxy stalls for longer)."""
ANNOTATION_TABLE = "fault_tags"
NUCLEI = "nucleus_detection_v0"
CELL_TYPES = "allen_soma_coarse_cell_class_model_v2"

READS_ALWAYS_CORRECT = frozenset(FAULTS) - {"500_html", "stall", "wrong_shape", "corrupt_gzip"}
"""Faults a read must see through (retried, or harmless): its result must be the correct one."""
WRITES_SUCCEED = frozenset({"trickle", "refuse", "429"})
"""Faults after which a write must succeed: the server cannot have acted on the failed attempt."""

Call = Callable[[Any], Any]


@dataclass(frozen=True)
class ReadCall:
    name: str
    route: str
    run: Call


@dataclass
class World:
    faulty: FaultyCAVE
    reads: list[ReadCall]
    expected: dict[str, Any]
    requests: dict[str, int]
    merge_pairs: list[tuple[int, int, list[float], list[float]]]
    outcomes: dict[str, int]
    split_pair: tuple[int, int, list[float], list[float]]
    """Merged before each split scenario (if a previous one split it), split by the call under test."""


def client_of(faulty: FaultyCAVE, mode: str, fault: str | None) -> CAVEclient | AsyncCAVEclient:
    timeout = httpx.Timeout(STALL_TIMEOUT if fault == "stall" else TIMEOUT)
    kind = CAVEclient if mode == "sync" else AsyncCAVEclient
    client = kind(
        faulty.cave.datastack,
        server_address=faulty.proxy.url,
        auth_token=faulty.cave.token,
        max_retries=RETRIES,
        timeout=timeout,
        write_server_cache=False,
        info_cache=faulty.info_cache,  # the datastack's record is known: calls start at their route
    )
    runtime = client._core.runtime
    # Refusals last `refuse_seconds`: the retries wait longer (a first async connection alone takes
    # tens of milliseconds, resolving the address in a worker thread).
    backoff = 0.12 if fault == "refuse" else 0.01
    runtime.retry = dataclasses.replace(runtime.retry, backoff_initial=backoff, backoff_max=2 * backoff)
    if fault == "refuse":
        wait_out_refusals(runtime, faulty.proxy)
    return client


def wait_out_refusals(runtime: SyncRuntime | AsyncRuntime, proxy: FaultProxy) -> None:
    """A retry's wait also lasts until the proxy listens again: a loaded machine may reopen it after
    the backoff has passed, and a refusal longer than the retries would fail the call on timing."""
    if isinstance(runtime, SyncRuntime):
        sleep = runtime._sleep

        def sleep_then_wait(seconds: float) -> None:
            sleep(seconds)
            proxy.wait_until_listening()

        runtime._sleep = sleep_then_wait
        return
    async_sleep = runtime._sleep

    async def async_sleep_then_wait(seconds: float) -> None:
        await async_sleep(seconds)
        await asyncio.to_thread(proxy.wait_until_listening)

    runtime._sleep = async_sleep_then_wait


def run(faulty: FaultyCAVE, mode: str, fault: str | None, call: Call) -> Any:
    """The call's result on a fresh client (sync or async); its exception if it raised one."""
    return call_outcome(lambda: client_of(faulty, mode, fault), mode, call)


def same(first: Any, second: Any) -> bool:
    if isinstance(first, pd.DataFrame):
        return isinstance(second, pd.DataFrame) and first.equals(second)
    if isinstance(first, np.ndarray):
        return isinstance(second, np.ndarray) and np.array_equal(first, second)
    if isinstance(first, dict):
        return (
            isinstance(second, dict)
            and first.keys() == second.keys()
            and all(same(first[k], second[k]) for k in first)
        )
    if isinstance(first, list | tuple):
        return (
            type(first) is type(second)
            and len(first) == len(second)
            and all(same(a, b) for a, b in zip(first, second, strict=True))
        )
    return bool(first == second)


@pytest.fixture(scope="module")
def world(faulty: FaultyCAVE) -> Iterator[World]:
    cave = faulty.cave
    graph = cave.deployment.component(SegmentationGraph)
    store = cave.deployment.component(SkeletonStore)
    past = datetime.now(UTC)
    _, supervoxels = graph.sample_points(np.random.default_rng(3), 40)
    read_roots = {int(r) for r in graph.roots_at(supervoxels, past)}
    root = next(iter(sorted(read_roots)))
    l2_ids = sorted({int(i) for i in graph.level2_ids_at(supervoxels[:10], graph.seeded_epoch)})
    skeleton_root = next(int(r) for r in graph.latest_roots() if store.is_cached(r))
    somas = graph.soma_supervoxels()
    soma_roots = graph.roots_at(somas, past)
    corners = graph.geometry.cell_corner_voxels(graph.sv_cells[graph.supervoxel_index(somas)])
    chunks = (corners - np.asarray(graph.geometry.voxel_offset)) // np.asarray(graph.geometry.chunk_size)
    pairs = []
    # Reads ask about immutable ids or at a fixed past moment: merges made meanwhile cannot change them.
    used = {skeleton_root}
    for first_index in range(len(somas)):
        for second_index in range(first_index + 1, len(somas)):
            first, second = int(soma_roots[first_index]), int(soma_roots[second_index])
            near = np.abs(chunks[first_index] - chunks[second_index]).max() <= 2
            if near and first != second and not {first, second} & used:
                used |= {first, second}
                pairs.append(
                    (
                        int(somas[first_index]),
                        int(somas[second_index]),
                        _point(graph, somas[first_index]),
                        _point(graph, somas[second_index]),
                    )
                )
                break
    assert len(pairs) >= 4 * len(FAULTS) + 2, "two merge pairs per scenario and mode, two for splits"
    split_pair, preview_pair, *merge_pairs = pairs
    moment, travelled_roots = time_travel(faulty, graph)
    with CAVEclient(cave.datastack, server_address=faulty.proxy.url, auth_token=cave.token) as direct:
        direct.annotation.create_table(ANNOTATION_TABLE, "bound_tag", "fault injection", [4, 4, 40])
        state_id = direct.state.upload_state_json({"layers": [{"name": "img"}], "n": 1})
        # Merged after `past`, and edited by nothing later: its split preview cannot change.
        preview_root = merged_root(direct, preview_pair)
    reads = [
        ReadCall("info.get_datastacks", "/datastacks", lambda c: c.info.get_datastacks()),
        ReadCall(
            "info.get_datastack_info",
            "/datastack/full",
            lambda c: c.info.get_datastack_info(use_stored=False),
        ),
        ReadCall("auth.get_user_information", "/user", lambda c: c.auth.get_user_information([1])),
        ReadCall("schema.get_schemas", "/schema/api/v2/type", lambda c: c.schema.get_schemas()),
        ReadCall(
            "state.get_state_json", "/nglstate/api/v1/", lambda c: c.state.get_state_json(state_id)
        ),
        ReadCall(
            "chunkedgraph.get_roots (bulk, binary)",
            "/roots_binary",
            lambda c: c.chunkedgraph.get_roots(supervoxels, timestamp=past),
        ),
        ReadCall("chunkedgraph.get_leaves", "/leaves", lambda c: c.chunkedgraph.get_leaves(root)),
        ReadCall(
            "chunkedgraph.is_latest_roots",
            "/is_latest_roots",
            lambda c: c.chunkedgraph.is_latest_roots(sorted(read_roots)[:20], timestamp=past),
        ),
        ReadCall("materialize.get_tables", "/tables", lambda c: c.materialize.get_tables()),
        ReadCall(
            "materialize.query_table (Arrow)",
            f"/table/{NUCLEI}/query",
            lambda c: c.materialize.query_table(NUCLEI, limit=200),
        ),
        ReadCall(
            "annotation.get_annotation",
            f"/table/{NUCLEI}/annotations",
            lambda c: c.annotation.get_annotation(NUCLEI, [1, 2, 3]),
        ),
        ReadCall("l2cache.get_l2data (bulk)", "/attributes", lambda c: c.l2cache.get_l2data(l2_ids)),
        ReadCall("skeleton.get_skeleton", "/skeleton", lambda c: c.skeleton.get_skeleton(skeleton_root)),
        # Version 2 brought forward to `moment`: the filter's roots checked and mapped back
        # (is_latest_roots, root_timestamps, past_id_mapping), the query, then stale roots looked up
        # again (is_latest_roots, roots_binary). The fault hits a step in the middle, then the last.
        ReadCall(
            "materialize.live_query (time travel; fault on past_id_mapping)",
            "/past_id_mapping",
            lambda c: c.materialize.live_query(
                NUCLEI, moment, filter_in_dict={"pt_root_id": travelled_roots}
            ),
        ),
        ReadCall(
            "materialize.live_query (time travel; fault on roots_binary)",
            "/roots_binary",
            lambda c: c.materialize.live_query(
                NUCLEI, moment, filter_in_dict={"pt_root_id": travelled_roots}
            ),
        ),
        ReadCall(
            "materialize.live_live_query",
            f"/datastack/{cave.datastack}/query",
            lambda c: c.materialize.live_live_query(
                NUCLEI, moment, filter_in_dict={NUCLEI: {"pt_root_id": travelled_roots}}
            ),
        ),
        ReadCall(
            "materialize.join_query",
            f"/datastack/{cave.datastack}/version/{LATEST_VERSION}/query",
            lambda c: c.materialize.join_query(
                [[CELL_TYPES, "target_id"], [NUCLEI, "id"]],
                suffixes={CELL_TYPES: "", NUCLEI: "_ref"},
                limit=150,
            ),
        ),
        ReadCall(
            "chunkedgraph.preview_split",
            "/graph/split_preview",
            lambda c: c.chunkedgraph.preview_split(
                [preview_pair[2]], [preview_pair[3]], preview_root, [preview_pair[0]], [preview_pair[1]]
            ),
        ),
    ]
    with pytest.MonkeyPatch.context() as patch:
        # Small chunks, so bulk calls send several concurrent requests (the gather path).
        patch.setattr(_defaults, "CHUNKEDGRAPH_ROOTS_CHUNK_SIZE", 12)
        patch.setattr(_defaults, "L2CACHE_CHUNK_SIZE", 4)
        expected, requests = {}, {}
        for read in reads:
            mark = faulty.proxy.mark()
            result = run(faulty, "sync", None, read.run)
            assert not isinstance(result, BaseException), (read.name, result)
            expected[read.name] = result
            requests[read.name] = len(on_route(faulty.proxy.since(mark), read.route))
        travelled = expected["materialize.live_query (time travel; fault on roots_binary)"]
        assert travelled["pt_root_id"].isin(travelled_roots).all(), "roots of the moment"
        yield World(faulty, reads, expected, requests, merge_pairs, {}, split_pair)


def time_travel(faulty: FaultyCAVE, graph: SegmentationGraph) -> tuple[datetime, list[int]]:
    """A moment after the older version's edits, before the latest version (so live queries start
    from the older one), and roots of nuclei then: three that edits made since the older version
    (each the successor of an older root), one that none changed."""
    cave = faulty.cave
    timeline = cave.deployment.component(MaterializationTimeline)
    moment = timeline.version_times[LATEST_VERSION].replace(tzinfo=UTC) - timedelta(minutes=1)
    older = timeline.version_times[OLDER_VERSION].replace(tzinfo=UTC)
    with CAVEclient(cave.datastack, server_address=faulty.proxy.url, auth_token=cave.token) as direct:
        nuclei = direct.materialize.query_table(NUCLEI, materialization_version=OLDER_VERSION)
    supervoxels = nuclei["pt_supervoxel_id"].to_numpy(dtype=np.uint64)
    then = graph.roots_at(supervoxels, older)
    now = graph.roots_at(supervoxels, moment)
    changed = sorted({int(r) for r in now[then != now]})
    unchanged = sorted({int(r) for r in now[then == now]})
    assert len(changed) >= 3, "edits between the versions changed nuclei's roots"
    assert unchanged, "some nuclei's roots stayed the same"
    return moment, [*changed[:3], unchanged[0]]


def merged_root(direct: CAVEclient, pair: tuple[int, int, list[float], list[float]]) -> int:
    """Merge the pair's neurons (unless they are one already); their root."""
    first, second, first_point, second_point = pair
    roots = direct.chunkedgraph.get_roots([first, second])
    if roots[0] != roots[1]:
        direct.chunkedgraph.do_merge([first, second], [first_point, second_point], resolution=(1, 1, 1))
    return int(direct.chunkedgraph.get_root_id(first))


def on_route(exchanges: list[Any], route: str) -> list[Any]:
    """The exchanges whose path contains the call's route."""
    return [exchange for exchange in exchanges if route in exchange.path]


def _point(graph: SegmentationGraph, supervoxel: Any) -> list[float]:
    index = graph.supervoxel_index(np.array([supervoxel], np.uint64))
    corner = graph.geometry.cell_corner_voxels(graph.sv_cells[index])[0]
    return [float(v) for v in (corner + graph.geometry.cell_size // 2) * np.array(graph.base_resolution)]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS)
def test_reads_are_correct_or_raise(
    world: World, fault: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="caveclient_gen")
    proxy = world.faulty.proxy
    failures = []
    for read in world.reads:
        mark = proxy.mark()
        if fault == "refuse":
            proxy.arm("refuse")
        else:
            proxy.arm(fault, read.route)
        result = run(world.faulty, mode, fault, read.run)
        proxy.arm(None)
        sent = proxy.since(mark)
        applied = [exchange for exchange in sent if exchange.fault is not None]
        # Under "stall" every request has a short read timeout: a loaded machine may time one out
        # before the call reaches its route, which is a correct (typed) outcome too.
        timed_out_early = fault == "stall" and isinstance(result, CAVEError)
        if fault != "refuse" and not applied and not timed_out_early:
            failures.append(f"{read.name}: the fault was never applied (route {read.route!r})")
        # Only the call's own route is counted: an async bulk call that failed may still finish the
        # attempts it had in flight (they are shielded), which can arrive after the next mark.
        attempts = on_route(sent, read.route)
        if len(attempts) > world.requests[read.name] * (RETRIES + 1):
            seen = [(exchange.path, exchange.fault) for exchange in attempts]
            failures.append(
                f"{read.name}: {len(attempts)} requests for {world.requests[read.name]}: {seen}"
            )
        if isinstance(result, BaseException):
            if not isinstance(result, CAVEError):
                failures.append(f"{read.name}: raised {type(result).__name__}: {result}")
            elif fault in READS_ALWAYS_CORRECT:
                failures.append(f"{read.name}: raised {type(result).__name__} ({result}) under {fault}")
        elif not same(world.expected[read.name], result):
            failures.append(f"{read.name}: a WRONG RESULT under {fault}: {result!r:.200}")
    assert not failures, "\n".join(failures)
    if fault == "refuse":  # the refusals happened, and were retried as requests never sent
        refused = [r for r in caplog.records if "ConnectError" in r.getMessage() and "retry" in r.msg]
        assert refused, "no connection was refused"


# ---------------------------------------------------------------- writes


@dataclass(frozen=True)
class WriteCall:
    name: str
    method: str
    route: str
    prepare: Callable[[CAVEclient], Any]
    """Run with a direct client before the call (for example, posting the row to delete)."""
    run: Callable[[Any, Any], Any]
    effects: Callable[[CAVEclient, Any], int] | None = None
    """How many times the write took effect, seen by a direct client afterwards (when it can tell)."""


def rows_in_table(direct: CAVEclient) -> int:
    return int(direct.annotation.get_annotation_count(ANNOTATION_TABLE))


def _row(tag: str) -> dict[str, Any]:
    return {"pt": {"position": [10, 20, 30]}, "tag": tag}


def _staged_upload(client: Any, tag: str) -> Any:
    stage = client.annotation.stage_annotations(ANNOTATION_TABLE)
    if inspect.isawaitable(stage):
        return _await_then(stage, lambda s: _upload(client, s, tag))
    return _upload(client, stage, tag)


async def _await_then(awaitable: Any, then: Callable[[Any], Any]) -> Any:
    result = then(await awaitable)
    return await result if inspect.isawaitable(result) else result


def _upload(client: Any, stage: Any, tag: str) -> Any:
    stage.add(pt_position=[1, 2, 3], tag=tag)
    return client.annotation.upload_staged_annotations(stage)


WRITES = [
    WriteCall(
        "annotation.post_annotation",
        "POST",
        f"/table/{ANNOTATION_TABLE}/annotations",
        lambda direct: None,
        lambda client, _: client.annotation.post_annotation(ANNOTATION_TABLE, [_row("posted")]),
    ),
    WriteCall(
        "annotation.update_annotation",
        "PUT",
        f"/table/{ANNOTATION_TABLE}/annotations",
        lambda direct: direct.annotation.post_annotation(ANNOTATION_TABLE, [_row("old")])[0],
        lambda client, row_id: client.annotation.update_annotation(
            ANNOTATION_TABLE, {"id": row_id, **_row("new")}
        ),
    ),
    WriteCall(
        "annotation.delete_annotation",
        "DELETE",
        f"/table/{ANNOTATION_TABLE}/annotations",
        lambda direct: direct.annotation.post_annotation(ANNOTATION_TABLE, [_row("doomed")])[0],
        lambda client, row_id: client.annotation.delete_annotation(ANNOTATION_TABLE, [row_id]),
    ),
    WriteCall(
        "annotation.upload_staged_annotations",
        "POST",
        f"/table/{ANNOTATION_TABLE}/annotations",
        lambda direct: None,
        lambda client, _: _staged_upload(client, "staged"),
    ),
    WriteCall(
        "state.upload_state_json",
        "POST",
        "/nglstate/api/v1/post",
        lambda direct: None,
        lambda client, _: client.state.upload_state_json({"layers": [], "fault": True}),
    ),
]


def undo_call(pair: tuple[int, int, list[float], list[float]]) -> WriteCall:
    """Undo a merge made beforehand by a direct client."""
    first, second, first_point, second_point = pair
    return WriteCall(
        "chunkedgraph.undo_operation",
        "POST",
        "/undo",
        lambda direct: direct.chunkedgraph.do_merge(
            [first, second], [first_point, second_point], resolution=(1, 1, 1)
        )["operation_id"],
        lambda client, operation_id: client.chunkedgraph.undo_operation(operation_id),
    )


def merge_call(pair: tuple[int, int, list[float], list[float]]) -> WriteCall:
    first, second, first_point, second_point = pair
    return WriteCall(
        "chunkedgraph.do_merge",
        "POST",
        "/merge",
        lambda direct: None,
        lambda client, _: client.chunkedgraph.do_merge(
            [first, second], [first_point, second_point], resolution=(1, 1, 1)
        ),
    )


def split_call(pair: tuple[int, int, list[float], list[float]]) -> WriteCall:
    """Split the pair's neurons, merged beforehand by a direct client."""
    first, second, first_point, second_point = pair

    def split_apart(direct: CAVEclient, _: Any) -> int:
        roots = direct.chunkedgraph.get_roots([first, second])
        return int(roots[0] != roots[1])

    return WriteCall(
        "chunkedgraph.execute_split",
        "POST",
        "/split?",
        lambda direct: merged_root(direct, pair),
        lambda client, root: client.chunkedgraph.execute_split(
            [first_point], [second_point], root, [first], [second]
        ),
        split_apart,
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS)
def test_writes_apply_once_and_raise_when_unknown(world: World, fault: str, mode: str) -> None:
    faulty, proxy = world.faulty, world.faulty.proxy
    writes = [
        *WRITES,
        merge_call(world.merge_pairs.pop()),
        undo_call(world.merge_pairs.pop()),
        split_call(world.split_pair),
    ]
    failures = []
    with CAVEclient(
        faulty.cave.datastack, server_address=proxy.url, auth_token=faulty.cave.token
    ) as direct:
        for write in writes:
            prepared = write.prepare(direct)
            rows_before = rows_in_table(direct)
            received_before = proxy.seen(write.method, write.route)
            if fault == "refuse":
                proxy.arm("refuse")
            else:
                proxy.arm(fault, write.route)
            result = run(faulty, mode, fault, lambda client, w=write, p=prepared: w.run(client, p))
            proxy.arm(None)
            received = proxy.seen(write.method, write.route) - received_before
            world.outcomes[f"{mode}:{write.name}"] = world.outcomes.get(f"{mode}:{write.name}", 0) + 1
            if received > 1:
                failures.append(f"{write.name}: APPLIED {received} TIMES under {fault}")
            if write.name.endswith(("post_annotation", "upload_staged_annotations")):
                added = rows_in_table(direct) - rows_before
                if added != received:
                    failures.append(f"{write.name}: {added} rows added for {received} requests")
            if write.effects is not None:
                effects = write.effects(direct, prepared)
                if effects != received:
                    failures.append(f"{write.name}: took effect {effects} times for {received} requests")
            if isinstance(result, BaseException):
                if not isinstance(result, CAVEError):
                    failures.append(f"{write.name}: raised {type(result).__name__}: {result}")
                elif fault in WRITES_SUCCEED:
                    failures.append(
                        f"{write.name}: raised {type(result).__name__} ({result}) under {fault}"
                    )
            else:
                if received != 1:
                    failures.append(
                        f"{write.name}: returned although the server saw {received} requests"
                    )
                if fault in AFTER_SERVER:
                    failures.append(
                        f"{write.name}: returned {result!r:.100} although its answer was spoilt"
                    )
    assert not failures, "\n".join(failures)
