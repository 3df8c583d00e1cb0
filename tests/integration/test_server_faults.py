"""The client against LocalCAVE's faithful default: server faults surface as typed errors."""

from __future__ import annotations

import numpy as np
import pytest

from caveclient_gen import CAVEclient
from caveclient_gen.errors import InvalidInputError, ServerError
from caveclient_gen.testing import LocalCAVE
from caveclient_gen.testing.chunkedgraph.segmentation.graph import SegmentationGraph


def test_l2_attributes_fail_as_a_server_error_naming_the_route(
    client: CAVEclient, cave: LocalCAVE
) -> None:
    root = cave.deployment.component(SegmentationGraph).heavily_edited_root()
    l2_ids = client.chunkedgraph.get_leaves(root, stop_layer=2)[:3]
    with pytest.raises(ServerError) as raised:
        client.l2cache.get_l2data(l2_ids)
    assert raised.value.status_code == 500
    assert raised.value.url is not None
    assert "/l2cache/api/v1/table/" in raised.value.url
    assert raised.value.url.split("?")[0].endswith("/attributes")
    with pytest.raises(ServerError):
        client.l2cache.get_l2data_table(l2_ids)


def test_contact_sites_fail_as_a_server_error(client: CAVEclient, cave: LocalCAVE) -> None:
    root = cave.deployment.component(SegmentationGraph).heavily_edited_root()
    with pytest.raises(ServerError) as raised:
        client.chunkedgraph.get_contact_sites(root, bounds=None)
    assert "contact_sites" in str(raised.value.url)
    assert "connected_edges" in str(raised.value)


def test_find_path_near_the_volume_edge_is_a_server_error(client: CAVEclient, cave: LocalCAVE) -> None:
    graph = cave.deployment.component(SegmentationGraph)
    root = graph.heavily_edited_root()
    corner = np.array(graph.geometry.voxel_offset) + 3
    member = int(graph.state.root_members[root][0])
    inside = graph.geometry.cell_corner_voxels(graph.sv_cells[np.array([member])])[0]
    with pytest.raises(ServerError, match="inclusive range"):
        client.chunkedgraph.find_path(root, corner, inside)


def test_user_operations_of_no_user_are_refused(client: CAVEclient) -> None:
    with pytest.raises(InvalidInputError) as raised:
        client.chunkedgraph.get_user_operations(0, None)
    assert raised.value.parameter == "user_id"
