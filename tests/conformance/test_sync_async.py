"""CAVEclient and AsyncCAVEclient answer alike: the differential cases (differential_cases.py) and a
few further calls run through both, on the same LocalCAVE, with the same client options (plain,
pinned to a version, a desired resolution), must give identical outcomes: values with their
types, numpy dtypes, DataFrames' columns, dtypes, index, rows in order and attrs, the warnings
raised (class, message, and which module of ours they point at, if any), the exception's class
and message.

The async calls run concurrently, a batch at a time, so the comparison also covers calls of one
AsyncCAVEclient overlapping each other; the outcomes are still compared case by case. Needs no
caveclient. A failure lists every differing case by its id, a line per difference.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import caveclient_gen
from caveclient_gen import AsyncCAVEclient, CAVEclient, _defaults
from caveclient_gen.export import TableExport
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph
from caveclient_gen.testing.materialize.settings import MaterializationSettings
from caveclient_gen.testing.skeleton.store import SkeletonStore

from .caveclient_driver import bound_call, decoded, encoded, error_record
from .differential_cases import NUCLEI, REFERENCE, SYNAPSES, VIEW, World, build_cases, case_id
from .differential_support import EXACT, absent_root, pick_world, same_json, settled_now, short

BATCH = 8
"""Async calls in flight at once."""

PACKAGE = Path(caveclient_gen.__file__).parent

CASE_WARNINGS: contextvars.ContextVar[list[dict[str, str]] | None] = contextvars.ContextVar(
    "case_warnings", default=None
)
"""The warnings of the call running here: asyncio tasks and asyncio.to_thread carry it, so each of
several concurrent async calls has its own."""


def warning_record(message: Warning | str, category: type[Warning], filename: str) -> dict[str, str]:
    """A warning as its class, text, and where it points: a module of ours, or `<caller>` for any
    file outside caveclient_gen (the caller's code, or the standard library's thread or event
    loop that ran the call: see client.map)."""
    path = Path(filename).resolve()
    where = str(path.relative_to(PACKAGE.parent)) if path.is_relative_to(PACKAGE) else "<caller>"
    return {
        "class": f"{category.__module__}.{category.__qualname__}",
        "message": str(message),
        "points_at": where,
    }


@contextmanager
def warnings_by_call() -> Iterator[list[dict[str, str]]]:
    """Every warning recorded, each time it is raised, to the list of the call it was raised in;
    the list yielded gets those raised outside any call (e.g. on a thread that was not given it)."""
    stray: list[dict[str, str]] = []

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        target = CASE_WARNINGS.get()
        (stray if target is None else target).append(warning_record(message, category, filename))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield stray


def unchanged(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Call:
    """One call made on both clients: `run` makes it on a CAVEclient, `run_async` on an
    AsyncCAVEclient (awaited; by default `run`, whose result is then awaitable), and `comparable`
    turns its result into what is compared (before encoding)."""

    id: str
    run: Callable[[Any], Any]
    run_async: Callable[[Any], Awaitable[Any]] | None = None
    client: str = "plain"
    comparable: Callable[[Any], Any] = unchanged
    concurrent_inside: bool = False
    """The call runs calls of its own side by side (client.map): their warnings come in any order."""


def case_call(case: dict[str, Any]) -> Call:
    def run(client: Any) -> Any:
        function, args, kwargs = bound_call(client, case)  # fresh arguments for each client
        return function(*args, **kwargs)

    return Call(case["id"], run, client=case.get("client", "plain"))


def outcome(value: Any, call: Call) -> dict[str, Any]:
    try:
        return {"value": encoded(call.comparable(value))}
    except Exception as error:  # a result that cannot be read is an outcome too
        return {"error": error_record(error), "while": "reading the result"}


def sync_outcome(client: CAVEclient, call: Call) -> dict[str, Any]:
    caught: list[dict[str, str]] = []
    token = CASE_WARNINGS.set(caught)
    try:
        result = outcome(call.run(client), call)
    except Exception as error:  # the outcome compared
        result = {"error": error_record(error)}
    finally:
        CASE_WARNINGS.reset(token)
    return {**result, "warnings": warnings_of(call, caught)}


async def async_outcome(client: AsyncCAVEclient, call: Call) -> dict[str, Any]:
    caught: list[dict[str, str]] = []
    CASE_WARNINGS.set(caught)  # this task's own context
    try:
        result = outcome(await (call.run_async or call.run)(client), call)
    except Exception as error:  # the outcome compared
        result = {"error": error_record(error)}
    return {**result, "warnings": warnings_of(call, caught)}


def warnings_of(call: Call, caught: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(caught, key=json.dumps) if call.concurrent_inside else caught


def options(cave: LocalCAVE, pinned_version: int) -> dict[str, dict[str, Any]]:
    where = {"server_address": cave.url, "auth_token": cave.token}
    return {
        "plain": where,
        "pinned": {**where, "version": pinned_version},
        "nm": {**where, "desired_resolution": [1, 1, 1]},
    }


def run_sync(cave: LocalCAVE, kinds: dict[str, dict[str, Any]], calls: list[Call]) -> dict[str, Any]:
    clients = {kind: CAVEclient(cave.datastack, **where) for kind, where in kinds.items()}
    try:
        return {call.id: sync_outcome(clients[call.client], call) for call in calls}
    finally:
        for client in clients.values():
            client.close()


async def run_async(
    cave: LocalCAVE, kinds: dict[str, dict[str, Any]], calls: list[Call]
) -> dict[str, Any]:
    clients = {kind: AsyncCAVEclient(cave.datastack, **where) for kind, where in kinds.items()}
    results: dict[str, Any] = {}
    try:
        for start in range(0, len(calls), BATCH):
            batch = calls[start : start + BATCH]
            outcomes = await asyncio.gather(
                *(async_outcome(clients[call.client], call) for call in batch)
            )
            results.update(zip((call.id for call in batch), outcomes, strict=True))
    finally:
        for client in clients.values():
            await client.aclose()
    return results


def mismatches(
    calls: list[Call], sync: dict[str, Any], asynchronous: dict[str, Any], start: datetime
) -> list[str]:
    end = datetime.now(UTC)
    found_in: list[str] = []
    for call in calls:
        if json.dumps(sync[call.id]) == json.dumps(asynchronous[call.id]):
            continue  # identical to the last character (large frames: the quick check)
        found: list[str] = []
        same_json(
            settled_now(sync[call.id], start, end),
            settled_now(asynchronous[call.id], start, end),
            "outcome",
            found,
            EXACT,
        )
        if found:
            found_in.append(call.id + "\n" + "\n".join(f"    {line}" for line in found[:20]))
    return found_in


def compare_both_ways(
    cave: LocalCAVE, kinds: dict[str, dict[str, Any]], calls: list[Call]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every call on the sync clients, then on the async ones; asserts they agree."""
    assert len({call.id for call in calls}) == len(calls), "call ids must be unique"
    start = datetime.now(UTC)
    with warnings_by_call() as stray:
        sync = run_sync(cave, kinds, calls)
        asynchronous = asyncio.run(run_async(cave, kinds, calls))
    assert not stray, f"warnings raised outside any call: {short(stray)}"
    found = mismatches(calls, sync, asynchronous, start)
    assert not found, f"{len(found)} of {len(calls)} calls differ:\n" + "\n".join(found)
    return sync, asynchronous


