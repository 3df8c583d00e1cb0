"""CAVEclientMock answers what caveclient's answers; its other requests reach respx (`responses`
mocks: test_responses_mocks.py); the pytest plugin's fixtures work. respx is active in each test:
a request nobody mocked fails (no test reaches the network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import respx

from caveclient_gen import CAVEclient
from caveclient_gen.mock import CAVEclientMock, default_info
from caveclient_gen.testing import CAVEclientMock as FromTesting
from caveclient_gen.testing import LocalCAVE

LOCAL = "https://local.cave.com"


@pytest.fixture
def network() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:  # unmocked requests raise
        yield router


@pytest.mark.usefixtures("network")
def test_it_answers_what_caveclients_mock_answers() -> None:
    client = CAVEclientMock(
        chunkedgraph=True,
        materialization=True,
        json_service=True,
        skeleton_service=True,
        l2cache=True,
        set_version=2,
        chunkedgraph_server_version="3.0.2",
    )
    assert isinstance(client, CAVEclient)
    assert client.datastack_name == "test_stack"
    assert client.server_address == "https://test.cave.com"
    info = client.info.get_datastack_info()
    assert {key: info[key] for key in default_info()} == default_info()
    assert client.local_server == LOCAL
    assert client.chunkedgraph.table_name == "test_v1"
    assert client.chunkedgraph.server_version == "3.0.2"
    assert client.materialize.server_version == "999.0.0"
    assert client.info.server_version == "999.0.0"
    assert client.state.server_version == "999.0.0"
    assert client.skeleton.server_version == "999.0.0"
    assert client.materialize.get_versions(expired=True) == [1, 2]  # the pinned version's check
    assert client.version == 2
    assert client.timestamp == datetime(2024, 6, 5, 10, 10, 1, 203215, tzinfo=UTC)
    assert client.l2cache.has_cache() is True
    assert client.auth.token == "just_a_test"


@pytest.mark.usefixtures("network")
def test_options_change_the_answers() -> None:
    disabled = CAVEclientMock(l2cache=True, l2cache_disabled=True, datastack_name="other")
    assert disabled.l2cache.has_cache() is False
    versions = CAVEclientMock(materialization=True, available_materialization_versions=[5, 9])
    assert versions.materialize.get_versions(expired=True) == [5, 9]
    with pytest.raises(AssertionError, match="not mocked"):
        versions.materialize.most_recent_version()  # as with caveclient's mock: the test's to mock
    global_only = CAVEclientMock(global_only=True, datastack_name="ignored")
    assert global_only.datastack_name is None
    assert global_only.info.server_version == "999.0.0"


def test_unmocked_requests_reach_respx(network: respx.MockRouter) -> None:
    """A caveclient suite's `responses.add(GET, url, json=...)` becomes `network.get(url)...`."""
    route = network.get(f"{LOCAL}/segmentation/api/v1/table/test_v1/node/1234/root").respond(
        json={"root_id": 864691135000000001}
    )
    client = CAVEclientMock(chunkedgraph=True)
    assert client.chunkedgraph.get_root_id(1234) == 864691135000000001
    assert route.call_count == 1
    assert route.calls.last.request.headers["Authorization"] == "Bearer just_a_test"
    with pytest.raises(AssertionError, match="not mocked"):
        client.chunkedgraph.get_root_id(99)  # no mock: respx refuses it, nothing leaves


def test_it_is_reachable_where_caveclient_users_look() -> None:
    assert FromTesting is CAVEclientMock


def test_the_plugin_starts_a_local_cave(local_cave: LocalCAVE, local_cave_client: CAVEclient) -> None:
    assert local_cave_client.datastack_name == local_cave.datastack
    assert local_cave.url.startswith("http://127.0.0.1:")
    assert local_cave_client.materialize.get_versions()
    assert local_cave_client.info.get_datastack_info()["local_server"] == local_cave.url


@pytest.mark.usefixtures("network")
def test_the_plugin_gives_a_mock(cave_client_mock: CAVEclient) -> None:
    assert cave_client_mock.info.get_datastack_info()["local_server"] == LOCAL
    with pytest.raises(AssertionError, match="not mocked"):
        cave_client_mock.materialize.get_tables()  # respx is active: nothing leaves
