"""A client pinned to a materialization version: its queries and its chunkedgraph defaults agree."""

from __future__ import annotations

import numpy as np
import pytest

from caveclient_gen import CAVEclient, InvalidInputError
from caveclient_gen.testing import InProcessTransport, LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph


def pinned(cave: LocalCAVE, version: int | None) -> CAVEclient:
    return CAVEclient(
        cave.datastack,
        server_address=cave.url,
        auth_token=cave.token,
        version=version,
        transport=InProcessTransport(cave.app),
        write_server_cache=False,
    )


def test_chunkedgraph_calls_default_to_the_pinned_version_time(cave: LocalCAVE) -> None:
    latest = pinned(cave, None)
    versions = latest.materialize.get_versions()
    older = min(versions)
    client = pinned(cave, older)
    moment = client.timestamp
    assert moment == latest.materialize.get_timestamp(older)
    graph = cave.deployment.component(SegmentationGraph)
    _, supervoxels = graph.sample_points(np.random.default_rng(0), 200)
    supervoxels = supervoxels[supervoxels != 0]
    assert moment is not None
    expected = graph.roots_at(supervoxels, moment)
    assert np.array_equal(client.chunkedgraph.get_roots(supervoxels), expected)
    now = latest.chunkedgraph.get_roots(supervoxels)
    assert not np.array_equal(now, expected)  # edits happened since that version


def test_queries_use_the_pinned_version(cave: LocalCAVE) -> None:
    latest = pinned(cave, None)
    older = min(latest.materialize.get_versions())
    frame = pinned(cave, older).materialize.query_table("nucleus_detection_v0")
    assert frame.attrs["materialization_version"] == older


def test_setting_a_version_checks_it(cave: LocalCAVE) -> None:
    client = pinned(cave, None)
    with pytest.raises(InvalidInputError, match="999 is not a materialization version"):
        client.version = 999
    client.version = min(client.materialize.get_versions())
    assert client.version == min(client.materialize.get_versions())
