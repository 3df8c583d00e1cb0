"""The benchmark cases, each written for both clients with the same call.

A case is a function taking a Setup (which client, the run's configuration) and returning the
operation to time: a zero-argument callable. Everything before the callable runs untimed: imports,
construction, and a warm-up call of the same kind on a tiny input, so that the timed call measures
the operation itself, not first-use costs (those are what `import` and `construct_first_query`
measure). Both clients are called with the same caveclient-compatible code wherever caveclient
offers the operation; where our client offers a faster spelling (concurrent calls), the case says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

Operation = Callable[[], Any]


class Setup:
    """What a case needs: the client under test, built on demand, and the run's configuration."""

    def __init__(self, client_name: str, config: dict[str, Any]) -> None:
        if client_name not in {"ours", "caveclient"}:
            raise ValueError(f"unknown client {client_name!r}")
        self.client_name = client_name
        self.config = config
        self._client: Any = None

    @property
    def ours(self) -> bool:
        return self.client_name == "ours"

    @property
    def package(self) -> str:
        return "caveclient_gen" if self.ours else "caveclient"

    def client(self) -> Any:
        if self._client is None:
            module = importlib.import_module(self.package)
            options: dict[str, Any] = {
                "server_address": self.config["server"],
                "auth_token": self.config["token"],
                "write_server_cache": False,
            }
            self._client = module.CAVEclient(self.config["datastack"], **options)
        return self._client

    def load_ids(self, name: str) -> Any:
        import numpy as np

        return np.load(Path(self.config["data_dir"]) / f"{name}.npy")

    def describe(self, result: Any) -> Any:
        """A small fingerprint of a result, so the two clients' answers can be compared."""
        if result is None or isinstance(result, str | int | float | bool):
            return result
        if hasattr(result, "shape") and hasattr(result, "columns"):
            return {"rows": int(result.shape[0]), "columns": sorted(map(str, result.columns))}
        if hasattr(result, "shape"):
            import numpy as np

            array = np.asarray(result)
            return {"length": int(array.size), "sum_mod": int(array.astype("uint64").sum() % 1_000_003)}
        if isinstance(result, dict):
            return {"keys": len(result)}
        if isinstance(result, list | tuple):
            return {"length": len(result)}
        return type(result).__name__

    def close(self) -> None:
        if self._client is not None and hasattr(self._client, "close"):
            self._client.close()


def import_package(setup: Setup) -> Operation:
    """`import caveclient` vs `import caveclient_gen` in a fresh interpreter."""
    return lambda: importlib.import_module(setup.package)


def construct_and_first_query(setup: Setup) -> Operation:
    """A fresh script's first result: import, construction, and a small query of the soma table."""
    config = setup.config

    def operation() -> Any:
        module = importlib.import_module(setup.package)
        client = module.CAVEclient(
            config["datastack"],
            server_address=config["server"],
            auth_token=config["token"],
            write_server_cache=False,
        )
        return client.materialize.query_table(config["soma_table"], limit=10)

    return operation


def synapse_query(split_positions: bool) -> Callable[[Setup], Operation]:
    def case(setup: Setup) -> Operation:
        client = setup.client()
        table = setup.config["synapse_table"]
        version = setup.config["version"]
        client.materialize.query_table(table, limit=10, split_positions=split_positions)
        return lambda: client.materialize.query_table(
            table, split_positions=split_positions, materialization_version=version
        )

    return case


def live_query(setup: Setup) -> Operation:
    """A live query of the soma table at an earlier timestamp, after edits changed root ids."""
    from datetime import datetime

    client = setup.client()
    moment = datetime.fromisoformat(setup.config["live_timestamp"])
    table = setup.config["soma_table"]
    client.materialize.live_query(table, moment, limit=10)
    return lambda: client.materialize.live_query(table, moment)


def get_roots(count_name: str) -> Callable[[Setup], Operation]:
    def case(setup: Setup) -> Operation:
        client = setup.client()
        supervoxels = setup.load_ids(count_name)
        client.chunkedgraph.get_roots(supervoxels[:10])
        return lambda: client.chunkedgraph.get_roots(supervoxels)

    return case


def small_calls(setup: Setup) -> Operation:
    """The root of each of 1,000 supervoxels, one call each (concurrently where the client can)."""
    client = setup.client()
    supervoxels = [int(sv) for sv in setup.load_ids("supervoxels_1k")]
    client.chunkedgraph.get_root_id(supervoxels[0])
    if setup.ours:
        return lambda: client.map(client.chunkedgraph.get_root_id, supervoxels)
    return lambda: [client.chunkedgraph.get_root_id(sv) for sv in supervoxels]


def lineage(setup: Setup) -> Operation:
    client = setup.client()
    root = int(setup.config["edited_root"])
    client.chunkedgraph.get_lineage_graph(root)
    return lambda: client.chunkedgraph.get_lineage_graph(root)


def l2_attributes(count_name: str) -> Callable[[Setup], Operation]:
    def case(setup: Setup) -> Operation:
        client = setup.client()
        ids = setup.load_ids(count_name)
        client.l2cache.get_l2data(ids[:10])
        return lambda: client.l2cache.get_l2data(ids)

    return case


def arrow_lower_bound(setup: Setup) -> Operation:
    """The floor of the big query: the same Arrow answer moved over loopback by plain httpx and
    decoded from memory by pyarrow into pandas, with nothing else (no client, no checks)."""
    import httpx
    import pandas  # noqa: F401 - imported untimed, as in the client cases
    import pyarrow as pa

    config = setup.config
    datastack, table = config["datastack"], config["synapse_table"]
    version = config["latest_version"]
    url = (
        f"{config['server']}/materialize/api/v3/datastack/{datastack}/version/{version}"
        f"/table/{table}/query"
    )
    http = httpx.Client(
        headers={"Authorization": f"Bearer {config['token']}", "Accept-Encoding": "zstd"},
        timeout=600,
    )
    params = {
        "return_pyarrow": "true",
        "arrow_format": "true",
        "split_positions": "true",
        "direct_sql_pandas": "true",
    }
    http.post(url, params=params, json={"limit": 10})

    def operation() -> Any:
        content = http.post(url, params=params, json={}).content
        with pa.ipc.open_stream(pa.py_buffer(content)) as reader:
            table = reader.read_all()
        return table.to_pandas(split_blocks=True, self_destruct=True, ignore_metadata=True)

    return operation


CASES: dict[str, Callable[[Setup], Operation]] = {
    "import": import_package,
    "construct_first_query": construct_and_first_query,
    "query_1m_arrays": synapse_query(split_positions=False),
    "query_1m_split": synapse_query(split_positions=True),
    "live_query": live_query,
    "get_roots_1m": get_roots("supervoxels_1m"),
    "get_roots_10m": get_roots("supervoxels_10m"),
    "small_calls_1k": small_calls,
    "lineage": lineage,
    "l2_attributes_100k": l2_attributes("l2_100k"),
    "l2_attributes_1m": l2_attributes("l2_1m"),
    "arrow_lower_bound": arrow_lower_bound,
}

OURS_ONLY = frozenset({"arrow_lower_bound"})
"""Cases measured for our environment only (a floor to compare with, not a client)."""
