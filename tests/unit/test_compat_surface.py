"""caveclient's public attributes and session defaults: no request at construction, each attribute
fetched on first use and kept; set_session_defaults reaches clients created after it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

import caveclient_gen
from caveclient_gen import AsyncCAVEclient, CAVEclient, get_session_defaults, set_session_defaults
from caveclient_gen.services._base import NeedsRequestError

from . import materialize_support
from .fake_cave import FakeCAVEServer, datastack_info_path

GLOBAL = "https://global.test"
LOCAL = "https://local.test"
RECORD = {
    **materialize_support.RECORD,
    "local_server": LOCAL,
    "segmentation_source": f"graphene://{LOCAL}/segmentation/table/table_v1",
}
SUB_CLIENTS = (
    "auth",
    "info",
    "state",
    "schema",
    "chunkedgraph",
    "annotation",
    "materialize",
    "l2cache",
    "skeleton",
)


@pytest.fixture
def server() -> FakeCAVEServer:
    fake = FakeCAVEServer()
    fake.serve_datastack_info("ds", RECORD)
    fake.route("GET", "/materialize/version", "5.1.0")
    fake.route("GET", "/info/version", "4.3.3")
    return fake


@pytest.fixture
def client(server: FakeCAVEServer) -> Iterator[CAVEclient]:
    with CAVEclient(
        "ds", server_address=GLOBAL, auth_token="t", transport=httpx.MockTransport(server)
    ) as made:
        yield made


def test_sub_clients_and_global_attributes_make_no_request(
    client: CAVEclient, server: FakeCAVEServer
) -> None:
    for name in SUB_CLIENTS:
        sub_client = getattr(client, name)
        assert sub_client.fc is client
        assert sub_client.verify is True
        assert isinstance(sub_client.api_version, int)
    assert client.info.server_address == GLOBAL
    assert client.state.default_url_mapping == {"json_server_address": GLOBAL}
    assert client.info.default_url_mapping == {"i_server_address": GLOBAL, "datastack_name": "ds"}
    assert client.schema.server_version is None  # caveclient asks the schema service none
    assert client.info.info_cache == {}
    assert server.requests == []


def test_local_attributes_fetch_the_record_once(client: CAVEclient, server: FakeCAVEServer) -> None:
    assert client.local_server == LOCAL
    assert client.materialize.server_address == LOCAL
    assert client.chunkedgraph.default_url_mapping == {
        "cg_server_address": LOCAL,
        "table_id": "table_v1",
    }
    assert client.l2cache.default_url_mapping["table_id"] == "table_v1"
    assert server.paths() == ["GET " + datastack_info_path("ds")]
    assert list(client.info.info_cache) == ["ds"]
    assert client.info.info_cache["ds"]["local_server"] == LOCAL
    assert client.materialize.cg_client is client.chunkedgraph


def test_server_version_is_fetched_on_first_use_and_kept(
    client: CAVEclient, server: FakeCAVEServer
) -> None:
    materialize = client.materialize
    assert server.requests == []
    assert materialize.server_version == "5.1.0"
    assert materialize.server_version >= (5, 0)
    assert client.info.server_version == "4.3.3"
    assert server.paths().count("GET /materialize/version") == 1
    assert server.paths().count("GET /info/version") == 1


def test_a_missing_version_route_gives_none(client: CAVEclient, server: FakeCAVEServer) -> None:
    assert client.skeleton.server_version is None  # FakeCAVEServer answers 404: an older server
    assert "GET /skeletoncache/api/version" in server.paths()


def test_session_is_the_authenticated_httpx_client_of_the_service(client: CAVEclient) -> None:
    session = client.materialize.session
    assert isinstance(session, httpx.Client)
    assert str(session.base_url).rstrip("/") == LOCAL
    assert session.headers["Authorization"] == "Bearer t"


def test_an_async_client_answers_from_what_it_knows(server: FakeCAVEServer) -> None:
    async def scenario() -> None:
        async with AsyncCAVEclient(
            "ds", server_address=GLOBAL, auth_token="t", transport=httpx.MockTransport(server)
        ) as client:
            assert client.state.server_address == GLOBAL
            with pytest.raises(NeedsRequestError, match="server_address"):
                _ = client.materialize.server_address
            await client.info.get_datastack_info()
            assert client.materialize.server_address == LOCAL
            assert client.local_server == LOCAL
            assert isinstance(client.materialize.session, httpx.AsyncClient)

    asyncio.run(scenario())


# ------------------------------------------------------------ session defaults


@pytest.fixture
def restore_session_defaults() -> Iterator[None]:
    yield
    set_session_defaults()


def test_session_defaults_are_ours_and_take_caveclients_parameters() -> None:
    assert get_session_defaults() == {
        "max_retries": caveclient_gen._defaults.MAX_RETRIES,
        "pool_block": False,
        "pool_maxsize": caveclient_gen._defaults.POOL_MAXSIZE,
        "backoff_factor": caveclient_gen._defaults.BACKOFF_INITIAL,
        "backoff_max": caveclient_gen._defaults.BACKOFF_MAX,
        "status_forcelist": tuple(sorted(caveclient_gen._defaults.RETRY_STATUSES_READ)),
    }


@pytest.mark.usefixtures("restore_session_defaults")
def test_set_session_defaults_reaches_clients_created_after() -> None:
    before = CAVEclient("ds", server_address=GLOBAL, auth_token="t")
    set_session_defaults(
        max_retries=7, pool_maxsize=3, backoff_factor=0.2, backoff_max=30, status_forcelist=(503,)
    )
    after = CAVEclient("ds", server_address=GLOBAL, auth_token="t")
    explicit = CAVEclient("ds", server_address=GLOBAL, auth_token="t", max_retries=1)
    policy = after._core.settings.retry
    assert (policy.max_retries, policy.backoff_initial, policy.backoff_max) == (7, 0.2, 30.0)
    assert policy.read_statuses == frozenset({503})
    assert after._core.settings.pool_maxsize == 3
    assert explicit._core.settings.retry.max_retries == 1
    assert before._core.settings.retry.max_retries == caveclient_gen._defaults.MAX_RETRIES
    assert get_session_defaults()["status_forcelist"] == (503,)
    set_session_defaults()  # no argument: back to the built-in defaults, as in caveclient
    assert get_session_defaults()["max_retries"] == caveclient_gen._defaults.MAX_RETRIES
    restored = CAVEclient("ds", server_address=GLOBAL, auth_token="t")
    assert restored._core.settings.pool_maxsize == caveclient_gen._defaults.POOL_MAXSIZE


@pytest.mark.usefixtures("restore_session_defaults")
def test_get_session_defaults_is_a_copy() -> None:
    get_session_defaults()["max_retries"] = 99
    assert get_session_defaults()["max_retries"] == caveclient_gen._defaults.MAX_RETRIES


@pytest.mark.usefixtures("restore_session_defaults")
@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"pool_maxsize": 0}, "pool_maxsize"),
        ({"backoff_factor": "fast"}, "backoff_factor"),
        ({"backoff_max": -1}, "backoff_max"),
        ({"status_forcelist": (999,)}, "status_forcelist"),
        ({"pool_block": "yes"}, "pool_block"),
    ],
)
def test_bad_session_defaults_are_refused(arguments: dict[str, object], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        set_session_defaults(**arguments)  # type: ignore[arg-type]
    assert get_session_defaults()["max_retries"] == caveclient_gen._defaults.MAX_RETRIES


def test_caveclients_chunkedgraph_route_templates_name_routes_of_the_spec(client: CAVEclient) -> None:
    """Libraries format `client.chunkedgraph._endpoints[...]` with `default_url_mapping`."""
    import re
    from pathlib import Path

    import yaml

    spec = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "specs" / "chunkedgraph.yaml").read_text()
    )
    routes = {re.sub(r"\{[^}]+\}", "{}", path) for path in spec["paths"]}
    endpoints = client.chunkedgraph._endpoints
    assert len(endpoints) > 25
    for name, template in endpoints.items():
        path = template.split("{cg_server_address}", 1)[1]
        assert re.sub(r"\{[^}]+\}", "{}", path) in routes or name == "cloudvolume_path", name
    url = endpoints["is_latest_roots"].format_map(client.chunkedgraph.default_url_mapping)
    assert url == f"{LOCAL}/segmentation/api/v1/table/table_v1/is_latest_roots"
    endpoints["is_latest_roots"] = "changed"
    assert client.chunkedgraph._endpoints["is_latest_roots"] != "changed"  # a copy
