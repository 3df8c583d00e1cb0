"""One CAVEclient shared by threads: the same answers as serial calls, each cached lookup sent once,
no exception from a race, no connection left open; an AsyncCAVEclient refuses a second event loop.

The shared client is new when the threads start (released together by a barrier), so they race
through every lazy path at once: the datastack's record, the token, the sub-clients, the latest
version, the servers' versions and the feature checks that read them, the table manager, the pool.
LocalCAVE runs on a port (a real connection pool) and answers each request after a short delay,
which keeps the first lookups in flight while the other threads ask for them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph

WORKERS = 8
ROUNDS = 3
NUCLEI = "nucleus_detection_v0"


@pytest.fixture(scope="module")
def cave() -> Iterator[LocalCAVE]:
    cave = LocalCAVE(seed=3, latency=0.02).start()
    try:
        yield cave
    finally:
        cave.stop()


def new_client(cave: LocalCAVE, **options: Any) -> CAVEclient:
    options.setdefault("auth_token", cave.token)
    return CAVEclient(
        cave.datastack,
        server_address=cave.url,
        write_server_cache=False,
        pool_maxsize=4,  # fewer connections than threads: requests also wait for the pool
        **options,
    )


def supervoxels(cave: LocalCAVE) -> np.ndarray:
    graph = cave.deployment.component(SegmentationGraph)
    _, found = graph.sample_points(np.random.default_rng(5), 60)
    return found[found != 0]


def mixed_calls(client: CAVEclient, ids: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Calls through every lazily initialised part of a client, each with a comparable answer."""
    return {
        "local_server": lambda: client.info.get_datastack_info()["local_server"],
        "version": lambda: int(client.materialize.version),
        "materialize_server": lambda: str(client.materialize.server_version),
        "chunkedgraph_server": lambda: str(client.chunkedgraph.server_version),
        "table_names": lambda: list(client.materialize.tables.table_names),
        "roots": lambda: client.chunkedgraph.get_roots(ids).tolist(),
        # `latest=True` passes the server-version gate; the times themselves depend on "now".
        "gated": lambda: len(
            client.chunkedgraph.get_root_timestamps(client.chunkedgraph.get_roots(ids[:3]), latest=True)
        ),
        "query": lambda: sorted(
            client.materialize.query_table(NUCLEI, filter_in_dict={"id": list(range(60))})["id"].tolist()
        ),
        "builder": lambda: sorted(
            client.materialize.tables[NUCLEI](id=[1, 2, 3, 4]).query()["id"].tolist()
        ),
        "all_rows": lambda: sorted(client.materialize.query_table(NUCLEI, all_rows=True)["id"].tolist()),
    }


def run_together(
    client: CAVEclient, ids: np.ndarray, workers: int = WORKERS, rounds: int = ROUNDS
) -> list[dict[str, Any]]:
    """Every worker runs every call `rounds` times, from a different first call, released at once."""
    barrier = threading.Barrier(workers)

    def worker(index: int) -> dict[str, Any]:
        calls = list(mixed_calls(client, ids).items())
        order = calls[index % len(calls) :] + calls[: index % len(calls)]
        answers: dict[str, Any] = {}
        barrier.wait()
        for _ in range(rounds):
            for name, call in order:
                answer = call()
                assert answers.setdefault(name, answer) == answer, name
        return answers

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(worker, range(workers)))  # re-raises any worker's exception


def test_a_shared_client_answers_as_serial_calls_do(cave: LocalCAVE) -> None:
    ids = supervoxels(cave)
    with new_client(cave) as serial:
        expected = {name: call() for name, call in mixed_calls(serial, ids).items()}
    with new_client(cave) as shared:
        answers = run_together(shared, ids)
    for answer in answers:
        assert answer == expected