# -- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(cave: LocalCAVE) -> World:
    with CAVEclient(cave.datastack, server_address=cave.url, auth_token=cave.token) as client:
        return pick_world(cave, client)


def test_drawn_cases_agree(cave: LocalCAVE, world: World) -> None:
    calls = [case_call(case) for case in build_cases(world)]
    sync, _ = compare_both_ways(cave, options(cave, world.versions[0]), calls)
    # The comparison sees something: errors, warnings and frames each occur among the cases.
    assert sum("error" in outcome for outcome in sync.values()) >= 10
    assert sum(bool(outcome["warnings"]) for outcome in sync.values()) >= 3
    assert sum("$frame" in str(outcome.get("value"))[:12] for outcome in sync.values()) >= 100


# -- further calls: what the drawn cases leave out -----------------------------------------------

CAP = 60
"""The server's row cap while the further calls run: whole-table reads take several partitions."""


def plain_calls(world: World, picks: dict[str, Any]) -> list[Call]:
    """Reads of one call each, in the cases' form (run_case's service.method and arguments)."""
    cached = picks["cached"]
    cases: list[tuple[str, list[Any], dict[str, Any]]] = [
        ("info.get_datastacks", [], {}),
        ("info.get_datastack_info", [], {}),
        ("info.get_aligned_volumes", [], {}),
        ("info.get_aligned_volume_info", [], {}),
        ("info.get_datastacks_by_aligned_volume", [], {}),
        ("info.get_aligned_volume_info_by_id", [], {}),
        ("info.get_image_mirrors", [], {}),
        ("info.get_image_mirror_names", [], {}),
        ("info.local_server", [], {}),
        ("info.annotation_endpoint", [], {}),
        ("info.image_source", [], {}),
        ("info.segmentation_source", [], {}),
        ("info.synapse_segmentation_source", [], {}),
        ("info.viewer_site", [], {}),
        ("info.viewer_resolution", [], {}),
        ("schema.get_schemas", [], {}),
        ("schema.schema_definition", ["synapse"], {}),
        ("schema.schema_definition_multi", [["synapse", "cell_type_local"]], {}),
        ("schema.schema_definition_all", [], {}),
        ("schema.schema_definition", ["no_such_schema"], {}),
        ("auth.get_tokens", [], {}),
        ("auth.get_user_information", [[1]], {}),
        ("auth.get_group_users", [1], {}),
        ("chunkedgraph.get_oldest_timestamp", [], {}),
        ("chunkedgraph.level2_chunk_graph", [world.leaves_root], {}),
        ("chunkedgraph.get_subgraph", [world.leaves_root, world.leaves_bounds], {}),
        ("chunkedgraph.get_minimal_covering_nodes", [world.supervoxels[:4]], {}),
        ("chunkedgraph.get_merge_log", [world.heavy_root], {}),
        ("chunkedgraph.get_user_operations", [1, {"$time": world.version_times[0].isoformat()}], {}),
        ("l2cache.cache_metadata", [], {}),
        ("l2cache.table_mapping", [], {}),
        ("l2cache.has_cache", [], {}),
        ("skeleton.get_versions", [], {}),
        ("skeleton.get_cache_contents", [], {"limit": 5}),
        ("skeleton.skeletons_exist", [], {"root_ids": [*cached, picks["absent"]]}),
        ("skeleton.get_precomputed_skeleton_info", [4], {}),
        ("skeleton.get_skeleton", [cached[0], None, 4, "dict"], {}),
        ("skeleton.get_skeleton", [cached[0], None, 4, "swc"], {}),
        ("skeleton.get_skeleton", [cached[1], None, 1, "dict"], {}),
        ("skeleton.get_skeleton", [picks["absent"]], {}),
        ("skeleton.get_bulk_skeletons", [[*cached, picks["absent"]], None, 4, "dict"], {}),
        ("skeleton.get_bulk_skeletons", [cached, None, 0, "swc"], {}),
        # Chunked into requests sent concurrently (the async runtime's gather):
        ("chunkedgraph.get_leaves_many", [picks["roots"]], {"stop_layer": 4}),
        ("annotation.get_annotation", [SYNAPSES, picks["annotation_ids"]], {}),
        ("materialize.query_table", [NUCLEI], {"all_rows": True}),
        ("materialize.query_table", [NUCLEI], {"offset": 0, "limit": 2 * CAP}),
        ("materialize.query_table", [NUCLEI], {}),
        (
            "materialize.query_table",
            [SYNAPSES],
            {"all_rows": True, "filter_in_dict": {"pre_pt_root_id": world.synapse_roots[:2]}},
        ),
        (
            "materialize.live_query",
            [NUCLEI, {"$time": world.later.isoformat()}],
            {"all_rows": True, "split_positions": True},
        ),
        ("materialize.query_view", [VIEW], {"all_rows": True, "desired_resolution": [1, 1, 1]}),
        (
            "materialize.join_query",
            [[[REFERENCE, "target_id"], [NUCLEI, "id"]]],
            {"all_rows": True, "suffixes": {REFERENCE: "", NUCLEI: "_nuc"}},
        ),
    ]
    calls = []
    for number, (call, args, kwargs) in enumerate(cases):
        case = {"call": call, "args": args, "kwargs": kwargs}
        calls.append(case_call({**case, "id": case_id(call, number, args, kwargs)}))
    return calls


