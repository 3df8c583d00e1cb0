"""Clients copy and pickle (what multiprocessing, Dask and joblib need): the copy works, opens its
own connections, and carries the token only when it was given in code."""

from __future__ import annotations

import asyncio
import copy
import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from caveclient_gen import AsyncCAVEclient, CAVEclient
from caveclient_gen.testing import LocalCAVE

SUB_CLIENTS = (
    "auth",
    "info",
    "state",
    "schema",
    "chunkedgraph",
    "materialize",
    "annotation",
    "l2cache",
    "skeleton",
)
COPIES: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda value: pickle.loads(pickle.dumps(value)),
}


@pytest.fixture(scope="module")
def cave() -> Iterator[LocalCAVE]:
    with LocalCAVE(seed=3) as running:  # on a socket: other processes reach it too
        yield running


def used(cave: LocalCAVE) -> CAVEclient:
    """A client whose sub-clients have all been used (bound methods, caches, open connections)."""
    client = CAVEclient(cave.datastack, server_address=cave.url, auth_token=cave.token)
    client.auth.get_tokens()
    client.info.get_datastack_info()
    client.schema.get_schemas()
    client.state.get_state_json(client.state.upload_state_json({"layers": []}))
    client.materialize.get_tables()
    client.annotation.get_tables()
    client.chunkedgraph.get_root_id(supervoxel(client))
    client.l2cache.has_cache()
    client.skeleton.get_versions()
    return client


def supervoxel(client: Any) -> int:
    """A supervoxel of a nucleus (`client`: a CAVEclient or its materialize sub-client)."""
    materialize = getattr(client, "materialize", client)
    frame: Any = materialize.query_table("nucleus_detection_v0", limit=1, log_warning=False)
    return int(frame["pt_supervoxel_id"].iloc[0])


def connections(client: Any) -> set[int]:
    return {id(http) for http in client._core.session._clients.values()}


@pytest.mark.parametrize("how", sorted(COPIES))
def test_clients_copy_and_pickle_with_their_own_connections(cave: LocalCAVE, how: str) -> None:
    original = used(cave)
    sv = supervoxel(original)
    expected = original.chunkedgraph.get_root_id(sv)
    twin: CAVEclient = COPIES[how](original)
    assert twin._core.session._clients == {}  # no connection is copied: opened on first use
    assert twin.chunkedgraph.get_root_id(sv) == expected
    assert twin.materialize.version == original.materialize.version
    assert connections(twin).isdisjoint(connections(original))
    original.close()  # the copy does not depend on the original's connections
    assert twin.info.get_datastack_info()["aligned_volume"] is not None
    twin.close()


@pytest.mark.parametrize("how", sorted(COPIES))
def test_every_sub_client_copies_and_pickles(cave: LocalCAVE, how: str) -> None:
    original = used(cave)
    for name in SUB_CLIENTS:
        sub = COPIES[how](getattr(original, name))
        assert type(sub) is type(getattr(original, name))
        # Methods bound on first use are not copied: they would drive the original's client.
        assert not any(callable(value) for value in vars(sub).values()), name
        assert sub._core is not original._core
    tables = original.materialize.get_tables()
    materialize = COPIES[how](original.materialize)
    original.close()
    assert materialize.get_tables() == tables
    chunkedgraph = COPIES[how](original.chunkedgraph)
    leaves = chunkedgraph.get_leaves(chunkedgraph.get_root_id(supervoxel(materialize)))
    assert leaves.dtype == np.int64
    assert leaves.size > 0
    for copied in (materialize, chunkedgraph):
        copied._core.session.close()


def test_the_async_client_copies_and_pickles(cave: LocalCAVE) -> None:
    async def check() -> None:
        async with AsyncCAVEclient(
            cave.datastack, server_address=cave.url, auth_token=cave.token
        ) as client:
            tables = await client.materialize.get_tables()
            for how in COPIES.values():
                twin = how(client)
                assert await twin.materialize.get_tables() == tables
                sub = how(client.chunkedgraph)
                assert (await sub.get_oldest_timestamp()) is not None
                await twin.aclose()
                await sub._core.session.aclose()

    asyncio.run(check())


def test_the_pickle_holds_a_token_given_in_code_only(
    cave: LocalCAVE, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = CAVEclient(cave.datastack, server_address=cave.url, auth_token=cave.token)
    explicit.info.get_datastack_info()
    assert cave.token.encode() in pickle.dumps(explicit)  # documented: it must work elsewhere
    assert cave.token not in repr(explicit)
    explicit.close()
    monkeypatch.setenv("CAVE_TOKEN", cave.token)
    found = CAVEclient(cave.datastack, server_address=cave.url)
    assert found.info.get_datastack_info()["aligned_volume"] is not None
    assert cave.token.encode() not in pickle.dumps(found)  # looked up again where it runs
    with pickle.loads(pickle.dumps(found)) as twin:
        assert twin.info.get_datastack_info()["aligned_volume"] is not None
    found.close()


def root_in_child(client: CAVEclient, supervoxel_id: int) -> int:
    return int(client.chunkedgraph.get_root_id(supervoxel_id))


def test_a_client_works_in_a_spawned_process(cave: LocalCAVE) -> None:
    client = used(cave)
    sv = supervoxel(client)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        answer = pool.apply_async(root_in_child, (client, sv)).get(timeout=120)
    assert answer == int(client.chunkedgraph.get_root_id(sv))
    client.close()