def test_cached_lookups_are_sent_once_however_many_threads_ask(cave: LocalCAVE) -> None:
    """The datastack's record, the latest version, each server's version and the table manager are
    filled by one thread while the others wait for it: exactly one request each. Lookups cached
    without that (a table's metadata, a schema) are bounded by one per thread that asked before the
    first answer arrived."""
    ids = supervoxels(cave)
    datastack = cave.datastack
    with new_client(cave) as shared:
        cave.deployment.request_log.clear()
        run_together(shared, ids)
        sent = Counter(cave.requests)
        version = int(shared.materialize.version)
    once = [
        ("GET", f"/info/api/v2/datastack/full/{datastack}"),
        ("GET", f"/materialize/api/v3/datastack/{datastack}/versions"),
        ("GET", "/materialize/version"),
        ("GET", "/segmentation/api/version"),
        ("GET", f"/materialize/api/v3/datastack/{datastack}/version/{version}/tables/metadata"),
    ]
    assert {request: sent[request] for request in once} == dict.fromkeys(once, 1)
    table_metadata = (
        "GET",
        f"/materialize/api/v3/datastack/{datastack}/version/{version}/table/{NUCLEI}/metadata",
    )
    assert sent[table_metadata] <= WORKERS


def test_a_pinned_client_fetches_its_version_time_once(cave: LocalCAVE) -> None:
    ids = supervoxels(cave)
    with new_client(cave) as latest:
        older = min(latest.materialize.get_versions())
        expected_time = latest.materialize.get_timestamp(older)
        expected_roots = latest.chunkedgraph.get_roots(ids, timestamp=expected_time).tolist()
    with new_client(cave, version=older) as pinned:
        cave.deployment.request_log.clear()
        barrier = threading.Barrier(WORKERS)

        def worker(index: int) -> tuple[Any, list[int]]:
            barrier.wait()
            if index % 2:  # half ask for the time first, half make the call that needs it first
                moment = pinned.timestamp
                roots = pinned.chunkedgraph.get_roots(ids).tolist()
            else:
                roots = pinned.chunkedgraph.get_roots(ids).tolist()
                moment = pinned.timestamp
            return moment, roots

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            answers = list(pool.map(worker, range(WORKERS)))
        sent = Counter(cave.requests)
    assert answers == [(expected_time, expected_roots)] * WORKERS
    version_record = ("GET", f"/materialize/api/v3/datastack/{cave.datastack}/version/{older}")
    assert sent[version_record] == 1


def test_writes_from_threads_of_a_new_client_each_happen_once(cave: LocalCAVE) -> None:
    with new_client(cave) as setup:
        table = setup.annotation.create_table(
            "thread_tags", "bound_tag", "rows posted by threads", voxel_resolution=[4, 4, 40]
        )
    barrier = threading.Barrier(WORKERS)
    with new_client(cave) as shared:

        def post(index: int) -> list[int]:
            barrier.wait()
            ids: list[int] = []
            for round_ in range(ROUNDS):
                row = {"pt": {"position": [index + 1, round_ + 1, 1]}, "tag": f"{index}-{round_}"}
                ids += [int(i) for i in shared.annotation.post_annotation(table, [row])]
            return ids

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            posted = [i for ids in pool.map(post, range(WORKERS)) for i in ids]
        assert len(set(posted)) == len(posted) == WORKERS * ROUNDS
        assert shared.annotation.get_annotation_count(table) == WORKERS * ROUNDS
        rows = shared.annotation.get_annotation(table, posted)
    assert sorted(row["tag"] for row in rows) == sorted(
        f"{i}-{r}" for i in range(WORKERS) for r in range(ROUNDS)
    )


def test_a_version_pinned_during_the_time_lookup_keeps_its_own_time(cave: LocalCAVE) -> None:
    """The time fetched for the version pinned before is never kept as the time of the new one."""
    with new_client(cave) as latest:
        older, newer = sorted(latest.materialize.get_versions())[:2]
        times = {v: latest.materialize.get_timestamp(v) for v in (older, newer)}
    with new_client(cave, version=older) as client:
        lookup = client._core._version_timestamp

        def pinning_meanwhile(core: Any, version: int) -> Any:
            moment = yield from lookup(core, version)
            client.version = newer  # as another thread would, while this lookup was in flight
            return moment

        client._core._version_timestamp = pinning_meanwhile
        assert client.timestamp == times[older]  # the version this call started with
        client._core._version_timestamp = lookup
        assert client.version == newer
        assert client.timestamp == times[newer]