PROPERTIES = [
    ("chunkedgraph", "table_name"),
    ("chunkedgraph", "cloudvolume_path"),
    ("chunkedgraph", "segmentation_info"),
    ("chunkedgraph", "base_resolution"),
    ("l2cache", "attributes"),
    ("materialize", "homepage"),
    ("annotation", "aligned_volume_name"),
    ("info", "aligned_volume_name"),
    ("info", "aligned_volume_id"),
]
"""Properties a request answers: values on CAVEclient, awaitables on AsyncCAVEclient."""


def property_call(service: str, name: str) -> Call:
    def read(client: Any) -> Any:
        return getattr(getattr(client, service), name)

    return Call(f"{service}.{name} (property)", read)


STATE = {
    "layers": [
        {
            "type": "segmentation",
            "segments": {"$array": [864691135088120211, 5], "dtype": "uint64"},
            "selected": {"$numpy": 864691135088120211, "dtype": "uint64"},
        }
    ],
    "position": [1.5, float("nan"), 3],
    "title": "a state",
}


def state_round_trip(client: CAVEclient) -> Any:
    state_id = client.state.upload_state_json(decoded(STATE))
    return type(state_id).__name__, client.state.get_state_json(state_id)


async def state_round_trip_async(client: AsyncCAVEclient) -> Any:
    state_id = await client.state.upload_state_json(decoded(STATE))
    return type(state_id).__name__, await client.state.get_state_json(state_id)


