"""CAVEclientMock: caveclient's test helper (`caveclient.tools.testing.CAVEclientMock`), with its
signature and defaults, returning this package's CAVEclient.

caveclient's version registers `responses` mocks (for `requests`) of the routes its sub-clients
read when they are built: the info record, the services' versions and API versions, the
materialization versions and, with `set_version`, that version's metadata, and the L2 cache's
table mapping. This one answers the same routes from an httpx transport the client is built
with, unless a mock of `requests` (`responses`, `requests-mock`) is active and one of the test's
own registrations matches the request: then that one answers. Every other request goes on as the
client's requests do: to such a mock while one is active (`@responses.activate`, so a caveclient
test's own `responses.add(...)` calls keep answering; the `requests_mock` fixture), else through
`httpx.HTTPTransport`, where `respx` (the `responses` of httpx) can intercept it. Nothing is
requested at construction.

Also importable as `caveclient_gen.testing.CAVEclientMock`.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._client import CAVEclient
from ._http.requests_mocks import NoMockMatchedError, RequestsMockTransport, requests_mock_active

DEFAULT_CHUNKEDGRAPH_SERVER_VERSION = "2.999.0"
DEFAULT_MATERIALIZATION_SERVER_VERSON = "999.0.0"  # caveclient's spelling
DEFAULT_SKELETON_SERVICE_SERVER_VERSION = "999.0.0"
DEFAULT_JSON_SERVICE_SERVER_VERSION = "999.0.0"
DEFAULT_INFO_SERVER_VERSION = "999.0.0"

TEST_GLOBAL_SERVER = os.environ.get("TEST_SERVER", "https://test.cave.com")
TEST_LOCAL_SERVER = os.environ.get("TEST_LOCAL_SERVER", "https://local.cave.com")
TEST_IMAGE_SERVER = os.environ.get("TEST_IMAGE_SERVER", "gs://my-test-bucket/images")
TEST_DATASTACK = os.environ.get("TEST_DATASTACK", "test_stack")
DEFAULT_MATERIALIZATION_VERSONS = [1, 2]
DEFAULT_MATERIALIZATION_VERSION_METADATA = {
    "time_stamp": "2024-06-05T10:10:01.203215",
    "expires_on": "2080-06-05T10:10:01.203215",
}
MATERIALIZATION_API_VERSIONS = [2, 3]
CHUNKEDGRAPH_API_VERSIONS = [0, 1]
SCHEMA_API_VERSIONS = [1, 2]


def default_info(
    local_server: str = TEST_LOCAL_SERVER, image_source: str = TEST_IMAGE_SERVER
) -> dict[str, Any]:
    """The datastack info record CAVEclientMock serves by default (caveclient's, value for value).

    Parameters
    ----------
    local_server : str
        Address of the datastack's local services.
    image_source : str
        Cloud path of the imagery (without `precomputed://`).

    Returns
    -------
    dict
        The info record.
    """
    return {
        "viewer_site": "http://neuromancer-seung-import.appspot.com/",
        "aligned_volume": {
            "name": "test_volume",
            "image_source": f"precomputed://{image_source}",
            "id": 1,
            "description": "This is a test only dataset.",
        },
        "synapse_table": "test_synapse_table",
        "description": "This is the first test datastack.",
        "local_server": local_server,
        "segmentation_source": f"graphene://{local_server}/segmentation/table/test_v1",
        "skeleton_source": (
            f"precomputed://{local_server}/skeletoncache/api/v1/minnie65_phase3_v1/precomputed/skeleton/"
        ),
        "soma_table": "test_soma",
        "analysis_database": None,
        "viewer_resolution_x": 4.0,
        "viewer_resolution_y": 4.0,
        "viewer_resolution_z": 40,
    }


class MockedRoutesTransport(httpx.BaseTransport):
    """Answers GETs of fixed URLs with fixed JSON; hands every other request to `fallback`.

    While a mock of `requests` is active, a test's own registration for one of those URLs wins: the
    request goes to the mock first and the fixed answer is given only when no registration matches
    it (as with caveclient, whose mock adds its routes to the same `responses` registry)."""

    def __init__(self, routes: dict[str, Any], fallback: httpx.BaseTransport) -> None:
        self.routes = routes
        """JSON answer by URL: scheme, host and path, where any query string is answered; or those
        and one exact query string, where only that one is."""
        self._fallback = fallback

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"
        query = url.query.decode("ascii")
        if query and f"{key}?{query}" in self.routes:
            key = f"{key}?{query}"
        if request.method != "GET" or key not in self.routes:
            return self._fallback.handle_request(request)
        if requests_mock_active():
            try:
                return self._fallback.handle_request(request)
            except NoMockMatchedError:
                pass  # no registration of the test's: the fixed answer
        body = json.dumps(self.routes[key]).encode()
        return httpx.Response(
            200, content=body, headers={"Content-Type": "application/json"}, request=request
        )

    def close(self) -> None:
        self._fallback.close()


def _completed_info(info: dict[str, Any]) -> dict[str, Any]:
    """The record with the fields that info services of today send and caveclient's mock records
    lack (the proofreading and cell-identification tables: None, "none configured")."""
    return {
        "proofreading_status_table": None,
        "cell_identification_table": None,
        "proofreading_review_table": None,
        **info,
    }


def _completed_metadata(metadata: dict[str, Any], version: int, datastack: str) -> dict[str, Any]:
    """Version metadata with the fields a materialization service sends besides caveclient's two."""
    return {
        "id": version,
        "datastack": datastack,
        "version": version,
        "valid": True,
        "status": "AVAILABLE",
        "is_merged": True,
        **metadata,
    }


def _origin(address: str) -> str:
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def CAVEclientMock(  # noqa: N802 - caveclient's name
    datastack_name: str | None = None,
    global_server: str | None = None,
    local_server: str | None = None,
    info_file: dict[str, Any] | None = None,
    chunkedgraph: bool = False,
    chunkedgraph_server_version: str = DEFAULT_CHUNKEDGRAPH_SERVER_VERSION,
    chunkedgraph_api_versions: list[int] | None = None,
    materialization: bool = False,
    materialization_server_version: str = DEFAULT_MATERIALIZATION_SERVER_VERSON,
    materialization_api_versions: list[int] | None = None,
    available_materialization_versions: list[int] | None = None,
    set_version: int | None = None,
    set_version_metadata: dict[str, Any] | None = None,
    json_service: bool = False,
    json_service_server_version: str = DEFAULT_JSON_SERVICE_SERVER_VERSION,
    skeleton_service: bool = False,
    skeleton_service_server_version: str = DEFAULT_SKELETON_SERVICE_SERVER_VERSION,
    schema_api_versions: list[int] | None = None,
    l2cache: bool = False,
    l2cache_disabled: bool = False,
    info_server_version: str = DEFAULT_INFO_SERVER_VERSION,
    global_only: bool = False,
) -> CAVEclient:
    """A CAVEclient for tests, answering what caveclient's CAVEclientMock answers.

    Same parameters and defaults as `caveclient.tools.testing.CAVEclientMock`. The client's token
    is "just_a_test"; it writes no datastack map. The records served are completed with the fields
    servers of today send and caveclient's mock leaves out (the info record's proofreading and
    cell-identification tables as None; a version's id, datastack, validity and status), and the
    L2 cache's table mapping has the service's shape (`{table: {"l2cache_id": ..., "cv_path": ...}}`
    where caveclient's mock has `{table: "test_table"}`). Requests the mock does not answer go
    to an active mock of `requests`, as a caveclient test suite mocks them
    (`responses.add(responses.GET, url, json=...)` under `@responses.activate`, or
    `requests_mock.get(url, json=...)` with requests-mock's fixture), else to
    `httpx.HTTPTransport`, where respx can answer them (`respx_mock.get(url).respond(json=...)`).

    Parameters
    ----------
    datastack_name : str, optional
        The test datastack (default TEST_DATASTACK, "test_stack").
    global_server : str, optional
        The global server (default TEST_GLOBAL_SERVER, "https://test.cave.com").
    local_server : str, optional
        The datastack's local server (default TEST_LOCAL_SERVER, "https://local.cave.com").
    info_file : dict, optional
        The datastack's info record (default `default_info(local_server)`).
    chunkedgraph : bool
        Answer the chunkedgraph's version and API versions.
    chunkedgraph_server_version : str
        The chunkedgraph version reported.
    chunkedgraph_api_versions : list of int, optional
        The chunkedgraph API versions reported (default [0, 1]).
    materialization : bool
        Answer the materialization service's version, API versions and versions list (and the
        chunkedgraph's, as caveclient does).
    materialization_server_version : str
        The materialization version reported.
    materialization_api_versions : list of int, optional
        The materialization API versions reported (default [2, 3]).
    available_materialization_versions : list of int, optional
        The materialization versions of the datastack (default [1, 2]), answered, as by caveclient's
        mock, only to the check of `set_version` (`versions?expired=True`); the newest version of an
        unpinned client is asked without it, and is the test's to mock.
    set_version : int, optional
        Pin the client to this version and answer its metadata.
    set_version_metadata : dict, optional
        The metadata of `set_version` (default: caveclient's time stamp and expiry).
    json_service : bool
        Answer the state service's version.
    json_service_server_version : str
        The state service version reported.
    skeleton_service : bool
        Answer the skeleton service's version.
    skeleton_service_server_version : str
        The skeleton service version reported.
    schema_api_versions : list of int, optional
        Accepted for compatibility (caveclient's mock registers no schema route either).
    l2cache : bool
        Answer the L2 cache's table mapping (and the chunkedgraph's routes).
    l2cache_disabled : bool
        With `l2cache`, report no L2 cache for the datastack's table.
    info_server_version : str
        The info service version reported.
    global_only : bool
        A client without a datastack: only the global services.

    Returns
    -------
    CAVEclient
        A client of this package, not yet connected (nothing is requested before first use).
    """
    del schema_api_versions  # caveclient's mock defaults it and uses it nowhere
    global_server = _origin(global_server or TEST_GLOBAL_SERVER)
    if global_only:
        datastack_name = None
        chunkedgraph = materialization = skeleton_service = l2cache = False
        set_version = None
    else:
        datastack_name = datastack_name or TEST_DATASTACK
        local_server = local_server or TEST_LOCAL_SERVER
        if info_file is None:
            info_file = default_info(local_server)
    local = _origin(local_server) if local_server else ""
    routes: dict[str, Any] = {f"{global_server}/info/version": str(info_server_version)}
    if datastack_name is not None:
        routes[f"{global_server}/info/api/v2/datastack/full/{datastack_name}"] = _completed_info(
            info_file or {}
        )
    if chunkedgraph or l2cache or materialization:
        routes[f"{local}/segmentation/api/version"] = str(chunkedgraph_server_version)
        routes[f"{local}/segmentation/api/versions"] = list(
            CHUNKEDGRAPH_API_VERSIONS if chunkedgraph_api_versions is None else chunkedgraph_api_versions
        )
    if materialization:
        api_versions = list(
            MATERIALIZATION_API_VERSIONS
            if materialization_api_versions is None
            else materialization_api_versions
        )
        routes[f"{local}/materialize/api/versions"] = api_versions
        routes[f"{local}/materialize/version"] = str(materialization_server_version)
        versions = list(
            DEFAULT_MATERIALIZATION_VERSONS
            if available_materialization_versions is None
            else available_materialization_versions
        )
        for api in {max(api_versions), 3}:  # caveclient's newest common version; this client's v3
            base = f"{local}/materialize/api/v{api}/datastack/{datastack_name}"
            # Only the check of a pinned version (caveclient's mock answers only that one): the
            # newest version, asked without `expired`, is the test's to mock, as with caveclient.
            routes[f"{base}/versions?expired=True"] = versions
            if set_version is not None:
                routes[f"{base}/version/{set_version}"] = _completed_metadata(
                    DEFAULT_MATERIALIZATION_VERSION_METADATA
                    if set_version_metadata is None
                    else set_version_metadata,
                    set_version,
                    datastack_name or "",
                )
    if json_service:
        routes[f"{global_server}/nglstate/api/v1/version"] = str(json_service_server_version)
    if skeleton_service:
        routes[f"{local}/skeletoncache/api/version"] = str(skeleton_service_server_version)
    if l2cache:
        source = str((info_file or {}).get("segmentation_source") or "")
        table = source.rstrip("/").rsplit("/", 1)[-1] if source else "test_table"
        # caveclient's mock answers {table: "test_table"}; the service answers objects.
        cache = {"l2cache_id": "test_table", "cv_path": source}
        routes[f"{local}/l2cache/api/v1/table_mapping"] = {} if l2cache_disabled else {table: cache}
    transport = MockedRoutesTransport(routes, RequestsMockTransport(httpx.HTTPTransport()))
    return CAVEclient(
        datastack_name=datastack_name,
        server_address=global_server,
        write_server_cache=False,
        auth_token="just_a_test",  # noqa: S106 - caveclient's mock token
        global_only=global_only,
        version=set_version,
        transport=transport,
    )