def test_threads_asking_at_once_get_the_same_sub_clients(cave: LocalCAVE) -> None:
    """functools.cached_property locks only up to Python 3.11; `_attach` keeps this true after."""
    names = ["auth", "info", "state", "schema", "chunkedgraph", "materialize", "annotation", "l2cache"]
    for _ in range(20):
        client = new_client(cave)
        barrier = threading.Barrier(WORKERS)

        def sub_clients(
            _: int, client: CAVEclient = client, barrier: threading.Barrier = barrier
        ) -> list[int]:
            barrier.wait()
            return [id(getattr(client, name)) for name in names]

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            seen = list(pool.map(sub_clients, range(WORKERS)))
        assert seen == [[id(getattr(client, name)) for name in names]] * WORKERS
        client.close()


def test_a_sub_client_built_by_a_second_thread_gives_way_to_the_first(cave: LocalCAVE) -> None:
    """What two threads building one sub-client at once do on Python 3.12 and later, where
    cached_property no longer makes the second wait: both get the first one attached."""
    from caveclient_gen.services.materialize import MaterializationClient

    with new_client(cave) as client:
        first = client._attach(MaterializationClient(client._core))
        second = client._attach(MaterializationClient(client._core))
        assert second is first
        assert client.materialize is first


def test_connections_stay_within_the_pool_and_close_with_the_client(cave: LocalCAVE) -> None:
    ids = supervoxels(cave)
    shared = new_client(cave)
    run_together(shared, ids, rounds=1)
    network = shared._core.session._transport
    pool = getattr(network, "network", network)._pool  # type: ignore[union-attr]
    assert 0 < len(pool.connections) <= 4
    shared.close()
    assert pool.connections == []


def test_a_token_change_reaches_generated_clients_made_meanwhile(cave: LocalCAVE) -> None:
    """A generated client being made while the token changes must not keep the old token."""
    client = new_client(cave, auth_token="old-token-0000")
    session = client._core.session
    session.add_cave_server(cave.url)
    making = threading.Event()
    may_finish = threading.Event()

    class SlowGenerated:
        blocking = True

        def __init__(self, base_url: str) -> None:
            self.base_url = base_url

        def set_httpx_client(self, client: httpx.Client) -> None:
            self.http = client  # chosen with the old token
            if SlowGenerated.blocking:
                making.set()
                may_finish.wait()

        def set_async_httpx_client(self, client: httpx.AsyncClient) -> None:
            raise AssertionError("a sync client")

    with ThreadPoolExecutor(max_workers=2) as pool:
        made = pool.submit(session.api, SlowGenerated, cave.url)
        making.wait()
        changed = pool.submit(client._core.set_token, "new-token-0000", "a test")
        # The change may finish first (nothing serialises it with the making) or wait for it.
        with contextlib.suppress(TimeoutError):
            changed.result(timeout=0.5)
        may_finish.set()
        made.result()
        changed.result()
    SlowGenerated.blocking = False
    current = session.api(SlowGenerated, cave.url)
    assert current.http.headers["Authorization"] == "Bearer new-token-0000"
    client.close()


# ------------------------------------------------------------ the async client


