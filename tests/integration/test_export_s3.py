"""An export written to an S3-compatible object store (moto's server on 127.0.0.1) and read back by
pandas, Polars, DuckDB, and a dask.distributed LocalCluster whose worker processes read the files
from the store themselves."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.materialize.settings import configure_materialization

SYNAPSES = "synapses_pni_2"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def object_store() -> Iterator[dict[str, Any]]:
    pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "eu-west-1"},
    }
    store = s3fs.S3FileSystem(**options)
    store.mkdir("exports")
    try:
        yield options
    finally:
        server.stop()


# dask's and botocore's own calls draw deprecation warnings of their dependencies.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_s3_export_read_by_a_local_dask_cluster(object_store: dict[str, Any], tmp_path: Any) -> None:
    from dask.distributed import Client, LocalCluster

    cave = LocalCAVE(seed=17)
    configure_materialization(cave.deployment, synapse_count=800, query_limit_size=100)
    with CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        transport=InProcessTransport(cave.app),
    ) as client:
        export = client.materialize.export_table(
            SYNAPSES, "s3://exports/synapses", storage_options=object_store, partition_rows=60
        )
        whole = client.materialize.query_table(SYNAPSES, split_positions=True, all_rows=True)
        reopened = client.materialize.open_export("s3://exports/synapses", storage_options=object_store)
    assert isinstance(whole, pd.DataFrame)
    assert export.complete
    assert reopened.complete
    assert len(reopened.partitions) > 1
    expected = reopened.to_pandas()
    pd.testing.assert_frame_equal(expected, whole.reset_index(drop=True))
    assert reopened.to_polars().collect().height == len(expected)
    assert reopened.to_duckdb().aggregate("count(*)").fetchall() == [(len(expected),)]

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            local_directory=str(tmp_path),
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        frame = reopened.to_dask()
        assert frame.npartitions == len(reopened.partitions)
        computed = dask_client.compute(frame).result()
        workers = dask_client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    pd.testing.assert_frame_equal(computed.reset_index(drop=True), expected)