PROPERTIES_DOCUMENT = {
    "@type": "neuroglancer_segment_properties",
    "inline": {
        "ids": {"$array": [864691135088120211, 2], "dtype": "uint64"},
        "properties": [{"id": "size", "type": "number", "values": [1.5, float("nan")]}],
    },
}


def property_round_trip(client: CAVEclient) -> Any:
    property_id = client.state.upload_property_json(decoded(PROPERTIES_DOCUMENT))
    return type(property_id).__name__, client.state.get_property_json(property_id)


async def property_round_trip_async(client: AsyncCAVEclient) -> Any:
    property_id = await client.state.upload_property_json(decoded(PROPERTIES_DOCUMENT))
    return type(property_id).__name__, await client.state.get_property_json(property_id)


def mapped(supervoxels: list[int]) -> tuple[Callable[[Any], Any], Callable[[Any], Awaitable[Any]]]:
    """client.map over get_root_id, on both clients."""

    def run(client: CAVEclient) -> Any:
        return client.map(client.chunkedgraph.get_root_id, supervoxels, concurrency=4)

    async def run_async(client: AsyncCAVEclient) -> Any:
        return await client.map(client.chunkedgraph.get_root_id, supervoxels, concurrency=4)

    return run, run_async


def managed(world: World) -> list[Call]:
    """Queries through client.materialize.tables / .views (an awaited property on the async client)."""
    roots = world.nucleus_roots[:6]

    def tables(client: CAVEclient) -> Any:
        return client.materialize.tables[NUCLEI](pt_root_id=roots).query(split_positions=True)

    async def tables_async(client: AsyncCAVEclient) -> Any:
        manager = await client.materialize.tables
        return await manager[NUCLEI](pt_root_id=roots).query(split_positions=True)

    def live(client: CAVEclient) -> Any:
        return client.materialize.tables[NUCLEI](pt_root_id=world.past_roots).live_query(world.past)

    async def live_async(client: AsyncCAVEclient) -> Any:
        manager = await client.materialize.tables
        return await manager[NUCLEI](pt_root_id=world.past_roots).live_query(world.past)

    def views(client: CAVEclient) -> Any:
        return client.materialize.views[VIEW](cell_type="23P").query(limit=5)

    async def views_async(client: AsyncCAVEclient) -> Any:
        manager = await client.materialize.views
        return await manager[VIEW](cell_type="23P").query(limit=5)

    return [
        Call("materialize.tables[nuclei](pt_root_id=...).query", tables, tables_async),
        Call("materialize.tables[nuclei](pt_root_id=...).live_query", live, live_async),
        Call("materialize.views[view](cell_type=...).query", views, views_async),
    ]


def capped_tables(client: CAVEclient) -> Any:
    """client.map over reads the row cap cuts: each call warns, on a worker thread."""
    return client.map(client.materialize.query_table, [NUCLEI, REFERENCE])


async def capped_tables_async(client: AsyncCAVEclient) -> Any:
    return await client.map(client.materialize.query_table, [NUCLEI, REFERENCE])


def exported(folder: Path, kind: str, name: str, **options: Any) -> tuple[Any, Any]:
    """export_table / export_view into a folder of each client's own."""

    def run(client: CAVEclient) -> Any:
        export = getattr(client.materialize, f"export_{kind}")
        return export(name, folder / "sync", partition_rows=CAP, progress=False, **options)

    async def run_async(client: AsyncCAVEclient) -> Any:
        export = getattr(client.materialize, f"export_{kind}")
        return await export(name, folder / "async", partition_rows=CAP, progress=False, **options)

    return run, run_async