def test_an_async_client_refuses_another_open_event_loop(cave: LocalCAVE) -> None:
    client = AsyncCAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, write_server_cache=False
    )

    async def versions() -> list[int]:
        return await client.materialize.get_versions()

    loop = asyncio.new_event_loop()
    try:
        first = loop.run_until_complete(versions())
        with pytest.raises(RuntimeError, match="one AsyncCAVEclient per event loop"):
            asyncio.run(versions())  # a second loop, in this thread, while the first is open
        answers: list[BaseException | list[int]] = []

        def in_another_thread() -> None:
            try:
                answers.append(asyncio.run(versions()))
            except RuntimeError as error:
                answers.append(error)

        thread = threading.Thread(target=in_another_thread)
        thread.start()
        thread.join()
        assert isinstance(answers[0], RuntimeError)
        assert loop.run_until_complete(versions()) == first  # its own loop still works
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_async_client_moves_to_a_new_event_loop_once_its_first_has_closed(
    cave: LocalCAVE,
) -> None:
    # The first loop ends with the client's connections open (the script never closes it there):
    # their sockets are left to the garbage collector, which warns, here and not in a later test.
    client = AsyncCAVEclient(
        cave.datastack, server_address=cave.url, auth_token=cave.token, write_server_cache=False
    )
    ids = supervoxels(cave)

    async def roots() -> list[int]:
        return [int(root) for root in await client.chunkedgraph.get_roots(ids)]

    async def roots_then_close() -> list[int]:
        try:
            return await roots()
        finally:
            await client.aclose()

    first = asyncio.run(roots())  # the loop closes with the client's connections still open
    second = asyncio.run(roots())  # a script's second asyncio.run
    third = asyncio.run(roots_then_close())
    gc.collect()
    assert first == second == third
    assert len(first) == len(ids)


def test_an_async_client_shared_by_tasks_of_one_loop(cave: LocalCAVE) -> None:
    ids = supervoxels(cave)

    async def main() -> list[Any]:
        async with AsyncCAVEclient(
            cave.datastack, server_address=cave.url, auth_token=cave.token, write_server_cache=False
        ) as client:

            async def calls() -> Any:
                record = await client.info.get_datastack_info()
                roots = await client.chunkedgraph.get_roots(ids)
                version = await client.materialize.version
                return record["local_server"], roots.tolist(), int(version)

            return await asyncio.gather(*(calls() for _ in range(WORKERS)))

    with new_client(cave) as serial:
        expected = (
            serial.info.get_datastack_info()["local_server"],
            serial.chunkedgraph.get_roots(ids).tolist(),
            int(serial.materialize.version),
        )
    assert asyncio.run(main()) == [expected] * WORKERS


def test_clients_made_together_all_record_their_server(isolated_home: Path) -> None:
    """Each client given a server records it in the datastack map shared with caveclient; made in
    threads at once, none of the records may be lost or the file left half-written."""
    count = 16
    barrier = threading.Barrier(count)

    def record(index: int) -> str:
        client = CAVEclient(f"stack_{index}", server_address=f"http://127.0.0.1:{40000 + index}")
        barrier.wait()
        return client.server_address  # resolving the server writes the map

    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(record, range(count)))
    map_file = isolated_home / ".cloudvolume" / "secrets" / "cave_datastack_to_server_map.json"
    assert json.loads(map_file.read_text()) == {
        f"stack_{index}": f"http://127.0.0.1:{40000 + index}" for index in range(count)
    }
    assert [path.name for path in map_file.parent.iterdir()] == [map_file.name]  # no temporary left


def test_stored_records_can_be_listed_while_another_thread_stores_one() -> None:
    client = CAVEclient("stack", server_address="http://127.0.0.1:9", write_server_cache=False)
    deployment = client._core.deployment
    for index in range(2000):
        deployment._records[(f"stack_{index}", None)] = {}
    stored_all = threading.Event()
    failures: list[BaseException] = []

    def store() -> None:
        for index in range(20000):  # as records of image mirrors fetched by other threads
            deployment._store_record((f"stack_{index}", "mirror"), {})
        stored_all.set()

    def list_stored() -> None:
        while not stored_all.is_set():
            try:
                deployment.stored_records()
                deployment.stored_datastacks()
            except RuntimeError as failure:
                failures.append(failure)
                return

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=list_stored), threading.Thread(target=store)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    assert failures == []