def export_summary(export: TableExport) -> dict[str, Any]:
    """What an export holds, without where it lives."""
    manifest = {key: value for key, value in export.manifest.items() if key not in ("writer",)}
    return {
        "complete": export.complete,
        "rows": export.rows,
        "expected_rows": export.expected_rows,
        "missing": export.missing,
        "files": [Path(file).name for file in export.files],
        "manifest": manifest,
        "frame": export.to_pandas(),
    }


def further_calls(world: World, picks: dict[str, Any], folder: Path) -> list[Call]:
    calls = plain_calls(world, picks)
    calls += [property_call(service, name) for service, name in PROPERTIES]
    calls.append(
        Call("state.upload_state_json + get_state_json", state_round_trip, state_round_trip_async)
    )
    calls.append(
        Call(
            "state.upload_property_json + get_property_json",
            property_round_trip,
            property_round_trip_async,
        )
    )
    calls += managed(world)
    run, run_async = mapped(world.supervoxels[:12])
    calls.append(
        Call("map(chunkedgraph.get_root_id, 12 supervoxels)", run, run_async, concurrent_inside=True)
    )
    run, run_async = mapped([*world.supervoxels[:3], 5, *world.supervoxels[3:6]])
    calls.append(
        Call(
            "map(chunkedgraph.get_root_id, with an id of no node)",
            run,
            run_async,
            concurrent_inside=True,
        )
    )
    calls.append(
        Call(
            "map(query_table, tables past the row cap)",
            capped_tables,
            capped_tables_async,
            concurrent_inside=True,
        )
    )
    for kind, name, options in (
        ("table", NUCLEI, {}),
        ("table", SYNAPSES, {"filter_in_dict": {"pre_pt_root_id": world.synapse_roots[:2]}}),
        ("view", VIEW, {"desired_resolution": [1, 1, 1]}),
    ):
        run, run_async = exported(folder / f"{kind}-{name}", kind, name, **options)
        calls.append(
            Call(f"export_{kind}({name}, {sorted(options)})", run, run_async, comparable=export_summary)
        )
    return calls


@pytest.fixture
def small_row_cap(cave: LocalCAVE) -> Iterator[None]:
    settings = MaterializationSettings.of(cave.deployment)
    saved = settings.query_limit_size
    settings.query_limit_size = CAP
    try:
        yield
    finally:
        settings.query_limit_size = saved


LEAVES_CHUNK, ANNOTATION_CHUNK = (
    _defaults.CHUNKEDGRAPH_LEAVES_CHUNK_SIZE,
    _defaults.ANNOTATION_IDS_PER_GET,
)


def further_picks(cave: LocalCAVE) -> dict[str, Any]:
    """Root ids with and without a skeleton, and enough roots and annotation ids to be chunked."""
    graph = cave.deployment.component(SegmentationGraph)
    store = cave.deployment.component(SkeletonStore)
    cached = [int(root) for root in graph.latest_roots() if store.is_cached(int(root))]
    assert len(cached) >= 3, "the seeded cache should hold skeletons"
    absent = absent_root(graph, cached[0])
    return {
        "cached": cached[:3],
        "absent": absent,
        "roots": [int(root) for root in graph.latest_roots()[: 3 * LEAVES_CHUNK + 1]],
        "annotation_ids": list(range(1, 3 * ANNOTATION_CHUNK + 2)),
    }


@pytest.mark.usefixtures("small_row_cap")
def test_further_calls_agree(cave: LocalCAVE, world: World, tmp_path: Path) -> None:
    calls = further_calls(world, further_picks(cave), tmp_path)
    sync, _ = compare_both_ways(cave, options(cave, world.versions[0]), calls)
    partitioned = [name for name in sync if "all_rows" in name or name.startswith("export_")]
    assert all("value" in sync[name] for name in partitioned), [
        short(sync[name]) for name in partitioned if "value" not in sync[name]
    ]
    # The comparison sees the warnings: the row cap's, offset paging's, missing skeletons'.
    raised = {
        warning["class"].rsplit(".", 1)[1]
        for outcome in sync.values()
        for warning in outcome["warnings"]
    }
    assert {"CAVEServerWarning", "OffsetPagingWarning", "MissingSkeletonsWarning"} <= raised, raised
